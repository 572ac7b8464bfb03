"""PyTorch checkpoints both ways: reading files real torch wrote, writing files torch reads.

The fixtures in tests/fixtures/torch_ckpt were written once by real PyTorch (make_fixtures.py
there; version in TORCH_VERSION) with the expected tensor values in expected.npz. PyTorch itself
is never imported here. That real `torch.load(path, weights_only=True)` opens what ember.save
writes was checked by hand with PyTorch 2.15 (check_ember_written.py there); these tests pin the
exact structure PyTorch expects.
"""

import io
import os
import pickle
import pickletools
import random
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember import _torch_format, _torch_load

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "torch_ckpt")
SENTINEL = "/tmp/ember_malicious_fixture_ran"
EXPECTED = dict(np.load(os.path.join(FIX, "expected.npz")))


def fix(name):
    return os.path.join(FIX, name)


def N(t):
    t = t.detach()
    if t.dtype == ember.bfloat16:
        t = t.to(ember.float32)
    return t.cpu().numpy()


def flatten(obj, prefix, out):
    if isinstance(obj, ember.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}/{k}", out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}/{i}", out)
    return out


_NP_DTYPE = {"bfloat16": np.float32}
# what "gpu" stores today (float64, bfloat16, int16 and int8 stay on the cpu)
_GPU_DTYPES = {"float32", "float16", "int32", "int64", "uint8", "bool"}


def _on_device(dtype, device):
    return device == "cpu" or str(dtype).split(".")[-1] in _GPU_DTYPES


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("name", ["mlp_state", "optim_state", "nested"])
def test_reads_files_written_by_pytorch(name, fmt, device):
    # a map_location callable puts what the device stores there and leaves the rest on the cpu
    def to_device(storage, location):
        assert location == "cpu"
        return storage.to(device) if _on_device(storage.dtype, device) else storage

    obj = ember.load(fix(f"{name}_{fmt}.pt"), map_location=to_device)
    got = flatten(obj, name, {})
    want = {k: v for k, v in EXPECTED.items() if k.split("/")[0] == name}
    assert sorted(got) == sorted(want)
    for k, t in got.items():
        assert str(t.device) == (device if _on_device(t.dtype, device) else "cpu"), k
        exp_dtype = _NP_DTYPE.get(str(t.dtype).split(".")[-1], None)
        assert N(t).dtype == (exp_dtype or want[k].dtype), k
        assert tuple(t.shape) == want[k].shape, k
        np.testing.assert_array_equal(N(t), want[k], err_msg=k)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_pytorch_objects_map_to_ember_objects(fmt):
    o = ember.load(fix(f"nested_{fmt}.pt"))
    assert [str(t.dtype) for t in o["dtypes"].values()] == [
        f"ember.{n}"
        for n in [
            "float32",
            "float64",
            "float16",
            "bfloat16",
            "int64",
            "int32",
            "int16",
            "int8",
            "uint8",
            "bool",
        ]
    ]
    assert isinstance(o["dtypes"], OrderedDict)
    # views keep sharing base's storage, with PyTorch's strides and offsets
    base, vt, vs = o["base"], o["view_t"], o["view_step"]
    assert vt._storage_id() == base._storage_id() == vs._storage_id()
    assert vt.stride() == (1, 6) and vt.storage_offset() == 1
    assert vs.stride() == (6, 2) and vs.storage_offset() == 6
    base.mul_(2)
    assert vt[0, 0].item() == 2.0 and vs[0, 0].item() == 12.0
    assert o["scalar"].dim() == 0 and o["scalar"].item() == 3.5
    assert tuple(o["empty"].shape) == (0, 3)
    assert o["list"][1:] == [1, 2.5, "text", None, True]
    assert o["tuple"][0] == 1 and o["tuple"][1][1].tolist() == [0, 1, 2]
    assert o["meta"] == {"epoch": 3, "lr": 0.1, "bytes": b"\x00\xff", "set": {1, 2}, 7: "int key"}
    assert o["dtype"] is ember.float16
    assert o["device"] == ember.device("cpu") and o["size"] == ember.Size([2, 3])
    assert type(o["size"]) is ember.Size
    assert isinstance(o["param"], nn.Parameter) and o["param"].requires_grad
    assert o["grad_tensor"].requires_grad and not isinstance(o["grad_tensor"], nn.Parameter)


def _mlp():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_pytorch_state_dict_drives_an_ember_model(device):
    sd = ember.load(fix("mlp_state_zip.pt"), map_location=device)
    m = _mlp().to(device)
    m.load_state_dict(sd)
    m.eval()
    x = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
    e = {k.split("/", 1)[1]: v for k, v in EXPECTED.items() if k.startswith("mlp_state/")}
    # the same network in numpy, from the values PyTorch wrote
    h = np.maximum(x @ e["0.weight"].T + e["0.bias"], 0)
    h = (h - e["2.running_mean"]) / np.sqrt(e["2.running_var"] + 1e-5) * e["2.weight"]
    h = h + e["2.bias"]
    want = h @ e["3.weight"].T + e["3.bias"]
    np.testing.assert_allclose(N(m(ember.tensor(x).to(device))), want, rtol=1e-5, atol=1e-6)
    assert sd["2.num_batches_tracked"].dtype == ember.int64


def test_pytorch_optimizer_state_loads_into_ember_adam():
    ck = ember.load(fix("optim_state_legacy.pt"))
    m = _mlp()
    opt = ember.optim.Adam(m.parameters(), lr=0.5)
    opt.load_state_dict(ck)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["betas"] == (0.9, 0.999)
    assert sorted(ck["state"]) == list(range(6))
    assert ck["state"][0]["step"].item() == 1.0


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("weights_only", [None, True])
def test_malicious_pickle_is_rejected_without_running(fmt, weights_only):
    if os.path.exists(SENTINEL):
        os.unlink(SENTINEL)
    with pytest.raises(
        pickle.UnpicklingError, match=r"unsupported global GLOBAL (posix|os)\.system"
    ):
        ember.load(fix(f"malicious_{fmt}.pt"), weights_only=weights_only)
    assert not os.path.exists(SENTINEL)


def _zip_with_pickle(tmp_path, payload, extra=()):
    path = tmp_path / "crafted.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("crafted/data.pkl", payload)
        for name, data in extra:
            zf.writestr(f"crafted/{name}", data)
    return path


def test_crafted_pickles_are_refused(tmp_path):
    # GLOBAL builtins.eval + REDUCE
    evil = b"\x80\x02cbuiltins\neval\nX\x0a\x00\x00\x00print(1)+1\x85R."
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL builtins.eval"):
        ember.load(_zip_with_pickle(tmp_path, evil))
    # an allowed class, then BUILD to set attributes on something that is not an OrderedDict
    build = b"\x80\x02c__builtin__\nset\n)R}X\x01\x00\x00\x00aK\x01sb."
    with pytest.raises(pickle.UnpicklingError, match="refused to restore state on a set"):
        ember.load(_zip_with_pickle(tmp_path, build))
    # torch.Tensor is allowed only as a type argument, never called with file data
    call = b"\x80\x02ctorch\nTensor\nJ\x00\x00\x00\x40\x85R."
    with pytest.raises(pickle.UnpicklingError, match="refused to call"):
        ember.load(_zip_with_pickle(tmp_path, call))
    # OrderedDict state may not shadow a method (od.items = 1)
    shadow = b"\x80\x02ccollections\nOrderedDict\n)R}X\x05\x00\x00\x00itemsK\x01sb."
    with pytest.raises(pickle.UnpicklingError, match="refused attribute 'items'"):
        ember.load(_zip_with_pickle(tmp_path, shadow))
    # a tensor view reaching past its storage must not read out of bounds
    t = ember.arange(4, dtype=ember.float32)
    buf = io.BytesIO()
    ember.save({"t": t}, buf)
    zf = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    pkl = zf.read("archive/data.pkl")
    bad = pkl.replace(b"K\x04\x85", b"K\x40\x85", 1)  # size (4,) -> (64,)
    assert bad != pkl
    path = _zip_with_pickle(tmp_path, bad, [("data/0", zf.read("archive/data/0"))])
    with pytest.raises(RuntimeError, match="reaches element 63 of a storage with 4 elements"):
        ember.load(path)


def _globals_in(pkl):
    found = set()
    for op, arg, _ in pickletools.genops(pkl):
        if op.name == "GLOBAL":
            found.add(arg.replace(" ", "."))
    return found


def test_written_zip_has_pytorch_structure(tmp_path):
    m = _mlp()
    opt = ember.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    m(ember.randn(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / "model.pt"
    ember.save({"model": m.state_dict(), "opt": opt.state_dict(), "dtype": ember.float16}, path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert names[:4] == [
            "model/data.pkl",
            "model/.format_version",
            "model/.storage_alignment",
            "model/byteorder",
        ]
        assert names[-2:] == ["model/version", "model/.data/serialization_id"]
        nstorages = len(names) - 6
        assert names[4:-2] == [f"model/data/{i}" for i in range(nstorages)]
        assert zf.read("model/version") == b"3\n" and zf.read("model/byteorder") == b"little"
        assert zf.read("model/.format_version") == b"1"
        assert zf.read("model/.storage_alignment") == b"64"
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        for info in zf.infolist():
            if "/data/" in info.filename:  # storages start on 64-byte boundaries, as torch's
                assert _torch_load._record_data_offset(str(path), info) % 64 == 0
        pkl = zf.read("model/data.pkl")
    assert pkl[:2] == b"\x80\x02"  # protocol 2, like torch.save
    assert _globals_in(pkl) == {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch.FloatStorage",
        "torch.LongStorage",
        "torch.float16",
    }
    # every persistent id is ('storage', <storage type>, key, 'cpu', numel), keys "0".."n-1"
    pids = []

    class Recorder(pickle.Unpickler):  # our own file: names only, nothing is called
        def find_class(self, module, name):
            if name == "OrderedDict":
                return OrderedDict
            return (lambda *a: None) if "rebuild" in name else f"{module}.{name}"

        def persistent_load(self, pid):
            pids.append(pid)

    Recorder(io.BytesIO(pkl)).load()
    assert sorted(int(p[2]) for p in pids) == list(range(nstorages))
    for kind, stype, _key, loc, numel in pids:
        assert kind == "storage" and loc == "cpu" and isinstance(numel, int)
        assert stype in ("torch.FloatStorage", "torch.LongStorage")
    back = ember.load(path)
    assert list(back["model"]) == list(m.state_dict())


@pytest.mark.parametrize("legacy", [False, True])
def test_round_trip_through_pytorch_formats(tmp_path, device, legacy):
    base = ember.arange(24, dtype=ember.float32).reshape(4, 6).to(device)
    p = nn.Parameter(ember.tensor([1.0, -2.0]).to(device))
    obj = {
        "base": base,
        "view": base.t()[1:],
        "p": p,
        "tied": [p, p],
        "dtypes": [
            ember.tensor([[1.5, -2]]).to(getattr(ember, n)).to(device)
            for n in _DTYPES
            if _on_device(n, device)
        ],
        "grad": ember.tensor([0.5], requires_grad=True).to(device),
        "meta": {"epoch": 2, "lr": 1e-3, "name": "run", "set": {3}, 4: None, "c": 1 + 2j},
        "size": ember.Size([1, 2]),
        "dev": ember.device(device),
        "bytes": b"ab",
        "empty": ember.zeros(0, 2).to(device),
    }
    path = tmp_path / "rt.pt"
    ember.save(obj, path, _use_new_zipfile_serialization=not legacy)
    assert path.read_bytes()[:2] == (b"\x80\x02" if legacy else b"PK")
    out = ember.load(path)
    assert str(out["base"].device) == device  # gpu tensors are saved as 'cuda:0' -> gpu
    np.testing.assert_array_equal(N(out["view"]), N(base.t()[1:]))
    assert out["view"]._storage_id() == out["base"]._storage_id()
    assert isinstance(out["p"], nn.Parameter) and out["tied"][0] is out["tied"][1] is out["p"]
    for a, b in zip(out["dtypes"], obj["dtypes"]):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(N(a), N(b))
    assert out["grad"].requires_grad
    assert out["meta"] == obj["meta"] and out["size"] == ember.Size([1, 2])
    assert out["dev"] == ember.device(device) and out["bytes"] == b"ab"
    assert tuple(out["empty"].shape) == (0, 2)


_DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8"]
_DTYPES += ["uint8", "bool"]


def test_objects_torch_cannot_read_keep_embers_format(tmp_path):
    ember.save({"arr": np.arange(3)}, tmp_path / "a.pt")  # numpy arrays need numpy globals
    assert (tmp_path / "a.pt").read_bytes()[:2] != b"PK"
    np.testing.assert_array_equal(ember.load(tmp_path / "a.pt")["arr"], np.arange(3))
    assert _torch_format.is_torch_writable({"a": [ember.ones(1), (1, "x")]})
    assert not _torch_format.is_torch_writable({"m": nn.Linear(1, 1)})
    assert not _torch_format.is_torch_writable({"f": len})


def test_map_location_forms_and_mmap(tmp_path):
    calls = []

    def ml(storage, loc):
        calls.append(loc)
        return storage

    sd = ember.load(fix("mlp_state_zip.pt"), map_location=ml)
    assert calls and set(calls) == {"cpu"} and str(sd["0.weight"].device) == "cpu"
    sd = ember.load(fix("mlp_state_zip.pt"), map_location={"cpu": "cpu"})
    want = EXPECTED["mlp_state/0.weight"]
    np.testing.assert_array_equal(N(sd["0.weight"]), want)
    mm = ember.load(fix("mlp_state_zip.pt"), mmap=True)
    np.testing.assert_array_equal(N(mm["0.weight"]), want)
    with pytest.raises(RuntimeError, match="mmap can only be used"):
        ember.load(fix("mlp_state_legacy.pt"), mmap=True)
    with open(fix("mlp_state_zip.pt"), "rb") as fh, pytest.raises(ValueError, match="file path"):
        ember.load(fh, mmap=True)
    buf = io.BytesIO()
    ember.save(sd, buf)
    buf.seek(0)
    assert list(ember.load(buf)) == list(sd)


def _same(a, b):
    if isinstance(a, ember.Tensor):
        return (
            isinstance(b, ember.Tensor)
            and a.dtype == b.dtype
            and tuple(a.shape) == tuple(b.shape)
            and a.requires_grad == b.requires_grad
            and np.array_equal(N(a), N(b))
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


def _flip_test(path, reference, flips, seed, **load_kwargs):
    data = path.read_bytes()
    rng = random.Random(seed)
    rejected = identical = 0
    for i in range(flips):
        bad = bytearray(data)
        pos = rng.randrange(len(bad))
        bad[pos] ^= 1 << rng.randrange(8)
        p = path.parent / f"flip{i}.pt"
        p.write_bytes(bytes(bad))
        try:
            got = ember.load(p, **load_kwargs)
        except (RuntimeError, pickle.UnpicklingError):
            rejected += 1
        else:
            assert _same(reference, got), f"bit flip at byte {pos} changed the contents"
            identical += 1
        p.unlink()
    return rejected, identical


def test_random_bit_flips_are_rejected_or_harmless(tmp_path):
    # issue 17 item 9: a flipped bit anywhere in the file, headers included
    m = _mlp()
    opt = ember.optim.Adam(m.parameters(), lr=0.01)
    ck = {"model": m.state_dict(), "opt": opt.state_dict(), "epoch": 7, "lr": 0.25}
    path = tmp_path / "ck.pt"
    ember.save(ck, path)
    rejected, identical = _flip_test(path, ember.load(path), 300, seed=0)
    # flips in zip fields Python's reader does not use (local-header copies of the CRC and
    # sizes, timestamps, the alignment padding) load identical contents; the rest is rejected
    assert rejected + identical == 300 and rejected > 100, (rejected, identical)


def test_random_bit_flips_in_embers_module_format(tmp_path):
    m = _mlp()
    path = tmp_path / "m.pt"
    ember.save(m, path)  # whole module: ember's own format
    ref = ember.load(path, weights_only=False).state_dict()
    data = path.read_bytes()
    rng = random.Random(1)
    rejected = 0
    for i in range(150):
        bad = bytearray(data)
        pos = rng.randrange(len(bad))
        bad[pos] ^= 1 << rng.randrange(8)
        p = tmp_path / f"f{i}.pt"
        p.write_bytes(bytes(bad))
        try:
            got = ember.load(p, weights_only=False)
        except RuntimeError:
            rejected += 1
        else:
            assert _same(dict(ref), dict(got.state_dict())), f"flip at byte {pos} changed it"
    assert rejected == 150  # CRC-32 catches every single-bit error in header and data


def test_failed_save_removes_temp_file_and_keeps_old(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    ember.save({"v": ember.tensor([1.0])}, path)
    before = path.read_bytes()
    real = _torch_format.write_zip

    def half_then_fail(obj, out, name):
        real(obj, out, name)
        raise OSError("disk full")

    monkeypatch.setattr(_torch_format, "write_zip", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        ember.save({"v": ember.tensor([2.0])}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]


class Point:
    """A user class a checkpoint may carry once the user allows it."""

    def __init__(self, x, y):
        self.x, self.y = x, y


def test_add_safe_globals_and_unsafe_globals_scan(tmp_path):
    from ember import serialization

    # what torch.save writes for {"p": Point(1, 2)}: NEWOBJ of the class, then BUILD
    path = _zip_with_pickle(tmp_path, pickle.dumps({"p": Point(1, 2)}, protocol=2))
    name = f"{Point.__module__}.Point"
    assert serialization.get_unsafe_globals_in_checkpoint(path) == [name]
    with pytest.raises(pickle.UnpicklingError, match=f"GLOBAL {name} is not an allowed"):
        ember.load(path)
    with serialization.safe_globals([Point]):
        assert serialization.get_safe_globals() == [Point]
        p = ember.load(path)["p"]
    assert type(p) is Point and (p.x, p.y) == (1, 2)
    assert serialization.get_safe_globals() == []  # the context manager restored the list
    with pytest.raises(pickle.UnpicklingError):
        ember.load(path)
    # written on Linux, where os.system pickles as posix.system
    assert serialization.get_unsafe_globals_in_checkpoint(fix("malicious_zip.pt")) == [
        "posix.system"
    ]
    assert serialization.get_unsafe_globals_in_checkpoint(fix("nested_zip.pt")) == []


def test_torchscript_archive_is_named(tmp_path):
    path = tmp_path / "scripted.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("scripted/constants.pkl", b"\x80\x02].")
        zf.writestr("scripted/code/__torch__.py", b"")
    with pytest.raises(RuntimeError, match="TorchScript archive"):
        ember.load(path)


_KILL_SCRIPT = """
import sys, ember
path = sys.argv[1]
sd = {"w": ember.ones(4_000_000), "step": 0}
i = 0
print("ready", flush=True)
while True:
    i += 1
    sd["step"] = i
    ember.save(sd, path)
"""


def test_kill_9_during_save_leaves_a_complete_file(tmp_path):
    # issue 17 item 5: os.replace makes each save atomic, so a killed writer never leaves a
    # torn checkpoint at the destination
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "ck.pt"
    ember.save({"w": ember.zeros(3), "step": -1}, path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, env=env
    )
    try:
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    ck = ember.load(path)
    if ck["step"] == -1:
        assert ck["w"].tolist() == [0.0, 0.0, 0.0]
    else:
        assert tuple(ck["w"].shape) == (4_000_000,) and ck["w"].min().item() == 1.0


def test_whole_torch_model_loads_as_ember_model_with_weights_only_false(device):
    # torch.save(model) pickles torch.nn classes; ember maps them to ember.nn only when the
    # caller opts out of weights_only (PyTorch >= 2.6 refuses such files by default too)
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.container.Sequential"):
        ember.load(fix("full_model_zip.pt"))
    m = ember.load(fix("full_model_zip.pt"), weights_only=False, map_location=device)
    assert type(m) is nn.Sequential and type(m[0]) is nn.Conv2d and not m.training
    assert isinstance(m[4].weight, nn.Parameter) and str(m[4].weight.device) == device
    x = (ember.arange(16.0).reshape(1, 1, 4, 4) / 10).to(device)
    want = np.load(fix("full_model_out.npy"))  # PyTorch's output for this input
    np.testing.assert_allclose(N(m(x)), want, rtol=1e-5, atol=1e-6)


def test_weights_only_resolution_follows_pytorch(monkeypatch):
    path = fix("full_model_zip.pt")
    with pytest.raises(RuntimeError, match="explicit pickle_module"):
        ember.load(path, pickle_module=pickle, weights_only=True)
    assert type(ember.load(path, pickle_module=pickle)) is nn.Sequential  # default then False
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.warns(UserWarning, match="forcing weights_only=False"):
        assert type(ember.load(path)) is nn.Sequential
    with pytest.raises(pickle.UnpicklingError):
        ember.load(path, weights_only=True)  # an explicit choice wins over that variable
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(RuntimeError, match="Only one of"):
        ember.load(path)
    monkeypatch.delenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    with pytest.raises(pickle.UnpicklingError):
        ember.load(path, weights_only=False)  # forced safe


def test_save_into_missing_directory_names_it(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(RuntimeError, match=f"Parent directory {missing} does not exist"):
        ember.save({"a": ember.ones(1)}, missing / "x.pt")
