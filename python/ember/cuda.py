"""ember.cuda: PyTorch's CUDA queries, answered for any GPU adapter ember can use."""

from . import gpu as _gpu


def is_available():
    return _gpu.is_available()


def device_count():
    return 1 if _gpu.is_available() else 0


def current_device():
    return 0


def get_device_name(device=None):
    return _gpu.info().get("name", "") if _gpu.is_available() else ""


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
