"""ember.accelerator: PyTorch's device-agnostic accelerator queries.

The accelerator is ember's GPU backend (device type "gpu", which "cuda" and
"mps" name too). It counts as available exactly when `ember.cuda.is_available()`
does, so a software adapter (llvmpipe) is not offered to scripts that pick
the accelerator when there is one: they stay on the faster CPU kernels.
"""

from . import cuda as _cuda
from . import gpu as _gpu
from ._device import device as _device


def is_available():
    return _cuda.is_available()


def current_accelerator(check_available=False):
    """device("gpu") when a GPU accelerator is present, else None."""
    return _device("gpu") if _cuda.is_available() else None


def device_count():
    return 1 if _cuda.is_available() else 0


def current_device_index():
    return 0


current_device_idx = current_device_index


def set_device_index(device):
    """Only one accelerator: index 0 (or None) is accepted."""
    idx = _device(device).index if isinstance(device, (str, _device)) else device
    if idx not in (None, 0, -1):
        raise RuntimeError(f"set_device_index: invalid device index {idx} (1 accelerator)")


set_device_idx = set_device_index


def synchronize(device=None):
    _gpu.synchronize()


def empty_cache():
    _gpu.empty_cache()


def memory_allocated(device_index=None):
    return 0


def max_memory_allocated(device_index=None):
    return 0
