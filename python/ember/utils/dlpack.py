"""ember.utils.dlpack: PyTorch's torch.utils.dlpack (to_dlpack / from_dlpack) on the CPU.

See ember._interop for how export and import go through numpy's DLPack support.
"""

from .._interop import from_dlpack

__all__ = ["to_dlpack", "from_dlpack"]


def to_dlpack(tensor):
    """A DLPack capsule viewing `tensor` (CPU tensors only; see Tensor.__dlpack__)."""
    return tensor.__dlpack__()
