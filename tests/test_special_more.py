"""ember.special's second-kind Bessel functions and orthogonal polynomials against
scipy.special (float64 on the CPU, float32 on the GPU)."""

import math

import numpy as np
import pytest
import scipy.special as sp

import ember

S = ember.special


def _t(x, device):
    dt = ember.float64 if device == "cpu" else ember.float32
    return ember.tensor(np.asarray(x, dtype=np.float64), dtype=dt, device=device)


X_POS = np.array(
    [
        1e-6,
        1e-3,
        0.3,
        0.99,
        1.0,
        1.01,
        2.0,
        5.0,
        6.9,
        7.1,
        10.0,
        13.9,
        14.1,
        24.9,
        25.1,
        40.0,
        100.0,
    ]
)

BESSEL = [
    ("modified_bessel_k0", sp.k0, "rel"),
    ("modified_bessel_k1", sp.k1, "rel"),
    ("scaled_modified_bessel_k0", sp.k0e, "rel"),
    ("scaled_modified_bessel_k1", sp.k1e, "rel"),
    ("bessel_y0", sp.y0, "abs"),
    ("bessel_y1", sp.y1, "abs"),
    ("modified_bessel_i0", sp.i0, "rel"),
    ("modified_bessel_i1", sp.i1, "rel"),
    ("spherical_bessel_j0", lambda x: sp.spherical_jn(0, x), "abs"),
    ("airy_ai", lambda x: sp.airy(x)[0], "abs"),
]


@pytest.mark.parametrize("name,ref,kind", BESSEL, ids=[b[0] for b in BESSEL])
def test_bessel_vs_scipy(device, name, ref, kind):
    x = X_POS if device == "cpu" else X_POS[(X_POS > 1e-4) & (X_POS < 60)]
    got = getattr(S, name)(_t(x, device)).cpu().double().numpy()
    want = ref(x)
    if kind == "rel":
        # Y has zeros, so its error is measured absolutely (scaled by max(1, |value|))
        err = np.abs(got / want - 1)
    else:
        err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    assert err.max() < (1e-11 if device == "cpu" else 2e-6), (x[err.argmax()], err.max())


def test_airy_ai_negative_axis(device):
    x = np.array([-100.0, -30.0, -12.0, -7.7, -7.5, -5.0, -2.0, -1.01, -1.0, -0.5, 0.0])
    if device != "cpu":
        x = x[x > -20]
    got = S.airy_ai(_t(x, device)).cpu().double().numpy()
    np.testing.assert_allclose(got, sp.airy(x)[0], atol=1e-12 if device == "cpu" else 1e-6)


def test_bessel_edges(device):
    x = _t([0.0, -1.0], device)
    for name in ("modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0"):
        v = getattr(S, name)(x).cpu().numpy()
        assert v[0] == math.inf and np.isnan(v[1])
    for name in ("bessel_y0", "bessel_y1"):
        v = getattr(S, name)(x).cpu().numpy()
        assert v[0] == -math.inf and np.isnan(v[1])
    assert S.spherical_bessel_j0(x).cpu().numpy()[0] == 1.0


POLY = [
    ("chebyshev_polynomial_t", sp.eval_chebyt),
    ("chebyshev_polynomial_u", sp.eval_chebyu),
    ("hermite_polynomial_h", sp.eval_hermite),
    ("hermite_polynomial_he", sp.eval_hermitenorm),
    ("laguerre_polynomial_l", sp.eval_laguerre),
    ("legendre_polynomial_p", sp.eval_legendre),
    ("shifted_chebyshev_polynomial_t", sp.eval_sh_chebyt),
    ("shifted_chebyshev_polynomial_u", sp.eval_sh_chebyu),
]


@pytest.mark.parametrize("name,ref", POLY, ids=[p[0] for p in POLY])
def test_polynomials_vs_scipy(device, name, ref):
    x = np.linspace(-1.2, 1.2, 9)
    for n in (0, 1, 2, 5, 9):
        got = getattr(S, name)(_t(x, device), n).cpu().double().numpy()
        want = ref(n, x)
        tol = 1e-12 if device == "cpu" else 1e-4
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    # degree as a tensor: each element its own degree, truncated; negative degree gives 0
    n = np.array([0.0, 1.0, 3.7, -1.0, 6.0, 2.0, 4.0, 5.0, 1.0])
    got = getattr(S, name)(_t(x, device), _t(n, device)).cpu().double().numpy()
    want = np.where(n < 0, 0.0, ref(np.trunc(np.maximum(n, 0)).astype(int), x))
    np.testing.assert_allclose(got, want, rtol=1e-12 if device == "cpu" else 1e-4, atol=1e-5)


def test_chebyshev_v_w_pytorch_values():
    # PyTorch 2.15 by hand (/tmp/tv): torch.special.chebyshev_polynomial_{v,w} and their
    # shifted forms at x = [0.3, -0.7, 1.0, -1.0, 1.2] with n = 5, float64.
    x = ember.tensor([0.3, -0.7, 1.0, -1.0, 1.2], dtype=ember.float64)
    want = {
        "chebyshev_polynomial_v": [0.96416, 2.43616, 1.0, -11.0, 14.632639999999995],
        "chebyshev_polynomial_w": [1.06336, 0.3593599999999995, 11.0, -1.0, 48.42783999999999],
        "shifted_chebyshev_polynomial_v": [-0.16928, -2582.79328, 1.0, -8119.0, 53.75008],
        "shifted_chebyshev_polynomial_w": [-1.19008, -1657.35008, 11.0, -5741.0, 131.64128],
    }
    for name, w in want.items():
        np.testing.assert_allclose(getattr(S, name)(x, 5).numpy(), w, rtol=1e-12)


def test_polynomial_argument_errors():
    with pytest.raises(TypeError, match="special.legendre_polynomial_p"):
        S.legendre_polynomial_p(0.5, 3)
    assert S.legendre_polynomial_p(ember.tensor([2]), 3).tolist() == [17.0]
