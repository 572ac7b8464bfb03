"""Complex tensors (complex64 / complex128) on the Python side.

The core stores a complex tensor as pairs of reals and runs its ops as compositions
on the real view (rust/core/src/ops/complex.rs). This module adds what lives at the
Python boundary: the dtypes, tensors from Python/numpy complex data, numpy()/item()/
tolist(), the `ember.*` functions and Tensor methods/properties of PyTorch's complex API,
and PyTorch's warning when a cast drops the imaginary part.
"""

import builtins
import functools
import math
import warnings

import numpy as np

from . import _C, _dtype, _ops

Tensor = _C.Tensor

complex64 = _dtype.dtype("complex64")
complex128 = _dtype.dtype("complex128")
cfloat = complex64
cdouble = complex128

_dtype.complex64 = _dtype.cfloat = complex64
_dtype.complex128 = _dtype.cdouble = complex128
_dtype._ALL.extend([complex64, complex128])
_dtype._NP_NAMES.update(complex64="complex64", complex128="complex128")

_REAL = {"complex64": _dtype.float32, "complex128": _dtype.float64}
_NP_COMPLEX = {"complex64": np.complex64, "complex128": np.complex128}


def real_dtype(dt):
    """The float dtype of a complex dtype's parts."""
    return _REAL[dt.name]


def default_complex():
    """The complex dtype matching the default float dtype (complex64 for float32)."""
    return complex128 if _dtype.get_default_dtype() == _dtype.float64 else complex64


# ------------------------------------------------------------------ creation
_orig_infer = _ops._infer_dtype
_orig_from_array = _ops._from_numpy_array


def _infer_dtype(arr, from_python):
    if arr.dtype.kind == "c":
        if from_python:
            return default_complex()
        return complex64 if arr.dtype == np.complex64 else complex128
    return _orig_infer(arr, from_python)


def _from_numpy_array(arr, dtype):
    arr = np.asarray(arr)
    if dtype is None and arr.dtype.kind == "c":
        dtype = complex64 if arr.dtype == np.complex64 else complex128
    if dtype is None or not dtype.is_complex:
        if arr.dtype.kind == "c":
            warnings.warn("Casting complex values to real discards the imaginary part", UserWarning)
            arr = arr.real
        return _orig_from_array(arr, dtype)
    c = np.array(arr, dtype=_NP_COMPLEX[dtype.name], order="C")  # keeps 0-d arrays 0-d
    rdt = real_dtype(dtype)
    parts = c[..., None].view(np.dtype(rdt.name))
    return _C.view_as_complex(_orig_from_array(parts, rdt))


_ops._infer_dtype = _infer_dtype
_ops._from_numpy_array = _from_numpy_array


def full(shape, fill_value, dtype):
    """A complex tensor of `shape` filled with the (complex) number `fill_value`."""
    t = _C.zeros(list(shape), dtype)
    v = builtins.complex(fill_value)
    r = _C.view_as_real(t)
    if v.real != 0:
        r.select(-1, 0).fill_(v.real)
    if v.imag != 0:
        r.select(-1, 1).fill_(v.imag)
    return t


def randn(shape, dtype, generator):
    """Complex normal samples: real and imaginary parts each N(0, 1/2), as PyTorch."""
    r = _C.randn(list(shape) + [2], real_dtype(dtype), generator)
    return _C.view_as_complex(r.mul_(math.sqrt(0.5)))


def rand(shape, dtype, generator):
    """Complex uniform samples: real and imaginary parts each U[0, 1), as PyTorch."""
    return _C.view_as_complex(_C.rand(list(shape) + [2], real_dtype(dtype), generator))


# ------------------------------------------------------------------ out of tensors
def _method(name, fn):
    fn.__name__ = name
    fn.__qualname__ = f"Tensor.{name}"
    setattr(Tensor, name, fn)


_orig_numpy = Tensor.numpy
_orig_item = Tensor.item
_orig_to = Tensor.to


def numpy(self, *, force=False):
    if not self.dtype.is_complex:
        return _orig_numpy(self, force=force)
    if self.requires_grad and not force:
        raise RuntimeError(
            "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
        )
    if self.device.type != "cpu" and not force:
        raise TypeError(
            f"can't convert {self.device.type} device type tensor to numpy. Use Tensor.cpu() "
            "to copy the tensor to host memory first."
        )
    # the real view's memory, read as complex: same storage, no copy (as PyTorch)
    r = _orig_numpy(_C.view_as_real(self.detach().cpu()), force=force)
    return r.view(_NP_COMPLEX[self.dtype.name])[..., 0]


def item(self):
    if not self.dtype.is_complex:
        return _orig_item(self)
    if self.numel() != 1:
        raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
    re, im = _C.view_as_real(self.detach()).reshape(2).cpu().tolist()
    return builtins.complex(re, im)


def to(self, *args, **kwargs):
    out = _orig_to(self, *args, **kwargs)
    # PyTorch warns when a cast drops the imaginary part (not for bool: that tests nonzero)
    if self.dtype.is_complex and not out.dtype.is_complex and out.dtype != _dtype.bool:
        warnings.warn("Casting complex values to real discards the imaginary part", UserWarning)
    return out


_method("numpy", numpy)
_method("item", item)
_method("to", to)
Tensor.__complex__ = lambda self: builtins.complex(self.item())


# ------------------------------------------------------------------ the complex API
def view_as_real(input):
    return _C.view_as_real(input)


def view_as_complex(input):
    return _C.view_as_complex(input)


def complex(real, imag, *, out=None):  # noqa: A001 - PyTorch's name
    return _C.complex(real, imag)


def polar(abs, angle, *, out=None):  # noqa: A002 - PyTorch's name
    return _C.polar(abs, angle)


def real(input):
    return _C.real(input)


def imag(input):
    return _C.imag(input)


def conj_physical(input, *, out=None):
    return _C.conj_physical(input)


def conj(input):
    # ember has no lazy conjugate bit: the conjugate is materialized (is_conj() is False)
    return _C.conj_physical(input)


def resolve_conj(input):
    return input


def resolve_neg(input):
    return input


def is_conj(input):
    return False


def angle(input, *, out=None):
    return _C.angle(input)


def _set_part(which):
    def setter(self, value):
        part = _C.real(self) if which == "real" else _C.imag(self)
        part.copy_(value if isinstance(value, Tensor) else _ops.tensor(value))

    return setter


Tensor.real = property(lambda self: _C.real(self), _set_part("real"))
Tensor.imag = property(lambda self: _C.imag(self), _set_part("imag"))
_method("conj", lambda self: _C.conj_physical(self))
_method("conj_physical", lambda self: _C.conj_physical(self))
_method("resolve_conj", lambda self: self)
_method("resolve_neg", lambda self: self)
_method("is_conj", lambda self: False)
_method("angle", lambda self: _C.angle(self))
_method("cfloat", lambda self: self.to(complex64))
_method("cdouble", lambda self: self.to(complex128))


def _complex_aware(name, on_complex):
    """Tensor.<name> with its own rule for complex tensors (the real one otherwise)."""
    orig = getattr(Tensor, name)

    @functools.wraps(orig)  # keeps the real method's signature (stubs, stubtest)
    def f(self, *args, **kwargs):
        if self.dtype.is_complex:
            return on_complex(self, *args, **kwargs)
        return orig(self, *args, **kwargs)

    _method(name, f)


def _refuse(msg, exc=RuntimeError):
    def f(self, *args, **kwargs):
        raise exc(msg)

    return f


_SIGN_MSG = (
    "Unlike NumPy, torch.sign is not intended to support complex numbers. "
    "Please use torch.sgn instead."
)
# PyTorch's errors (checked by hand with PyTorch 2.15): sign is sgn's job for complex.
_complex_aware("sign", _refuse(_SIGN_MSG, NotImplementedError))
_complex_aware("sign_", _refuse(_SIGN_MSG, NotImplementedError))
_complex_aware("isposinf", _refuse("isposinf does not support complex inputs."))
_complex_aware("isneginf", _refuse("isneginf does not support complex inputs."))
_complex_aware("signbit", _refuse("signbit is not implemented for complex tensors."))
# A complex number is infinite when either part is, finite when both are, real when Im == 0.
_complex_aware("isinf", lambda self: _C.real(self).isinf().logical_or(_C.imag(self).isinf()))
_complex_aware(
    "isfinite", lambda self: _C.real(self).isfinite().logical_and(_C.imag(self).isfinite())
)
_complex_aware("isreal", lambda self: _C.imag(self) == 0)


def _value_for(self, value):
    """A Python complex fill value as a 0-dim tensor of a complex self's dtype."""
    if isinstance(value, builtins.complex) and self.dtype.is_complex:
        return _ops.tensor(value, dtype=self.dtype, device=self.device)
    return value


for _name in ("masked_fill", "masked_fill_"):
    _method(
        _name,
        (lambda orig: lambda self, mask, value: orig(self, mask, _value_for(self, value)))(
            getattr(Tensor, _name)
        ),
    )


def isreal(input):
    return input.isreal()


def _conj_physical_(self):
    if self.dtype.is_complex:
        _C.imag(self).neg_()
    return self


_method("conj_physical_", _conj_physical_)

__all__ = [
    "complex64",
    "complex128",
    "cfloat",
    "cdouble",
    "view_as_real",
    "view_as_complex",
    "complex",
    "polar",
    "real",
    "imag",
    "conj",
    "conj_physical",
    "resolve_conj",
    "resolve_neg",
    "is_conj",
    "angle",
    "isreal",
]
