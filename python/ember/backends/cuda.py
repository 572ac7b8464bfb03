"""ember.backends.cuda: CUDA matmul and attention switches.

`matmul.allow_tf32` is tied to `ember.get_float32_matmul_precision()` as in
PyTorch (True means "high"); the attention toggles record the choice.
"""

from .. import _config
from .. import gpu as _gpu


class _Matmul:
    """The `torch.backends.cuda.matmul` settings object."""

    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self):
        return _config.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value):
        _config.set_float32_matmul_precision("high" if value else "highest")

    def __setattr__(self, name, value):
        if name not in ("allow_tf32", *_Matmul.__dict__):
            raise AttributeError(f"Unknown attribute {name}")
        object.__setattr__(self, name, value)


matmul = _Matmul()


def is_built():
    """Whether this ember build has its GPU backend (ember's stand-in for CUDA)."""
    return _gpu._has_backend()


_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def flash_sdp_enabled():
    return _sdp["flash"]


def enable_flash_sdp(enabled):
    _sdp["flash"] = bool(enabled)


def mem_efficient_sdp_enabled():
    return _sdp["mem_efficient"]


def enable_mem_efficient_sdp(enabled):
    _sdp["mem_efficient"] = bool(enabled)


def math_sdp_enabled():
    return _sdp["math"]


def enable_math_sdp(enabled):
    _sdp["math"] = bool(enabled)


def cudnn_sdp_enabled():
    return _sdp["cudnn"]


def enable_cudnn_sdp(enabled):
    _sdp["cudnn"] = bool(enabled)
