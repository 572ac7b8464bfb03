"""ExponentialFamily marker base (PyTorch keeps it for its Bregman-divergence entropy)."""

from .distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    pass
