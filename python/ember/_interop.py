"""numpy and DLPack interop for ember.Tensor, with PyTorch's behaviour, without copies.

Sharing memory (CPU tensors): `from_numpy(a)`, `as_tensor(a)` and `asarray(a)` view the array's
buffer (the storage keeps the array alive); `t.numpy()`, `np.asarray(t)` and
`t.__array_interface__` view the tensor's storage with its strides (the array keeps the storage
alive). DLPack goes both ways through ember's own capsules (rust/py/src/interop.rs):
`t.__dlpack__()` / `ember.utils.dlpack.to_dlpack` export the storage, `ember.from_dlpack`
imports any CPU producer (PyTorch, numpy, ...) and calls its deleter when the last view dies.

Copies instead of views, and why: numpy arrays that are read-only (ember tensors are always
writable; writing into e.g. bytes or a read-only memmap would corrupt or crash), unaligned
(Rust slices must be aligned) or in a dtype ember converts (`as_tensor(a, dtype=other)`);
DLPack tensors flagged read-only, for the same reason. Errors as in PyTorch: byte-swapped arrays,
negative strides and strides that are not a multiple of the item size raise ValueError.
GPU tensors have no host address: numpy() raises TypeError, __dlpack__/__dlpack_device__ raise
BufferError (wgpu buffers have no DLPack device).

No buffer protocol: the extension is built for abi3-py39, whose limited API has no `Py_buffer`
before Python 3.11, so `memoryview(t)` raises TypeError as in PyTorch (which has none either);
`__array_interface__` and DLPack cover numpy and every DLPack consumer.

Mixing numpy and tensors behaves as in PyTorch 2.15 (checked by hand with numpy 2.4): numpy
ufuncs on tensors return tensors through `__array_wrap__` (bool results as uint8); the Tensor's
own operator returns NotImplemented for an ndarray, so `t + nd` is computed by numpy and wrapped
back into a (float64) Tensor, while `nd + t` and `t > nd` raise TypeError; `t == nd` compares
elementwise. Like PyTorch there is no `__array_ufunc__` or `__array_function__`, so `np.sum(t)`
calls `t.sum(axis=None, ...)` and raises TypeError.

Divergence kept on purpose: `np.asarray` also accepts GPU tensors and tensors that require grad
(copying to the host, detached), where PyTorch raises; ember's own testing helpers rely on it.
"""

import weakref

import numpy as np

from . import _C, _dtype
from ._C import Tensor

_DL_CPU = 1


# ------------------------------------------------------------------------- numpy, shared memory
_NP_TO_EMBER = {}  # np.dtype -> ember dtype, filled on first use (a dict hit is ~50 ns)


def share_numpy(arr):
    """A CPU tensor viewing ndarray `arr`'s memory (a copy when it is read-only or unaligned)."""
    if not _NP_TO_EMBER:
        for name in _dtype._NP_NAMES:
            _NP_TO_EMBER[np.dtype(name)] = _dtype.from_numpy_dtype(name)
    dt = _NP_TO_EMBER.get(arr.dtype)
    if dt is None:
        dt = _dtype.from_numpy_dtype(arr.dtype)  # TypeError naming unsupported dtypes
    if not arr.dtype.isnative:
        raise ValueError(
            "given numpy array has byte order different from the native byte order. "
            "Conversion between byte orders is currently not supported."
        )
    itemsize = arr.itemsize
    strides = arr.strides
    if any(s < 0 for s in strides):
        raise ValueError(
            "At least one stride in the given numpy array is negative, and tensors with "
            "negative strides are not currently supported. (You can probably work around this "
            "by making a copy of your array  with array.copy().) "
        )
    if any(s % itemsize for s in strides):
        raise ValueError(
            "given numpy array strides not a multiple of the element byte size. Copy the numpy "
            "array to reallocate the memory."
        )
    if not (arr.flags.writeable and arr.flags.aligned):
        # ember tensors are always writable and its kernels need aligned elements: copy
        arr = np.array(arr, order="C", copy=True)
        strides = arr.strides
    el_strides = [s // itemsize for s in strides]
    extent = 0
    if arr.size:
        extent = 1 + sum((n - 1) * s for n, s in zip(arr.shape, el_strides))
    ptr = arr.__array_interface__["data"][0]
    return _C._from_host_memory(arr, ptr, extent, list(arr.shape), el_strides, dt)


_EMBER_TO_NP = {}  # ember dtype -> np.dtype, filled on first use


class _StorageView:
    """The `__array_interface__` of a CPU tensor; holding the tensor keeps its storage alive."""

    __slots__ = ("_tensor", "__array_interface__")

    def __init__(self, t, interface):
        self._tensor = t
        self.__array_interface__ = interface


def _interface(t):
    """numpy's __array_interface__ (version 3) for CPU tensor `t`: its storage, its strides."""
    info = _C._storage_info(t)
    if info is None:
        raise TypeError(
            f"can't convert {t.device} device type tensor to numpy. Use Tensor.cpu() to copy "
            "the tensor to host memory first."
        )
    npd = _EMBER_TO_NP.get(t.dtype)
    if npd is None:
        npd = _EMBER_TO_NP[t.dtype] = _dtype.to_numpy_dtype(t.dtype)  # TypeError for bfloat16
    size = npd.itemsize
    return {
        "version": 3,
        "shape": tuple(t._shape),
        "typestr": npd.str,
        "data": (info[0] + t.storage_offset() * size, False),
        "strides": tuple([s * size for s in t.stride()]),
    }


class _Exporter:
    """What numpy.from_dlpack asks: a versioned capsule for numpy >= 2.1, a legacy one before."""

    __slots__ = ("tensor",)

    def __init__(self, t):
        self.tensor = t

    def __dlpack__(self, max_version=None, **kwargs):
        versioned = max_version is not None and int(max_version[0]) >= 1
        return _C._to_dlpack(self.tensor, versioned, False)

    def __dlpack_device__(self):
        return (_DL_CPU, 0)


def numpy_view(t):
    """An ndarray viewing CPU tensor `t`'s storage with t's strides (t's checks already done).

    Through ember's own DLPack capsule (about 2 us; the capsule, the array's base, holds a
    handle on the storage). numpy marks arrays from legacy capsules read-only and numpy < 1.25
    has no DLPack bool: those get the __array_interface__ of a holder of the tensor (~4 us).
    """
    if t.numel() == 0:
        # an empty view may carry an offset past the end of its storage; nothing to share
        return np.empty(tuple(t._shape), dtype=_dtype.to_numpy_dtype(t.dtype))
    try:
        a = np.from_dlpack(_Exporter(t))
        if a.flags.writeable:
            return a
    except (AttributeError, BufferError, TypeError, RuntimeError, ValueError):
        pass
    return np.asarray(_StorageView(t.detach(), _interface(t)))


# id(tensor) -> {storage id: detached alias}: see _array_interface
_EXPORTED = {}


def _array_interface(self):
    # Only where numpy() itself would succeed; otherwise AttributeError, so numpy falls back
    # to __array__ (which copies GPU tensors and detaches, see the module docstring).
    if self.device.type != "cpu" or self.requires_grad or self.dtype == _dtype.bfloat16:
        raise AttributeError(
            "__array_interface__ is only available on CPU tensors that do not require grad "
            "(and not for bfloat16, which numpy lacks)"
        )
    # numpy makes this Tensor object the array's base. `t.data = x` or a growing resize_
    # rebinds the object to another storage, which would free this one under the array, so
    # the object keeps an alias of every storage it exported until it dies (numpy() and
    # __array__ use a holder of their own and need none of this).
    key = id(self)
    kept = _EXPORTED.get(key)
    if kept is None:
        kept = _EXPORTED[key] = {}
        weakref.finalize(self, _EXPORTED.pop, key, None)
    sid = self._storage_id()
    if sid not in kept:
        kept[sid] = self.detach()
    return _interface(self)


def __array__(self, dtype=None, copy=None):
    t = self.detach()
    if t.device.type != "cpu":
        if copy is False:
            raise ValueError(
                f"Unable to avoid copy while creating an array as requested: the tensor is on "
                f"{t.device}, whose memory numpy cannot view."
            )
        t = t.cpu()
    a = numpy_view(t)
    if dtype is not None and a.dtype != np.dtype(dtype):
        if copy is False:
            raise ValueError(
                f"Unable to avoid copy while creating an array as requested: the tensor is "
                f"{a.dtype}, not {np.dtype(dtype)}."
            )
        return a.astype(dtype)
    if copy:
        return a.copy()
    return a


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
_NO_GPU_DLPACK = (
    "ember's GPU buffers (wgpu) have no DLPack device: DLPack cannot describe them. "
    "Use tensor.cpu() first."
)


def __dlpack_device__(self):
    if self.device.type == "cpu":
        return (_DL_CPU, 0)
    raise BufferError(f"__dlpack_device__: a tensor on {self.device}: {_NO_GPU_DLPACK}")


def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    if self.requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    if self.device.type != "cpu":
        raise BufferError(f"__dlpack__: a tensor on {self.device}: {_NO_GPU_DLPACK}")
    if stream is not None and stream != -1:
        raise AssertionError("stream should be None on cpu.")
    if dl_device is not None and tuple(dl_device) != (_DL_CPU, 0):
        raise BufferError(f"ember can only export to the cpu, not to DLPack device {dl_device}")
    t = self.detach()
    if copy:
        t = t.clone()
    # DLPack >= 1.0 consumers ask with max_version and get a versioned capsule; older ones
    # (no max_version) get the legacy "dltensor" capsule, as the Array API standard says.
    versioned = max_version is not None and int(max_version[0]) >= 1
    return _C._to_dlpack(t, versioned, bool(copy))


def from_dlpack(ext_tensor):
    """A tensor sharing memory with any CPU DLPack producer (or a bare DLPack capsule).

    The producer's deleter runs when the last ember view of the memory dies. Read-only
    producers (DLPack's READ_ONLY flag) are copied: ember tensors are always writable.
    """
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    if type(ext_tensor).__name__ == "PyCapsule":
        return _C._from_dlpack(ext_tensor)
    if not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(
            f"from_dlpack: expected an object with __dlpack__ or a DLPack capsule, got "
            f"{type(ext_tensor).__name__}"
        )
    if hasattr(ext_tensor, "__dlpack_device__"):
        dev = ext_tensor.__dlpack_device__()
        if int(dev[0]) != _DL_CPU:
            raise RuntimeError(
                f"from_dlpack: ember imports CPU tensors only; this one is on DLPack device "
                f"{tuple(int(x) for x in dev)}. Move it to the cpu first."
            )
    try:
        capsule = ext_tensor.__dlpack__(max_version=(1, 0))
    except TypeError:
        capsule = ext_tensor.__dlpack__()  # a producer older than DLPack 1.0
    return _C._from_dlpack(capsule)


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
    if hasattr(v, "__dlpack__"):
        try:
            return from_dlpack(v)
        except (RuntimeError, BufferError, TypeError):
            pass  # e.g. a GPU tensor: fall back to its host copy
    if str(getattr(v, "dtype", "")).endswith("bfloat16") and callable(getattr(v, "float", None)):
        return as_ember_tensor(v.float()).to(_dtype.bfloat16)  # numpy has no bfloat16
    from ._ops import from_numpy

    return from_numpy(np.ascontiguousarray(np.asarray(v)))


def _install():
    hash_ = Tensor.__hash__
    Tensor.__array__ = __array__
    Tensor.__array_wrap__ = __array_wrap__
    Tensor.__array_priority__ = 1000
    Tensor.__array_interface__ = property(_array_interface)
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
