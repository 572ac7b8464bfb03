"""ember.special against scipy.special (values on both devices; float64 on the CPU,
float32 on the GPU, which stores no float64) and float64 gradcheck on the CPU."""

import math

import numpy as np
import pytest
import scipy.special as sp

import ember
from ember.autograd import gradcheck

S = ember.special

X_WIDE = np.array([-40.0, -31, -29.5, -12, -3, -0.5, 0, 0.3, 2, 5, 9, 14.5, 20, 29.9, 30.1, 50])


def _dt(device):
    return ember.float64 if device == "cpu" else ember.float32


def _t(x, device):
    return ember.tensor(np.asarray(x), dtype=_dt(device), device=device)


def _check(got, want, device, rtol=1e-12, atol=0.0, rtol32=2e-5, atol32=1e-6):
    got = got.cpu().numpy()
    if device == "cpu":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol32, atol=atol32)


UNARY = [
    ("erf", sp.erf, X_WIDE, 1e-14, 0),
    ("erfc", sp.erfc, X_WIDE[X_WIDE > -20], 1e-12, 0),
    ("erfcx", sp.erfcx, X_WIDE[X_WIDE < 30], 1e-14, 0),
    ("ndtr", sp.ndtr, X_WIDE[X_WIDE > -30], 1e-12, 0),
    ("log_ndtr", sp.log_ndtr, X_WIDE, 1e-12, 0),
    ("i0", sp.i0, X_WIDE[np.abs(X_WIDE) < 80], 1e-14, 0),
    ("i0e", sp.i0e, X_WIDE, 1e-14, 0),
    ("i1", sp.i1, X_WIDE[np.abs(X_WIDE) < 80], 1e-14, 0),
    ("i1e", sp.i1e, X_WIDE, 1e-14, 0),
    ("bessel_j0", sp.j0, np.concatenate([X_WIDE, [6.9, 7.1, 13.9, 14.1]]), 0, 5e-12),
    ("bessel_j1", sp.j1, np.concatenate([X_WIDE, [6.9, 7.1, 13.9, 14.1]]), 0, 5e-12),
    ("expit", sp.expit, X_WIDE, 1e-14, 0),
    ("entr", sp.entr, np.array([-1.0, 0.0, 1e-3, 0.5, 2.0, 10.0]), 1e-14, 0),
    ("sinc", np.sinc, np.array([-2.5, -1.0, 0.0, 0.3, 1.7]), 1e-14, 1e-16),
    ("gammaln", sp.gammaln, np.array([0.1, 0.5, 1.0, 2.5, 10.0, 100.0]), 1e-13, 0),
    ("digamma", sp.digamma, np.array([0.1, 0.5, 1.0, 2.5, 10.0, 100.0]), 1e-13, 0),
    ("psi", sp.psi, np.array([0.1, 2.5]), 1e-13, 0),
    ("erfinv", sp.erfinv, np.array([-0.999, -0.5, 0.0, 0.3, 0.9]), 1e-13, 0),
    ("expm1", np.expm1, np.array([-1.0, 1e-10, 0.5]), 1e-14, 0),
    ("exp2", np.exp2, np.array([-1.0, 0.5, 3.0]), 1e-14, 0),
    ("log1p", np.log1p, np.array([-0.5, 1e-10, 3.0]), 1e-14, 0),
]


@pytest.mark.parametrize("name,ref,x,rtol,atol", UNARY, ids=[u[0] for u in UNARY])
def test_unary_matches_scipy(device, name, ref, x, rtol, atol):
    if device != "cpu":
        # float32 overflows/underflows where float64 does not; keep the float32-representable part.
        with np.errstate(all="ignore"):
            keep = np.isfinite(ref(x).astype(np.float32)) & (np.abs(x) < 60)
        x = x[keep]
    got = getattr(S, name)(_t(x, device))
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64))
    _check(got, want, device, rtol=rtol, atol=atol)


def test_ndtri_tails(device):
    p = np.array([1e-300, 1e-100, 1e-20, 1e-10, 1e-3, 0.2, 0.5, 0.9, 1 - 1e-9])
    if device != "cpu":
        p = p[(p > 1e-30) & (p < 1 - 1e-6)]
    _check(S.ndtri(_t(p, device)), sp.ndtri(p), device, rtol=1e-14, atol=1e-15)
    edge = S.ndtri(_t([0.0, 1.0, -0.1, 1.5], device)).cpu().numpy()
    assert edge[0] == -math.inf and edge[1] == math.inf
    assert np.isnan(edge[2]) and np.isnan(edge[3])


def test_zeta(device):
    x = np.array([1.5, 2.0, 3.3, 10.0, 1.0, 0.5, 4.0])
    q = np.array([1.0, 0.5, 2.7, 1.0, 3.0, 1.0, 0.0])
    got = S.zeta(_t(x, device), _t(q, device)).cpu().numpy()
    want = sp.zeta(x, q)
    np.testing.assert_allclose(got, want, rtol=1e-12 if device == "cpu" else 1e-5)
    # scalar q broadcasts, as in PyTorch
    np.testing.assert_allclose(
        S.zeta(_t([2.0, 3.0], device), 1.0).cpu().numpy(),
        [math.pi**2 / 6, sp.zeta(3.0)],
        rtol=1e-12 if device == "cpu" else 1e-5,
    )


def test_xlog1py_xlogy_logit(device):
    x = np.array([0.0, 2.0, 3.0, 0.0])
    y = np.array([-1.0, 1.0, 0.5, 2.0])
    _check(S.xlog1py(_t(x, device), _t(y, device)), sp.xlog1py(x, y), device, rtol=1e-14)
    _check(S.xlogy(_t(x, device), _t(y + 1, device)), sp.xlogy(x, y + 1), device, rtol=1e-14)
    p = np.array([0.01, 0.25, 0.5, 0.9])
    _check(S.logit(_t(p, device)), sp.logit(p), device, rtol=1e-14)
    # eps clamps the input to [eps, 1 - eps] first
    got = S.logit(_t([0.0, 1.0], device), eps=1e-3).cpu().numpy()
    np.testing.assert_allclose(got, sp.logit([1e-3, 1 - 1e-3]), rtol=1e-5)


def test_softmax_family_and_multigammaln(device):
    a = np.array([[0.5, -1.0, 2.0], [3.0, 0.0, 0.1]])
    _check(S.softmax(_t(a, device), 1), sp.softmax(a, axis=1), device, rtol=1e-14)
    _check(S.log_softmax(_t(a, device), 0), sp.log_softmax(a, axis=0), device, rtol=1e-14)
    _check(S.logsumexp(_t(a, device), 1), sp.logsumexp(a, axis=1), device, rtol=1e-14)
    _check(
        S.multigammaln(_t([2.5, 4.0], device), 3),
        sp.multigammaln(np.array([2.5, 4.0]), 3),
        device,
        rtol=1e-13,
    )
    _check(S.polygamma(2, _t([0.3, 4.0], device)), sp.polygamma(2, [0.3, 4.0]), device, rtol=1e-12)
    _check(S.round(_t([1.234, -5.678], device), decimals=1), [1.2, -5.7], device, rtol=1e-14)


def test_float32_input_stays_float32():
    y = S.i1e(ember.tensor([1.0, 40.0]))
    assert y.dtype == ember.float32
    assert S.erfcx(ember.tensor([1, 3])).dtype == ember.float32  # integers promote


def test_bad_input_type():
    with pytest.raises(TypeError, match="special.i0"):
        S.i0([1.0, 2.0])


GRAD = [
    ("erfcx", [-1.5, 0.3, 2.5, 7.0]),
    ("ndtr", [-3.0, 0.0, 1.2]),
    ("log_ndtr", [-12.0, -2.0, 0.5, 4.0]),
    ("ndtri", [0.01, 0.2, 0.7]),
    ("i0", [-2.0, 0.4, 35.0]),
    ("i0e", [-2.0, 0.4, 35.0]),
    ("i1", [-2.0, 0.4, 35.0]),
    ("i1e", [-2.0, 0.4, 35.0]),
    ("bessel_j0", [-3.0, 0.5, 20.0]),
    ("bessel_j1", [-3.0, 0.5, 20.0]),
    ("entr", [0.2, 1.5]),
    ("logit", [0.1, 0.6]),
    ("expit", [-2.0, 3.0]),
]


@pytest.mark.parametrize("name,x", GRAD, ids=[g[0] for g in GRAD])
def test_gradcheck_float64(name, x):
    t = ember.tensor(x, dtype=ember.float64, requires_grad=True)
    assert gradcheck(getattr(S, name), (t,), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_i1_grad_at_zero_and_xlog1py_grad():
    t = ember.tensor([0.0], dtype=ember.float64, requires_grad=True)
    S.i1(t).sum().backward()
    assert float(t.grad.item()) == 0.5
    a = ember.tensor([0.5, 2.0], dtype=ember.float64, requires_grad=True)
    b = ember.tensor([0.3, 1.0], dtype=ember.float64, requires_grad=True)
    assert gradcheck(S.xlog1py, (a, b))
    q = ember.tensor([0.7, 2.0], dtype=ember.float64, requires_grad=True)
    # d/dq zeta(x, q) = -x zeta(x + 1, q)
    S.zeta(ember.tensor([3.0, 2.5], dtype=ember.float64), q).sum().backward()
    np.testing.assert_allclose(
        q.grad.numpy(), -np.array([3.0, 2.5]) * sp.zeta([4.0, 3.5], [0.7, 2.0]), rtol=1e-10
    )


def test_gammainc_gammaincc(device):
    a = np.array([0.1, 0.5, 1.0, 3.0, 10.0, 100.0, 5.0, 2.0, 0.5, 50.0])
    x = np.array([0.01, 2.0, 1.0, 3.5, 9.0, 101.0, 0.0, 40.0, 1e-5, 70.0])
    p = S.gammainc(_t(a, device), _t(x, device))
    q = S.gammaincc(_t(a, device), _t(x, device))
    _check(p, sp.gammainc(a, x), device, rtol=1e-12, atol=1e-300, atol32=2e-5)
    _check(q, sp.gammaincc(a, x), device, rtol=1e-12, atol=1e-300, atol32=2e-5)
    edge = S.gammainc(_t([1.0, 1.0, -1.0], device), _t([math.inf, -1.0, 1.0], device)).cpu().numpy()
    assert edge[0] == 1.0 and np.isnan(edge[1]) and np.isnan(edge[2])


def test_gammainc_gradcheck_in_x():
    x = ember.tensor([2.0, 0.5, 7.0], dtype=ember.float64, requires_grad=True)
    a = ember.tensor([3.0, 0.7, 4.0], dtype=ember.float64)
    assert gradcheck(lambda t: S.gammainc(a, t), (x,))
    assert gradcheck(lambda t: S.gammaincc(a, t), (x,))
