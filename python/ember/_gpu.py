"""Device transfer (the GPU backend plugs in here)."""

from . import _C
from . import gpu as _gpu_mod


def to_device(t, d):
    if d.type == "cpu":
        if t.device.type == "cpu":
            return t
        return _C.to_cpu(t)
    if not _gpu_mod.is_available():
        info = _gpu_mod.info()
        raise RuntimeError(
            f"cannot move tensor to device '{d}': no GPU is available ({info.get('reason', 'no adapter found')})"
        )
    return _C.to_gpu(t)
