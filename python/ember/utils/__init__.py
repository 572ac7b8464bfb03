"""ember.utils: PyTorch's torch.utils (data loading, activation checkpointing)."""

from . import checkpoint, data  # noqa: F401
