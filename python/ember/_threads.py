"""ember.set_num_threads and friends, as PyTorch's (threads of the CPU kernels)."""

from . import _C

__all__ = [
    "set_num_threads",
    "get_num_threads",
    "set_num_interop_threads",
    "get_num_interop_threads",
]

_interop = None


def set_num_threads(n):
    """Threads the CPU kernels use (GEMMs, large elementwise ops, reductions)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads(): argument 'int' must be int, not {type(n).__name__}")
    _C.set_num_threads(n)


def get_num_threads():
    return _C.get_num_threads()


def set_num_interop_threads(n):
    """Accepted for compatibility: ember runs ops on the calling thread, so the
    value is only recorded (PyTorch also allows setting it once)."""
    global _interop
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise RuntimeError(f"set_num_interop_threads: number of threads must be positive, got {n}")
    if _interop is not None:
        raise RuntimeError(
            "Error: cannot set number of interop threads after parallel work has started "
            "or set_num_interop_threads called"
        )
    _interop = n


def get_num_interop_threads():
    return _interop if _interop is not None else _C.get_num_interop_threads()
