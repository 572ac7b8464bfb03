"""torchvision.ops stand-in: only `misc.FrozenBatchNorm2d`, which timm imports unconditionally."""

from . import misc  # noqa: F401
