"""detect_anomaly / set_detect_anomaly: find the backward function that made a NaN.

ember's autograd engine runs in Rust without per-node callbacks, so anomaly
mode works at the Python boundary: while it is on, every public ember op
called from Python (see _op_hooks.py) gets an identity autograd.Function
("tap") on each tensor argument that requires grad. A tap's backward receives
exactly the gradient the op's backward function produced for that argument;
if it has NaN, the tap raises RuntimeError naming that backward function
(e.g. "Function 'DivBackward0' returned nan values in its 1th output."), as
PyTorch does, and warns with the traceback of the forward call that built it.
In-place and view ops are not tapped (their autograd history must stay the
argument's own); NaN they pass on is caught at the next tapped op.
"""

import threading
import traceback
import warnings

import ember

from .. import _op_hooks
from .function import Function

__all__ = [
    "detect_anomaly",
    "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled",
    "set_detect_anomaly",
]

_state = threading.local()

_VIEW_OPS = {
    "view",
    "view_as",
    "reshape",
    "reshape_as",
    "transpose",
    "t",
    "permute",
    "squeeze",
    "unsqueeze",
    "expand",
    "expand_as",
    "narrow",
    "select",
    "index",
    "flatten",
    "unflatten",
    "as_strided",
    "diagonal",
    "split",
    "chunk",
    "unbind",
    "movedim",
    "moveaxis",
    "swapaxes",
    "swapdims",
    "detach",
    "contiguous",
    "tensor_split",
    "to",
    "cpu",
    "cuda",
    "gpu",
    "float",
    "double",
    "half",
    "bfloat16",
    "long",
    "int",
    "bool",
    "type_as",
}


def is_anomaly_enabled():
    return getattr(_state, "enabled", False)


def is_anomaly_check_nan_enabled():
    return getattr(_state, "check_nan", True)


class _Tap(Function):
    @staticmethod
    def forward(ctx, x, info):
        ctx.info = info
        return x

    @staticmethod
    def backward(ctx, grad):
        info = ctx.info
        if grad is not None and grad.is_floating_point() and bool(ember.isnan(grad).any()):
            node, index, stack = info["node"], info["index"], info["stack"]
            warnings.warn(
                f"Error detected in {node}. Traceback of forward call that caused the error:\n"
                + "".join(stack),
                RuntimeWarning,
                stacklevel=2,
            )
            msg = f"Function '{node}' returned nan values in its {index}th output."
            _state.error = msg
            raise RuntimeError(msg)
        return grad, None


class _AnomalyInterceptor:
    def around(self, name, fn, args, kwargs):
        op = name.split("::")[-1]
        if (
            not is_anomaly_enabled()
            or _op_hooks.depth() > 1
            or op.endswith("_")
            or op in _VIEW_OPS
            or not ember.is_grad_enabled()
        ):
            return fn(*args, **kwargs)
        infos = []
        with _op_hooks.paused():
            tapped = []
            index = 0
            for a in args:
                if isinstance(a, ember.Tensor) and a.requires_grad and a.is_floating_point():
                    info = {"node": None, "index": index, "stack": None}
                    infos.append(info)
                    tapped.append(_Tap.apply(a, info))
                else:
                    tapped.append(a)
                if isinstance(a, ember.Tensor):
                    index += 1
        result = fn(*tapped, **kwargs)
        if infos:
            out = result[0] if isinstance(result, (tuple, list)) and result else result
            node = getattr(getattr(out, "grad_fn", None), "name", None)
            node = node() if callable(node) else node
            stack = traceback.format_stack()[:-3]
            for info in infos:
                info["node"] = node or name
                info["stack"] = stack
        return result


_interceptor = _AnomalyInterceptor()


def _run_backward(run):
    """Run the engine; an anomaly found by a tap surfaces as PyTorch's plain RuntimeError."""
    if not is_anomaly_enabled():
        return run()
    _state.error = None
    try:
        return run()
    except RuntimeError as e:
        msg = getattr(_state, "error", None)
        _state.error = None
        if msg is not None:
            raise RuntimeError(msg) from e
        raise


def _set(enabled, check_nan):
    was = is_anomaly_enabled()
    _state.enabled = enabled
    _state.check_nan = check_nan
    if enabled and not was:
        _op_hooks.push(_interceptor)
    elif was and not enabled:
        _op_hooks.pop(_interceptor)


class detect_anomaly:
    """Context manager / decorator turning anomaly detection on (PyTorch's signature)."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime "
            "and should only be enabled for debugging.",
            stacklevel=2,
        )

    def __enter__(self):
        self.prev = (is_anomaly_enabled(), is_anomaly_check_nan_enabled())
        _set(True, self.check_nan)

    def __exit__(self, *exc):
        _set(*self.prev)
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """Turn anomaly detection on or off; also usable as a context manager."""

    def __init__(self, mode, check_nan=True):
        self.prev = (is_anomaly_enabled(), is_anomaly_check_nan_enabled())
        _set(bool(mode), check_nan)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _set(*self.prev)
        return False
