"""Exponential, Chi2, StudentT, Cauchy, Gumbel, LogNormal, HalfNormal, Geometric,
Binomial and Multinomial against scipy.stats (log_prob, entropy, cdf, icdf, moments),
their sample moments, rsample gradients (gradcheck, float64) and their KL pairs
(quadrature or exact sums)."""

import numpy as np
import pytest
import scipy.integrate as si
import scipy.special as sp
import scipy.stats as st

import ember
from ember.autograd import gradcheck

D = ember.distributions


def _dt(device):
    # The GPU stores no float64; there the same checks run in float32.
    return ember.float64 if device == "cpu" else ember.float32


def _t(x, device):
    return ember.tensor(np.asarray(x, dtype=np.float64), dtype=_dt(device), device=device)


def _close(got, want, device, rtol=1e-10, atol=1e-12):
    got = got.detach().cpu().numpy()
    if device == "cpu":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    else:
        np.testing.assert_allclose(got, want, rtol=5e-5, atol=5e-5)


def _cases(t):
    return {
        "Exponential": (D.Exponential(t([0.5, 2.0])), st.expon(scale=[2.0, 0.5]), [0.3, 1.2]),
        "Chi2": (D.Chi2(t([1.5, 4.0])), st.chi2([1.5, 4.0]), [0.3, 5.0]),
        "StudentT": (
            D.StudentT(t([2.5, 5.0]), t([1.0, -1.0]), t([0.5, 2.0])),
            st.t([2.5, 5.0], [1.0, -1.0], [0.5, 2.0]),
            [1.2, -4.0],
        ),
        "Cauchy": (
            D.Cauchy(t([0.0, 1.0]), t([1.0, 0.3])),
            st.cauchy([0.0, 1.0], [1.0, 0.3]),
            [0.3, 2.0],
        ),
        "Gumbel": (
            D.Gumbel(t([0.0, 1.0]), t([1.0, 0.3])),
            st.gumbel_r([0.0, 1.0], [1.0, 0.3]),
            [0.3, 2.0],
        ),
        "LogNormal": (
            D.LogNormal(t([0.0, 1.0]), t([1.0, 0.3])),
            st.lognorm([1.0, 0.3], scale=np.exp([0.0, 1.0])),
            [0.3, 2.0],
        ),
        "HalfNormal": (D.HalfNormal(t([1.0, 0.3])), st.halfnorm(scale=[1.0, 0.3]), [0.3, 0.2]),
    }


HAS_MOMENTS = ["Exponential", "Chi2", "StudentT", "Gumbel", "LogNormal", "HalfNormal"]
HAS_ICDF = ["Exponential", "Cauchy", "Gumbel", "HalfNormal"]


@pytest.mark.parametrize("name", list(_cases(lambda x: ember.tensor(x))))
def test_vs_scipy(device, name):
    d, ref, v = _cases(lambda x: _t(x, device))[name]
    v = np.array(v)
    _close(d.log_prob(_t(v, device)), ref.logpdf(v), device)
    _close(d.entropy(), ref.entropy(), device)
    if name != "Chi2" and name != "StudentT" and name != "LogNormal":
        _close(d.cdf(_t(v, device)), ref.cdf(v), device)
    if name in HAS_ICDF:
        q = np.array([0.2, 0.9])
        _close(d.icdf(_t(q, device)), ref.ppf(q), device, rtol=1e-9)
    if name in HAS_MOMENTS:
        _close(d.mean, ref.mean(), device)
        _close(d.variance, ref.var(), device, rtol=1e-9)


def test_discrete_vs_scipy(device):
    t = lambda x: _t(x, device)  # noqa: E731
    # PyTorch's Geometric counts failures before the first success: scipy's geom shifted by one
    g = D.Geometric(t([0.3, 0.9]))
    k = np.array([[0.0, 4.0], [2.0, 0.0]])
    _close(g.log_prob(t(k)), st.geom([0.3, 0.9], loc=-1).logpmf(k), device)
    _close(g.entropy(), st.geom([0.3, 0.9]).entropy(), device)
    _close(g.mean, st.geom([0.3, 0.9], loc=-1).mean(), device)
    _close(g.variance, st.geom([0.3, 0.9]).var(), device)
    b = D.Binomial(t([5.0, 5.0]), logits=t(sp.logit([0.3, 0.9])))
    kb = np.array([[2.0, 5.0], [0.0, 3.0]])
    _close(b.log_prob(t(kb)), st.binom([5, 5], [0.3, 0.9]).logpmf(kb), device, rtol=1e-9)
    _close(b.entropy(), st.binom([5, 5], [0.3, 0.9]).entropy(), device, rtol=1e-9)
    _close(b.mean, [1.5, 4.5], device)
    _close(b.mode, [1.0, 5.0], device)
    p = np.array([0.2, 0.3, 0.5])
    m = D.Multinomial(5, t(p))
    x = np.array([[1.0, 1.0, 3.0], [0.0, 5.0, 0.0]])
    _close(m.log_prob(t(x)), st.multinomial(5, p).logpmf(x), device, rtol=1e-9)
    _close(m.entropy(), st.multinomial(5, p).entropy(), device, rtol=1e-9)
    _close(m.mean, 5 * p, device)
    _close(m.variance, 5 * p * (1 - p), device)


SAMPLE = {
    "Exponential": (lambda t: D.Exponential(t([0.5, 2.0])), [2.0, 0.5], [4.0, 0.25]),
    "Chi2": (lambda t: D.Chi2(t([1.5, 4.0])), [1.5, 4.0], [3.0, 8.0]),
    "StudentT": (lambda t: D.StudentT(t([8.0, 8.0]), t([1.0, -1.0]), t([0.5, 2.0])), [1.0, -1.0], [0.25 * 8 / 6, 4 * 8 / 6]),
    "Gumbel": (lambda t: D.Gumbel(t([0.0, 1.0]), t([1.0, 0.3])), st.gumbel_r([0.0, 1.0], [1.0, 0.3]).mean(), st.gumbel_r([0.0, 1.0], [1.0, 0.3]).var()),
    "LogNormal": (lambda t: D.LogNormal(t([0.0, 1.0]), t([0.5, 0.3])), st.lognorm([0.5, 0.3], scale=np.exp([0.0, 1.0])).mean(), st.lognorm([0.5, 0.3], scale=np.exp([0.0, 1.0])).var()),
    "HalfNormal": (lambda t: D.HalfNormal(t([1.0, 0.3])), st.halfnorm(scale=[1.0, 0.3]).mean(), st.halfnorm(scale=[1.0, 0.3]).var()),
    "Geometric": (lambda t: D.Geometric(t([0.3, 0.9])), [7 / 3, 1 / 9], [0.7 / 0.09, 0.1 / 0.81]),
    "Binomial": (lambda t: D.Binomial(t([5.0, 3.0]), t([0.3, 0.9])), [1.5, 2.7], [1.05, 0.27]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(SAMPLE))
def test_sample_moments(device, name):
    make, mean, var = SAMPLE[name]
    ember.manual_seed(99)
    n = 20000
    s = make(lambda x: _t(x, device)).sample((n,))
    assert tuple(s.shape) == (n, 2) and s.device.type == device
    s = s.cpu().double().numpy()
    assert np.all(np.abs(s.mean(0) - mean) < 5 * np.sqrt(np.array(var) / n))
    assert np.all(np.abs(s.var(0) / var - 1) < 0.15)


def test_cauchy_and_multinomial_samples(device):
    ember.manual_seed(4)
    n = 20000
    c = D.Cauchy(_t([1.0], device), _t([0.5], device)).sample((n,)).cpu().double().numpy()
    # the median and quartiles are finite: loc and loc -+ scale
    np.testing.assert_allclose(np.percentile(c, [25, 50, 75]), [0.5, 1.0, 1.5], atol=0.05)
    p = np.array([0.2, 0.3, 0.5])
    m = D.Multinomial(5, _t(p, device)).sample((4000,)).cpu().numpy()
    assert m.shape == (4000, 3) and np.all(m.sum(-1) == 5)
    assert np.all(np.abs(m.mean(0) - 5 * p) < 5 * np.sqrt(5 * p * (1 - p) / 4000))


def _seeded(fn):
    def wrapped(*args):
        ember.manual_seed(21)
        return fn(*args)

    return wrapped


def test_rsample_gradcheck():
    loc = ember.tensor([0.3, -1.0], dtype=ember.float64, requires_grad=True)
    scale = ember.tensor([1.5, 0.2], dtype=ember.float64, requires_grad=True)
    for cls in (D.Cauchy, D.Gumbel, D.LogNormal):
        assert gradcheck(_seeded(lambda a, b, c=cls: c(a, b).rsample((3,))), (loc, scale))
    assert gradcheck(_seeded(lambda b: D.HalfNormal(b).rsample((3,))), (scale,))
    assert gradcheck(_seeded(lambda b: D.Exponential(b).rsample((3,))), (scale,))
    df = ember.tensor([3.0, 7.0], dtype=ember.float64)
    assert gradcheck(_seeded(lambda a, b: D.StudentT(df, a, b).rsample((3,))), (loc, scale))


def _quad_kl(p, q, lo, hi):
    f = lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)) if p.pdf(x) > 0 else 0.0  # noqa: E731
    return si.quad(f, lo, hi, limit=200, epsabs=1e-12, epsrel=1e-10)[0]


def test_kl_pairs():
    f = lambda x: ember.tensor(x, dtype=ember.float64)  # noqa: E731
    cases = [
        (D.Exponential(f(0.5)), D.Exponential(f(2.0)), st.expon(scale=2.0), st.expon(scale=0.5), 0, np.inf),
        (D.Cauchy(f(0.0), f(1.0)), D.Cauchy(f(1.0), f(0.5)), st.cauchy(0, 1), st.cauchy(1, 0.5), -np.inf, np.inf),
        (D.Gumbel(f(0.0), f(1.0)), D.Gumbel(f(1.0), f(0.5)), st.gumbel_r(0, 1), st.gumbel_r(1, 0.5), -20, 60),
        (D.HalfNormal(f(1.0)), D.HalfNormal(f(0.5)), st.halfnorm(scale=1), st.halfnorm(scale=0.5), 0, np.inf),
        (D.LogNormal(f(0.0), f(1.0)), D.LogNormal(f(1.0), f(0.5)), st.lognorm(1.0), st.lognorm(0.5, scale=np.e), 0, np.inf),
    ]  # fmt: skip
    for p, q, rp, rq, lo, hi in cases:
        np.testing.assert_allclose(
            D.kl_divergence(p, q).item(), _quad_kl(rp, rq, lo, hi), rtol=1e-7
        )
    k = np.arange(400)
    lp, lq = st.geom(0.3, loc=-1).logpmf(k), st.geom(0.6, loc=-1).logpmf(k)
    got = D.kl_divergence(D.Geometric(f(0.3)), D.Geometric(f(0.6))).item()
    np.testing.assert_allclose(got, np.sum(np.exp(lp) * (lp - lq)), rtol=1e-9)
    k = np.arange(6)
    lp, lq = st.binom(5, 0.3).logpmf(k), st.binom(5, 0.7).logpmf(k)
    got = D.kl_divergence(D.Binomial(5, f(0.3)), D.Binomial(5, f(0.7))).item()
    np.testing.assert_allclose(got, np.sum(np.exp(lp) * (lp - lq)), rtol=1e-9)
