"""ember.cpu: PyTorch's torch.cpu queries and the (deprecated) torch.cpu.amp spelling."""

import sys

from ..amp import _legacy

amp = _legacy.cpu_module()
sys.modules[__name__ + ".amp"] = amp  # so `import ember.cpu.amp` works too


def is_available():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def synchronize(device=None):
    pass
