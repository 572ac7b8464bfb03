"""ember.utils.dlpack: PyTorch's torch.utils.dlpack (to_dlpack / from_dlpack) on the CPU.

Both share memory; see ember._interop and rust/py/src/interop.rs.
"""

from .._interop import from_dlpack

__all__ = ["to_dlpack", "from_dlpack"]


def to_dlpack(tensor):
    """A legacy ("dltensor") DLPack capsule viewing `tensor`'s memory (CPU tensors only)."""
    return tensor.__dlpack__()
