"""ember.nn.parallel: PyTorch's torch.nn.parallel (DistributedDataParallel, on MPI)."""

from .distributed import DistributedDataParallel  # noqa: F401
