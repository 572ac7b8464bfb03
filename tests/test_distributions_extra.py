"""MixtureSameFamily, NegativeBinomial, Weibull, Pareto, HalfCauchy, InverseGamma and the
Gumbel-softmax relaxations against scipy.stats / closed-form densities in numpy, with
sample moments and reparameterised gradients."""

import math

import numpy as np
import pytest
import scipy.stats as st
from scipy.special import gammaln

import ember
from ember.autograd import gradcheck

D = ember.distributions


def _t(x, device):
    dt = ember.float64 if device == "cpu" else ember.float32
    return ember.tensor(np.asarray(x, dtype=np.float64), dtype=dt, device=device)


def _close(got, want, device, rtol=1e-10):
    got = got.detach().cpu().double().numpy()
    tol = dict(rtol=rtol, atol=1e-12) if device == "cpu" else dict(rtol=5e-5, atol=5e-5)
    np.testing.assert_allclose(got, want, **tol)


def test_mixture_same_family(device):
    t = lambda x: _t(x, device)  # noqa: E731
    w, mu, sd = np.array([0.3, 0.7]), np.array([-1.0, 2.0]), np.array([0.5, 1.5])
    mix = D.MixtureSameFamily(D.Categorical(probs=t(w)), D.Normal(t(mu), t(sd)))
    x = np.array([0.3, -1.2, 4.0])
    pdf = (w * st.norm(mu, sd).pdf(x[:, None])).sum(-1)
    _close(mix.log_prob(t(x)), np.log(pdf), device)
    _close(mix.cdf(t(x)), (w * st.norm(mu, sd).cdf(x[:, None])).sum(-1), device)
    m = (w * mu).sum()
    _close(mix.mean, m, device)
    _close(mix.variance, (w * (sd**2 + mu**2)).sum() - m**2, device)
    ember.manual_seed(0)
    s = mix.sample((20000,)).cpu().double().numpy()
    assert s.shape == (20000,)
    var = (w * (sd**2 + mu**2)).sum() - m**2
    assert abs(s.mean() - m) < 5 * math.sqrt(var / 20000)
    # a batch of 2-D Gaussian mixtures (Independent components)
    locs = np.arange(12.0).reshape(2, 3, 2)
    logits = np.array([[0.1, 0.5, -1.0], [1.0, 0.0, 0.0]])
    mix2 = D.MixtureSameFamily(
        D.Categorical(logits=t(logits)), D.Independent(D.Normal(t(locs), t(np.ones((2, 3, 2)))), 1)
    )
    assert mix2.batch_shape == (2,) and mix2.event_shape == (2,)
    v = np.array([[0.3, 1.2], [5.0, 4.0]])
    ww = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    dens = np.stack(
        [
            [st.multivariate_normal(locs[b, k], np.eye(2)).pdf(v[b]) for k in range(3)]
            for b in range(2)
        ]
    )
    _close(mix2.log_prob(t(v)), np.log((ww * dens).sum(-1)), device)
    assert mix2.sample((5,)).shape == (5, 2, 2)
    with pytest.raises(ValueError, match="Categorical"):
        D.MixtureSameFamily(D.Normal(t(0.0), t(1.0)), D.Normal(t(mu), t(sd)))


def test_negative_binomial(device):
    t = lambda x: _t(x, device)  # noqa: E731
    r, p = np.array([3.0, 0.5]), np.array([0.3, 0.8])
    nb = D.NegativeBinomial(t(r), t(p))
    # PyTorch counts successes (prob p) before r failures: scipy's nbinom(r, 1 - p)
    ref = st.nbinom(r, 1 - p)
    k = np.array([[2.0, 4.0], [0.0, 11.0]])
    _close(nb.log_prob(t(k)), ref.logpmf(k), device, rtol=1e-9)
    _close(nb.mean, ref.mean(), device)
    _close(nb.variance, ref.var(), device)
    ember.manual_seed(3)
    s = nb.sample((20000,)).cpu().double().numpy()
    assert np.all(s == np.round(s)) and np.all(s >= 0)
    assert np.all(np.abs(s.mean(0) - ref.mean()) < 5 * np.sqrt(ref.var() / 20000))


CONT = {
    "Weibull": (lambda t: D.Weibull(t([1.0, 2.0]), t([0.7, 3.0])), st.weibull_min([0.7, 3.0], scale=[1.0, 2.0]), [0.3, 2.5]),
    "Pareto": (lambda t: D.Pareto(t([1.0, 2.0]), t([2.7, 3.0])), st.pareto([2.7, 3.0], scale=[1.0, 2.0]), [1.3, 2.5]),
    "HalfCauchy": (lambda t: D.HalfCauchy(t([1.0, 2.0])), st.halfcauchy(scale=[1.0, 2.0]), [0.3, 2.5]),
    "InverseGamma": (lambda t: D.InverseGamma(t([2.5, 3.0]), t([1.0, 2.0])), st.invgamma([2.5, 3.0], scale=[1.0, 2.0]), [0.3, 2.5]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CONT))
def test_continuous_vs_scipy(device, name):
    make, ref, v = CONT[name]
    d = make(lambda x: _t(x, device))
    v = np.array(v)
    _close(d.log_prob(_t(v, device)), ref.logpdf(v), device, rtol=1e-9)
    _close(d.cdf(_t(v, device)), ref.cdf(v), device, rtol=1e-9)
    _close(d.entropy(), ref.entropy(), device, rtol=1e-9)
    if name != "HalfCauchy":
        _close(d.mean, ref.mean(), device, rtol=1e-9)
        _close(d.variance, ref.var(), device, rtol=1e-9)
        ember.manual_seed(8)
        n = 40000
        s = d.sample((n,)).cpu().double().numpy()
        # heavy tails: compare medians (robust) rather than means
        np.testing.assert_allclose(np.median(s, 0), ref.median(), rtol=0.03)
    else:
        _close(d.icdf(_t([0.2, 0.9], device)), ref.ppf([0.2, 0.9]), device, rtol=1e-9)


def _binary_concrete_logpdf(x, lam, p):
    a = p / (1 - p)
    return (
        np.log(lam * a)
        + (-lam - 1) * (np.log(x) + np.log1p(-x))
        - 2 * np.log(a * x ** (-lam) + (1 - x) ** (-lam))
    )


def _concrete_logpdf(x, lam, p):
    n = len(p)
    return (
        gammaln(n)
        + (n - 1) * np.log(lam)
        + np.sum(np.log(p) + (-lam - 1) * np.log(x))
        - n * np.log(np.sum(p * x ** (-lam)))
    )


def test_relaxed_densities(device):
    t = lambda x: _t(x, device)  # noqa: E731
    rb = D.RelaxedBernoulli(t(0.5), t([0.3, 0.8]))
    x = np.array([0.3, 0.9])
    _close(
        rb.log_prob(t(x)), _binary_concrete_logpdf(x, 0.5, np.array([0.3, 0.8])), device, rtol=1e-9
    )
    p = np.array([0.2, 0.3, 0.5])
    rc = D.RelaxedOneHotCategorical(t(0.5), t(p))
    v = np.array([0.1, 0.2, 0.7])
    _close(rc.log_prob(t(v)), _concrete_logpdf(v, 0.5, p), device, rtol=1e-9)
    ember.manual_seed(1)
    s = rc.sample((1000,)).cpu().double().numpy()
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-5)
    # a cold relaxation is nearly one-hot; its argmax is exactly Categorical(probs) at any temperature
    n = 20000 if device == "cpu" else 4000  # llvmpipe's row reductions are slow
    cold = D.RelaxedOneHotCategorical(t(0.05), t(p)).sample((n,)).cpu().double().numpy()
    assert np.median(cold.max(-1)) > 0.99
    freq = np.bincount(cold.argmax(-1), minlength=3) / n
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n))
    sb = rb.sample((n,)).cpu().double().numpy()
    assert np.all((sb > 0) & (sb < 1))
    # P(X > 1/2) for the binary concrete is exactly p
    pb = np.array([0.3, 0.8])
    assert np.all(np.abs((sb > 0.5).mean(0) - pb) < 5 * np.sqrt(pb * (1 - pb) / n))


def test_relaxed_and_straight_through_gradients():
    logits = ember.tensor([0.2, -0.4, 1.0], dtype=ember.float64, requires_grad=True)

    def f(lg):
        ember.manual_seed(2)
        return D.RelaxedOneHotCategorical(
            ember.tensor(0.7, dtype=ember.float64), logits=lg
        ).rsample((2,))

    assert gradcheck(f, (logits,))
    probs = ember.tensor([0.2, 0.3, 0.5], dtype=ember.float64, requires_grad=True)
    st_dist = D.OneHotCategoricalStraightThrough(probs=probs)
    y = st_dist.rsample()
    assert sorted(y.detach().tolist()) == [0.0, 0.0, 1.0]
    (y * ember.tensor([1.0, 2.0, 3.0], dtype=ember.float64)).sum().backward()
    # straight-through: d y / d (normalised probs) is the identity; through the normalisation
    # p / sum(p) (sum = 1 here) the gradient is g - (g . p)
    g = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(probs.grad.numpy(), g - g @ np.array([0.2, 0.3, 0.5]), rtol=1e-12)


def test_lowrank_multivariate_normal(device):
    t = lambda x: _t(x, device)  # noqa: E731
    W = np.array([[0.5, -0.2], [1.0, 0.3], [-0.4, 0.8]])
    Dg = np.array([0.5, 1.2, 0.3])
    mu = np.array([0.1, -0.2, 0.3])
    cov = W @ W.T + np.diag(Dg)
    d = D.LowRankMultivariateNormal(t(mu), t(W), t(Dg))
    ref = st.multivariate_normal(mu, cov)
    v = np.array([[0.3, 0.1, -1.0], [2.0, 0.0, 0.0]])
    _close(d.log_prob(t(v)), ref.logpdf(v), device, rtol=1e-9)
    _close(d.entropy(), ref.entropy(), device, rtol=1e-9)
    _close(d.covariance_matrix, cov, device)
    _close(d.precision_matrix, np.linalg.inv(cov), device, rtol=1e-9)
    _close(d.scale_tril, np.linalg.cholesky(cov), device, rtol=1e-9)
    _close(d.variance, np.diag(cov), device)
    ember.manual_seed(4)
    n = 20000 if device == "cpu" else 4000  # llvmpipe's batched small matmuls are slow
    s = d.sample((n,)).cpu().double().numpy()
    assert s.shape == (n, 3)
    np.testing.assert_allclose(np.cov(s.T), cov, atol=10 / np.sqrt(n))
    batched = D.LowRankMultivariateNormal(t([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]), t(W), t(Dg))
    assert batched.batch_shape == (2,) and batched.sample((5,)).shape == (5, 2, 3)


def test_lowrank_rsample_gradcheck_and_reshape_transform():
    W = ember.tensor(
        [[0.5, -0.2], [1.0, 0.3], [-0.4, 0.8]], dtype=ember.float64, requires_grad=True
    )
    Dg = ember.tensor([0.5, 1.2, 0.3], dtype=ember.float64, requires_grad=True)
    mu = ember.tensor([0.1, -0.2, 0.3], dtype=ember.float64, requires_grad=True)

    def f(m, w, dg):
        ember.manual_seed(9)
        return D.LowRankMultivariateNormal(m, w, dg).rsample((2,))

    assert gradcheck(f, (mu, W, Dg))
    v = ember.tensor([0.3, 0.1, -1.0], dtype=ember.float64)
    assert gradcheck(
        lambda m, w, dg: D.LowRankMultivariateNormal(m, w, dg).log_prob(v), (mu, W, Dg)
    )
    r = D.ReshapeTransform((2, 3), (3, 2))
    x = ember.arange(12.0).reshape(2, 2, 3)
    assert r(x).shape == (2, 3, 2) and bool((r.inv(r(x)) == x).all())
    assert r.log_abs_det_jacobian(x, r(x)).tolist() == [0.0, 0.0]
    assert r.forward_shape((5, 2, 3)) == (5, 3, 2) and r.inverse_shape((3, 2)) == (2, 3)
    with pytest.raises(ValueError, match="different numbers of elements"):
        D.ReshapeTransform((2, 3), (4,))


def test_wishart_vs_scipy(device):
    t = lambda x: _t(x, device)  # noqa: E731
    cov = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.5]])
    X = np.array([[3.0, 0.2, -0.1], [0.2, 2.0, 0.3], [-0.1, 0.3, 1.0]])
    for df, kw in (
        (5.0, dict(covariance_matrix=t(cov))),
        (4.5, dict(precision_matrix=t(np.linalg.inv(cov)))),
        (3.5, dict(scale_tril=t(np.linalg.cholesky(cov)))),
    ):
        d = D.Wishart(df, **kw)
        ref = st.wishart(df, cov)
        _close(d.log_prob(t(X)), ref.logpdf(X), device, rtol=1e-9)
        _close(d.entropy(), ref.entropy(), device, rtol=1e-9)
        _close(d.mean, ref.mean(), device, rtol=1e-9)
        _close(d.variance, ref.var(), device, rtol=1e-9)
    ember.manual_seed(10)
    n = 20000 if device == "cpu" else 4000
    s = D.Wishart(5.0, covariance_matrix=t(cov)).sample((n,)).cpu().double().numpy()
    assert s.shape == (n, 3, 3)
    np.testing.assert_allclose(s, np.swapaxes(s, -1, -2), atol=1e-5)
    sd = np.sqrt(st.wishart(5.0, cov).var() / n)
    assert np.all(np.abs(s.mean(0) - 5.0 * cov) < 5 * sd)
    with pytest.raises(ValueError, match="expected to be greater than ndim - 1"):
        D.Wishart(1.5, covariance_matrix=t(cov))


def test_wishart_rsample_gradcheck():
    L = ember.tensor(
        np.linalg.cholesky([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.5]]), dtype=ember.float64
    ).requires_grad_(True)

    def f(tril):
        ember.manual_seed(13)
        return D.Wishart(5.0, scale_tril=tril.tril()).rsample((2,))

    assert gradcheck(f, (L,))
