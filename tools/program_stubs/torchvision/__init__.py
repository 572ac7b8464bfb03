"""Data stand-in for torchvision, used only by tools/run_programs.py.

The example programs download MNIST through torchvision. This package gives them a generated
MNIST of the same shapes and dtypes (28x28 uint8 images, int64 labels) and the few transforms
they use, so their model and training code run unchanged and offline. It imports `torch`, so
it works the same under real PyTorch and under ember's torch mapping. `ops.misc` holds only
FrozenBatchNorm2d, because timm imports it unconditionally (timm's models do not use it unless
asked). `models` holds only resnet18 (random initial weights, written from the ResNet paper),
which pytorch/examples' siamese_network builds; no pretrained weights.
"""

from . import datasets, models, ops, transforms, utils  # noqa: F401
from .transforms import functional as _functional  # noqa: F401

__version__ = "0.0-standin"
