"""ember.gpu: adapter information for the wgpu backend."""

from . import _C
from ._C import OutOfMemoryError  # noqa: F401 - raised when the device cannot allocate


def _has_backend():
    return hasattr(_C, "gpu_info")


def is_available():
    if not _has_backend():
        return False
    try:
        return bool(_C.gpu_info().get("available"))
    except RuntimeError:
        return False


def info():
    """Adapter name, backend (Vulkan/Metal/DX12) and limits; {"available": False} without a GPU."""
    if not _has_backend():
        return {"available": False, "reason": "this ember build has no GPU backend"}
    return dict(_C.gpu_info())


def synchronize():
    if _has_backend() and is_available():
        _C.gpu_synchronize()


def stats():
    """Buffer pool, submit, dispatch and host-read counters of the GPU backend."""
    if not is_available():
        return {}
    return dict(_C.gpu_stats())


def fallbacks():
    """{op: count} of the ops that ran on host copies because the GPU has no
    kernel for that case (each costs a read to the host and an upload)."""
    if not is_available():
        return {}
    return dict(_C.gpu_fallbacks())


def empty_cache():
    """Release the pooled (unused) GPU buffers."""
    if _has_backend() and is_available():
        _C.gpu_empty_cache()
