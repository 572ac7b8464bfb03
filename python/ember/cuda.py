"""ember.cuda: PyTorch's CUDA queries, answered for any GPU adapter ember can use.

A software adapter (Mesa's llvmpipe: the CPU running the shaders) is not a
GPU: `ember.gpu.is_available()` reports it, so tests can run the GPU kernels
on it, but `ember.cuda.is_available()` answers False there, so a script that
picks "cuda" when available keeps running on the (much faster) CPU kernels.
EMBER_SOFTWARE_GPU_AS_CUDA=1 makes it count anyway.
"""

import os

from . import gpu as _gpu
from ._C import OutOfMemoryError  # noqa: F401 - torch.cuda.OutOfMemoryError


def is_available():
    if not _gpu.is_available():
        return False
    if os.environ.get("EMBER_SOFTWARE_GPU_AS_CUDA") == "1":
        return True
    return _gpu.info().get("device_type") != "Cpu"


def device_count():
    return 1 if is_available() else 0


def current_device():
    return 0


def get_device_name(device=None):
    return _gpu.info().get("name", "") if is_available() else ""


def set_device(device):
    pass


def synchronize(device=None):
    _gpu.synchronize()


def manual_seed(seed):
    from . import _ops

    _ops.manual_seed(seed)


manual_seed_all = manual_seed


def empty_cache():
    _gpu.empty_cache()


def memory_allocated(device=None):
    return 0


def max_memory_allocated(device=None):
    return 0


def is_bf16_supported():
    return False


def _install_amp():
    """ember.cuda.amp (deprecated spelling of ember.amp for "cuda"); called by ember/__init__."""
    import sys

    from .amp import _legacy

    mod = _legacy.cuda_module()
    globals()["amp"] = mod
    sys.modules[__name__ + ".amp"] = mod
