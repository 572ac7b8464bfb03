"""ember.save / ember.load: round trips, whole modules, corruption, atomicity, resume."""

import io
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.serialization import load, save


class TiedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 4)
        self.rnn = nn.GRU(4, 4, batch_first=True)
        self.head = nn.Linear(4, 7, bias=False)
        self.head.weight = self.emb.weight  # tied
        self.act = F.relu
        self.scale = 2.5
        self.name = "tied"

    def forward(self, idx):
        h, _ = self.rnn(self.emb(idx))
        return self.head(self.act(h)) * self.scale


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(x.flatten(1))


def N(t):
    t = t.detach()
    if t.dtype == ember.bfloat16:
        t = t.to(ember.float32)
    return t.cpu().numpy()


@pytest.mark.parametrize(
    "dtype",
    [
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
    ],
)
def test_tensor_round_trip_all_dtypes(tmp_path, dtype):
    dt = getattr(ember, dtype)
    base = np.arange(-6, 6).reshape(3, 4) * 0.75
    if dtype == "bool":
        t = ember.tensor(base > 0)
    elif dtype == "uint8":
        t = ember.tensor(np.abs(base).astype(np.uint8))
    else:
        t = ember.tensor(base).to(dt)
    path = tmp_path / "t.pt"
    save(t, path)
    u = load(path)
    assert u.dtype == dt and tuple(u.shape) == (3, 4)
    np.testing.assert_array_equal(N(u), N(t))


def test_shapes_and_nested_structures(tmp_path):
    obj = {
        "scalar": ember.tensor(3.5),
        "empty": ember.zeros(0, 3),
        "list": [ember.ones(2), 1, 2.5, "x", None, True],
        "tuple": (1, (2, ember.arange(3))),
        3: "int key",
        (1, 2): "tuple key",
        "nan": float("nan"),
        "inf": float("-inf"),
        "od": OrderedDict([("b", 1), ("a", 2)]),
        "set": {1, 2},
        "bytes": b"\x00\xff",
        "dtype": ember.float16,
        "np": np.arange(4, dtype=np.int32),
        "npscalar": np.float64(2.5),
    }
    path = tmp_path / "o.pt"
    save(obj, path)
    out = load(path)
    assert out["scalar"].dim() == 0 and out["scalar"].item() == 3.5
    assert tuple(out["empty"].shape) == (0, 3)
    assert out["list"][1:] == [1, 2.5, "x", None, True] and type(out["list"][1]) is int
    assert out["tuple"][0] == 1 and out["tuple"][1][1].tolist() == [0, 1, 2]
    assert isinstance(out["tuple"], tuple)
    assert out[3] == "int key" and out[(1, 2)] == "tuple key"
    assert np.isnan(out["nan"]) and out["inf"] == float("-inf")
    assert isinstance(out["od"], OrderedDict) and list(out["od"]) == ["b", "a"]
    assert out["set"] == {1, 2} and out["bytes"] == b"\x00\xff" and out["dtype"] == ember.float16
    np.testing.assert_array_equal(out["np"], np.arange(4))
    assert out["np"].dtype == np.int32
    assert out["npscalar"] == 2.5


def test_state_dict_and_optimizer_round_trip(tmp_path):
    ember.manual_seed(0)
    m = Classifier()
    opt = ember.optim.Adam(m.parameters(), lr=0.01)
    m(ember.randn(2, 1, 8, 8)).sum().backward()
    opt.step()
    save({"model": m.state_dict(), "opt": opt.state_dict()}, tmp_path / "ck.pt")
    ck = load(tmp_path / "ck.pt", weights_only=True)
    assert list(ck["model"].keys()) == list(m.state_dict().keys())
    assert ck["model"]["bn.num_batches_tracked"].dtype == ember.int64
    m2 = Classifier()
    m2.load_state_dict(ck["model"])
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(N(m2.state_dict()[k]), N(v))
    assert sorted(ck["opt"]["state"].keys()) == list(range(6))
    assert ck["opt"]["param_groups"][0]["betas"] == (0.9, 0.999)
    opt2 = ember.optim.Adam(m2.parameters(), lr=0.5)
    opt2.load_state_dict(ck["opt"])
    assert opt2.param_groups[0]["lr"] == 0.01


def test_whole_module_round_trip_keeps_ties_and_attributes(tmp_path):
    ember.manual_seed(1)
    m = TiedNet()
    idx = ember.tensor([[1, 2, 3]])
    ref = N(m(idx))
    save(m, tmp_path / "model.pth")
    m2 = load(tmp_path / "model.pth", weights_only=False)
    assert type(m2) is TiedNet and m2 is not m
    assert m2.head.weight is m2.emb.weight
    assert m2.act is F.relu and m2.scale == 2.5 and m2.name == "tied"
    assert isinstance(m2.rnn.weight_ih_l0, nn.Parameter) and m2.rnn.weight_ih_l0.requires_grad
    np.testing.assert_allclose(N(m2(idx)), ref, rtol=1e-6)
    assert [n for n, _ in m2.named_parameters()] == [n for n, _ in m.named_parameters()]
    # the default (weights_only=None) is safe, as in PyTorch >= 2.6 (issue 17 item 2)
    for wo in (None, True):
        with pytest.raises(pickle.UnpicklingError, match="contains a whole nn.Module"):
            load(tmp_path / "model.pth", weights_only=wo)


def test_unsupported_objects_raise(tmp_path):
    with pytest.raises(TypeError, match="cannot save an object of type"):
        save({"x": object()}, tmp_path / "bad.pt")
    with pytest.raises(TypeError, match="only module-level functions"):
        save({"f": lambda x: x}, tmp_path / "bad.pt")
    assert not (tmp_path / "bad.pt").exists()


def test_file_like_objects():
    buf = io.BytesIO()
    save({"w": ember.arange(5)}, buf)
    buf.seek(0)
    assert load(buf)["w"].tolist() == [0, 1, 2, 3, 4]


def test_shared_tensor_saved_once_and_identity_restored(tmp_path):
    t = ember.ones(1000)
    save([t, t], tmp_path / "s.pt")
    a, b = load(tmp_path / "s.pt")
    assert a is b
    assert os.path.getsize(tmp_path / "s.pt") < 4000 + 2000


def test_plain_safetensors_file_loads_as_dict(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    safetensors_numpy.save_file(
        {"w": np.ones((2, 2), np.float32)}, str(tmp_path / "plain.safetensors")
    )
    plain = load(tmp_path / "plain.safetensors")
    assert list(plain) == ["w"] and plain["w"].tolist() == [[1, 1], [1, 1]]


def test_corrupt_truncated_and_foreign_files(tmp_path):
    path = tmp_path / "c.pt"
    save({"w": ember.arange(100, dtype=ember.float32)}, path)  # PyTorch zip format
    data = path.read_bytes()
    bad = bytearray(data)
    bad[data.index(b"data/0") + 200] ^= 0xFF  # inside the tensor's bytes
    (tmp_path / "flip.pt").write_bytes(bytes(bad))
    with pytest.raises(RuntimeError, match="flip.pt.*(CRC|Bad)"):
        load(tmp_path / "flip.pt")
    (tmp_path / "trunc.pt").write_bytes(data[:-17])
    with pytest.raises(RuntimeError, match="trunc.pt"):
        load(tmp_path / "trunc.pt")
    (tmp_path / "trunc2.pt").write_bytes(data[:40])
    with pytest.raises(RuntimeError, match="trunc2.pt"):
        load(tmp_path / "trunc2.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(RuntimeError, match="empty.pt.*too short"):
        load(tmp_path / "empty.pt")
    (tmp_path / "zip.pt").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(RuntimeError, match="zip.pt.*not a valid PyTorch checkpoint"):
        load(tmp_path / "zip.pt")
    (tmp_path / "junk.pt").write_bytes(os.urandom(64))
    with pytest.raises(RuntimeError, match="junk.pt"):
        load(tmp_path / "junk.pt")
    # ember's own format (whole modules): the checksum covers the header too
    save(Classifier(), tmp_path / "m.pt")
    raw = bytearray((tmp_path / "m.pt").read_bytes())
    raw[raw.index(b'"shape":[') + 9] ^= 0x01  # one bit of a shape in the JSON header
    (tmp_path / "mflip.pt").write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="mflip.pt.*checksum mismatch"):
        load(tmp_path / "mflip.pt", weights_only=False)


def test_atomic_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    save({"v": ember.tensor([1.0])}, path)
    before = path.read_bytes()

    def boom(fd):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk on fire"):
        save({"v": ember.tensor([2.0])}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load(path)["v"].tolist() == [1.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]  # no temp file left behind


def test_map_location_and_requires_grad(tmp_path):
    t = ember.tensor([1.0, 2.0], requires_grad=True)
    save({"t": t}, tmp_path / "m.pt")
    out = load(tmp_path / "m.pt", map_location="cpu")
    assert out["t"].requires_grad and str(out["t"].device) == "cpu"
    out = load(tmp_path / "m.pt", map_location={"gpu": "cpu"})
    assert out["t"].tolist() == [1.0, 2.0]
    out = load(tmp_path / "m.pt", map_location=lambda storage, loc: storage)
    assert out["t"].tolist() == [1.0, 2.0]


def _train_steps(model, opt, sched, data, steps):
    x, y = data
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def test_resume_training_equals_uninterrupted(tmp_path, device):
    ember.manual_seed(0)
    x = ember.randn(16, 1, 8, 8).to(device)
    y = ember.randint(0, 3, (16,)).to(device)
    ember.manual_seed(1)
    m1 = Classifier().to(device)
    o1 = ember.optim.AdamW(m1.parameters(), lr=0.01)
    s1 = ember.optim.lr_scheduler.StepLR(o1, step_size=2, gamma=0.5)
    init_sd = {k: v.clone() for k, v in m1.state_dict().items()}
    full = _train_steps(m1, o1, s1, (x, y), 6)

    ember.manual_seed(1)
    m2 = Classifier().to(device)
    m2.load_state_dict(init_sd)
    o2 = ember.optim.AdamW(m2.parameters(), lr=0.01)
    s2 = ember.optim.lr_scheduler.StepLR(o2, step_size=2, gamma=0.5)
    first = _train_steps(m2, o2, s2, (x, y), 3)
    save(
        {"model": m2.state_dict(), "optimizer": o2.state_dict(), "scheduler": s2.state_dict()},
        tmp_path / "r.pt",
    )

    ck = load(tmp_path / "r.pt", map_location=device)
    m3 = Classifier().to(device)
    o3 = ember.optim.AdamW(m3.parameters(), lr=0.5)
    s3 = ember.optim.lr_scheduler.StepLR(o3, step_size=7, gamma=0.9)
    m3.load_state_dict(ck["model"])
    o3.load_state_dict(ck["optimizer"])
    s3.load_state_dict(ck["scheduler"])
    rest = _train_steps(m3, o3, s3, (x, y), 3)
    assert first + rest == full
    for k, v in m1.state_dict().items():
        np.testing.assert_array_equal(N(m3.state_dict()[k]), N(v))


def test_previous_format_version_1_still_loads(tmp_path):
    # version 1 (before the checksum covered the header) as ember wrote it: same layout,
    # "version": "1" and a CRC-32 of the data section only
    import json
    import struct
    import zlib

    from ember import serialization

    head, chunks = serialization._serialize({"w": ember.arange(3, dtype=ember.float32), "e": 4})
    (n,) = struct.unpack("<Q", head[:8])
    header = json.loads(head[8 : 8 + n])
    header["__metadata__"]["version"] = "1"
    crc = 0
    for c in chunks:
        crc = zlib.crc32(c, crc)
    header["__metadata__"]["crc32"] = str(crc)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    (tmp_path / "v1.pt").write_bytes(struct.pack("<Q", len(hb)) + hb + b"".join(chunks))
    out = load(tmp_path / "v1.pt")
    assert out["w"].tolist() == [0.0, 1.0, 2.0] and out["e"] == 4


def test_whole_module_loads_under_weights_only_when_its_classes_are_allowed(tmp_path, device):
    # As PyTorch (word_language_model reloads its whole model this way): weights_only refuses
    # a whole module unless every class in it is allow-listed; the classes then come from the
    # list, nothing is imported.
    import pickle

    import ember.nn as nn

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.1)).to(device)
    path = str(tmp_path / "m.pt")
    ember.save(model, path)
    with pytest.raises(pickle.UnpicklingError, match="whole nn.Module"):
        ember.load(path)
    with ember.serialization.safe_globals([nn.Sequential, nn.Linear, nn.ReLU]):
        with pytest.raises(pickle.UnpicklingError, match="Dropout"):
            ember.load(path)
    with ember.serialization.safe_globals([nn.Sequential, nn.Linear, nn.ReLU, nn.Dropout]):
        loaded = ember.load(path)
    assert type(loaded) is nn.Sequential and type(loaded[2]) is nn.Dropout
    x = ember.randn(2, 3, device=device)
    model.eval()
    loaded.eval()
    np.testing.assert_array_equal(loaded(x).detach().cpu().numpy(), model(x).detach().cpu().numpy())
    assert ember.serialization.get_safe_globals() == []


def test_allowed_functions_inside_a_whole_module(tmp_path):
    # TransformerEncoderLayer keeps its activation as a function: it loads under weights_only
    # once that function is allow-listed too (pytorch/examples' word_language_model does this).
    import pickle

    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    path = str(tmp_path / "layer.pt")
    ember.save(layer, path)
    classes = sorted({type(m) for m in layer.modules()}, key=lambda c: c.__name__)
    with ember.serialization.safe_globals(classes):
        with pytest.raises(pickle.UnpicklingError, match="relu"):
            ember.load(path)
    with ember.serialization.safe_globals(classes + [F.relu]):
        loaded = ember.load(path)
    x = ember.randn(3, 5, 8)
    layer.eval()
    loaded.eval()
    np.testing.assert_allclose(
        loaded(x).detach().numpy(), layer(x).detach().numpy(), rtol=1e-6, atol=1e-6
    )
