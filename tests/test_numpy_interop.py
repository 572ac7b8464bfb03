"""numpy protocol and DLPack: Tensor.__array__/__array_wrap__/__dlpack__, ember.from_dlpack,
ember.utils.dlpack, and load_state_dict with foreign (e.g. torch) tensors.

The expected results of mixing numpy and tensors are PyTorch 2.15's with numpy 2.4, computed by
hand with real PyTorch and pasted here as constants (PyTorch is not a test dependency).
"""

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.utils import dlpack

# (expression, PyTorch 2.15's result: a (type, dtype) pair or the exception type)
_T = ember.ones(3)
_TI = ember.arange(3)
_ND = np.ones(3)
TORCH_TABLE = [
    ("t + nd", lambda: _T + _ND, ("Tensor", "float64")),
    ("t * nd", lambda: _T * _ND, ("Tensor", "float64")),
    ("t == nd", lambda: _T == _ND, ("Tensor", "bool")),
    ("nd == t", lambda: _ND == _T, ("Tensor", "bool")),
    ("nd + t", lambda: _ND + _T, TypeError),
    ("nd - t", lambda: _ND - _T, TypeError),
    ("nd < t", lambda: _ND < _T, TypeError),
    ("t > nd", lambda: _T > _ND, TypeError),
    ("np.float64(2) * t", lambda: np.float64(2) * _T, ("Tensor", "float32")),
    ("np.int64(2) + ti", lambda: np.int64(2) + _TI, ("Tensor", "int64")),
    ("np.exp(t)", lambda: np.exp(_T), ("Tensor", "float32")),
    ("np.add(t, t)", lambda: np.add(_T, _T), ("Tensor", "float32")),
    ("np.add(nd, t)", lambda: np.add(_ND, _T), ("Tensor", "float64")),
    ("np.sqrt(ti)", lambda: np.sqrt(_TI), ("Tensor", "float64")),
    ("np.greater(t, 0)", lambda: np.greater(_T, 0), ("Tensor", "uint8")),
    ("np.concatenate([t, t])", lambda: np.concatenate([_T, _T]), ("ndarray", "float32")),
    ("np.asarray(t)", lambda: np.asarray(_T), ("ndarray", "float32")),
    ("np.sum(t)", lambda: np.sum(_T), TypeError),
    ("np.mean(t)", lambda: np.mean(_T), TypeError),
]


@pytest.mark.parametrize("expr,fn,want", TORCH_TABLE, ids=[r[0] for r in TORCH_TABLE])
def test_numpy_mixing_matches_pytorch(expr, fn, want):
    if isinstance(want, type):
        with pytest.raises(want):
            fn()
        return
    r = fn()
    assert type(r).__name__ == want[0]
    assert str(r.dtype).split(".")[-1] == want[1]
    np.testing.assert_array_equal(np.asarray(r), eval(expr, {"np": np}, _numpy_env()))


def _numpy_env():
    return {"t": np.ones(3, np.float32), "ti": np.arange(3), "nd": np.ones(3)}


def test_numpy_ufunc_values_and_0d():
    t = ember.tensor([[0.5, -1.0], [2.0, 4.0]])
    r = np.exp(t)
    assert isinstance(r, ember.Tensor) and tuple(r.shape) == (2, 2)
    np.testing.assert_allclose(r.numpy(), np.exp(np.array([[0.5, -1.0], [2.0, 4.0]])), rtol=1e-6)
    z = np.exp(ember.tensor(1.0))
    assert isinstance(z, ember.Tensor) and z.dim() == 0  # PyTorch: tensor(2.7183)
    assert abs(z.item() - np.e) < 1e-6


def test_array_dtype_and_copy(device):
    t = ember.tensor([1.5, -2.0, 3.0]).to(device)
    a = np.asarray(t, dtype=np.float64)
    assert a.dtype == np.float64 and a.tolist() == [1.5, -2.0, 3.0]
    c = np.array(t, copy=True)
    c[0] = 9.0  # a copy: the tensor does not change
    assert t[0].item() == 1.5
    if device == "cpu":
        v = np.array(t, copy=False)  # a view of the storage (tests/test_zero_copy.py)
        v[1] = 5.0
        assert t[1].item() == 5.0
    else:
        with pytest.raises(ValueError, match="Unable to avoid copy"):
            np.array(t, copy=False)  # GPU memory cannot be viewed from the host
    assert ember.Tensor.__array_priority__ == 1000


_DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def _sample(name):
    if name == "bool":
        return np.array([[True, False, True], [False, False, True]])
    if name == "uint8":
        return np.array([[0, 7, 255], [1, 2, 3]], dtype=np.uint8)
    return np.array([[-3, -1, 0], [1, 2, 100]], dtype=name)


@pytest.mark.parametrize("name", _DTYPES)
def test_dlpack_round_trip_every_dtype(name):
    a = _sample(name)
    t = ember.from_dlpack(a)
    assert t.dtype == getattr(ember, name) and tuple(t.shape) == (2, 3)
    np.testing.assert_array_equal(t.numpy(), a)
    b = np.from_dlpack(t)
    assert b.dtype == a.dtype
    np.testing.assert_array_equal(b, a)
    assert t.__dlpack_device__() == (1, 0)  # kDLCPU
    np.testing.assert_array_equal(dlpack.from_dlpack(dlpack.to_dlpack(t)).numpy(), a)


def test_dlpack_strided_source_and_errors(device):
    v = np.arange(12.0).reshape(3, 4)[:, ::2]  # non-contiguous producer
    np.testing.assert_array_equal(ember.from_dlpack(v).numpy(), v)
    assert ember.from_dlpack(ember.ones(1)) is not None
    with pytest.raises(TypeError, match="expected an object with __dlpack__"):
        ember.from_dlpack([1, 2])
    with pytest.raises(BufferError, match="require gradient"):
        np.from_dlpack(ember.ones(2, requires_grad=True))
    t = ember.ones(2).to(device)
    if device == "cpu":
        assert np.from_dlpack(t).tolist() == [1.0, 1.0]
    else:
        with pytest.raises(BufferError, match="wgpu. have no DLPack device"):
            t.__dlpack_device__()
        with pytest.raises(BufferError, match="wgpu. have no DLPack device"):
            np.from_dlpack(t)


class ForeignTensor:
    """Duck-types a torch.Tensor for load_state_dict: shape, detach, __dlpack__, __array__."""

    def __init__(self, array, dlpack=True):
        self._a = np.asarray(array)
        self.shape = self._a.shape
        self.dtype = self._a.dtype
        self.detached = False
        if dlpack:
            self.__dlpack__ = lambda **kw: self._a.__dlpack__(**kw)
            self.__dlpack_device__ = self._a.__dlpack_device__

    def detach(self):
        self.detached = True
        return self

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


@pytest.mark.parametrize("dlpack_capable", [True, False])
def test_load_state_dict_accepts_foreign_tensors(device, dlpack_capable):
    m = nn.Linear(3, 2).to(device)
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([0.5, -0.5], dtype=np.float32)
    fw = ForeignTensor(w, dlpack_capable)
    m.load_state_dict({"weight": fw, "bias": ForeignTensor(b, dlpack_capable)})
    assert fw.detached
    np.testing.assert_array_equal(m.weight.detach().cpu().numpy(), w)
    np.testing.assert_array_equal(m.bias.detach().cpu().numpy(), b)
    out = m(ember.ones(1, 3).to(device))
    np.testing.assert_allclose(out.detach().cpu().numpy(), [[3.5, 11.5]])
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        m.load_state_dict({"weight": ForeignTensor(np.zeros((3, 3), np.float32)), "bias": b})
