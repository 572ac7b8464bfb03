"""ember.utils: PyTorch's torch.utils (data loading, dlpack, activation checkpointing; safetensors
and tensorboard on import)."""

from . import checkpoint, data, dlpack  # noqa: F401
