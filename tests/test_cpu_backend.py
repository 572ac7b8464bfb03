"""The CPU backend's fast paths (issue 11): vectorised math, broadcast runs,
the fused addmm of linear, blocked sums, thread settings, empty and huge
shapes. Each case runs on both devices; the values are checked against numpy
in float64."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F


def _np(t):
    return t.detach().cpu().numpy()


SPECIAL = np.array(
    [
        0.0,
        -0.0,
        1e-30,
        -1e-30,
        1e-8,
        0.5,
        0.625,
        -0.625,
        20.0,
        -20.0,
        88.0,
        89.0,
        -87.5,
        -103.0,
        -104.5,
        1e4,
        -1e4,
        np.inf,
        -np.inf,
        np.nan,
    ],
    dtype=np.float32,
)


def _inputs(n=4099, scale=12.0):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * scale).astype(np.float32)
    return np.concatenate([x, SPECIAL])


@pytest.mark.parametrize(
    "name,ref",
    [
        ("exp", np.exp),
        ("tanh", np.tanh),
        ("sigmoid", lambda x: 1.0 / (1.0 + np.exp(-x))),
        ("log", np.log),
    ],
)
def test_vectorised_math_matches_float64(device, name, ref):
    x = _inputs()
    if name == "log":
        x = np.abs(x)
    t = ember.tensor(x, device=device)
    got = _np(getattr(t, name)()).astype(np.float64)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64)).astype(np.float32).astype(np.float64)
    # The CPU kernels are within 2 ulp; the GPU's (llvmpipe's) within the
    # conformance fixtures' float32 tolerance.
    tol = dict(rtol=2e-6, atol=1e-30) if device == "cpu" else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, want, equal_nan=True, **tol)


def test_gelu_silu_match_float64(device):
    from math import erf

    x = _inputs(scale=4.0)
    x = x[np.isfinite(x)]
    t = ember.tensor(x, device=device)
    xd = x.astype(np.float64)
    gelu = xd * 0.5 * (1 + np.array([erf(v / np.sqrt(2)) for v in xd]))
    np.testing.assert_allclose(_np(F.gelu(t)), gelu, rtol=1e-5, atol=1e-6)
    gelu_tanh = 0.5 * xd * (1 + np.tanh(np.sqrt(2 / np.pi) * (xd + 0.044715 * xd**3)))
    np.testing.assert_allclose(_np(F.gelu(t, approximate="tanh")), gelu_tanh, rtol=1e-5, atol=1e-6)
    with np.errstate(over="ignore"):
        silu = xd / (1 + np.exp(-xd))
    np.testing.assert_allclose(_np(F.silu(t)), silu, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(3, 5), (128, 10000), (7, 33), (2, 3, 17)])
def test_softmax_lines(device, shape):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 5).astype(np.float32)
    t = ember.tensor(x, device=device)
    xd = x.astype(np.float64)
    e = np.exp(xd - xd.max(-1, keepdims=True))
    sm = e / e.sum(-1, keepdims=True)
    np.testing.assert_allclose(_np(t.softmax(-1)), sm, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(_np(t.log_softmax(-1)), np.log(sm), rtol=1e-5, atol=1e-5)
    # Along a non-last dim too (strided lines).
    e0 = np.exp(xd - xd.max(0, keepdims=True))
    np.testing.assert_allclose(
        _np(t.softmax(0)), e0 / e0.sum(0, keepdims=True), rtol=1e-5, atol=1e-7
    )


def test_softmax_special_rows(device):
    x = np.array([[1.0, np.nan, 2.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0]], np.float32)
    got = _np(ember.tensor(x, device=device).softmax(-1))
    assert np.isnan(got[0]).all()
    assert np.isnan(got[1]).all()
    assert np.isnan(got[2]).all()  # inf - inf poisons the row, as in PyTorch


@pytest.mark.parametrize(
    "sa,sb",
    [
        ((128, 512), (512,)),  # bias row
        ((4, 8, 6, 6), (8, 1, 1)),  # per-channel
        ((5, 1, 33), (1, 7, 33)),  # outer broadcast on both sides
        ((33, 1), (1, 40)),  # outer product
        ((3, 20, 20), (20,)),
    ],
)
def test_broadcast_runs(device, sa, sb):
    rng = np.random.default_rng(2)
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    ta, tb = ember.tensor(a, device=device), ember.tensor(b, device=device)
    np.testing.assert_allclose(_np(ta + tb), a + b, rtol=1e-6)
    np.testing.assert_allclose(_np(tb * ta), b * a, rtol=1e-6)
    np.testing.assert_allclose(_np(ta - tb), a - b, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(_np(ta > tb), a > b)


def test_strided_rows_and_slices(device):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((16, 64)).astype(np.float32)
    t = ember.tensor(a, device=device)
    s = t[:, 8:40]  # rows with unit stride inside a wider tensor
    np.testing.assert_allclose(_np(s.exp()), np.exp(a[:, 8:40]), rtol=2e-6)
    np.testing.assert_allclose(_np(s + t[:, 0:32]), a[:, 8:40] + a[:, 0:32], rtol=1e-6)
    np.testing.assert_allclose(_np(t.t() * 2), a.T * 2, rtol=1e-6)


@pytest.mark.parametrize("lead", [(), (3,)])
def test_linear_fused_values_and_grads(device, lead):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(lead + (6, 5))
    w = rng.standard_normal((4, 5))
    b = rng.standard_normal(4)
    tx = ember.tensor(x, dtype=ember.float32, device=device, requires_grad=True)
    tw = ember.tensor(w, dtype=ember.float32, device=device, requires_grad=True)
    tb = ember.tensor(b, dtype=ember.float32, device=device, requires_grad=True)
    out = F.linear(tx, tw, tb)
    np.testing.assert_allclose(_np(out), x @ w.T + b, rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(out.shape)
    out.backward(ember.tensor(g, dtype=ember.float32, device=device))
    g2 = g.reshape(-1, 4)
    np.testing.assert_allclose(_np(tx.grad), (g2 @ w).reshape(x.shape), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(tw.grad), g2.T @ x.reshape(-1, 5), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(tb.grad), g2.sum(0), rtol=1e-5, atol=1e-5)


def test_addmm_beta_alpha(device):
    rng = np.random.default_rng(5)
    i, a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
    T = [
        ember.tensor(v, dtype=ember.float64 if device == "cpu" else ember.float32, device=device)
        for v in (i, a, b)
    ]
    np.testing.assert_allclose(
        _np(ember.addmm(*T, beta=0.5, alpha=2.0)), 0.5 * i + 2 * a @ b, rtol=1e-5
    )
    i_nan = ember.full((3, 4), float("nan"), dtype=T[0].dtype, device=device)
    # beta=0 ignores the input entirely (nan does not propagate), as PyTorch.
    np.testing.assert_allclose(_np(ember.addmm(i_nan, T[1], T[2], beta=0)), a @ b, rtol=1e-5)
    if device == "cpu":
        x = ember.tensor(a, requires_grad=True)
        y = ember.addmm(T[0], x, T[2])
        assert y.grad_fn.name() == "AddmmBackward0"


def test_sums_are_accurate(device):
    x = np.full(1 << 20, 0.1, dtype=np.float32)
    t = ember.tensor(x, device=device)
    exact = float(np.float32(0.1)) * (1 << 20)
    # Blocked float32 lanes (CPU) or a two-pass tree (GPU): relative error far
    # below a naive float32 loop's (which is off by about 1e-2 relative here).
    rel = abs(t.sum().item() - exact) / exact
    assert rel < (1e-6 if device == "cpu" else 5e-6), rel
    m = np.random.default_rng(6).standard_normal((300, 70)).astype(np.float32)
    tm = ember.tensor(m, device=device)
    np.testing.assert_allclose(_np(tm.sum(0)), m.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(tm.sum(1)), m.astype(np.float64).sum(1), rtol=1e-5, atol=1e-5)


def test_empty_cat_stack(device):
    z = ember.zeros(1, 0, device=device)
    assert ember.cat([z, z]).shape == (2, 0)
    assert ember.cat([z, z], 1).shape == (1, 0)
    e = ember.zeros(0, device=device)
    assert ember.stack([e, e]).shape == (2, 0)
    assert (ember.zeros(3, 0, device=device) + 1).shape == (3, 0)
    assert ember.zeros(2, 0, device=device).exp().shape == (2, 0)
    # Empty views whose offset lies past their (empty) storage, as the fuzzer found.
    assert _np(ember.zeros(4, 0, 2, device=device)[-1]).shape == (0, 2)
    assert ember.zeros(4, 0, 2, device=device)[-1].clone().shape == (0, 2)
    n = ember.narrow(ember.zeros(3, 0, dtype=ember.uint8, device=device), 0, -1, 1)
    assert _np(n).shape == (1, 0)


def test_huge_broadcast_is_a_runtime_error():
    a, b = ember.ones(2**18, 1), ember.ones(1, 2**18)
    with pytest.raises(RuntimeError, match="not enough memory"):
        a * b
    with pytest.raises(RuntimeError, match="not enough memory"):
        _ = a > b
    with pytest.raises(RuntimeError, match="not enough memory"):
        ember.where(a > 0, a, b)
    with pytest.raises(RuntimeError, match="not enough memory"):
        ember.zeros(2**38)  # 1 TiB
    with pytest.raises(RuntimeError, match="not enough memory"):
        ember.ones(2**19, 1).expand(2**19, 2**19).contiguous()


def test_num_threads():
    n0 = ember.get_num_threads()
    assert n0 >= 1
    try:
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
        a = ember.randn(300, 300)
        np.testing.assert_allclose(
            _np(a @ a), _np(a).astype(np.float64) @ _np(a), rtol=1e-3, atol=1e-3
        )
        assert float((ember.ones(1 << 18) * 2).sum()) == 2 * (1 << 18)
    finally:
        ember.set_num_threads(n0)
    assert ember.get_num_threads() == n0
    assert ember.get_num_interop_threads() >= 1
    with pytest.raises(RuntimeError):
        ember.set_num_threads(0)
    with pytest.raises(TypeError):
        ember.set_num_threads(1.5)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("norm_shape", [(8,), (3, 8)])
def test_layer_norm_values_and_grads(device, affine, norm_shape):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5,) + norm_shape) * 3 + 1
    w = rng.standard_normal(norm_shape) if affine else None
    b = rng.standard_normal(norm_shape) if affine else None
    axes = tuple(range(1, 1 + len(norm_shape)))
    mu = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    xhat = (x - mu) / np.sqrt(var + 1e-5)
    want = xhat * w + b if affine else xhat
    tx = ember.tensor(x, dtype=ember.float32, device=device, requires_grad=True)
    tw = ember.tensor(w, dtype=ember.float32, device=device, requires_grad=True) if affine else None
    tb = ember.tensor(b, dtype=ember.float32, device=device, requires_grad=True) if affine else None
    out = F.layer_norm(tx, norm_shape, tw, tb)
    np.testing.assert_allclose(_np(out), want, rtol=1e-4, atol=1e-5)
    g = rng.standard_normal(x.shape)
    out.backward(ember.tensor(g, dtype=ember.float32, device=device))
    gy = g * w if affine else g
    n = int(np.prod(norm_shape))
    dx = (
        gy - gy.mean(axes, keepdims=True) - xhat * (gy * xhat).mean(axes, keepdims=True)
    ) / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(_np(tx.grad), dx, rtol=1e-4, atol=1e-4)
    if affine:
        np.testing.assert_allclose(_np(tw.grad), (g * xhat).sum(0), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(_np(tb.grad), g.sum(0), rtol=1e-4, atol=1e-4)
    assert n == x[0].size


def test_layer_norm_gradcheck_float64():
    rng = np.random.default_rng(8)
    x = ember.tensor(rng.standard_normal((3, 4)), dtype=ember.float64, requires_grad=True)
    w = ember.tensor(rng.standard_normal(4), dtype=ember.float64, requires_grad=True)
    b = ember.tensor(rng.standard_normal(4), dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda x, w, b: F.layer_norm(x, (4,), w, b), (x, w, b))
    assert ember.autograd.gradgradcheck(lambda x, w, b: F.layer_norm(x, (4,), w, b), (x, w, b))
