"""`nn.utils.parametrizations`: weight_norm and spectral_norm as parametrizations.

These are PyTorch's current forms (the old hook-based ones are nn.utils.weight_norm and
nn.utils.spectral_norm). `orthogonal` needs a matrix exponential or QR that ember's linalg does
not have yet, so it is not provided.
"""

import ember

from ..modules.module import Module
from . import parametrize
from ._norms import norm_except_dim, normalize, power_iteration, reshape_to_matrix

__all__ = ["weight_norm", "spectral_norm"]


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / norm_except_dim(weight_v, 2, self.dim))

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Reparametrizes `module.<name>` as g * v / ||v|| (originals: original0=g, original1=v)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, ember.Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError(
                "Dimension out of range (expected to be in range of "
                f"[-{ndim}, {ndim - 1}] but got {dim})"
            )
        if n_power_iterations <= 0:
            raise ValueError(
                "Expected n_power_iterations to be positive, but got "
                f"n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = reshape_to_matrix(weight.detach(), self.dim)
            h, w = (int(s) for s in weight_mat.shape)
            kw = {"dtype": weight.dtype, "device": weight.device}
            self.register_buffer("_u", normalize(ember.randn(h, **kw), eps))
            self.register_buffer("_v", normalize(ember.randn(w, **kw), eps))
            # PyTorch starts from 15 iterations so the first sigma is already accurate.
            power_iteration(weight_mat, self._u, self._v, 15, eps)

    def forward(self, weight):
        if weight.dim() == 1:
            return weight / weight.norm().clamp(min=self.eps)
        weight_mat = reshape_to_matrix(weight, self.dim)
        if self.training:
            power_iteration(
                weight_mat.detach(), self._u, self._v, self.n_power_iterations, self.eps
            )
        u, v = self._u.clone(), self._v.clone()
        sigma = ember.dot(u, weight_mat.mv(v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divides `module.<name>` by its largest singular value, estimated by power iteration."""
    weight = getattr(module, name, None)
    if not isinstance(weight, ember.Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        transposed = type(module).__name__.startswith("ConvTranspose")
        dim = 1 if transposed else 0
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps)
    )
    return module
