"""LKJCholesky(dim, concentration): Cholesky factors of LKJ-distributed correlation matrices.

Sampling uses the onion method (Ghosh & Henderson 2003; Lewandowski, Kurowicka &
Joe 2009): row i is a uniformly random direction scaled by the square root of a
Beta(i/2, concentration + (dim - 2 - i)/2) draw, with the diagonal entry
completing the unit norm.
"""

import math

import ember

from . import constraints
from .dirichlet import Beta
from .distribution import Distribution
from .utils import broadcast_all, finfo_tiny

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(
                f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}."
            )
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        batch_shape = self.concentration.size()
        event_shape = (dim, dim)
        marginal_conc = self.concentration + 0.5 * (self.dim - 2)
        offset = ember.arange(
            self.dim - 1, dtype=self.concentration.dtype, device=self.concentration.device
        )
        offset = ember.cat([ember.zeros((1,), dtype=offset.dtype, device=offset.device), offset])
        beta_conc1 = offset + 0.5
        beta_conc0 = marginal_conc.unsqueeze(-1) - 0.5 * offset
        self._beta = Beta(beta_conc1, beta_conc0)
        super().__init__(batch_shape, event_shape, validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = tuple(ember.Size(batch_shape))
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(batch_shape + (self.dim,))
        super(LKJCholesky, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        with ember.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            shape = tuple(self._extended_shape(sample_shape))
            u_normal = ember.randn(shape, dtype=y.dtype, device=y.device).tril(-1)
            norm = u_normal.pow(2).sum(-1, keepdim=True).sqrt()
            # row 0 is all zero: leave it zero instead of 0/0
            u_hypersphere = u_normal / ember.where(norm == 0, ember.ones_like(norm), norm)
            w = ember.sqrt(y) * u_hypersphere
            diag = (1 - (w**2).sum(-1)).clamp(min=finfo_tiny(w.dtype)).sqrt()
            return w + diag.unsqueeze(-1) * ember.eye(self.dim, dtype=w.dtype, device=w.device)

    def log_prob(self, value):
        # log density w.r.t. the Cholesky factor: sum_i (2(eta - 1) + dim - i) log L_ii, i = 2..dim
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = ember.arange(2, self.dim + 1, dtype=value.dtype, device=value.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized = (order * diag_elems.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = ember.lgamma(alpha) * dm1
        numerator = ember.mvlgamma(alpha - 0.5, dm1)
        normalize_term = 0.5 * dm1 * math.log(math.pi) + numerator - denominator
        return unnormalized - normalize_term
