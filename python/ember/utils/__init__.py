"""ember.utils: PyTorch's torch.utils (data loading, dlpack; safetensors and tensorboard on import)."""

from . import data, dlpack  # noqa: F401
