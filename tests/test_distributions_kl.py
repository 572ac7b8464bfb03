"""kl_divergence against independent references: scipy.integrate.quad over scipy.stats
densities, exact sums for discrete laws, numpy linear algebra for MultivariateNormal,
Monte Carlo over scipy's draws for Dirichlet; plus register_kl dispatch."""

import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as st

import ember

D = ember.distributions


def _dt(device):
    return ember.float64 if device == "cpu" else ember.float32


def _t(x, device):
    return ember.tensor(np.asarray(x, dtype=np.float64), dtype=_dt(device), device=device)


def _quad_kl(p, q, lo, hi):
    f = lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)) if p.pdf(x) > 0 else 0.0  # noqa: E731
    # split at the modes so quad sees the kinks of the Laplace densities
    pts = [x for x in (-1.0, 0.3) if lo < x < hi] if np.isfinite(hi - lo) else None
    return si.quad(f, lo, hi, limit=200, epsabs=1e-12, epsrel=1e-10, points=pts)[0]


def _check(got, want, device, rtol=1e-7):
    got = got.detach().cpu().numpy()
    np.testing.assert_allclose(got, want, rtol=rtol if device == "cpu" else 1e-4, atol=1e-6)


CONT = [
    ("Normal", lambda t: (D.Normal(t(0.3), t(1.2)), D.Normal(t(-1.0), t(0.7))),
     (st.norm(0.3, 1.2), st.norm(-1.0, 0.7)), (-np.inf, np.inf)),
    ("Laplace", lambda t: (D.Laplace(t(0.3), t(1.2)), D.Laplace(t(-1.0), t(0.7))),
     (st.laplace(0.3, 1.2), st.laplace(-1.0, 0.7)), (-60.0, 60.0)),
    ("Gamma", lambda t: (D.Gamma(t(2.5), t(1.5)), D.Gamma(t(1.3), t(0.6))),
     (st.gamma(2.5, scale=1 / 1.5), st.gamma(1.3, scale=1 / 0.6)), (0, np.inf)),
    ("Beta", lambda t: (D.Beta(t(2.5), t(1.5)), D.Beta(t(1.3), t(3.0))),
     (st.beta(2.5, 1.5), st.beta(1.3, 3.0)), (0, 1)),
    ("Uniform", lambda t: (D.Uniform(t(0.2), t(0.9)), D.Uniform(t(0.0), t(1.5))),
     (st.uniform(0.2, 0.7), st.uniform(0.0, 1.5)), (0.2, 0.9)),
    ("UniformNormal", lambda t: (D.Uniform(t(0.2), t(0.9)), D.Normal(t(0.1), t(2.0))),
     (st.uniform(0.2, 0.7), st.norm(0.1, 2.0)), (0.2, 0.9)),
]  # fmt: skip


@pytest.mark.parametrize("name,make,refs,bounds", CONT, ids=[c[0] for c in CONT])
def test_continuous_kl_vs_quadrature(device, name, make, refs, bounds):
    p, q = make(lambda x: _t(x, device))
    _check(D.kl_divergence(p, q), _quad_kl(*refs, *bounds), device)
    assert float(D.kl_divergence(p, p).cpu().item()) == pytest.approx(0.0, abs=1e-6)


def test_uniform_kl_outside_support_is_inf(device):
    p = D.Uniform(_t([0.0], device), _t([2.0], device))
    q = D.Uniform(_t([0.5], device), _t([3.0], device))
    assert float(D.kl_divergence(p, q).cpu().item()) == np.inf


def test_discrete_kl_exact_sums(device):
    t = lambda x: _t(x, device)  # noqa: E731
    pp, qq = np.array([0.2, 0.3, 0.5]), np.array([0.6, 0.1, 0.3])
    want = np.sum(pp * np.log(pp / qq))
    _check(
        D.kl_divergence(D.Categorical(probs=t(pp)), D.Categorical(logits=t(np.log(qq)))),
        want,
        device,
    )
    _check(D.kl_divergence(D.OneHotCategorical(t(pp)), D.OneHotCategorical(t(qq))), want, device)
    a, b = np.array([0.3, 0.9]), np.array([0.6, 0.2])
    want = a * np.log(a / b) + (1 - a) * np.log((1 - a) / (1 - b))
    _check(D.kl_divergence(D.Bernoulli(t(a)), D.Bernoulli(t(b))), want, device)
    k = np.arange(200)
    lp, lq = st.poisson(3.0).logpmf(k), st.poisson(5.5).logpmf(k)
    _check(
        D.kl_divergence(D.Poisson(t(3.0)), D.Poisson(t(5.5))),
        np.sum(np.exp(lp) * (lp - lq)),
        device,
    )


def test_mvn_and_independent_kl(device):
    t = lambda x: _t(x, device)  # noqa: E731
    c1 = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.5]])
    c2 = np.array([[1.0, -0.3, 0.0], [-0.3, 2.0, 0.4], [0.0, 0.4, 1.5]])
    m1, m2 = np.array([1.0, 0.0, -1.0]), np.array([0.0, 0.5, 0.5])
    inv2 = np.linalg.inv(c2)
    d = m2 - m1
    want = 0.5 * (
        np.trace(inv2 @ c1) + d @ inv2 @ d - 3 + np.log(np.linalg.det(c2) / np.linalg.det(c1))
    )
    p = D.MultivariateNormal(t(m1), covariance_matrix=t(c1))
    q = D.MultivariateNormal(t(m2), scale_tril=t(np.linalg.cholesky(c2)))
    _check(D.kl_divergence(p, q), want, device)
    # a diagonal MVN equals Independent(Normal)
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([0.7, 1.0, 1.5])
    ip = D.Independent(D.Normal(t(m1), t(s1)), 1)
    iq = D.Independent(D.Normal(t(m2), t(s2)), 1)
    want = np.sum(np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5)
    _check(D.kl_divergence(ip, iq), want, device)


def test_dirichlet_kl_monte_carlo():
    a, b = np.array([1.0, 2.0, 3.5]), np.array([2.0, 2.0, 1.0])
    x = st.dirichlet(a).rvs(size=200000, random_state=np.random.default_rng(0))
    terms = st.dirichlet(a).logpdf(x.T) - st.dirichlet(b).logpdf(x.T)
    got = D.kl_divergence(
        D.Dirichlet(ember.tensor(a, dtype=ember.float64)),
        D.Dirichlet(ember.tensor(b, dtype=ember.float64)),
    ).item()
    assert abs(got - terms.mean()) < 5 * terms.std() / np.sqrt(len(terms))


def test_kl_gradient_flows():
    loc = ember.tensor([0.5], dtype=ember.float64, requires_grad=True)
    kl = D.kl_divergence(D.Normal(loc, 1.0), D.Normal(0.0, 1.0)).sum()
    kl.backward()
    # d/dloc of loc^2 / 2
    assert float(loc.grad.item()) == pytest.approx(0.5)


def test_register_kl_dispatch_and_missing_pair():
    class MyNormal(D.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), D.Normal(1.0, 1.0)
    # a subclass falls back to the parent's rule ...
    assert float(D.kl_divergence(p, q)) == pytest.approx(0.5)

    # ... until a more specific one is registered
    @D.register_kl(MyNormal, D.Normal)
    def _kl(p, q):
        return ember.tensor(42.0)

    assert float(D.kl_divergence(p, q)) == 42.0
    assert float(D.kl_divergence(q, q)) == 0.0
    with pytest.raises(
        NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Poisson"
    ):
        D.kl_divergence(D.Poisson(1.0), D.Normal(0.0, 1.0))
    with pytest.raises(TypeError):
        D.register_kl(1, D.Normal)


def test_transformed_kl_equals_base_kl(device):
    t = lambda x: _t(x, device)  # noqa: E731
    tr = [D.AffineTransform(0.5, 2.0), D.ExpTransform()]
    p = D.TransformedDistribution(D.Normal(t(0.3), t(1.2)), tr)
    q = D.TransformedDistribution(
        D.Normal(t(-1.0), t(0.7)), [D.AffineTransform(0.5, 2.0), D.ExpTransform()]
    )
    want = _quad_kl(st.norm(0.3, 1.2), st.norm(-1.0, 0.7), -np.inf, np.inf)
    _check(D.kl_divergence(p, q), want, device)
    other = D.TransformedDistribution(D.Normal(t(-1.0), t(0.7)), [D.ExpTransform()])
    with pytest.raises(NotImplementedError):
        D.kl_divergence(p, other)


def _f(x):
    return ember.tensor(x, dtype=ember.float64)


CROSS = [
    ("Exponential-Normal", lambda: (D.Exponential(_f(0.5)), D.Normal(_f(0.1), _f(2.0))),
     (st.expon(scale=2.0), st.norm(0.1, 2.0)), (0, np.inf)),
    ("Gamma-Normal", lambda: (D.Gamma(_f(2.5), _f(1.5)), D.Normal(_f(0.1), _f(2.0))),
     (st.gamma(2.5, scale=1 / 1.5), st.norm(0.1, 2.0)), (0, np.inf)),
    ("Beta-Normal", lambda: (D.Beta(_f(2.5), _f(1.5)), D.Normal(_f(0.1), _f(2.0))),
     (st.beta(2.5, 1.5), st.norm(0.1, 2.0)), (0, 1)),
    ("Laplace-Normal", lambda: (D.Laplace(_f(0.3), _f(1.2)), D.Normal(_f(0.1), _f(2.0))),
     (st.laplace(0.3, 1.2), st.norm(0.1, 2.0)), (-60, 60)),
    ("Gumbel-Normal", lambda: (D.Gumbel(_f(0.3), _f(1.2)), D.Normal(_f(0.1), _f(2.0))),
     (st.gumbel_r(0.3, 1.2), st.norm(0.1, 2.0)), (-30, 80)),
    ("Normal-Laplace", lambda: (D.Normal(_f(0.3), _f(1.2)), D.Laplace(_f(0.1), _f(2.0))),
     (st.norm(0.3, 1.2), st.laplace(0.1, 2.0)), (-np.inf, np.inf)),
    ("Exponential-Gamma", lambda: (D.Exponential(_f(0.5)), D.Gamma(_f(1.3), _f(0.6))),
     (st.expon(scale=2.0), st.gamma(1.3, scale=1 / 0.6)), (0, np.inf)),
    ("Gamma-Exponential", lambda: (D.Gamma(_f(2.5), _f(1.5)), D.Exponential(_f(0.3))),
     (st.gamma(2.5, scale=1 / 1.5), st.expon(scale=1 / 0.3)), (0, np.inf)),
    ("Uniform-Exponential", lambda: (D.Uniform(_f(0.2), _f(0.9)), D.Exponential(_f(1.5))),
     (st.uniform(0.2, 0.7), st.expon(scale=1 / 1.5)), (0.2, 0.9)),
    ("Uniform-Gamma", lambda: (D.Uniform(_f(0.0), _f(2.5)), D.Gamma(_f(1.3), _f(0.6))),
     (st.uniform(0.0, 2.5), st.gamma(1.3, scale=1 / 0.6)), (0, 2.5)),
    ("Uniform-Beta", lambda: (D.Uniform(_f(0.2), _f(0.9)), D.Beta(_f(1.3), _f(3.0))),
     (st.uniform(0.2, 0.7), st.beta(1.3, 3.0)), (0.2, 0.9)),
    ("Beta-Uniform", lambda: (D.Beta(_f(2.5), _f(1.5)), D.Uniform(_f(-1.0), _f(2.0))),
     (st.beta(2.5, 1.5), st.uniform(-1.0, 3.0)), (0, 1)),
    ("Pareto-Pareto", lambda: (D.Pareto(_f(1.0), _f(2.5)), D.Pareto(_f(0.5), _f(1.5))),
     (st.pareto(2.5, scale=1.0), st.pareto(1.5, scale=0.5)), (1.0, np.inf)),
]  # fmt: skip


@pytest.mark.parametrize("name,make,refs,bounds", CROSS, ids=[c[0] for c in CROSS])
def test_cross_family_kl_vs_quadrature(name, make, refs, bounds):
    p, q = make()
    np.testing.assert_allclose(D.kl_divergence(p, q).item(), _quad_kl(*refs, *bounds), rtol=1e-7)


def test_more_kl_pairs():
    # ContinuousBernoulli: integrate the closed-form densities
    def cb_logpdf(x, lam):
        c = np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))
        return c + x * np.log(lam) + (1 - x) * np.log1p(-lam)

    want = si.quad(
        lambda x: np.exp(cb_logpdf(x, 0.2)) * (cb_logpdf(x, 0.2) - cb_logpdf(x, 0.6)), 0, 1
    )[0]
    got = D.kl_divergence(D.ContinuousBernoulli(_f(0.2)), D.ContinuousBernoulli(_f(0.6))).item()
    assert got == pytest.approx(want, rel=1e-7)
    # Bernoulli -> Poisson: exact two-term sum
    want = 0.7 * (np.log(0.7) - st.poisson(1.5).logpmf(0)) + 0.3 * (
        np.log(0.3) - st.poisson(1.5).logpmf(1)
    )
    assert D.kl_divergence(D.Bernoulli(_f(0.3)), D.Poisson(_f(1.5))).item() == pytest.approx(
        want, rel=1e-10
    )
    # low-rank Gaussians against the dense formula
    W = np.array([[0.5, -0.2], [1.0, 0.3], [-0.4, 0.8]])
    c1 = W @ W.T + np.diag([0.5, 1.2, 0.3])
    c2 = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.5]])
    m1, m2 = np.array([0.1, -0.2, 0.3]), np.array([0.0, 0.5, 0.0])
    inv2 = np.linalg.inv(c2)
    want = 0.5 * (
        np.trace(inv2 @ c1)
        + (m2 - m1) @ inv2 @ (m2 - m1)
        - 3
        + np.log(np.linalg.det(c2) / np.linalg.det(c1))
    )
    lr = D.LowRankMultivariateNormal(_f(m1), _f(W), _f([0.5, 1.2, 0.3]))
    mv = D.MultivariateNormal(_f(m2), covariance_matrix=_f(c2))
    assert D.kl_divergence(lr, mv).item() == pytest.approx(want, rel=1e-9)
    # support mismatches are infinite
    for p, q in (
        (D.Normal(_f(0.0), _f(1.0)), D.Exponential(_f(1.0))),
        (D.Gamma(_f(2.0), _f(1.0)), D.Uniform(_f(0.0), _f(3.0))),
        (D.Poisson(_f(1.0)), D.Bernoulli(_f(0.5))),
        (D.Uniform(_f(-0.5), _f(1.0)), D.Exponential(_f(1.0))),
        (D.Pareto(_f(0.5), _f(2.0)), D.Pareto(_f(1.0), _f(2.0))),
    ):
        assert D.kl_divergence(p, q).item() == math.inf
