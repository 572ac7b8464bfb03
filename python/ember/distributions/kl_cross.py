"""Closed-form KL divergences between different families (and a few more same-family pairs).

Each finite one is -H(p) - E_p[log q] with E_p[log q] written from p's moments;
pairs where p's support is not inside q's are +inf, as in PyTorch.
"""

import math

import ember

from .bernoulli import Bernoulli
from .cauchy import Gumbel
from .dirichlet import Beta
from .discrete import Binomial
from .exponential import Exponential
from .gamma import Gamma
from .heavy_tails import Pareto
from .kl import _kl_mvn_mvn, register_kl
from .laplace import Laplace
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .poisson import Poisson
from .uniform import Uniform
from .unit_interval import ContinuousBernoulli

__all__ = []

_EULER = 0.57721566490153286060
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _inf_like(t):
    return ember.full_like(t, math.inf)


def _e_log_normal(mean, var, q):
    """E_p[log N(x; q.loc, q.scale)] from p's mean and variance."""
    return -q.scale.log() - _HALF_LOG_2PI - (var + (mean - q.loc).pow(2)) / (2 * q.scale.pow(2))


def _e_log_gamma(e_x, e_log_x, q):
    return (
        q.concentration * q.rate.log()
        - ember.lgamma(q.concentration)
        + (q.concentration - 1) * e_log_x
        - q.rate * e_x
    )


# ----- into Normal -----
@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    return -p.entropy() - _e_log_normal(p.mean, p.variance, q)


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    return -p.entropy() - _e_log_normal(p.mean, p.variance, q)


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    return -p.entropy() - _e_log_normal(p.mean, p.variance, q)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    return -p.entropy() - _e_log_normal(p.loc, p.variance, q)


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    return -p.entropy() - _e_log_normal(p.mean, p.variance, q)


# ----- Normal into Laplace -----
@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    # E|X - m| for X ~ N(mu, s): s sqrt(2/pi) exp(-d^2 / 2s^2) + d (1 - 2 Phi(-d/s)), d = mu - m
    d = p.loc - q.loc
    s = p.scale
    e_abs = s * math.sqrt(2 / math.pi) * ember.exp(-d.pow(2) / (2 * s.pow(2))) + d * ember.erf(
        d / (s * math.sqrt(2))
    )
    return -p.entropy() + ember.log(2 * q.scale) + e_abs / q.scale


# ----- Gamma / Exponential -----
@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    e_log_x = -_EULER - p.rate.log()
    return -p.entropy() - _e_log_gamma(p.mean, e_log_x, q)


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


# ----- from Uniform -----
def _uniform_e_log_x(low, high):
    """E[log X] for X ~ Uniform(low, high), 0 <= low < high."""

    def xlogx(v):
        return ember.xlogy(v, v)

    return (xlogx(high) - xlogx(low)) / (high - low) - 1


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = -p.entropy() - q.rate.log() + q.rate * p.mean
    return ember.where(p.low < 0, _inf_like(result), result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    low = p.low.clamp(min=0)
    result = -p.entropy() - _e_log_gamma(p.mean, _uniform_e_log_x(low, p.high), q)
    return ember.where(p.low < 0, _inf_like(result), result)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    low, high = p.low.clamp(0, 1), p.high.clamp(0, 1)
    e_log_x = _uniform_e_log_x(low, high)
    e_log_1mx = _uniform_e_log_x(1 - high, 1 - low)
    lbeta = (
        ember.lgamma(q.concentration1)
        + ember.lgamma(q.concentration0)
        - ember.lgamma(q.concentration1 + q.concentration0)
    )
    e_log_q = (q.concentration1 - 1) * e_log_x + (q.concentration0 - 1) * e_log_1mx - lbeta
    result = -p.entropy() - e_log_q
    return ember.where((p.low < 0) | (p.high > 1), _inf_like(result), result)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return ember.where((q.low > 0) | (q.high < 1), _inf_like(result), result)


# ----- same family -----
@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    scale_ratio = p.scale / q.scale
    alpha_ratio = q.alpha / p.alpha
    result = q.alpha * scale_ratio.log() - alpha_ratio.log() + alpha_ratio - 1
    return ember.where(p.scale < q.scale, _inf_like(result), result)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli(p, q):
    t1 = p.mean * (p.logits - q.logits)
    t2 = p._log_norm() + ember.log1p(-p.probs)
    t3 = -q._log_norm() - ember.log1p(-q.probs)
    return t1 + t2 + t3


def _as_mvn(d):
    return MultivariateNormal(d.loc, scale_tril=d.scale_tril, validate_args=False)


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
@register_kl(LowRankMultivariateNormal, MultivariateNormal)
@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank(p, q):
    return _kl_mvn_mvn(_as_mvn(p), _as_mvn(q))


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


# ----- support mismatches: +inf -----
def _infinite(p, q):
    return _inf_like(p.mean)


for _p, _qs in (
    (Normal, (Exponential, Gamma, Beta, Pareto, Uniform)),
    (Laplace, (Exponential, Gamma, Beta, Pareto, Uniform)),
    (Gumbel, (Exponential, Gamma, Beta, Pareto, Uniform)),
    (Exponential, (Beta, Pareto, Uniform)),
    (Gamma, (Beta, Pareto, Uniform)),
    (Poisson, (Bernoulli, Binomial)),
):
    for _q in _qs:
        register_kl(_p, _q)(_infinite)
