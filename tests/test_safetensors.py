"""ember.utils.safetensors: safetensors.torch-style functions on the real safetensors package.

Files are read back with `safetensors.numpy` (an independent reader) and written by it too.
"""

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.utils import safetensors as est

st_numpy = pytest.importorskip("safetensors.numpy")


def _mlp():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_state_dict_keys_are_real_and_numpy_reads_them(tmp_path, device):
    m = _mlp().to(device)
    path = tmp_path / "model.safetensors"
    est.save_file(m.state_dict(), path, metadata={"format": "pt"})
    arrays = st_numpy.load_file(str(path))
    assert sorted(arrays) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(arrays[k], v.detach().cpu().numpy())
    back = est.load_file(path, device=device)
    assert str(back["0.weight"].device) == device
    m2 = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(device)
    m2.load_state_dict(back)
    x = ember.randn(2, 3).to(device)
    np.testing.assert_array_equal(m2(x).detach().cpu().numpy(), m(x).detach().cpu().numpy())
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata() == {"format": "pt"}


_DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8"]


@pytest.mark.parametrize("name", _DTYPES + ["uint8", "bool"])
def test_every_dtype_round_trips_through_bytes(name):
    src = np.array([[0.0, 1.5, -2.0], [3.0, 255.0, 1.0]])
    if name == "bool":
        t = ember.tensor(src > 0.5)
    elif name == "uint8":
        t = ember.tensor(np.abs(src).astype(np.uint8))
    else:
        t = ember.tensor(src).to(getattr(ember, name))
    blob = est.save({"x": t, "empty": ember.zeros(0, 2)})
    out = est.load(blob)
    assert out["x"].dtype == t.dtype and tuple(out["empty"].shape) == (0, 2)
    np.testing.assert_array_equal(out["x"].float().numpy(), t.float().numpy())
    if name != "bfloat16":  # numpy has no bfloat16; the raw bytes are checked above
        np.testing.assert_array_equal(st_numpy.load(blob)["x"], t.numpy())


def test_bfloat16_bits_are_the_standard_encoding(tmp_path):
    est.save_file({"b": ember.tensor([1.0, -2.0]).to(ember.bfloat16)}, tmp_path / "b.st")
    raw = (tmp_path / "b.st").read_bytes()[-4:]
    assert raw == bytes([0x80, 0x3F, 0x00, 0xC0])  # bf16 1.0 = 0x3F80, -2.0 = 0xC000


def test_reads_files_written_by_safetensors_numpy(tmp_path):
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "i": np.array([7], np.int64)}
    st_numpy.save_file(arrays, str(tmp_path / "n.safetensors"))
    out = est.load_file(tmp_path / "n.safetensors")
    assert out["w"].dtype == ember.float32 and out["i"].tolist() == [7]
    np.testing.assert_array_equal(out["w"].numpy(), arrays["w"])


def test_save_model_writes_tied_weights_once(tmp_path):
    m = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5, bias=False))
    m[1].weight = m[0].weight
    est.save_model(m, tmp_path / "tied.safetensors")
    assert sorted(st_numpy.load_file(str(tmp_path / "tied.safetensors"))) == ["0.weight"]
    m2 = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5, bias=False))
    m2[1].weight = m2[0].weight
    missing, unexpected = est.load_model(m2, tmp_path / "tied.safetensors")
    assert missing == [] and unexpected == []
    np.testing.assert_array_equal(m2[1].weight.detach().numpy(), m[0].weight.detach().numpy())


def test_errors():
    with pytest.raises(TypeError, match="expected a dict of tensors"):
        est.save([ember.ones(1)])
    with pytest.raises(TypeError, match="'a' is a ndarray, not a Tensor"):
        est.save({"a": np.ones(1)})
    with pytest.raises(TypeError, match="metadata must be a Dict"):
        est.save({"a": ember.ones(1)}, metadata={"k": 1})
    with pytest.raises(Exception, match="(?i)header"):
        est.load(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
