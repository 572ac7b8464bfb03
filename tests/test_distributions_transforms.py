"""Transforms (Softplus, Softmax, StickBreaking, Independent, LowerCholesky,
PositiveDefinite, CumulativeDistribution), biject_to / transform_to, and
LogisticNormal: round trips, constraint satisfaction, and log|det J| against
finite-difference Jacobians computed in numpy."""

import numpy as np
import pytest
import scipy.stats as st

import ember

D = ember.distributions
C = D.constraints


def _num_logdet(fn, x, h=1e-6):
    """log|det J| of fn: R^n -> R^n at x by central differences."""
    n = len(x)
    J = np.zeros((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        J[:, j] = (fn(x + e) - fn(x - e)) / (2 * h)
    return np.linalg.slogdet(J)[1]


def _f64(x):
    return ember.tensor(np.asarray(x, dtype=np.float64), dtype=ember.float64)


def test_stick_breaking_jacobian_and_round_trip():
    t = D.StickBreakingTransform()
    for x in (np.array([0.3, -1.2, 2.0]), np.array([0.0, 0.0]), np.array([-3.0, 4.0, 0.5, 1.0])):
        y = t(_f64(x))
        assert y.shape[-1] == len(x) + 1
        assert C.simplex.check(y).item()
        np.testing.assert_allclose(t.inv(y).numpy(), x, rtol=1e-10, atol=1e-12)

        def first_k(v):
            return t(_f64(v)).numpy()[:-1]  # the simplex has K-1 free coordinates

        np.testing.assert_allclose(
            t.log_abs_det_jacobian(_f64(x), y).item(), _num_logdet(first_k, x), rtol=1e-6, atol=1e-8
        )
    # x = 0 maps to the centre of the simplex
    np.testing.assert_allclose(t(_f64([0.0, 0.0, 0.0])).numpy(), [0.25] * 4, rtol=1e-12)


def test_softplus_softmax_independent():
    x = _f64([[0.3, -1.2, 2.0], [30.0, -30.0, 0.0]])
    sp = D.SoftplusTransform()
    y = sp(x)
    np.testing.assert_allclose(y.numpy(), np.logaddexp(0, x.numpy()), rtol=1e-12)
    np.testing.assert_allclose(sp.inv(y).numpy(), x.numpy(), rtol=1e-9, atol=1e-12)
    h = 1e-6
    num = np.log((sp(x + h) - sp(x - h)).numpy() / (2 * h))
    np.testing.assert_allclose(sp.log_abs_det_jacobian(x, y).numpy(), num, rtol=1e-5, atol=1e-8)
    sm = D.SoftmaxTransform()
    p = sm(x)
    np.testing.assert_allclose(p.sum(-1).numpy(), [1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(sm(sm.inv(p)).numpy(), p.numpy(), rtol=1e-12)
    it = D.IndependentTransform(D.ExpTransform(), 1)
    assert it.domain.event_dim == 1 and it.codomain.event_dim == 1
    np.testing.assert_allclose(it.log_abs_det_jacobian(x, it(x)).numpy(), x.numpy().sum(-1))


def test_lower_cholesky_and_positive_definite():
    x = _f64([[0.3, -1.2, 0.7], [2.0, 0.1, 5.0], [-0.4, 0.9, -2.0]])
    L = D.LowerCholeskyTransform()(x)
    assert C.lower_cholesky.check(L).item()
    np.testing.assert_allclose(
        D.LowerCholeskyTransform().inv(L).numpy(), np.tril(x.numpy()), rtol=1e-12
    )
    P = D.PositiveDefiniteTransform()(x)
    assert C.positive_definite.check(P).item()
    np.testing.assert_allclose(P.numpy(), L.numpy() @ L.numpy().T, rtol=1e-12)
    np.testing.assert_allclose(
        D.PositiveDefiniteTransform().inv(P).numpy(), np.tril(x.numpy()), rtol=1e-9
    )


def test_cumulative_distribution_transform():
    t = D.CumulativeDistributionTransform(D.Normal(_f64(1.0), _f64(2.0)))
    x = _f64([0.3, 4.0])
    np.testing.assert_allclose(t(x).numpy(), st.norm(1, 2).cdf([0.3, 4.0]), rtol=1e-12)
    np.testing.assert_allclose(t.inv(t(x)).numpy(), x.numpy(), rtol=1e-10)
    np.testing.assert_allclose(
        t.log_abs_det_jacobian(x, t(x)).numpy(), st.norm(1, 2).logpdf([0.3, 4.0])
    )


CONSTRAINTS = [
    C.real,
    C.positive,
    C.nonnegative,
    C.greater_than(2.0),
    C.less_than(-1.0),
    C.unit_interval,
    C.interval(-1.0, 3.0),
    C.half_open_interval(0.5, 0.75),
    C.real_vector,
    C.simplex,
]


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("c", CONSTRAINTS, ids=[repr(c) for c in CONSTRAINTS])
def test_registries_map_onto_constraint(device, registry, c):
    t = getattr(D, registry)(c)
    x = ember.tensor([[0.3, -1.2, 2.0], [-4.0, 0.0, 1.5]], device=device)
    y = t(x)
    assert bool(c.check(y).all())
    if t.bijective:
        np.testing.assert_allclose(t.inv(y).cpu().numpy(), x.cpu().numpy(), rtol=1e-4, atol=1e-5)


def test_registry_errors_and_custom_registration():
    with pytest.raises(NotImplementedError, match="Cannot transform _LowerCholesky constraints"):
        D.biject_to(C.lower_cholesky)
    assert isinstance(D.transform_to(C.lower_cholesky), D.LowerCholeskyTransform)

    class _Odd(C.Constraint):
        def check(self, value):
            return value % 2 == 1

    reg = D.constraint_registry.ConstraintRegistry()
    reg.register(_Odd, lambda c: D.AffineTransform(1.0, 2.0))
    assert isinstance(reg(_Odd()), D.AffineTransform)
    with pytest.raises(TypeError):
        reg.register(3, lambda c: None)


def test_logistic_normal_vs_change_of_variables(device):
    loc, scale = np.array([0.1, -0.3]), np.array([0.5, 1.2])
    d = D.LogisticNormal(
        ember.tensor(loc, dtype=ember.float64 if device == "cpu" else ember.float32, device=device),
        ember.tensor(
            scale, dtype=ember.float64 if device == "cpu" else ember.float32, device=device
        ),
    )
    assert d.event_shape == (3,) and d.batch_shape == ()
    y = np.array([0.2, 0.3, 0.5])
    t = D.StickBreakingTransform()
    x = t.inv(_f64(y)).numpy()

    def first_k(v):
        return t(_f64(v)).numpy()[:-1]

    want = st.norm(loc, scale).logpdf(x).sum() - _num_logdet(first_k, x)
    got = d.log_prob(ember.tensor(y, dtype=d.loc.dtype, device=device)).item()
    assert got == pytest.approx(want, rel=1e-6 if device == "cpu" else 1e-4)
    ember.manual_seed(0)
    s = d.sample((500,))
    assert s.shape == (500, 3) and bool(C.simplex.check(s).all())


def test_cat_and_stack_transforms(device):
    xn = np.linspace(-1, 1, 12).reshape(3, 4)
    x = ember.tensor(xn, dtype=ember.float32, device=device)
    ct = D.CatTransform(
        [D.ExpTransform(), D.SigmoidTransform(), D.AffineTransform(1.0, 2.0)],
        dim=1,
        lengths=[1, 2, 1],
    )
    y = ct(x)
    s = 1 / (1 + np.exp(-xn[:, 1:3]))
    want = np.concatenate([np.exp(xn[:, :1]), s, 1 + 2 * xn[:, 3:]], 1)
    np.testing.assert_allclose(y.cpu().numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(ct.inv(y).cpu().numpy(), xn, rtol=1e-4, atol=1e-5)
    ldj = np.concatenate([xn[:, :1], np.log(s * (1 - s)), np.full((3, 1), np.log(2.0))], 1)
    np.testing.assert_allclose(
        ct.log_abs_det_jacobian(x, y).cpu().numpy(), ldj, rtol=1e-5, atol=1e-6
    )
    assert bool(ct.codomain.check(y).all())
    stt = D.StackTransform([D.ExpTransform(), D.SoftplusTransform(), D.TanhTransform()], dim=0)
    y = stt(x)
    want = np.stack([np.exp(xn[0]), np.logaddexp(0, xn[1]), np.tanh(xn[2])])
    np.testing.assert_allclose(y.cpu().numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(stt.inv(y).cpu().numpy(), xn, rtol=1e-4, atol=1e-5)
    ldj = np.stack([xn[0], -np.logaddexp(0, -xn[1]), np.log1p(-(np.tanh(xn[2]) ** 2))])
    np.testing.assert_allclose(
        stt.log_abs_det_jacobian(x, y).cpu().numpy(), ldj, rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="expected size 4 at dim 1"):
        ct(ember.zeros(3, 5, device=device))


def test_corr_cholesky_transform():
    t = D.CorrCholeskyTransform()
    x = np.array([0.3, -1.2, 2.0, 0.1, -0.5, 0.7])
    y = t(_f64(x))
    assert y.shape == (4, 4) and C.corr_cholesky.check(y).item()
    np.testing.assert_allclose(t.inv(y).numpy(), x, rtol=1e-9)

    def strict_lower(v):
        return D.utils.tril_matrix_to_vec(t(_f64(v)), diag=-1).numpy()

    np.testing.assert_allclose(
        t.log_abs_det_jacobian(_f64(x), y).item(), _num_logdet(strict_lower, x), rtol=1e-6
    )
    assert t.forward_shape((6,)) == (4, 4) and t.inverse_shape((4, 4)) == (6,)
    assert isinstance(D.biject_to(C.corr_cholesky), D.CorrCholeskyTransform)


@pytest.mark.parametrize("eta", [0.5, 2.0])
def test_lkj_cholesky_density_and_samples(device, eta):
    import scipy.integrate as si

    d2 = D.LKJCholesky(2, eta)

    def dens(r):
        L = _f64([[1.0, 0.0], [r, np.sqrt(1 - r * r)]])
        return float(np.exp(d2.log_prob(L).item()))

    # in the free coordinate r = L[1, 0] the density integrates to one
    assert si.quad(dens, -1, 1)[0] == pytest.approx(1.0, rel=1e-7)
    ember.manual_seed(5)
    n = 20000 if device == "cpu" else 4000
    conc = ember.tensor(eta, device=device)
    s = D.LKJCholesky(2, conc).sample((n,)).cpu().double().numpy()
    r = s[:, 1, 0]
    # (r + 1) / 2 ~ Beta(eta, eta): E[r^2] = 1 / (2 eta + 1)
    want = 1 / (2 * eta + 1)
    assert abs((r**2).mean() - want) < 5 * np.sqrt(np.var(r**2) / n)
    s3 = D.LKJCholesky(3, ember.tensor([eta, 1.0], device=device)).sample((10,))
    assert s3.shape == (10, 2, 3, 3) and bool(C.corr_cholesky.check(s3.cpu()).all())
