"""Interception of ember's public ops at the Python boundary.

The Rust core has no per-op callback, so the profiler and anomaly mode see ops
where Python calls them: while at least one interceptor is active, the public
functions of `ember` and `ember.nn.functional` and the Tensor methods and
operators are replaced by thin wrappers (and restored when the last one
leaves). Outside profiling/anomaly mode nothing is wrapped and ops cost nothing
extra. An interceptor is an object with `around(name, fn, args, kwargs)` that
must call fn(*args, **kwargs) and return its result.
"""

import functools
import threading
import types

import ember

# Tensor methods that are bookkeeping, not ops (and the ones interception must not recurse into).
_SKIP_METHODS = {
    "size",
    "dim",
    "ndimension",
    "numel",
    "nelement",
    "stride",
    "storage_offset",
    "is_contiguous",
    "data_ptr",
    "element_size",
    "get_device",
    "is_floating_point",
    "is_pinned",
    "is_set_to",
    "register_hook",
    "retain_grad",
    "requires_grad_",
    "backward",
    "dim_order",
    "untyped_storage",
    "share_memory_",
    "type",
    "tolist",
    "numpy",
    "item",
}
_DUNDER_OPS = {
    "__add__": "add",
    "__radd__": "add",
    "__iadd__": "add_",
    "__sub__": "sub",
    "__rsub__": "rsub",
    "__isub__": "sub_",
    "__mul__": "mul",
    "__rmul__": "mul",
    "__imul__": "mul_",
    "__truediv__": "div",
    "__rtruediv__": "div",
    "__itruediv__": "div_",
    "__floordiv__": "floor_divide",
    "__mod__": "remainder",
    "__pow__": "pow",
    "__rpow__": "pow",
    "__matmul__": "matmul",
    "__rmatmul__": "matmul",
    "__neg__": "neg",
    "__abs__": "abs",
    "__getitem__": "index",
    "__setitem__": "index_put_",
    "__lt__": "lt",
    "__le__": "le",
    "__gt__": "gt",
    "__ge__": "ge",
    "__and__": "bitwise_and",
    "__or__": "bitwise_or",
    "__xor__": "bitwise_xor",
    "__invert__": "bitwise_not",
}
# Module-level callables that configure state rather than compute.
_SKIP_FUNCTIONS = {
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "is_tensor",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "set_default_dtype",
    "get_default_dtype",
    "set_printoptions",
    "is_floating_point",
    "is_nonzero",
    "numel",
    "load",
    "save",
    "promote_types",
    "can_cast",
    "result_type",
    "broadcast_shapes",
}

_lock = threading.Lock()
_active = []
_saved = []  # (owner, attribute name, original)
_local = threading.local()


def _depth():
    return getattr(_local, "depth", 0)


def _wrap(name, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        interceptors = list(_active)
        if not interceptors or getattr(_local, "paused", False):
            return fn(*args, **kwargs)
        _local.depth = _depth() + 1
        try:
            call = fn
            for it in reversed(interceptors):
                call = _bind(it, name, call)
            return call(*args, **kwargs)
        finally:
            _local.depth -= 1

    wrapper._ember_op_hook = fn
    return wrapper


def _bind(interceptor, name, fn):
    def call(*args, **kwargs):
        return interceptor.around(name, fn, args, kwargs)

    return call


def _public_functions(module):
    for attr in dir(module):
        if attr.startswith("_") or attr in _SKIP_FUNCTIONS:
            continue
        obj = getattr(module, attr)
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)) and not isinstance(
            obj, type
        ):
            yield attr, obj


_table = None  # [(owner, attr, original, wrapper)], built once: scanning the namespaces is slow


def _build_table():
    from .nn import functional as F

    table = []
    for module in (ember, F):
        for attr, fn in _public_functions(module):
            table.append((module, attr, fn, _wrap(f"aten::{attr}", fn)))
    T = ember.Tensor
    for attr in dir(T):
        if attr in _DUNDER_OPS:
            name = _DUNDER_OPS[attr]
        elif attr.startswith("_") or attr in _SKIP_METHODS:
            continue
        else:
            name = attr
        obj = getattr(T, attr, None)
        if obj is None or isinstance(obj, (property, type)) or not callable(obj):
            continue
        if type(obj).__name__ == "getset_descriptor":
            continue
        table.append((T, attr, T.__dict__.get(attr, obj), _wrap(f"aten::{name}", obj)))
    return table


def _install():
    global _table
    # Rebuild when a namespace changed since (a function rebound by user code or a new op).
    if _table is None or any(
        getattr(owner, attr, None) is not original and owner.__dict__.get(attr) is not original
        for owner, attr, original, _ in _table
    ):
        _table = _build_table()
    for owner, attr, original, wrapper in _table:
        _saved.append((owner, attr, original))
        setattr(owner, attr, wrapper)


def _uninstall():
    while _saved:
        owner, attr, original = _saved.pop()
        setattr(owner, attr, original)


def push(interceptor):
    with _lock:
        if not _active:
            _install()
        _active.append(interceptor)


def pop(interceptor):
    with _lock:
        if interceptor in _active:
            _active.remove(interceptor)
        if not _active:
            _uninstall()


class paused:
    """Run ops without interception (used by interceptors for their own tensor work)."""

    def __enter__(self):
        self._prev = getattr(_local, "paused", False)
        _local.paused = True

    def __exit__(self, *exc):
        _local.paused = self._prev
        return False


def depth():
    """How many intercepted ops enclose the current call (1 inside a top-level op)."""
    return _depth()
