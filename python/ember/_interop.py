"""numpy and DLPack interop for ember.Tensor, with PyTorch's behaviour.

numpy: `np.asarray(t)` / `np.array(t, dtype=..., copy=...)` go through `Tensor.__array__`;
numpy ufuncs on tensors return tensors through `__array_wrap__` (bool results as uint8, as
PyTorch does). Binary operators with an ndarray behave as in PyTorch 2.15 (checked by hand with
numpy 2.4): the Tensor's own operator returns NotImplemented for an ndarray, so `t + nd` is
computed by numpy and wrapped back into a (float64) Tensor, while `nd + t` and `t > nd` raise
TypeError; `t == nd` compares elementwise. Like PyTorch there is no `__array_ufunc__` or
`__array_function__`, so `np.sum(t)` calls `t.sum(axis=None, ...)`.

Divergence kept on purpose: `np.asarray` also accepts GPU tensors and tensors that require grad
(copying to the host, detached), where PyTorch raises; ember's own testing helpers rely on it.

DLPack: `Tensor.__dlpack__` exports a CPU tensor through numpy's DLPack support on
`t.numpy()`, so it is zero-copy exactly when `numpy()` is (today numpy() copies; the exported
array is then a private copy). `ember.from_dlpack` imports any DLPack producer on the CPU
through `np.from_dlpack` (zero-copy into numpy; `from_numpy` makes it zero-copy into ember when
that shares memory). GPU tensors cannot be exported: wgpu buffers have no DLPack handle.
"""

import numpy as np

from . import _dtype
from ._C import Tensor

_DL_CPU = 1
_DL_VULKAN = 7  # DLPack's device type for Vulkan, which ember's "gpu" runs on


def __array__(self, dtype=None, copy=None):
    t = self.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    a = t.numpy()
    if copy is False and not _shares_memory(t, a):
        raise ValueError(
            "Unable to avoid copy while creating an array as requested: ember's Tensor.numpy() "
            "copies the tensor's data. Use np.asarray(t) to allow the copy."
        )
    if dtype is not None and a.dtype != np.dtype(dtype):
        return a.astype(dtype)
    if copy:
        return a.copy()
    return a


def _shares_memory(t, a):
    """Whether `a` (from t.numpy()) views t's storage (true once numpy() is zero-copy)."""
    try:
        start = t.data_ptr() + t.storage_offset() * t.element_size()
    except (AttributeError, RuntimeError, TypeError):
        return False
    return a.__array_interface__["data"][0] in (t.data_ptr(), start)


def __array_wrap__(self, array, context=None, return_scalar=False):
    if array.dtype == np.bool_:
        # PyTorch wraps numpy's bool results as uint8 (np.greater(t, 0) -> uint8 tensor)
        array = array.astype(np.uint8)
    from ._ops import from_numpy

    # (ascontiguousarray would turn a 0-d result into 1-d)
    return from_numpy(np.array(array, order="C", copy=not array.flags.c_contiguous))


def _ndarray_aware(name, orig):
    """Wrap a binary operator so an ndarray operand gets NotImplemented, as in PyTorch.

    The wrapper only does work on the error path: a normal call costs one extra Python frame.
    """

    def op(self, other):
        try:
            return orig(self, other)
        except TypeError:
            if isinstance(other, np.ndarray):
                return NotImplemented
            raise

    op.__name__ = name
    op.__qualname__ = f"Tensor.{name}"
    op.__doc__ = getattr(orig, "__doc__", None)
    return op


_NOT_IMPLEMENTED_FOR_NDARRAY = [
    "__add__",
    "__radd__",
    "__iadd__",
    "__sub__",
    "__rsub__",
    "__isub__",
    "__mul__",
    "__rmul__",
    "__imul__",
    "__truediv__",
    "__itruediv__",
    "__floordiv__",
    "__rfloordiv__",
    "__mod__",
    "__rmod__",
    "__pow__",
    "__rpow__",
    "__matmul__",
    "__rmatmul__",
    "__and__",
    "__rand__",
    "__or__",
    "__ror__",
    "__xor__",
    "__rxor__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
]


def _eq_with_ndarray(orig):
    def __eq__(self, other):
        if isinstance(other, np.ndarray):
            from ._ops import as_tensor

            other = as_tensor(other, device=self.device)
        return orig(self, other)

    return __eq__


def _rtruediv_with_ndarray(orig):
    def __rtruediv__(self, other):
        if isinstance(other, np.ndarray):
            return self.reciprocal() * other  # numpy computes it; as PyTorch: a float64 Tensor
        return orig(self, other)

    return __rtruediv__


# ------------------------------------------------------------------------------------ DLPack
def __dlpack_device__(self):
    if self.device.type == "cpu":
        return (_DL_CPU, 0)
    return (_DL_VULKAN, self.device.index or 0)


def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    if self.requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    if self.device.type != "cpu":
        raise BufferError(
            f"Can't export a tensor on the {self.device} device through DLPack: ember's GPU "
            "buffers (wgpu) have no DLPack handle. Use tensor.cpu() first."
        )
    if stream is not None and stream != -1:
        raise AssertionError("stream should be None on cpu.")
    if dl_device is not None and tuple(dl_device) != (_DL_CPU, 0):
        raise BufferError(f"ember can only export to the cpu, not to DLPack device {dl_device}")
    if self.dtype == _dtype.bfloat16:
        raise BufferError(
            "ember exports DLPack through numpy, which has no bfloat16; convert with .float()"
        )
    a = self.numpy()
    if not a.flags.writeable:
        # a read-only host copy (numpy() copies today); DLPack < 1.0 cannot signal read-only
        a = a.copy()
    kwargs = {}
    if max_version is not None:
        kwargs["max_version"] = max_version
    if copy is not None:
        kwargs["copy"] = copy
    return a.__dlpack__(**kwargs)


class _Capsule:
    """Gives a bare DLPack capsule (torch.utils.dlpack.to_dlpack's result) the protocol."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return (_DL_CPU, 0)


def from_dlpack(ext_tensor):
    """Import a tensor from any DLPack producer on the CPU (or a DLPack capsule)."""
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    src = ext_tensor
    if type(ext_tensor).__name__ == "PyCapsule":
        src = _Capsule(ext_tensor)
    elif not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(
            f"from_dlpack: expected an object with __dlpack__ or a DLPack capsule, got "
            f"{type(ext_tensor).__name__}"
        )
    if hasattr(src, "__dlpack_device__"):
        dev = src.__dlpack_device__()
        if int(dev[0]) != _DL_CPU:
            raise RuntimeError(
                f"from_dlpack: ember imports CPU tensors only; this one is on DLPack device "
                f"{tuple(dev)}. Move it to the cpu first."
            )
    try:
        a = np.from_dlpack(src)
    except (BufferError, TypeError, RuntimeError) as e:
        raise RuntimeError(f"from_dlpack: numpy could not import the tensor: {e}") from None
    from ._ops import from_numpy

    return from_numpy(a)


def as_ember_tensor(value):
    """A foreign tensor (e.g. a torch.Tensor: `__dlpack__` or `__array__`) as an ember Tensor.

    Anything else, ember tensors and numpy arrays included, is returned unchanged. Used by
    load_state_dict so real PyTorch state dicts load into ember models.
    """
    if isinstance(value, (Tensor, np.ndarray, np.generic)) or not (
        hasattr(value, "__dlpack__") or hasattr(value, "__array__")
    ):
        return value
    if not hasattr(value, "shape"):
        return value
    v = value.detach() if callable(getattr(value, "detach", None)) else value
    if str(getattr(v, "dtype", "")).endswith("bfloat16") and callable(getattr(v, "float", None)):
        return as_ember_tensor(v.float()).to(_dtype.bfloat16)  # numpy has no bfloat16
    if hasattr(v, "__dlpack__"):
        try:
            return from_dlpack(v)
        except (RuntimeError, BufferError, TypeError):
            pass  # e.g. a GPU tensor: fall back to its host copy
    from ._ops import from_numpy

    return from_numpy(np.ascontiguousarray(np.asarray(v)))


def _install():
    hash_ = Tensor.__hash__
    Tensor.__array__ = __array__
    Tensor.__array_wrap__ = __array_wrap__
    Tensor.__array_priority__ = 1000
    Tensor.__dlpack__ = __dlpack__
    Tensor.__dlpack_device__ = __dlpack_device__
    for name in _NOT_IMPLEMENTED_FOR_NDARRAY:
        orig = getattr(Tensor, name, None)
        if orig is not None:
            setattr(Tensor, name, _ndarray_aware(name, orig))
    Tensor.__eq__ = _eq_with_ndarray(Tensor.__eq__)
    if hasattr(Tensor, "__rtruediv__"):
        Tensor.__rtruediv__ = _rtruediv_with_ndarray(Tensor.__rtruediv__)
    Tensor.__hash__ = hash_  # keep hashing by identity after replacing __eq__


_install()
