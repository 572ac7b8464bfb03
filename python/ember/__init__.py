"""ember: PyTorch's Python API on a Rust core.

`import ember as torch` runs PyTorch scripts on the CPU (and on any GPU once
the wgpu backend lands).
"""

from . import _C  # noqa: F401, I001
from ._C import Generator, Tensor  # noqa: F401
from ._C import OutOfMemoryError  # noqa: F401 - torch.OutOfMemoryError (a RuntimeError)
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
from ._interop import from_dlpack  # noqa: F401
from ._formatting import set_printoptions  # noqa: F401
from ._threads import (  # noqa: F401
    get_num_interop_threads,
    get_num_threads,
    set_num_interop_threads,
    set_num_threads,
)
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
from . import distributed  # noqa: F401
from . import futures  # noqa: F401
from . import special  # noqa: F401
from . import fft  # noqa: F401 - torch.fft, and torch.stft/istft and the windows
from . import _validate  # PyTorch's argument checks around the bindings
from . import _scalar_range  # PyTorch's range checks on numbers written into tensors

_scalar_range.install()
OutOfMemoryError.__module__ = "ember"

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
    from . import distributions, nn, optim, profiler, utils  # noqa: F401
    from .serialization import load, save  # noqa: F401

    _validate._wrap_nn_functional()
except ImportError as _e:  # pragma: no cover - the training layer is optional while it is built
    import warnings as _w

    _w.warn(f"ember: training layer unavailable: {_e}")
else:
    # Mixed precision wraps ops of nn.functional, so it needs the training layer.
    from . import amp, cpu  # noqa: F401
    from .amp import GradScaler  # noqa: F401
    from .amp import _policy as _amp_policy
    from .amp.autocast_mode import (  # noqa: F401
        autocast,
        clear_autocast_cache,
        get_autocast_cpu_dtype,
        get_autocast_dtype,
        get_autocast_gpu_dtype,
        is_autocast_cache_enabled,
        is_autocast_cpu_enabled,
        is_autocast_enabled,
        set_autocast_cache_enabled,
        set_autocast_cpu_enabled,
        set_autocast_dtype,
        set_autocast_enabled,
    )

# PyTorch's program-level API: compiler entry points (they do not compile), settings,
# dtype limits, memory formats and the core ops real programs use (see README).
from . import (  # noqa: F401,E402
    _dynamo,
    _inplace_extra,
    accelerator,
    backends,
    compiler,
    jit,
    version,
)
from ._config import (  # noqa: F401,E402
    are_deterministic_algorithms_enabled,
    get_deterministic_debug_mode,
    get_float32_matmul_precision,
    is_deterministic_algorithms_warn_only_enabled,
    set_deterministic_debug_mode,
    set_float32_matmul_precision,
    use_deterministic_algorithms,
)
from ._device import get_default_device, set_default_device  # noqa: F401,E402
from ._dtype_info import finfo, iinfo  # noqa: F401,E402
from ._tensor_api import (  # noqa: F401,E402
    bincount,
    cdist,
    channels_last,
    channels_last_3d,
    contiguous_format,
    is_complex,
    isin,
    kron,
    memory_format,
    multinomial,
    pdist,
    preserve_format,
    rot90,
    tile,
    trace,
    tril_indices,
    triu_indices,
)
from .compiler import _assert, compile  # noqa: F401,E402,A004

for _name, _fn in _inplace_extra.top_level_functions.items():
    globals().setdefault(_name, _fn)  # ember's own torch.x_ (relu_, ...) win
del _name, _fn

try:
    from .nn.functional import cosine_similarity, pairwise_distance  # noqa: F401,E402
except ImportError:  # pragma: no cover - the training layer is optional while it is built
    pass

from .linalg import _aliases as _linalg_aliases  # noqa: E402

_linalg_aliases.install(globals())  # torch.inverse, torch.det, Tensor.slogdet, ...
del _linalg_aliases

# Complex dtypes and API (after _inplace_extra: its Tensor.conj_physical is replaced).
from ._complex import *  # noqa: F401,F403,E402,A004

# Autocast wraps the listed ops where they live; it runs after every op above exists.
if "_amp_policy" in globals():
    _amp_policy.install()
    cuda._install_amp()
