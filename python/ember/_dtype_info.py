"""ember.finfo / ember.iinfo: numeric limits of ember's dtypes, with PyTorch's fields."""

import math

import numpy as np

from . import _dtype

# bfloat16 has no numpy type: 8 exponent bits as float32, 7 stored mantissa bits.
_BF16 = {
    "bits": 16,
    "eps": 2.0**-7,
    "max": (2.0 - 2.0**-7) * 2.0**127,
    "tiny": 2.0**-126,
    "resolution": 0.01,
}


class finfo:  # noqa: N801 - PyTorch's name
    """Limits of a floating-point dtype: bits, eps, max, min, tiny, smallest_normal, resolution."""

    def __init__(self, type=None):  # noqa: A002 - PyTorch's name
        d = _dtype.get_default_dtype() if type is None else type
        if not isinstance(d, _dtype.dtype):
            raise TypeError(f"finfo(): argument 'type' must be ember.dtype, not {d!r}")
        if d.is_complex:  # the limits of its parts, as PyTorch
            d = _dtype.float32 if d.name == "complex64" else _dtype.float64
        if d.name == "bfloat16":
            v = _BF16
        elif d.name in ("float16", "float32", "float64"):
            f = np.finfo(np.dtype(d.name))
            v = {
                "bits": int(f.bits),
                "eps": float(f.eps),
                "max": float(f.max),
                "tiny": float(f.tiny),
                # 10**-(decimal digits the mantissa holds), as PyTorch computes it
                "resolution": 10.0 ** -math.floor(f.nmant * math.log10(2)),
            }
        else:
            raise TypeError(
                f"ember.finfo() requires a floating point input type, got {d}; "
                "use ember.iinfo for integer types"
            )
        self.bits = v["bits"]
        self.eps = v["eps"]
        self.max = v["max"]
        self.min = -v["max"]
        self.tiny = self.smallest_normal = v["tiny"]
        self.resolution = v["resolution"]
        self.dtype = d.name

    def __eq__(self, other):
        return isinstance(other, finfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("finfo", self.dtype))

    def __repr__(self):
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )


class iinfo:  # noqa: N801 - PyTorch's name
    """Limits of an integer dtype: bits, max, min."""

    def __init__(self, type):  # noqa: A002 - PyTorch's name
        if not isinstance(type, _dtype.dtype):
            raise TypeError(f"iinfo(): argument 'type' must be ember.dtype, not {type!r}")
        if type.name == "bool":
            raise TypeError("ember.bool is not supported by ember.iinfo")
        if type.name not in ("uint8", "int8", "int16", "int32", "int64"):
            raise TypeError(
                f"ember.iinfo() requires an integer input type, got {type}; "
                "use ember.finfo for floating-point types"
            )
        i = np.iinfo(np.dtype(type.name))
        self.bits = int(i.bits)
        self.min = int(i.min)
        self.max = int(i.max)
        self.dtype = type.name

    def __eq__(self, other):
        return isinstance(other, iinfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("iinfo", self.dtype))

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
