"""Kumaraswamy, ContinuousBernoulli, FisherSnedecor, GeneralizedPareto and VonMises against
scipy.stats or closed-form densities integrated with scipy.integrate.quad, sample
statistics, and rsample gradients by gradcheck."""

import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.special as sp
import scipy.stats as st

import ember
from ember.autograd import gradcheck

D = ember.distributions


def _t(x, device):
    dt = ember.float64 if device == "cpu" else ember.float32
    return ember.tensor(np.asarray(x, dtype=np.float64), dtype=dt, device=device)


def _close(got, want, device, rtol=1e-10, atol=1e-12):
    got = got.detach().cpu().double().numpy()
    tol = dict(rtol=rtol, atol=atol) if device == "cpu" else dict(rtol=5e-5, atol=5e-5)
    np.testing.assert_allclose(got, want, **tol)


def test_kumaraswamy(device):
    a, b = np.array([2.0, 0.5, 3.0]), np.array([3.0, 2.0, 0.5])
    d = D.Kumaraswamy(_t(a, device), _t(b, device))
    x = np.array([0.3, 0.6, 0.9])
    logpdf = np.log(a * b) + (a - 1) * np.log(x) + (b - 1) * np.log1p(-(x**a))
    _close(d.log_prob(_t(x, device)), logpdf, device, rtol=1e-9)
    _close(d.cdf(_t(x, device)), 1 - (1 - x**a) ** b, device, rtol=1e-9)
    mean = b * sp.beta(1 + 1 / a, b)
    _close(d.mean, mean, device, rtol=1e-9)
    _close(d.variance, b * sp.beta(1 + 2 / a, b) - mean**2, device, rtol=1e-9)
    ent = [
        si.quad(lambda v, i=i: -np.exp(logp(v, a[i], b[i])) * logp(v, a[i], b[i]), 0, 1)[0]
        for i in range(3)
    ]
    _close(d.entropy(), ent, device, rtol=1e-6)
    mode = d.mode.cpu().numpy()
    # only (2, 3) has an interior mode: ((a-1)/(ab-1))^(1/a)
    assert mode[0] == pytest.approx((1 / 5) ** 0.5) and np.isnan(mode[1]) and np.isnan(mode[2])


def logp(v, a, b):
    return np.log(a * b) + (a - 1) * np.log(v) + (b - 1) * np.log1p(-(v**a))


def _cb_log_norm(p):
    with np.errstate(invalid="ignore", divide="ignore"):  # the p = 1/2 branch is discarded
        return _cb_log_norm_raw(p)


def _cb_log_norm_raw(p):
    return np.where(
        np.abs(p - 0.5) < 1e-12, np.log(2.0), np.log(2 * np.arctanh(1 - 2 * p) / (1 - 2 * p))
    )


def test_continuous_bernoulli(device):
    p = np.array([0.2, 0.5, 0.4995, 0.9])
    d = D.ContinuousBernoulli(_t(p, device))
    x = np.array([0.3, 0.6, 0.1, 0.95])
    want = _cb_log_norm(p) + x * np.log(p) + (1 - x) * np.log1p(-p)
    _close(d.log_prob(_t(x, device)), want, device, rtol=1e-7)
    tol = 1e-7 if device == "cpu" else 1e-4
    for i, pi in enumerate(p):

        def dens(v, pi=pi):
            return np.exp(_cb_log_norm(pi) + v * np.log(pi) + (1 - v) * np.log1p(-pi))

        assert si.quad(dens, 0, 1)[0] == pytest.approx(1.0, rel=1e-9)
        m = si.quad(lambda v, f=dens: v * f(v), 0, 1)[0]
        var = si.quad(lambda v, f=dens, m=m: (v - m) ** 2 * f(v), 0, 1)[0]
        ent = si.quad(lambda v, f=dens: -f(v) * np.log(f(v)), 0, 1)[0]
        assert d.mean.cpu().numpy()[i] == pytest.approx(m, rel=tol)
        assert d.variance.cpu().numpy()[i] == pytest.approx(var, rel=tol)
        assert d.entropy().cpu().numpy()[i] == pytest.approx(ent, rel=tol, abs=tol)
        if abs(pi - 0.5) > 1e-3:
            # within 1e-3 of 1/2, PyTorch (and ember) take the cdf to be the uniform one
            cdf = d.cdf(_t(x, device)).cpu().numpy()[i]
            assert cdf == pytest.approx(si.quad(dens, 0, x[i])[0], rel=tol)
    q = _t([0.3, 0.7, 0.5, 0.1], device)
    _close(d.cdf(d.icdf(q)), q.cpu().numpy(), device, rtol=1e-9)


def test_fisher_snedecor_and_generalized_pareto(device):
    df1, df2 = np.array([3.0, 1.5, 6.0]), np.array([5.0, 2.5, 10.0])
    d = D.FisherSnedecor(_t(df1, device), _t(df2, device))
    x = np.array([0.3, 1.6, 2.0])
    ref = st.f(df1, df2)
    _close(d.log_prob(_t(x, device)), ref.logpdf(x), device, rtol=1e-9)
    _close(d.mean, ref.mean(), device)
    var = d.variance.cpu().numpy()
    # defined for df2 > 4 only
    assert np.isnan(var[1]) and var[[0, 2]] == pytest.approx(ref.var()[[0, 2]], rel=1e-6)
    loc, scale, xi = (
        np.array([0.0, 1.0, -1.0]),
        np.array([1.0, 2.0, 0.5]),
        np.array([0.3, 0.0, -0.2]),
    )
    g = D.GeneralizedPareto(_t(loc, device), _t(scale, device), _t(xi, device))
    gref = st.genpareto(xi, loc, scale)
    v = np.array([0.3, 1.6, -0.5])
    _close(g.log_prob(_t(v, device)), gref.logpdf(v), device, rtol=1e-9)
    _close(g.cdf(_t(v, device)), gref.cdf(v), device, rtol=1e-9)
    _close(g.icdf(_t([0.2, 0.5, 0.9], device)), gref.ppf([0.2, 0.5, 0.9]), device, rtol=1e-9)
    _close(g.entropy(), gref.entropy(), device, rtol=1e-9)
    _close(g.mean, gref.mean(), device)
    _close(g.variance, gref.var(), device)
    ember.manual_seed(6)
    s = d.sample((20000,)).cpu().double().numpy()
    np.testing.assert_allclose(np.median(s, 0), ref.median(), rtol=0.03)
    s = g.sample((20000,)).cpu().double().numpy()
    np.testing.assert_allclose(np.median(s, 0), gref.median(), rtol=0.03, atol=0.01)


def test_von_mises(device):
    loc, kappa = np.array([0.0, 1.0, -2.5]), np.array([0.5, 4.0, 20.0])
    d = D.VonMises(_t(loc, device), _t(kappa, device))
    ref = st.vonmises(kappa, loc=loc)
    x = np.array([0.3, 1.6, -2.0])
    _close(d.log_prob(_t(x, device)), ref.logpdf(x), device)
    _close(d.variance, 1 - sp.i1e(kappa) / sp.i0e(kappa), device)
    ember.manual_seed(12)
    s = d.sample((20000,)).cpu().double().numpy()
    slack = 0 if device == "cpu" else 1e-6  # float32 rounds pi up
    assert np.all((s >= -math.pi - slack) & (s < math.pi + slack))
    # circular mean direction and mean resultant length I1/I0
    c, si_ = np.cos(s).mean(0), np.sin(s).mean(0)
    np.testing.assert_allclose(np.arctan2(si_, c), loc, atol=0.05)
    np.testing.assert_allclose(np.hypot(c, si_), sp.i1e(kappa) / sp.i0e(kappa), atol=0.02)


def test_rsample_gradcheck():
    def seeded(fn):
        def wrapped(*args):
            ember.manual_seed(31)
            return fn(*args)

        return wrapped

    a = ember.tensor([2.0, 0.7], dtype=ember.float64, requires_grad=True)
    b = ember.tensor([3.0, 1.5], dtype=ember.float64, requires_grad=True)
    assert gradcheck(seeded(lambda x, y: D.Kumaraswamy(x, y).rsample((3,))), (a, b))
    p = ember.tensor([0.2, 0.8], dtype=ember.float64, requires_grad=True)
    assert gradcheck(seeded(lambda q: D.ContinuousBernoulli(q).rsample((3,))), (p,))
    loc = ember.tensor([0.0, 1.0], dtype=ember.float64, requires_grad=True)
    xi = ember.tensor([0.3, -0.2], dtype=ember.float64)
    assert gradcheck(seeded(lambda m, s: D.GeneralizedPareto(m, s, xi).rsample((3,))), (loc, b))
