"""ember.distributions: log_prob / entropy / cdf / icdf against scipy.stats, sample
moments within statistical tolerance, shapes, validation, reproducibility and
reparameterised gradients (gradcheck in float64; Gamma's implicit gradient against
scipy's inverse incomplete gamma)."""

import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st

import ember
from ember.autograd import gradcheck

D = ember.distributions


def _dt(device):
    # The GPU stores no float64; there the same checks run in float32 with float32 tolerances.
    return ember.float64 if device == "cpu" else ember.float32


def _t(x, device):
    return ember.tensor(np.asarray(x, dtype=np.float64), dtype=_dt(device), device=device)


def _close(got, want, device, rtol=1e-10, atol=1e-12):
    got = got.detach().cpu().numpy()
    if device == "cpu":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    else:
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def _cases(device):
    t = lambda x: _t(x, device)  # noqa: E731
    return {
        "Normal": (
            D.Normal(t([0.0, 1.5]), t([1.0, 0.3])),
            st.norm([0.0, 1.5], [1.0, 0.3]),
            [[0.3, 1.2], [-2.0, 1.9]],
        ),
        "Laplace": (
            D.Laplace(t([0.0, -1.0]), t([2.0, 0.5])),
            st.laplace([0.0, -1.0], [2.0, 0.5]),
            [[0.3, -1.2], [-4.0, 0.0]],
        ),
        "Uniform": (
            D.Uniform(t([0.0, -1.0]), t([2.0, 3.0])),
            st.uniform([0.0, -1.0], [2.0, 4.0]),
            [[0.3, 2.9], [1.9, -0.5]],
        ),
        "Gamma": (
            D.Gamma(t([0.5, 3.0]), t([1.0, 2.0])),
            st.gamma([0.5, 3.0], scale=[1.0, 0.5]),
            [[0.3, 1.2], [2.5, 0.05]],
        ),
        "Beta": (
            D.Beta(t([2.0, 0.7]), t([3.0, 0.4])),
            st.beta([2.0, 0.7], [3.0, 0.4]),
            [[0.3, 0.9], [0.75, 0.01]],
        ),
    }


CONT = ["Normal", "Laplace", "Uniform", "Gamma", "Beta"]


@pytest.mark.parametrize("name", CONT)
def test_continuous_log_prob_entropy_moments_vs_scipy(device, name):
    d, ref, values = _cases(device)[name]
    _close(d.log_prob(_t(values, device)), ref.logpdf(np.array(values)), device)
    _close(d.entropy(), ref.entropy(), device)
    _close(d.mean, ref.mean(), device)
    _close(d.variance, ref.var(), device)
    _close(d.stddev, ref.std(), device)


@pytest.mark.parametrize("name", ["Normal", "Laplace", "Uniform", "Gamma"])
def test_cdf_icdf_vs_scipy(device, name):
    d, ref, values = _cases(device)[name]
    _close(d.cdf(_t(values, device)), ref.cdf(np.array(values)), device)
    if name == "Gamma":
        return  # PyTorch's Gamma has cdf (gammainc) but no icdf
    q = np.array([[0.1, 0.5], [0.77, 0.999]])
    _close(d.icdf(_t(q, device)), ref.ppf(q), device, rtol=1e-9)


def test_discrete_log_prob_entropy_vs_scipy(device):
    t = lambda x: _t(x, device)  # noqa: E731
    p = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    cat = D.Categorical(probs=t(p * 4))  # unnormalised probs are normalised, as in PyTorch
    k = ember.tensor([[2, 0], [1, 1]], device=device)
    _close(cat.log_prob(k), np.log(p[[0, 1], [[2, 0], [1, 1]]]), device)
    _close(cat.entropy(), st.entropy(p, axis=-1), device)
    cat_l = D.Categorical(logits=t(np.log(p) + 3.0))
    _close(cat_l.probs, p, device)
    oh = D.OneHotCategorical(probs=t(p))
    _close(oh.log_prob(t([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])), np.log([0.5, 0.6]), device)
    _close(oh.entropy(), st.entropy(p, axis=-1), device)
    _close(oh.variance, p * (1 - p), device)
    logits = np.array([0.3, -2.0, 4.0])
    probs = sp.expit(logits)
    bern = D.Bernoulli(logits=t(logits))
    _close(bern.log_prob(t([1.0, 0.0, 0.0])), st.bernoulli(probs).logpmf([1, 0, 0]), device)
    _close(bern.entropy(), st.bernoulli(probs).entropy(), device)
    _close(D.Bernoulli(probs=t(probs)).logits, logits, device, rtol=1e-9)
    pois = D.Poisson(t([3.0, 0.5]))
    _close(
        pois.log_prob(t([[2.0, 0.0], [7.0, 3.0]])),
        st.poisson([3.0, 0.5]).logpmf([[2, 0], [7, 3]]),
        device,
    )
    _close(pois.mode, [3.0, 0.0], device)


def test_dirichlet_mvn_vs_scipy(device):
    t = lambda x: _t(x, device)  # noqa: E731
    c = np.array([1.0, 2.0, 3.5])
    x = np.array([0.2, 0.3, 0.5])
    d = D.Dirichlet(t(c))
    _close(d.log_prob(t(x)), st.dirichlet(c).logpdf(x), device)
    _close(d.entropy(), st.dirichlet(c).entropy(), device)
    _close(d.mean, st.dirichlet(c).mean(), device)
    _close(d.variance, st.dirichlet(c).var(), device)
    _close(d.mode, (c - 1) / (c - 1).sum(), device)
    cov = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.5]])
    mu = np.array([1.0, 0.0, -1.0])
    v = np.array([[0.5, 0.5, 0.5], [-1.0, 2.0, 0.0]])
    ref = st.multivariate_normal(mu, cov)
    L = np.linalg.cholesky(cov)
    for kw in (
        dict(covariance_matrix=t(cov)),
        dict(precision_matrix=t(np.linalg.inv(cov))),
        dict(scale_tril=t(L)),
    ):
        m = D.MultivariateNormal(t(mu), **kw)
        _close(m.log_prob(t(v)), ref.logpdf(v), device, rtol=1e-9)
        _close(m.entropy(), ref.entropy(), device, rtol=1e-9)
        _close(m.scale_tril, L, device, rtol=1e-9)
        _close(m.covariance_matrix, cov, device, rtol=1e-9)
        _close(m.precision_matrix, np.linalg.inv(cov), device, rtol=1e-9)
        _close(m.variance, np.diag(cov), device, rtol=1e-9)


MOMENT_CASES = {
    "Normal": (lambda t: D.Normal(t([0.0, 1.5]), t([1.0, 0.3])), [0.0, 1.5], [1.0, 0.09]),
    "Laplace": (lambda t: D.Laplace(t([0.0, -1.0]), t([2.0, 0.5])), [0.0, -1.0], [8.0, 0.5]),
    "Uniform": (lambda t: D.Uniform(t([0.0, -1.0]), t([2.0, 3.0])), [1.0, 1.0], [1 / 3, 16 / 12]),
    "Gamma": (lambda t: D.Gamma(t([0.5, 3.0]), t([1.0, 2.0])), [0.5, 1.5], [0.5, 0.75]),
    "Beta": (
        lambda t: D.Beta(t([2.0, 0.7]), t([3.0, 0.4])),
        [0.4, 0.7 / 1.1],
        [0.04, 0.28 / (1.21 * 2.1)],
    ),
    "Bernoulli": (lambda t: D.Bernoulli(t([0.2, 0.9])), [0.2, 0.9], [0.16, 0.09]),
    "Poisson": (lambda t: D.Poisson(t([3.0, 0.5])), [3.0, 0.5], [3.0, 0.5]),
}


@pytest.mark.parametrize("name", list(MOMENT_CASES))
def test_sample_moments(device, name):
    make, mean, var = MOMENT_CASES[name]
    ember.manual_seed(1234)
    d = make(lambda x: _t(x, device))
    n = 20000 if device == "cpu" or name != "Beta" else 4000
    s = d.sample((n,))
    assert tuple(s.shape) == (n, 2)
    assert s.device.type == device
    s = s.cpu().double().numpy()
    # 5 standard errors of the mean; the variance check is loose (heavy tails).
    assert np.all(np.abs(s.mean(0) - mean) < 5 * np.sqrt(np.array(var) / n))
    assert np.all(np.abs(s.var(0) / var - 1) < 0.1)
    if name in ("Bernoulli", "Poisson"):
        assert np.all(s == np.round(s))


def test_categorical_dirichlet_mvn_sample_moments(device):
    ember.manual_seed(7)
    t = lambda x: _t(x, device)  # noqa: E731
    # Fewer draws on the GPU: llvmpipe's last-dim sums over many short rows are slow.
    n = 20000 if device == "cpu" else 4000
    p = np.array([0.2, 0.3, 0.5])
    k = D.Categorical(probs=t(p)).sample((n,))
    assert k.dtype == ember.int64 and tuple(k.shape) == (n,)
    freq = np.bincount(k.cpu().numpy(), minlength=3) / n
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n))
    oh = D.OneHotCategorical(probs=t(p)).sample((n,)).cpu().numpy()
    assert np.all(oh.sum(-1) == 1)
    assert np.all(np.abs(oh.mean(0) - p) < 5 * np.sqrt(p * (1 - p) / n))
    c = np.array([1.0, 2.0, 3.5])
    x = D.Dirichlet(t(c)).sample((n,)).cpu().double().numpy()
    np.testing.assert_allclose(x.sum(-1), 1.0, rtol=1e-5)
    ref = st.dirichlet(c)
    assert np.all(np.abs(x.mean(0) - ref.mean()) < 5 * np.sqrt(ref.var() / n))
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    y = D.MultivariateNormal(t([1.0, -1.0]), covariance_matrix=t(cov)).sample((n,))
    y = y.cpu().double().numpy()
    assert np.all(np.abs(y.mean(0) - [1.0, -1.0]) < 5 * np.sqrt(np.diag(cov) / n))
    np.testing.assert_allclose(np.cov(y.T), cov, atol=10 / np.sqrt(n))  # ~5 standard errors


def test_shapes_expand_and_seed():
    d = D.Normal(ember.zeros(3), ember.ones(3))
    assert d.batch_shape == (3,) and d.event_shape == ()
    assert d.sample().shape == (3,) and d.sample((4, 2)).shape == (4, 2, 3)
    e = d.expand((5, 3))
    assert e.batch_shape == (5, 3) and e.sample((2,)).shape == (2, 5, 3)
    m = D.MultivariateNormal(ember.zeros(4, 2), scale_tril=ember.eye(2))
    assert m.batch_shape == (4,) and m.event_shape == (2,)
    assert m.sample((3,)).shape == (3, 4, 2) and m.log_prob(ember.zeros(2)).shape == (4,)
    ind = D.Independent(D.Normal(ember.zeros(4, 3), ember.ones(4, 3)), 1)
    assert ind.batch_shape == (4,) and ind.event_shape == (3,)
    np.testing.assert_allclose(
        ind.log_prob(ember.zeros(4, 3)).numpy(), 3 * st.norm.logpdf(0.0) * np.ones(4), rtol=1e-6
    )
    np.testing.assert_allclose(ind.entropy().numpy(), 3 * st.norm.entropy() * np.ones(4), rtol=1e-6)
    assert ind.expand((2, 4)).batch_shape == (2, 4)
    c = D.Categorical(logits=ember.zeros(2, 5))
    assert c.batch_shape == (2,) and c.sample((3,)).shape == (3, 2)
    assert c.enumerate_support().shape == (5, 2)
    assert D.Bernoulli(ember.tensor([0.3, 0.6])).enumerate_support().shape == (2, 2)
    assert D.Normal(0.0, 1.0).batch_shape == ()
    for dist in (
        D.Normal(ember.zeros(2), ember.ones(2)),
        D.Gamma(ember.ones(2), ember.ones(2)),
        D.Categorical(probs=ember.ones(2, 3)),
        D.Beta(ember.ones(2), ember.ones(2)),
    ):
        ember.manual_seed(3)
        a = dist.sample((5,))
        ember.manual_seed(3)
        b = dist.sample((5,))
        assert bool((a == b).all())


def test_validation_errors():
    with pytest.raises(ValueError, match="Expected parameter scale .* GreaterThan"):
        D.Normal(ember.zeros(2), ember.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="to be within the support"):
        D.Gamma(ember.ones(2), ember.ones(2)).log_prob(ember.tensor([-1.0, 1.0]))
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        D.Bernoulli()
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix"):
        D.MultivariateNormal(ember.zeros(2))
    with pytest.raises(ValueError, match="positive_definite|PositiveDefinite"):
        D.MultivariateNormal(
            ember.zeros(2), covariance_matrix=ember.tensor([[1.0, 2.0], [2.0, 1.0]])
        )
    with pytest.raises(ValueError, match="Uniform is not defined when low>= high"):
        D.Uniform(ember.tensor([1.0]), ember.tensor([0.0]))
    # validate_args=False skips the checks, as in PyTorch
    D.Normal(ember.zeros(1), ember.tensor([-1.0]), validate_args=False)
    assert D.constraints.simplex.check(ember.tensor([0.3, 0.7])).item()
    assert not D.constraints.positive.check(ember.tensor(0.0)).item()
    assert D.constraints.integer_interval(0, 3).check(ember.tensor([0.0, 3.0])).all().item()


# ----- reparameterised gradients -----
def _seeded(fn):
    def wrapped(*args):
        ember.manual_seed(11)
        return fn(*args)

    return wrapped


def _f64(x):
    return ember.tensor(x, dtype=ember.float64, requires_grad=True)


def test_rsample_gradcheck_location_scale():
    loc, scale = _f64([0.3, -1.0]), _f64([1.5, 0.2])
    assert gradcheck(_seeded(lambda a, b: D.Normal(a, b).rsample((3,))), (loc, scale))
    assert gradcheck(_seeded(lambda a, b: D.Laplace(a, b).rsample((3,))), (loc, scale))
    low, high = _f64([0.0, -1.0]), _f64([1.0, 2.5])
    assert gradcheck(_seeded(lambda a, b: D.Uniform(a, b).rsample((3,))), (low, high))
    f = _seeded(
        lambda a, b: D.TransformedDistribution(
            D.Normal(a, b), [D.AffineTransform(1.0, 2.0), D.TanhTransform()]
        ).rsample((2,))
    )
    assert gradcheck(f, (loc, scale))


def test_rsample_gradcheck_mvn():
    loc = _f64([0.5, -0.5, 1.0])
    L = ember.tensor([[1.2, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.2, 0.1, 0.5]], dtype=ember.float64)
    tril = L.clone().requires_grad_(True)
    assert gradcheck(
        _seeded(lambda m, s: D.MultivariateNormal(m, scale_tril=s.tril()).rsample((2,))),
        (loc, tril),
    )
    cov = (L @ L.mT).requires_grad_(True)

    def via_cov(m, c):
        c = (c + c.mT) / 2  # keep the perturbed matrix symmetric
        return D.MultivariateNormal(m, covariance_matrix=c).rsample((2,))

    assert gradcheck(_seeded(via_cov), (loc, cov))
    v = ember.tensor([0.1, 0.2, 0.3], dtype=ember.float64)
    assert gradcheck(
        lambda m, c: D.MultivariateNormal(m, covariance_matrix=(c + c.mT) / 2).log_prob(v),
        (loc, cov),
    )


def test_gamma_implicit_gradient_vs_scipy():
    # dx/dalpha at a fixed CDF value u = P(alpha, x): finite differences of scipy's gammaincinv.
    from ember.distributions.gamma import _standard_gamma_grad

    a = np.array([0.1, 0.5, 1.5, 4.0, 20.0, 1.0, 2.0])
    x = np.array([0.01, 0.3, 1.0, 6.0, 18.0, 8.0, 0.05])
    got = _standard_gamma_grad(
        ember.tensor(a, dtype=ember.float64), ember.tensor(x, dtype=ember.float64)
    ).numpy()
    u = sp.gammainc(a, x)
    h = 1e-6
    want = (sp.gammaincinv(a + h, u) - sp.gammaincinv(a - h, u)) / (2 * h)
    np.testing.assert_allclose(got, want, rtol=1e-7)


def test_gamma_beta_dirichlet_rsample_gradients_in_expectation():
    # Reparameterised gradients are unbiased: mean of d x / d param over many draws
    # equals the derivative of the closed-form expectation.
    ember.manual_seed(5)
    n = 40000
    alpha = _f64([0.7, 3.0])
    rate = _f64([2.0, 0.5])
    x = D.Gamma(alpha, rate).rsample((n,))
    ga, gr = ember.autograd.grad(x.mean(0).sum(), (alpha, rate))
    # E[x] = alpha / rate
    np.testing.assert_allclose(ga.numpy(), 1 / np.array([2.0, 0.5]), rtol=0.05)
    np.testing.assert_allclose(
        gr.numpy(), -np.array([0.7, 3.0]) / np.array([2.0, 0.5]) ** 2, rtol=0.05
    )
    (gl,) = ember.autograd.grad(ember.log(D.Gamma(alpha, 1.0).rsample((n,))).mean(0).sum(), alpha)
    # E[log x] = digamma(alpha)
    np.testing.assert_allclose(gl.numpy(), sp.polygamma(1, [0.7, 3.0]), rtol=0.05)
    c1, c0 = _f64([2.0]), _f64([3.0])
    y = D.Beta(c1, c0).rsample((n,))
    g1, g0 = ember.autograd.grad(y.mean(), (c1, c0))
    # E[y] = c1 / (c1 + c0)
    np.testing.assert_allclose(g1.numpy(), [3.0 / 25.0], rtol=0.08)
    np.testing.assert_allclose(g0.numpy(), [-2.0 / 25.0], rtol=0.08)
    c = _f64([1.0, 2.0, 4.0])
    z = D.Dirichlet(c).rsample((n,))
    (gc,) = ember.autograd.grad(z[:, 0].mean(), c)
    # E[z_0] = c_0 / sum(c): gradient (S - c0, -c0, -c0) / S^2
    np.testing.assert_allclose(gc.numpy(), np.array([6.0, -1.0, -1.0]) / 49.0, atol=0.006)


def test_transforms():
    x = ember.tensor([-1.5, 0.2, 2.0], dtype=ember.float64)
    for t in (
        D.ExpTransform(),
        D.SigmoidTransform(),
        D.TanhTransform(),
        D.AffineTransform(1.0, -3.0),
    ):
        y = t(x)
        np.testing.assert_allclose(t.inv(y).numpy(), x.numpy(), rtol=1e-10)
        # log|dy/dx| by central differences
        h = 1e-6
        num = np.log(np.abs((t(x + h) - t(x - h)).numpy() / (2 * h)))
        np.testing.assert_allclose(t.log_abs_det_jacobian(x, y).numpy(), num, rtol=1e-6, atol=1e-8)
        assert t.inv.inv is t
    comp = D.ComposeTransform([D.AffineTransform(0.5, 2.0), D.ExpTransform()])
    y = comp(x)
    np.testing.assert_allclose(y.numpy(), np.exp(0.5 + 2 * x.numpy()))
    np.testing.assert_allclose(
        comp.log_abs_det_jacobian(x, y).numpy(), np.log(2) + 0.5 + 2 * x.numpy()
    )
    np.testing.assert_allclose(comp.inv(y).numpy(), x.numpy(), rtol=1e-12)


def test_transformed_distribution_vs_scipy(device):
    t = lambda v: _t(v, device)  # noqa: E731
    lognorm = D.TransformedDistribution(D.Normal(t(0.3), t(0.8)), [D.ExpTransform()])
    v = np.array([0.5, 1.0, 4.0])
    _close(lognorm.log_prob(t(v)), st.lognorm(0.8, scale=np.exp(0.3)).logpdf(v), device)
    _close(lognorm.cdf(t(v)), st.lognorm(0.8, scale=np.exp(0.3)).cdf(v), device)
    logit_normal = D.TransformedDistribution(D.Normal(t(0.0), t(1.0)), D.SigmoidTransform())
    u = np.array([0.2, 0.5, 0.9])
    want = st.norm.logpdf(sp.logit(u)) - np.log(u * (1 - u))
    _close(logit_normal.log_prob(t(u)), want, device, rtol=1e-9)
    s = logit_normal.sample((100,)).cpu().numpy()
    assert np.all((s > 0) & (s < 1))
    flipped = D.TransformedDistribution(D.Normal(t(0.0), t(1.0)), D.AffineTransform(0.0, -2.0))
    _close(flipped.cdf(t([1.0])), st.norm(0, 2).cdf([1.0]), device)
