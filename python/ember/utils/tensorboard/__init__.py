"""ember.utils.tensorboard: PyTorch's torch.utils.tensorboard (SummaryWriter).

Needs the `tensorboard` package (its event writer and protos do the writing).
"""

try:
    import tensorboard  # noqa: F401
except ImportError as e:  # pragma: no cover - tensorboard is a declared dependency
    raise ImportError(
        "TensorBoard logging requires TensorBoard. Please install it with `pip install tensorboard`"
    ) from e

from .writer import SummaryWriter  # noqa: E402

__all__ = ["SummaryWriter"]
