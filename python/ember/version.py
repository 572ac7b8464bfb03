"""ember.version: the build facts PyTorch programs print or check (`torch.version.cuda`).

ember is not built against CUDA or ROCm: `cuda` and `hip` are None, as on a
CPU-only PyTorch build, so scripts that branch on them take the CPU path.
"""

from . import __version__  # noqa: F401

cuda = None
hip = None
debug = False
git_version = "unknown"
