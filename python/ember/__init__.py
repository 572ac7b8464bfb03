"""ember: PyTorch's Python API on a Rust core.

`import ember as torch` runs PyTorch scripts on the CPU (and on any GPU once
the wgpu backend lands).
"""

from . import _C  # noqa: F401, I001
from ._C import Generator, Tensor  # noqa: F401
from ._dtype import (  # noqa: F401
    bfloat16,
    bool,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from ._dtype import _dtype_from_name  # noqa: F401
from ._device import device  # noqa: F401
from ._tensor import Size, return_types  # noqa: F401
from ._ops import *  # noqa: F401,F403
from ._ops import _rebuild_tensor  # noqa: F401
from ._formatting import set_printoptions  # noqa: F401
from . import autograd  # noqa: F401
from .autograd import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401
from .autograd.grad_mode import is_inference_mode_enabled  # noqa: F401
from . import cuda, linalg, random, testing  # noqa: F401
from . import gpu  # noqa: F401
from ._foreach import *  # noqa: F401,F403
from . import func  # noqa: F401
from . import fx, hub, onnx  # noqa: F401
from . import _index_range  # noqa: F401
from .func import vmap  # noqa: F401

__version__ = "0.1.0"

FloatTensor = DoubleTensor = LongTensor = IntTensor = BoolTensor = ByteTensor = None  # set below


def _legacy(dt):
    class _Legacy:
        dtype = dt

        def __new__(cls, *args):
            if len(args) == 1 and not isinstance(args[0], (type(1), type(1.0))):
                return tensor(args[0], dtype=dt)  # noqa: F405
            return zeros(*args, dtype=dt)  # noqa: F405

    _Legacy.__name__ = dt.name
    return _Legacy


FloatTensor = _legacy(float32)
DoubleTensor = _legacy(float64)
HalfTensor = _legacy(float16)
LongTensor = _legacy(int64)
IntTensor = _legacy(int32)
ShortTensor = _legacy(int16)
ByteTensor = _legacy(uint8)
BoolTensor = _legacy(bool)

try:
    from . import nn, optim, utils  # noqa: F401
    from .serialization import load, save  # noqa: F401
except ImportError as _e:  # pragma: no cover - the training layer is optional while it is built
    import warnings as _w

    _w.warn(f"ember: training layer unavailable: {_e}")
