"""FisherSnedecor(df1, df2), GeneralizedPareto(loc, scale, concentration) and VonMises(loc, concentration)."""

import math
import numbers

import ember

from . import constraints
from .distribution import Distribution
from .gamma import Gamma
from .utils import broadcast_all, finfo_tiny, lazy_property

__all__ = ["FisherSnedecor", "GeneralizedPareto", "VonMises"]


class FisherSnedecor(Distribution):
    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        self.df1, self.df2 = broadcast_all(df1, df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2)
        if isinstance(df1, numbers.Number) and isinstance(df2, numbers.Number):
            batch_shape = ()
        else:
            batch_shape = self.df1.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(FisherSnedecor, _instance)
        batch_shape = ember.Size(batch_shape)
        new.df1 = self.df1.expand(batch_shape)
        new.df2 = self.df2.expand(batch_shape)
        new._gamma1 = self._gamma1.expand(batch_shape)
        new._gamma2 = self._gamma2.expand(batch_shape)
        super(FisherSnedecor, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        df2 = ember.where(self.df2 <= 2, ember.full_like(self.df2, math.nan), self.df2)
        return df2 / (df2 - 2)

    @property
    def mode(self):
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return ember.where(self.df1 <= 2, ember.full_like(mode, math.nan), mode)

    @property
    def variance(self):
        df2 = ember.where(self.df2 <= 4, ember.full_like(self.df2, math.nan), self.df2)
        return 2 * df2.pow(2) * (self.df1 + df2 - 2) / (self.df1 * (df2 - 2).pow(2) * (df2 - 4))

    def rsample(self, sample_shape=()):
        # X1 ~ Gamma(df1/2, df1), X2 ~ Gamma(df2/2, df2): X1 / X2 ~ F(df1, df2)
        x1 = self._gamma1.rsample(sample_shape)
        tiny = finfo_tiny(x1.dtype)
        x2 = self._gamma2.rsample(sample_shape).clamp(min=tiny)
        return (x1 / x2).clamp(min=tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        ct1 = self.df1 * 0.5
        ct2 = self.df2 * 0.5
        ct3 = self.df1 / self.df2
        t1 = ember.lgamma(ct1 + ct2) - ember.lgamma(ct1) - ember.lgamma(ct2)
        t2 = ct1 * ct3.log() + (ct1 - 1) * ember.log(value)
        t3 = (ct1 + ct2) * ember.log1p(ct3 * value)
        return t1 + t2 - t3


class GeneralizedPareto(Distribution):
    """Survival (1 + xi z)^(-1/xi) with z = (x - loc) / scale (exp(-z) at xi = 0)."""

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "concentration": constraints.real,
    }
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        if all(isinstance(v, numbers.Number) for v in (loc, scale, concentration)):
            batch_shape = ()
        else:
            batch_shape = self.loc.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(GeneralizedPareto, _instance)
        batch_shape = ember.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        super(GeneralizedPareto, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _safe(self):
        # xi == 0 is the exponential limit: evaluate the general branch at xi = 1 and discard it
        eq_zero = self.concentration.abs() <= 1e-8
        return eq_zero, ember.where(
            eq_zero, ember.ones_like(self.concentration), self.concentration
        )

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        u = ember.rand(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        eq_zero, xi = self._safe()
        y = 1 / xi + 1
        nonzero = ember.where(y == 0, y, y * ember.log1p(xi * z))
        return -self.scale.log() - ember.where(eq_zero, z, nonzero)

    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        eq_zero, xi = self._safe()
        return ember.where(eq_zero, -z, -ember.log1p(xi * z) / xi)

    def log_cdf(self, value):
        return ember.log1p(-ember.exp(self.log_survival_function(value)))

    def cdf(self, value):
        return ember.exp(self.log_cdf(value))

    def icdf(self, value):
        eq_zero, xi = self._safe()
        logu = ember.log1p(-value)
        nonzero = self.loc + self.scale / xi * ember.expm1(-xi * logu)
        return ember.where(eq_zero, self.loc - self.scale * logu, nonzero)

    @property
    def mean(self):
        valid = self.concentration < 1
        xi = ember.where(valid, self.concentration, ember.full_like(self.concentration, 0.5))
        result = self.loc + self.scale / (1 - xi)
        return ember.where(valid, result, ember.full_like(result, math.nan))

    @property
    def variance(self):
        valid = self.concentration < 0.5
        xi = ember.where(valid, self.concentration, ember.full_like(self.concentration, 0.25))
        result = self.scale**2 / ((1 - xi) ** 2 * (1 - 2 * xi))
        return ember.where(valid, result, ember.full_like(result, math.nan))

    @property
    def mode(self):
        return self.loc

    def entropy(self):
        return (ember.log(self.scale) + self.concentration + 1).expand(tuple(self._batch_shape))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        lower = self.loc
        upper = ember.where(
            self.concentration < 0,
            lower
            - self.scale
            / ember.where(self.concentration < 0, self.concentration, -ember.ones_like(lower)),
            ember.full_like(lower, math.inf),
        )
        return constraints.interval(lower, upper)


def _log_i(kappa, order):
    """log I_order(kappa) through the exp-scaled Bessel functions (no overflow)."""
    from ember import special

    scaled = special.i0e(kappa) if order == 0 else special.i1e(kappa)
    return ember.log(scaled) + kappa


class VonMises(Distribution):
    """Circular normal on [-pi, pi): density exp(kappa cos(x - loc)) / (2 pi I0(kappa))."""

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(VonMises, _instance)
        batch_shape = ember.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        super(VonMises, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (
            self.concentration * ember.cos(value - self.loc)
            - math.log(2 * math.pi)
            - _log_i(self.concentration, 0)
        )

    def sample(self, sample_shape=()):
        """Best & Fisher (1979) rejection sampler, in float64 where the device stores it."""
        shape = tuple(self._extended_shape(sample_shape))
        with ember.no_grad():
            wide = ember.float64 if self.loc.device.type == "cpu" else self.loc.dtype
            loc = self.loc.to(wide)
            kappa = self.concentration.to(wide)
            tau = 1 + (1 + 4 * kappa**2).sqrt()
            rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
            r = ember.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho**2) / (2 * rho))
            r, kappa = r.expand(shape), kappa.expand(shape)
            x = ember.zeros(shape, dtype=wide, device=loc.device)
            done = ember.zeros(shape, dtype=ember.bool, device=loc.device)
            for _ in range(1000):
                u1 = ember.rand(shape, dtype=wide, device=loc.device)
                u2 = ember.rand(shape, dtype=wide, device=loc.device)
                u3 = ember.rand(shape, dtype=wide, device=loc.device)
                z = ember.cos(math.pi * u1)
                f = (1 + r * z) / (r + z)
                c = kappa * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                x = ember.where(accept & ~done, (u3 - 0.5).sign() * f.clamp(-1, 1).acos(), x)
                done = done | accept
                if bool(done.all()):
                    break
            return ((x + math.pi + loc) % (2 * math.pi) - math.pi).to(self.loc.dtype)

    @property
    def mean(self):
        """The circular mean."""
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        """The circular variance 1 - I1(kappa) / I0(kappa)."""
        return 1 - (_log_i(self.concentration, 1) - _log_i(self.concentration, 0)).exp()
