"""torch.autocast for ember: the thread-local autocast state and the context manager.

PyTorch keeps one autocast state per device type and per thread. ember has two
device types, "cpu" and "gpu" ("cuda", "mps" and the other GPU names alias
"gpu"). The ops that obey the state are wrapped by ember.amp._policy; they read
one flag, `_state.active` (is any device's autocast on in this thread), so the
cost with autocast off is that one attribute read.
"""

import functools
import threading
import warnings

from .. import _dtype
from .._device import _ALIASES

__all__ = [
    "autocast",
    "is_autocast_available",
    "is_autocast_enabled",
    "set_autocast_enabled",
    "get_autocast_dtype",
    "set_autocast_dtype",
    "is_autocast_cache_enabled",
    "set_autocast_cache_enabled",
    "clear_autocast_cache",
    "custom_fwd",
    "custom_bwd",
]

# PyTorch's defaults: float16 on CUDA, bfloat16 on the CPU.
_DEFAULT_DTYPE = {"cpu": _dtype.bfloat16, "gpu": _dtype.float16}


class _State(threading.local):
    """Per-thread autocast state; a new thread starts with autocast off, as in PyTorch."""

    active = False  # any device type enabled in this thread (the wrapped ops' second check)
    counted = False  # this thread is counted in _threads_on

    def __init__(self):
        self.enabled = {"cpu": False, "gpu": False}
        self.dtype = dict(_DEFAULT_DTYPE)
        self.cache_enabled = True
        self.nesting = 0
        # id(float32 leaf) -> (leaf, its low-precision copy): a weight used by several
        # ops in one forward is cast once (PyTorch's cast cache), dropped on exit.
        self.cache = {}


_state = _State()


def _device_key(device_type, fn="autocast"):
    """ember's device type ("cpu" or "gpu") for a PyTorch device_type string."""
    if not isinstance(device_type, str):
        raise ValueError(
            f"{fn}: expected `device_type` of type `str`, got: `{type(device_type).__name__}`"
        )
    key = _ALIASES.get(device_type.split(":")[0].strip().lower())
    if key is None:
        raise RuntimeError(
            f"{fn}: unsupported autocast device_type '{device_type}' "
            f"(ember supports cpu, gpu, cuda, mps)"
        )
    return key


# How many threads have autocast on; the wrapped ops read this module-level count in
# ember.amp._policy (a global read, cheaper than a thread-local one) before the thread's flag.
_threads_on = [0]
_lock = threading.Lock()


def _refresh_active():
    on = _state.enabled["cpu"] or _state.enabled["gpu"]
    if on != _state.counted:
        with _lock:
            _threads_on[0] += 1 if on else -1
            from . import _policy

            _policy._ANY_THREAD_ON = _threads_on[0] > 0
        _state.counted = on
    _state.active = on


def is_autocast_available(device_type):
    """True for the device types ember can autocast on ("cpu", and "gpu"/"cuda"/"mps")."""
    try:
        _device_key(device_type)
    except RuntimeError:
        return False
    return True


def is_autocast_enabled(device_type=None):
    """Autocast state of `device_type`; with no argument, the CUDA (here: "gpu") state."""
    return _state.enabled[_device_key("cuda" if device_type is None else device_type)]


def set_autocast_enabled(*args):
    """set_autocast_enabled(device_type, enabled), or the legacy set_autocast_enabled(enabled)
    for CUDA."""
    if len(args) == 1:
        device_type, enabled = "cuda", args[0]
    elif len(args) == 2:
        device_type, enabled = args
    else:
        raise TypeError(
            f"set_autocast_enabled() takes (device_type, enabled) or (enabled), got {len(args)} "
            "arguments"
        )
    _state.enabled[_device_key(device_type, "set_autocast_enabled")] = bool(enabled)
    _refresh_active()


def get_autocast_dtype(device_type):
    return _state.dtype[_device_key(device_type, "get_autocast_dtype")]


def set_autocast_dtype(device_type, dtype):
    _state.dtype[_device_key(device_type, "set_autocast_dtype")] = dtype


def is_autocast_cache_enabled():
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled):
    _state.cache_enabled = bool(enabled)


def clear_autocast_cache():
    _state.cache.clear()


# The deprecated per-device getters PyTorch still has.
def is_autocast_cpu_enabled():
    return _state.enabled["cpu"]


def set_autocast_cpu_enabled(enabled):
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype():
    return _state.dtype["cpu"]


def get_autocast_gpu_dtype():
    return _state.dtype["gpu"]


class autocast:
    """Run the ops of a region in mixed precision (PyTorch's torch.autocast).

    Matmuls, linear layers, convolutions and attention run in `dtype` (default
    float16 on "gpu"/"cuda", bfloat16 on "cpu"); the ops that need float32's
    range (per device type, PyTorch's lists in ember.amp._policy) run in float32.
    Usable as a context manager and as a decorator. Only tensors on
    `device_type` are affected; float64 tensors never are.
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        self.device = _device_key(device_type)
        self.device_type = device_type
        self.fast_dtype = _state.dtype[self.device] if dtype is None else dtype
        self._cache_enabled = _state.cache_enabled if cache_enabled is None else cache_enabled
        enabled = bool(enabled)
        allowed = (_dtype.bfloat16, _dtype.float16)
        if not isinstance(self.fast_dtype, _dtype.dtype):
            raise TypeError(
                f"autocast: expected dtype to be an ember.dtype, got {self.fast_dtype!r}"
            )
        if self.device == "cpu":
            if enabled and self.fast_dtype not in allowed:
                warnings.warn(
                    "In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                    "CPU Autocast only supports dtypes of ember.bfloat16, ember.float16 currently.",
                    stacklevel=2,
                )
                enabled = False
        elif enabled:
            from .. import gpu

            if not gpu.is_available():
                warnings.warn(
                    "GPU autocast: no GPU adapter is available. Disabling autocast.", stacklevel=2
                )
                enabled = False
            elif self.fast_dtype not in allowed:
                warnings.warn(
                    "In GPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                    "GPU Autocast only supports dtype of ember.float16 currently.",
                    stacklevel=2,
                )
                enabled = False
        self._enabled = enabled

    def __enter__(self):
        d = self.device
        self.prev = _state.enabled[d]
        self.prev_fastdtype = _state.dtype[d]
        self.prev_cache_enabled = _state.cache_enabled
        _state.enabled[d] = self._enabled
        _state.dtype[d] = self.fast_dtype
        _state.cache_enabled = bool(self._cache_enabled)
        _state.nesting += 1
        _refresh_active()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        d = self.device
        _state.nesting -= 1
        if _state.nesting == 0:
            # PyTorch drops the cast cache when the outermost region exits.
            _state.cache.clear()
        _state.enabled[d] = self.prev
        _state.dtype[d] = self.prev_fastdtype
        _state.cache_enabled = self.prev_cache_enabled
        _refresh_active()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return decorate_autocast


def _cast_floats(value, dtype):
    from .._tensor import Tensor

    if isinstance(value, Tensor):
        if value.dtype.is_floating_point and value.dtype != _dtype.float64:
            return value.to(dtype)
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_floats(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _cast_floats(v, dtype) for k, v in value.items()}
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorator for a custom autograd Function's forward (PyTorch's torch.amp.custom_fwd):
    runs it with the autocast state it was called under, or, with `cast_inputs`, with
    autocast off and its floating inputs cast to `cast_inputs`."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    d = _device_key(device_type, "custom_fwd")

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = _state.dtype[d]
        if cast_inputs is None:
            ctx._fwd_used_autocast = _state.enabled[d]
            return fwd(*args, **kwargs)
        ctx._fwd_used_autocast = False
        if not _state.enabled[d]:
            return fwd(*args, **kwargs)
        with autocast(device_type, enabled=False):
            return fwd(*_cast_floats(args, cast_inputs), **_cast_floats(kwargs, cast_inputs))

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorator for a custom autograd Function's backward: runs it with the autocast state
    its forward ran under (PyTorch's torch.amp.custom_bwd)."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(
            device_type,
            enabled=getattr(ctx, "_fwd_used_autocast", False),
            dtype=getattr(ctx, "_dtype", None),
        ):
            return bwd(*args, **kwargs)

    return decorate_bwd
