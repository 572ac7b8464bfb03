"""Names and behaviours third-party programs need (found by tools/run_programs.py): in-place
activations that train, range indices, ember.fx/onnx/hub, SyncBatchNorm, Generic data classes.
Values marked "PyTorch 2.15" were computed by hand with real PyTorch on the same inputs and
pasted.
"""

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

# PyTorch 2.15: y = linspace(-4, 4, 9) * 1.5; f(y, inplace=True); (y * arange(9)).sum().backward();
# rows are (y after the op, x.grad), rounded to 4 decimals.
# fmt: off
INPLACE = {
    "threshold": (lambda t: F.threshold(t, 0.1, -2.0, inplace=True),
                  [-2.0, -2.0, -2.0, -2.0, -2.0, 1.5, 3.0, 4.5, 6.0],
                  [0.0, 0.0, 0.0, 0.0, 0.0, 7.5, 9.0, 10.5, 12.0]),
    "elu": (lambda t: F.elu(t, 0.7, inplace=True),
            [-0.6983, -0.6922, -0.6651, -0.5438, 0.0, 1.5, 3.0, 4.5, 6.0],
            [0.0, 0.0117, 0.1046, 0.7029, 4.2, 7.5, 9.0, 10.5, 12.0]),
    "selu": (lambda t: F.selu(t, inplace=True),
             [-1.7537, -1.7386, -1.6706, -1.3658, 0.0, 1.5761, 3.1521, 4.7282, 6.3042],
             [0.0, 0.0293, 0.2626, 1.7653, 10.5486, 7.8803, 9.4563, 11.0324, 12.6084]),
    "celu": (lambda t: F.celu(t, 1.3, inplace=True),
             [-1.2871, -1.2592, -1.1707, -0.89, 0.0, 1.5, 3.0, 4.5, 6.0],
             [0.0, 0.0471, 0.2985, 1.4194, 6.0, 7.5, 9.0, 10.5, 12.0]),
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.2, inplace=True),
                   [-1.2, -0.9, -0.6, -0.3, 0.0, 1.5, 3.0, 4.5, 6.0],
                   [0.0, 0.3, 0.6, 0.9, 1.2, 7.5, 9.0, 10.5, 12.0]),
    "silu": (lambda t: F.silu(t, inplace=True),
             [-0.0148, -0.0494, -0.1423, -0.2736, 0.0, 1.2264, 2.8577, 4.4506, 5.9852],
             [0.0, -0.0569, -0.2643, -0.1858, 3.0, 7.8097, 9.7929, 10.8981, 12.1479]),
    "mish": (lambda t: F.mish(t, inplace=True),
             [-0.0149, -0.0497, -0.1456, -0.2981, 0.0, 1.4034, 2.9865, 4.4989, 5.9999],
             [0.0, -0.0576, -0.2802, -0.2884, 3.6, 8.1637, 9.19, 10.52, 12.0016]),
    "hardsigmoid": (lambda t: F.hardsigmoid(t, inplace=True),
                    [0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0],
                    [0.0, 0.0, 0.0, 0.75, 1.0, 1.25, 0.0, 0.0, 0.0]),
    "hardswish": (lambda t: F.hardswish(t, inplace=True),
                  [0.0, 0.0, 0.0, -0.375, 0.0, 1.125, 3.0, 4.5, 6.0],
                  [0.0, 0.0, 0.0, 0.0, 3.0, 7.5, 9.0, 10.5, 12.0]),
}
# fmt: on


def _np(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_activation_trains(device, name):
    # The op overwrites a non-leaf that autograd recorded; backward must still see the input.
    fn, want_y, want_grad = INPLACE[name]
    x = ember.linspace(-4, 4, 9).to(device).requires_grad_(True)
    y = x * 1.5
    fn(y)
    (y * ember.arange(9.0).to(device)).sum().backward()
    np.testing.assert_allclose(_np(y), want_y, atol=1e-4)
    np.testing.assert_allclose(_np(x.grad), want_grad, atol=1e-4)


def test_range_index(device):
    x = ember.zeros(3, 4, device=device)
    x[range(3), ember.tensor([1, 2, 3], device=device)] = 5.0
    want = np.zeros((3, 4), np.float32)
    want[[0, 1, 2], [1, 2, 3]] = 5
    np.testing.assert_array_equal(_np(x), want)
    np.testing.assert_array_equal(_np(x[range(1, 3)]), want[1:3])


def test_fx_onnx():
    @ember.fx.wrap
    def f(x):
        return x + 1

    assert f(1) == 2 and not ember.fx.is_tracing()
    with pytest.raises(NotImplementedError, match="no FX graph tracer"):
        ember.fx.symbolic_trace(nn.Linear(1, 1))
    assert ember.onnx.is_in_onnx_export() is False
    with pytest.raises(NotImplementedError, match="no ONNX exporter"):
        ember.onnx.export(nn.Linear(1, 1), (ember.ones(1, 1),), "m.onnx")


def test_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert ember.hub.get_dir() == str(tmp_path / "th" / "hub")
    src = tmp_path / "w-abc.bin"
    src.write_bytes(b"ember")
    # sha256(b"ember") starts with 7cad (computed with hashlib by hand).
    dst = tmp_path / "out" / "w.bin"
    ember.hub.download_url_to_file(src.as_uri(), dst, hash_prefix="7cad")
    assert dst.read_bytes() == b"ember"
    with pytest.raises(RuntimeError, match="invalid hash value"):
        ember.hub.download_url_to_file(src.as_uri(), tmp_path / "x.bin", hash_prefix="0000")
    assert not (tmp_path / "x.bin").exists()
    assert ember.hub.HASH_REGEX.search("resnet18-f37072fd.pth").group(1) == "f37072fd"
    ckpt = tmp_path / "sd-1.pt"
    ember.save({"w": ember.ones(2)}, ckpt)
    sd = ember.hub.load_state_dict_from_url(ckpt.as_uri(), model_dir=tmp_path / "cache")
    assert _np(sd["w"]).tolist() == [1.0, 1.0]


def test_sync_batchnorm_single_process(device):
    # Without a process group SyncBatchNorm is batch norm, for any input rank >= 2.
    x = ember.arange(24.0).reshape(2, 3, 4).to(device)
    m = nn.SyncBatchNorm(3).to(device)
    out = m(x)
    a = np.arange(24.0).reshape(2, 3, 4)
    mean, var = a.mean(axis=(0, 2), keepdims=True), a.var(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(_np(out), (a - mean) / np.sqrt(var + 1e-5), atol=1e-4)
    net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert type(conv[1]) is nn.SyncBatchNorm and conv[1].weight is net[1].weight
    with pytest.raises(ValueError, match="at least 2D"):
        m(ember.ones(3))


def test_generic_data_classes():
    class S(ember.utils.data.Sampler[int]):
        def __iter__(self):
            return iter([2, 0])

    assert list(S()) == [2, 0]
    assert ember.utils.data.Dataset[int] is not None
    assert ember.utils.data.DataLoader[int] is not None


def test_tensor_from_any_sequence(device):
    # reinforce.py builds its returns in a deque; PyTorch reads any sequence like a list.
    import collections

    t = ember.tensor(collections.deque([1.5, 2.5]), device=device)
    assert t.dtype == ember.float32 and _np(t).tolist() == [1.5, 2.5]
    assert _np(ember.tensor(range(3), device=device)).tolist() == [0, 1, 2]
    assert ember.tensor(range(3)).dtype == ember.int64
