"""dtype singletons (ember.float32, ...) and helpers."""

from . import _C

dtype = _C.dtype

float32 = dtype("float32")
float64 = dtype("float64")
float16 = dtype("float16")
bfloat16 = dtype("bfloat16")
int64 = dtype("int64")
int32 = dtype("int32")
int16 = dtype("int16")
int8 = dtype("int8")
uint8 = dtype("uint8")
bool = dtype("bool")  # noqa: A001 - PyTorch's name

float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

_ALL = [float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool]

_default_float = [float32]


def get_default_dtype():
    return _default_float[0]


def set_default_dtype(d):
    if d not in (float32, float64, float16, bfloat16):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float[0] = d


def _dtype_from_name(name):
    return dtype(name)


_NP_NAMES = {
    "float32": "float32",
    "float64": "float64",
    "float16": "float16",
    "int64": "int64",
    "int32": "int32",
    "int16": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
}


def to_numpy_dtype(d):
    import numpy as np

    if d.name == "bfloat16":
        raise TypeError("Got unsupported ScalarType BFloat16")
    return np.dtype(_NP_NAMES[d.name])


def from_numpy_dtype(npd):
    import numpy as np

    npd = np.dtype(npd)
    name = npd.name
    if name in _NP_NAMES:
        return dtype(name)
    raise TypeError(
        f"can't convert np.ndarray of type numpy.{name}. The only supported types are: "
        "float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
    )
