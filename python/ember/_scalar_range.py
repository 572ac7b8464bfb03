"""PyTorch's range checks on Python numbers written into a tensor (issue 17, item 7).

Without them a number that does not fit the tensor's dtype wrapped silently
(`full((2,), 256, dtype=uint8)` gave zeros). PyTorch's rule, checked by hand
with PyTorch 2.15, is uneven and is followed exactly:

- fill-like ops (full, full_like, new_full, fill_, masked_fill, index_fill,
  scatter with a value, setitem, where with an integer tensor) raise
  `RuntimeError: value cannot be converted to type uint8_t without overflow`
  when the number is out of range. Integers into uint8 may be as low as -255
  (they wrap: `fill_(-1)` is 255); a float into an integer dtype must be >= the
  lowest value and < max + 1 (it is truncated), and NaN or inf never fit; a
  float dtype takes inf and NaN but no finite value beyond its largest.
- `tensor(data, dtype=<integer dtype>)` checks every element the same way
  (message names the dtype as "uint8"); float dtypes round to inf silently.
- clamp on an integer tensor raises "Clamp min value 256 is outside the
  representable range of Byte" when a bound lies beyond the far end of the
  range, and treats a bound beyond the near end as no bound; on float16,
  bfloat16 and float32 an out-of-range bound is the conversion error. A NaN
  bound makes every element NaN.
"""

import math
import numbers
import sys

import numpy as np

from . import _dtype
from ._tensor import Tensor

_ops = sys.modules[__package__ + "._ops"]

_INT_RANGE = {
    _dtype.uint8: (0, 2**8 - 1),
    _dtype.int8: (-(2**7), 2**7 - 1),
    _dtype.int16: (-(2**15), 2**15 - 1),
    _dtype.int32: (-(2**31), 2**31 - 1),
    _dtype.int64: (-(2**63), 2**63 - 1),
}
_FLOAT_MAX = {
    _dtype.float16: 65504.0,
    _dtype.bfloat16: 3.3895313892515355e38,
    _dtype.float32: 3.4028234663852886e38,
}
# The C++ type names of PyTorch's fill message, and the names of tensor()'s message.
_C_TYPE = {
    _dtype.uint8: "uint8_t",
    _dtype.int8: "int8_t",
    _dtype.int16: "int16_t",
    _dtype.int32: "int",
    _dtype.int64: "int64_t",
    _dtype.float16: "c10::Half",
    _dtype.bfloat16: "c10::BFloat16",
    _dtype.float32: "float",
    _dtype.float64: "double",
}
_LEGACY = {
    _dtype.uint8: "Byte",
    _dtype.int8: "Char",
    _dtype.int16: "Short",
    _dtype.int32: "Int",
    _dtype.int64: "Long",
}


def _is_number(v):
    return isinstance(v, numbers.Number) and not isinstance(v, (bool, np.bool_))


def overflows(v, dt):
    """Whether the Python number `v` does not fit dtype `dt` (PyTorch's checked_convert)."""
    if not _is_number(v) or dt == _dtype.bool or dt == _dtype.float64:
        return False
    if dt in _FLOAT_MAX:
        try:
            f = float(v)
        except OverflowError:
            return True
        return math.isfinite(f) and abs(f) > _FLOAT_MAX[dt]
    lo, hi = _INT_RANGE.get(dt, (None, None))
    if lo is None:
        return False
    if isinstance(v, numbers.Integral):
        v = int(v)
        # Negative integers wrap into unsigned types (two's complement) down to -max.
        return v > hi or v < (-hi if lo == 0 else lo)
    f = float(v)
    return not math.isfinite(f) or f < lo or f >= hi + 1


def check(v, dt):
    if overflows(v, dt):
        raise RuntimeError(f"value cannot be converted to type {_C_TYPE[dt]} without overflow")


def _num(v):
    """A Python number, or a 0-d tensor's value (masked_fill reads those too)."""
    if isinstance(v, Tensor) and v.dim() == 0 and v.device.type == "cpu":
        return v.item()
    return v


def _wrap(owner, name, pre):
    f = getattr(owner, name)

    def g(*args, **kwargs):
        pre(*args, **kwargs)
        return f(*args, **kwargs)

    g.__name__ = f.__name__
    g.__qualname__ = getattr(f, "__qualname__", name)
    g.__doc__ = f.__doc__
    g.__wrapped__ = f
    setattr(owner, name, g)
    return g


def _full_dtype(fill_value, dtype):
    if dtype is not None:
        return dtype
    if isinstance(fill_value, numbers.Integral) and not isinstance(fill_value, bool):
        return _dtype.int64
    if isinstance(fill_value, numbers.Real) and not isinstance(fill_value, bool):
        return sys.modules[__package__].get_default_dtype()
    return None


def _check_full(size, fill_value, *args, dtype=None, **kwargs):
    if isinstance(size, (tuple, list)) and len(size) == 0:
        return  # PyTorch builds a 0-d full() without the check (full((), 2**40, float16) is inf)
    dt = _full_dtype(fill_value, dtype)
    if dt is not None:
        check(fill_value, dt)


def _check_full_like(input, fill_value, *args, dtype=None, **kwargs):  # noqa: A002
    check(fill_value, dtype if dtype is not None else input.dtype)


def _check_new_full(self, size, fill_value, *args, dtype=None, **kwargs):
    check(fill_value, dtype if dtype is not None else self.dtype)


def _check_fill(self, value, *args, **kwargs):
    check(value, self.dtype)


def _check_masked_fill(self, mask, value, *args, **kwargs):
    check(_num(value), self.dtype)


def _check_index_fill(self, dim, index, value, *args, **kwargs):
    check(value, self.dtype)


def _check_scatter(self, dim, index, src=None, *args, value=None, **kwargs):
    for v in (src, value):
        if v is not None and _is_number(v):
            check(v, self.dtype)


def _check_setitem(self, key, value):
    check(value, self.dtype)


def _check_where(condition, input=None, other=None, **kwargs):  # noqa: A002
    # Only an integer tensor with a number of its own kind keeps the tensor's dtype
    # and checks the number (PyTorch does not check a float16 branch).
    for t, n in ((input, other), (other, input)):
        if isinstance(t, Tensor) and _is_number(n) and t.dtype in _INT_RANGE:
            if isinstance(n, numbers.Integral):
                check(n, t.dtype)


def _check_tensor(data, dtype=None, *args, **kwargs):
    if dtype is None or dtype not in _INT_RANGE or isinstance(data, (Tensor, np.ndarray)):
        return
    if _is_number(data) or isinstance(data, (list, tuple)):
        for v in _flat(data):
            if overflows(v, dtype):
                raise RuntimeError(
                    f"value cannot be converted to type {dtype.name} without overflow"
                )


def _flat(data):
    if isinstance(data, (list, tuple)):
        for x in data:
            yield from _flat(x)
    else:
        yield data


def _clamp_bounds(self, min, max):  # noqa: A002
    """The bounds to pass on, or raise PyTorch's error; ("nan", ..) when a bound is NaN."""
    dt = self.dtype
    nan = any(isinstance(b, float) and math.isnan(b) for b in (min, max))
    if nan:
        return nan, min, max  # NaN wins before any range check (PyTorch)
    if dt in _INT_RANGE:
        lo, hi = _INT_RANGE[dt]
        out = []
        for what, b in (("min", min), ("max", max)):
            if isinstance(b, numbers.Integral) and not isinstance(b, bool):
                b = int(b)
                far = b > hi if what == "min" else b < lo
                if far:
                    raise RuntimeError(
                        f"Clamp {what} value {float(b):g} is outside the representable "
                        f"range of {_LEGACY[dt]}"
                    )
                # Beyond the near end the bound changes nothing.
                if b < lo or b > hi:
                    b = lo if b < lo else hi
            out.append(b)
        return nan, out[0], out[1]
    if dt in _FLOAT_MAX:
        for b in (min, max):
            check(b, dt)
    return nan, min, max


def _clamp(f, inplace):
    def g(self, min=None, max=None):  # noqa: A002
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            return f(self, min, max)
        nan, lo, hi = _clamp_bounds(self, min, max)
        if not nan:
            return f(self, lo, hi)
        # A NaN bound: every element is NaN (PyTorch); no gradient flows.
        keep = [
            b for b in (lo, hi) if b is not None and not (isinstance(b, float) and math.isnan(b))
        ]
        out = f(self, keep[0] if keep else -math.inf, None)
        if inplace:
            with _grad_off():
                return self.fill_(math.nan)
        return _ops.where(_ops.ones_like(out, dtype=_dtype.bool), math.nan, out)

    g.__name__ = f.__name__
    g.__qualname__ = getattr(f, "__qualname__", "clamp")
    g.__doc__ = f.__doc__
    g.__wrapped__ = f
    return g


def _grad_off():
    return sys.modules[__package__].no_grad()


def install():
    pkg = sys.modules[__package__]
    for owner in (_ops, pkg):
        _wrap(owner, "full", _check_full)
        _wrap(owner, "full_like", _check_full_like)
        _wrap(owner, "tensor", _check_tensor)
        _wrap(owner, "where", _check_where)
    _wrap(Tensor, "new_full", _check_new_full)
    _wrap(Tensor, "fill_", _check_fill)
    for n in ("masked_fill", "masked_fill_"):
        _wrap(Tensor, n, _check_masked_fill)
    for n in ("index_fill", "index_fill_"):
        _wrap(Tensor, n, _check_index_fill)
    for n in ("scatter", "scatter_"):
        _wrap(Tensor, n, _check_scatter)
    _wrap(Tensor, "__setitem__", _check_setitem)
    _copy = Tensor.copy_

    def copy_(self, src, non_blocking=False):
        # PyTorch copies a Python number into every element, converted as a
        # tensor's values are (no range check: uint8.copy_(nan) returns).
        if isinstance(src, numbers.Number):
            return _copy(self, _ops.tensor(src), non_blocking)
        return _copy(self, src, non_blocking)

    copy_.__doc__ = _copy.__doc__
    Tensor.copy_ = copy_
    for n in ("clamp", "clip"):
        setattr(Tensor, n, _clamp(getattr(Tensor, n), False))
    for n in ("clamp_", "clip_"):
        setattr(Tensor, n, _clamp(getattr(Tensor, n), True))
    clamp_fn = _clamp(_ops.clamp, False)
    _ops.clamp = pkg.clamp = _ops.clip = pkg.clip = clamp_fn
