"""ember.nn.functional against PyTorch's recorded outputs and numpy references.

The conformance cases (PyTorch's own outputs and gradients, ../shared/conformance)
cover every functional call they contain; numpy reference implementations cover
convolution, pooling, losses and attention beyond them; float64 finite
differences check gradients of the composed ops.
"""

import builtins
import json
import math
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn.functional as F

CONF = Path(__file__).resolve().parents[2] / "shared" / "conformance"


def T(a, device="cpu", dtype=None, requires_grad=False):
    arr = np.asarray(a)
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    t = ember.tensor(arr)
    if dtype is not None:
        t = t.to(dtype)
    t = t.to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def N(t):
    t = t.detach()
    if t.dtype == ember.bfloat16:
        t = t.to(ember.float32)
    return t.cpu().numpy()


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------- conformance
def _load_cases():
    if not (CONF / "cases.json").exists():
        return [], None
    cases = json.loads((CONF / "cases.json").read_text())["cases"]
    sel = [c for c in cases if "torch.nn.functional." in c["call"]]
    return sel, CONF / "cases.npz"


_CASES, _NPZ = _load_cases()
_ARRAYS = {}


def _arrays():
    if not _ARRAYS and _NPZ is not None:
        with np.load(_NPZ) as z:
            _ARRAYS.update({k: z[k] for k in z.files})
    return _ARRAYS


@pytest.mark.skipif(not _CASES, reason="conformance fixtures not found")
@pytest.mark.parametrize("case", _CASES, ids=[c["id"] for c in _CASES])
def test_conformance_functional(case, device):
    arrays = _arrays()
    dtypes = {spec["dtype"] for spec in case["inputs"].values()}
    if device != "cpu" and "float64" in dtypes:
        pytest.skip("float64 is not supported on the gpu backend")
    grads = case.get("grads") or {}
    env = {"torch": ember}
    for name, spec in case["inputs"].items():
        arr = arrays[spec["key"]]
        t = ember.tensor(arr).to(device)
        if name in grads:
            t.requires_grad_(True)
        env[name] = t
    if case.get("raises"):
        exc = getattr(builtins, case["raises"], Exception)
        with pytest.raises(exc):
            eval(case["call"], env)  # noqa: S307 - fixture expressions are PyTorch calls
            if device == "gpu":  # index errors surface at the next sync, as on CUDA
                ember.gpu.synchronize()
        return
    out = eval(case["call"], env)  # noqa: S307 - fixture expressions are PyTorch calls
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    assert len(outs) == len(case["outputs"])
    atol, rtol = case["atol"], case["rtol"]
    for got, key in zip(outs, case["outputs"]):
        exp = arrays[key]
        assert str(got.dtype).split(".")[-1] == str(exp.dtype).replace("bool", "bool"), case["id"]
        assert tuple(got.shape) == exp.shape, case["id"]
        g = N(got)
        if exp.dtype.kind in "biu":
            np.testing.assert_array_equal(g, exp)
        else:
            assert np.allclose(g, exp, atol=atol, rtol=rtol, equal_nan=True), (case["id"], g, exp)
    if grads:
        loss = None
        for got, seed_key in zip(outs, case["grad_seed"]):
            if seed_key is None:
                continue
            seed = ember.tensor(arrays[seed_key]).to(device)
            term = (got * seed).sum()
            loss = term if loss is None else loss + term
        loss.backward()
        for name, key in grads.items():
            g = env[name].grad
            assert g is not None, f"{case['id']}: no gradient for {name}"
            assert np.allclose(N(g), arrays[key], atol=atol * 10, rtol=rtol * 10, equal_nan=True), (
                case["id"],
                name,
                N(g),
                arrays[key],
            )


# ---------------------------------------------------------------------------- activations
@pytest.mark.parametrize(
    "fn,x,expected",
    [
        (lambda t: F.gelu(t), 1.0, 0.8413447460685429),
        (lambda t: F.gelu(t, approximate="tanh"), 1.0, 0.8411919906082768),
        (F.silu, 1.0, 0.7310585786300049),
        (F.mish, 1.0, 0.8650983882673103),
        (F.softplus, 1.0, 1.3132616875182228),
        (lambda t: F.softplus(t, beta=2.0), 1.0, 1.0634640055214863),
        (lambda t: F.softplus(t, threshold=0.5), 1.0, 1.0),
        (F.elu, -1.0, -0.6321205588285577),
        (F.selu, -1.0, -1.1113307378125628),
        (lambda t: F.celu(t, alpha=2.0), -1.0, -0.7869386805747332),
        (F.leaky_relu, -2.0, -0.02),
        (F.hardswish, 1.0, 0.6666666666666666),
        (F.hardsigmoid, 1.0, 0.6666666666666666),
        (F.logsigmoid, 0.0, -0.6931471805599453),
        (F.logsigmoid, -100.0, -100.0),
        (F.relu6, 7.0, 6.0),
        (F.hardtanh, -3.0, -1.0),
        (F.softsign, 3.0, 0.75),
        (F.tanhshrink, 1.0, 1.0 - math.tanh(1.0)),
        (lambda t: F.threshold(t, 1.5, -7.0), 1.0, -7.0),
    ],
)
def test_activation_values(fn, x, expected, device):
    out = fn(T([x], device))
    assert abs(float(N(out)[0]) - expected) < 1e-5


def test_activations_no_nan_gradient_at_extremes(device):
    x = T([-200.0, -30.0, 0.5, 30.0, 200.0], device, requires_grad=True)
    total = F.softplus(x).sum() + F.elu(x).sum() + F.logsigmoid(x).sum() + F.mish(x).sum()
    total = total + F.selu(x).sum() + F.celu(x).sum() + F.silu(x).sum()
    total.backward()
    assert np.isfinite(N(x.grad)).all()
    assert np.isfinite(N(total))


def test_softmax_implicit_dim_warns(device):
    x = T(rng().standard_normal((2, 3)), device)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = F.softmax(x)
    np.testing.assert_allclose(N(y).sum(1), [1, 1], atol=1e-6)


def test_glu_odd_raises(device):
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(T(np.ones((2, 3)), device))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradient_finite_difference(approximate):
    x = ember.tensor(np.linspace(-3, 3, 13), dtype=ember.float64, requires_grad=True)
    F.gelu(x, approximate=approximate).sum().backward()
    eps = 1e-6
    xs = np.linspace(-3, 3, 13)

    def f(v):
        return N(F.gelu(ember.tensor(v, dtype=ember.float64), approximate=approximate))

    fd = (f(xs + eps) - f(xs - eps)) / (2 * eps)
    np.testing.assert_allclose(N(x.grad), fd, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------- conv & pool references
def np_conv2d(x, w, b, stride, padding, dilation, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow), dtype=np.float64)
    og = o // groups
    for g in range(groups):
        xs = xp[:, g * cg : (g + 1) * cg]
        ws = w[g * og : (g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xs[
                    :,
                    :,
                    i * dh : i * dh + sh * (oh - 1) + 1 : sh,
                    j * dw : j * dw + sw * (ow - 1) + 1 : sw,
                ]
                out[:, g * og : (g + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def np_conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation):
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + output_padding[0]
    full_w = (wd - 1) * sw + dw * (kw - 1) + 1 + output_padding[1]
    out = np.zeros((n, og * groups, full_h, full_w))
    cg = cin // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum(
                    "nchw,co->nohw", x[:, g * cg : (g + 1) * cg], w[g * cg : (g + 1) * cg, :, i, j]
                )
                out[
                    :,
                    g * og : (g + 1) * og,
                    i * dh : i * dh + sh * (h - 1) + 1 : sh,
                    j * dw : j * dw + sw * (wd - 1) + 1 : sw,
                ] += contrib
    out = out[:, :, ph : full_h - ph if ph else None, pw : full_w - pw if pw else None]
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + output_padding[0] + 1
    ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + output_padding[1] + 1
    out = out[:, :, :oh, :ow]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


@pytest.mark.parametrize(
    "stride,padding,dilation,groups",
    [
        ((1, 1), (0, 0), (1, 1), 1),
        ((2, 1), (1, 2), (1, 1), 1),
        ((1, 1), (2, 2), (2, 2), 2),
        ((2, 2), (1, 1), (1, 1), 4),
    ],
)
def test_conv2d_matches_numpy(stride, padding, dilation, groups, device):
    r = rng(1)
    x = r.standard_normal((2, 4, 9, 8)).astype(np.float32)
    w = r.standard_normal((8, 4 // groups, 3, 3)).astype(np.float32)
    b = r.standard_normal(8).astype(np.float32)
    out = F.conv2d(T(x, device), T(w, device), T(b, device), stride, padding, dilation, groups)
    np.testing.assert_allclose(
        N(out), np_conv2d(x, w, b, stride, padding, dilation, groups), rtol=1e-4, atol=1e-4
    )


def test_conv2d_same_even_kernel_and_unbatched(device):
    r = rng(2)
    x = r.standard_normal((3, 7, 6)).astype(np.float32)
    w = r.standard_normal((5, 3, 4, 2)).astype(np.float32)
    out = F.conv2d(T(x, device), T(w, device), padding="same")
    assert tuple(out.shape) == (5, 7, 6)
    # total pad 3 (h) -> (1, 2); 1 (w) -> (0, 1): extra padding on the bottom/right, like PyTorch
    xp = np.pad(x[None], ((0, 0), (0, 0), (1, 2), (0, 1)))
    np.testing.assert_allclose(
        N(out), np_conv2d(xp, w, None, (1, 1), (0, 0), (1, 1), 1)[0], rtol=1e-4, atol=1e-4
    )
    out_valid = F.conv2d(T(x, device), T(w, device), padding="valid")
    assert tuple(out_valid.shape) == (5, 4, 5)


def test_conv2d_errors(device):
    x = T(np.zeros((1, 3, 5, 5)), device)
    with pytest.raises(
        RuntimeError, match="expected input.* to have 4 channels, but got 3 channels"
    ):
        F.conv2d(x, T(np.zeros((2, 4, 3, 3)), device))
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        F.conv2d(x, T(np.zeros((2, 3, 3, 3)), device), stride=2, padding="same")


def test_conv1d_matches_numpy(device):
    r = rng(3)
    x = r.standard_normal((2, 4, 11)).astype(np.float32)
    w = r.standard_normal((6, 2, 3)).astype(np.float32)
    b = r.standard_normal(6).astype(np.float32)
    out = F.conv1d(
        T(x, device), T(w, device), T(b, device), stride=2, padding=1, dilation=2, groups=2
    )
    ref = np_conv2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), (1, 2), 2)[:, :, 0]
    np.testing.assert_allclose(N(out), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "stride,padding,output_padding,groups,dilation",
    [((2, 2), (1, 1), (1, 1), 1, (1, 1)), ((1, 2), (0, 1), (0, 0), 2, (2, 1))],
)
def test_conv_transpose2d_matches_numpy(stride, padding, output_padding, groups, dilation, device):
    r = rng(4)
    x = r.standard_normal((2, 4, 5, 4)).astype(np.float32)
    w = r.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = r.standard_normal(3 * groups).astype(np.float32)
    out = F.conv_transpose2d(
        T(x, device), T(w, device), T(b, device), stride, padding, output_padding, groups, dilation
    )
    ref = np_conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)
    np.testing.assert_allclose(N(out), ref, rtol=1e-4, atol=1e-4)


def test_conv2d_gradient_matches_numpy(device):
    r = rng(5)
    x = r.standard_normal((2, 2, 5, 5)).astype(np.float32)
    w = r.standard_normal((3, 2, 3, 3)).astype(np.float32)
    tx, tw = T(x, device, requires_grad=True), T(w, device, requires_grad=True)
    F.conv2d(tx, tw, padding=1).sum().backward()
    # d(sum)/dw[o,c,i,j] = sum of the padded input window; d/dx = full conv of ones with w
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    gw = np.zeros_like(w)
    for i in range(3):
        for j in range(3):
            gw[:, :, i, j] = xp[:, :, i : i + 5, j : j + 5].sum(axis=(0, 2, 3))[None, :]
    np.testing.assert_allclose(N(tw.grad), gw, rtol=1e-4, atol=1e-4)
    gx = np_conv_transpose2d(
        np.ones((2, 3, 5, 5)), w.astype(np.float64), None, (1, 1), (1, 1), (0, 0), 1, (1, 1)
    )
    np.testing.assert_allclose(N(tx.grad), gx, rtol=1e-4, atol=1e-4)


def np_pool(x, k, s, p, mode, ceil_mode=False, count_include_pad=True, dilation=(1, 1)):
    n, c, h, w = x.shape
    kh, kw = k
    sh, sw = s
    ph, pw = p
    dh, dw = dilation

    def osize(size, kk, ss, pp, dd):
        eff = dd * (kk - 1) + 1
        num = size + 2 * pp - eff
        o = (-(-num // ss) if ceil_mode else num // ss) + 1
        if ceil_mode and (o - 1) * ss >= size + pp:
            o -= 1
        return o

    oh, ow = osize(h, kh, sh, ph, dh), osize(w, kw, sw, pw, dw)
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, ws_ = i * sh - ph, j * sw - pw
            rows = [hs + a * dh for a in range(kh)]
            cols = [ws_ + b * dw for b in range(kw)]
            rr = [r_ for r_ in rows if 0 <= r_ < h]
            cc = [c_ for c_ in cols if 0 <= c_ < w]
            win = x[:, :, rr][:, :, :, cc]
            if mode == "max":
                out[:, :, i, j] = win.max(axis=(2, 3))
            else:
                he = min(hs + kh, h + ph)
                we = min(ws_ + kw, w + pw)
                div = (he - hs) * (we - ws_) if count_include_pad else len(rr) * len(cc)
                out[:, :, i, j] = win.sum(axis=(2, 3)) / div
    return out


@pytest.mark.parametrize(
    "k,s,p,ceil_mode,dilation",
    [
        ((2, 2), (2, 2), (0, 0), False, (1, 1)),
        ((3, 3), (2, 2), (1, 1), False, (1, 1)),
        ((3, 2), (2, 1), (1, 0), True, (1, 1)),
        ((2, 2), (1, 1), (0, 0), False, (2, 2)),
    ],
)
def test_max_pool2d_matches_numpy(k, s, p, ceil_mode, dilation, device):
    x = rng(6).standard_normal((2, 3, 7, 6)).astype(np.float32)
    out = F.max_pool2d(T(x, device), k, s, p, dilation, ceil_mode)
    np.testing.assert_allclose(
        N(out), np_pool(x, k, s, p, "max", ceil_mode, dilation=dilation), rtol=1e-6
    )


def test_max_pool2d_indices_and_gradient(device):
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)[:, :, ::-1].copy()
    tx = T(x, device, requires_grad=True)
    out, idx = F.max_pool2d(tx, 2, return_indices=True)
    assert idx.dtype == ember.int64
    # rows are 12..15 / 8..11 / 4..7 / 0..3: each window's max is its top-right cell
    np.testing.assert_array_equal(N(idx), [[[[1, 3], [9, 11]]]])
    out.sum().backward()
    g = np.zeros((4, 4))
    for flat in [1, 3, 9, 11]:
        g[flat // 4, flat % 4] = 1
    np.testing.assert_array_equal(N(tx.grad)[0, 0], g)


@pytest.mark.parametrize(
    "k,s,p,ceil_mode,cip",
    [
        ((2, 2), (2, 2), (0, 0), False, True),
        ((3, 3), (2, 2), (1, 1), False, True),
        ((3, 3), (2, 2), (1, 1), False, False),
        ((2, 2), (2, 2), (0, 0), True, True),
    ],
)
def test_avg_pool2d_matches_numpy(k, s, p, ceil_mode, cip, device):
    x = rng(7).standard_normal((2, 2, 7, 5)).astype(np.float32)
    out = F.avg_pool2d(T(x, device), k, s, p, ceil_mode, cip)
    np.testing.assert_allclose(
        N(out), np_pool(x, k, s, p, "avg", ceil_mode, cip), rtol=1e-5, atol=1e-6
    )


def test_pool_1d_variants(device):
    x = rng(8).standard_normal((2, 3, 9)).astype(np.float32)
    out = F.max_pool1d(T(x, device), 3, stride=2)
    ref = np.stack([x[:, :, i : i + 3].max(-1) for i in range(0, 7, 2)], -1)
    np.testing.assert_allclose(N(out), ref)
    out = F.avg_pool1d(T(x, device), 3, stride=3)
    np.testing.assert_allclose(N(out), x.reshape(2, 3, 3, 3).mean(-1), rtol=1e-6)
    out = F.adaptive_avg_pool1d(T(x, device), 3)
    np.testing.assert_allclose(N(out), x.reshape(2, 3, 3, 3).mean(-1), rtol=1e-6)
    out, idx = F.adaptive_max_pool1d(T(x, device), 1, return_indices=True)
    np.testing.assert_allclose(N(out)[..., 0], x.max(-1))
    np.testing.assert_array_equal(N(idx)[..., 0], x.argmax(-1))


def test_adaptive_pools(device):
    x = rng(9).standard_normal((2, 3, 6, 4)).astype(np.float32)
    out = F.adaptive_avg_pool2d(T(x, device), (3, 2))
    np.testing.assert_allclose(N(out), x.reshape(2, 3, 3, 2, 2, 2).mean((3, 5)), rtol=1e-5)
    out = F.adaptive_avg_pool2d(T(x, device), (None, 1))
    assert tuple(out.shape) == (2, 3, 6, 1)
    out = F.adaptive_max_pool2d(T(x[0], device), 1)
    assert tuple(out.shape) == (3, 1, 1)
    np.testing.assert_allclose(N(out)[:, 0, 0], x[0].max((1, 2)))


def test_pool_pad_too_large_raises(device):
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(T(np.zeros((1, 1, 4, 4)), device), 2, padding=2)


# ---------------------------------------------------------------------------- pad / interpolate
@pytest.mark.parametrize(
    "mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")]
)
def test_pad_modes_match_numpy(mode, np_mode, device):
    x = rng(10).standard_normal((2, 3, 5, 6)).astype(np.float32)
    out = F.pad(T(x, device), (2, 1, 1, 3), mode=mode)
    ref = np.pad(x, ((0, 0), (0, 0), (1, 3), (2, 1)), mode=np_mode)
    np.testing.assert_allclose(N(out), ref)


def test_pad_constant_and_gradient(device):
    x = T(np.ones((2, 3)), device, requires_grad=True)
    out = F.pad(x, (1, 2, 0, 1), value=5.0)
    assert tuple(out.shape) == (3, 6)
    ref = np.pad(np.ones((2, 3)), ((0, 1), (1, 2)), constant_values=5.0)
    np.testing.assert_allclose(N(out), ref)
    (out * 2).sum().backward()
    np.testing.assert_allclose(N(x.grad), np.full((2, 3), 2.0))
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(x, (1,))


def test_interpolate_nearest_and_bilinear_shapes(device):
    x = T(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4), device)
    up = F.interpolate(x, scale_factor=2, mode="nearest")
    np.testing.assert_allclose(N(up)[0, 0], np.repeat(np.repeat(N(x)[0, 0], 2, 0), 2, 1))
    same = F.interpolate(x, size=(4, 4), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(N(same), N(x), atol=1e-6)
    corners = F.interpolate(x, size=(7, 7), mode="bilinear", align_corners=True)
    np.testing.assert_allclose(N(corners)[0, 0, ::2, ::2], N(x)[0, 0], atol=1e-5)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)


# ---------------------------------------------------------------------------- losses
def test_cross_entropy_matches_numpy(device):
    r = rng(11)
    logits = r.standard_normal((5, 4)).astype(np.float32)
    target = np.array([0, 3, 1, 1, 2])
    w = np.array([0.5, 1.0, 2.0, 1.5], dtype=np.float32)
    lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    nll = -lp[np.arange(5), target]
    ce = F.cross_entropy(T(logits, device), T(target, device), weight=T(w, device))
    np.testing.assert_allclose(float(N(ce)), (nll * w[target]).sum() / w[target].sum(), rtol=1e-5)
    ce_sum = F.cross_entropy(T(logits, device), T(target, device), reduction="sum")
    np.testing.assert_allclose(float(N(ce_sum)), nll.sum(), rtol=1e-5)
    module = ember.nn.CrossEntropyLoss(ignore_index=1)
    ce_ign = module(T(logits, device), T(target, device))
    keep = target != 1
    np.testing.assert_allclose(float(N(ce_ign)), nll[keep].mean(), rtol=1e-5)


def test_cross_entropy_label_smoothing_closed_form(device):
    logits = rng(12).standard_normal((3, 5)).astype(np.float32)
    target = np.array([1, 4, 0])
    eps = 0.2
    lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    q = np.full((3, 5), eps / 5)
    q[np.arange(3), target] += 1 - eps
    expected = -(q * lp).sum(1).mean()
    got = F.cross_entropy(T(logits, device), T(target, device), label_smoothing=eps)
    np.testing.assert_allclose(float(N(got)), expected, rtol=1e-5)
    # the same through probability targets
    got_p = F.cross_entropy(T(logits, device), T(q.astype(np.float32), device))
    np.testing.assert_allclose(float(N(got_p)), expected, rtol=1e-5)


def test_cross_entropy_bad_shapes(device):
    x = T(np.zeros((3, 4)), device)
    with pytest.raises(
        ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"
    ):
        F.cross_entropy(x, T(np.array([0, 1]), device))
    with pytest.raises(RuntimeError, match="multi-target not supported"):
        F.cross_entropy(x, T(np.zeros((3, 1), dtype=np.int64), device))
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.cross_entropy(T(np.zeros((3, 4))), T(np.array([0, 7, 1])))


def test_bce_family(device):
    r = rng(13)
    x = r.standard_normal((4, 3)).astype(np.float32)
    t = (r.random((4, 3)) > 0.5).astype(np.float32)
    pw = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    p = 1 / (1 + np.exp(-x))
    ref = -(pw * t * np.log(p) + (1 - t) * np.log(1 - p))
    got = F.binary_cross_entropy_with_logits(
        T(x, device), T(t, device), pos_weight=T(pw, device), reduction="none"
    )
    np.testing.assert_allclose(N(got), ref, rtol=1e-5, atol=1e-6)
    got = ember.nn.BCELoss(reduction="sum")(T(p, device), T(t, device))
    np.testing.assert_allclose(
        float(N(got)), -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum(), rtol=1e-5
    )
    with pytest.raises(ValueError, match="Using a target size"):
        F.binary_cross_entropy(T(p, device), T(t[:, :2], device))


@pytest.mark.parametrize("name", ["mse", "l1", "smooth_l1", "huber"])
def test_regression_losses(name, device):
    r = rng(14)
    a = r.standard_normal((3, 4)).astype(np.float32) * 2
    b = r.standard_normal((3, 4)).astype(np.float32)
    d = a - b
    ad = np.abs(d)
    refs = {
        "mse": d**2,
        "l1": ad,
        "smooth_l1": np.where(ad < 1, 0.5 * d**2, ad - 0.5),
        "huber": np.where(ad < 1, 0.5 * d**2, ad - 0.5),
    }
    mods = {
        "mse": ember.nn.MSELoss,
        "l1": ember.nn.L1Loss,
        "smooth_l1": ember.nn.SmoothL1Loss,
        "huber": ember.nn.HuberLoss,
    }
    for reduction, red in [("mean", np.mean), ("sum", np.sum), ("none", lambda v: v)]:
        got = mods[name](reduction=reduction)(T(a, device), T(b, device))
        np.testing.assert_allclose(N(got), red(refs[name]), rtol=1e-5, atol=1e-6)


def test_kl_div_and_nll(device):
    r = rng(15)
    logq = np.log(r.dirichlet(np.ones(4), size=3)).astype(np.float32)
    p = r.dirichlet(np.ones(4), size=3).astype(np.float32)
    ref = (p * (np.log(p) - logq)).sum() / 3
    got = ember.nn.KLDivLoss(reduction="batchmean")(T(logq, device), T(p, device))
    np.testing.assert_allclose(float(N(got)), ref, rtol=1e-5)
    got = ember.nn.KLDivLoss(reduction="sum", log_target=True)(
        T(logq, device), T(np.log(p), device)
    )
    np.testing.assert_allclose(float(N(got)), ref * 3, rtol=1e-5)
    nll = ember.nn.NLLLoss()(T(logq, device), T(np.array([0, 2, 3]), device))
    np.testing.assert_allclose(float(N(nll)), -logq[[0, 1, 2], [0, 2, 3]].mean(), rtol=1e-6)


# ---------------------------------------------------------------------------- misc functional
def test_one_hot_and_embedding(device):
    oh = F.one_hot(T(np.array([0, 2, 1]), device), 4)
    assert oh.dtype == ember.int64
    np.testing.assert_array_equal(N(oh), np.eye(4, dtype=np.int64)[[0, 2, 1]])
    w = T(np.arange(12, dtype=np.float32).reshape(4, 3), device, requires_grad=True)
    idx = T(np.array([[1, 0], [1, 3]]), device)
    out = F.embedding(idx, w, padding_idx=0)
    np.testing.assert_allclose(N(out), np.arange(12).reshape(4, 3)[[[1, 0], [1, 3]]])
    out.sum().backward()
    np.testing.assert_allclose(N(w.grad), [[0, 0, 0], [2, 2, 2], [0, 0, 0], [1, 1, 1]])


def test_normalize_cosine_pairwise(device):
    r = rng(16)
    a = r.standard_normal((4, 5)).astype(np.float32)
    b = r.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(
        N(F.normalize(T(a, device))), a / np.linalg.norm(a, axis=1, keepdims=True), rtol=1e-5
    )
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(N(F.cosine_similarity(T(a, device), T(b, device))), cos, rtol=1e-5)
    z = F.normalize(T(np.zeros((2, 3)), device))
    np.testing.assert_array_equal(N(z), np.zeros((2, 3)))


def test_dropout_statistics_and_modes(device):
    ember.manual_seed(0)
    x = T(np.ones((200, 200)), device)
    y = N(F.dropout(x, 0.3, training=True))
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-5)
    assert F.dropout(x, 0.3, training=False) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        F.dropout(x, 1.5)
    y2 = N(F.dropout2d(T(np.ones((8, 50, 3, 3)), device), 0.5, training=True))
    per_channel = y2.reshape(8, 50, 9)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()


def np_sdpa(q, k, v, mask=None, causal=False, scale=None):
    s = (q @ np.swapaxes(k, -1, -2)) * (scale if scale is not None else 1 / np.sqrt(q.shape[-1]))
    if causal:
        L, S = s.shape[-2:]
        s = np.where(np.tril(np.ones((L, S), bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    return p @ v


def test_scaled_dot_product_attention(device):
    r = rng(17)
    q, k, v = (r.standard_normal((2, 3, 4, 8)).astype(np.float32) for _ in range(3))
    tq, tk, tv = T(q, device), T(k, device), T(v, device)
    np.testing.assert_allclose(
        N(F.scaled_dot_product_attention(tq, tk, tv)), np_sdpa(q, k, v), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        N(F.scaled_dot_product_attention(tq, tk, tv, is_causal=True)),
        np_sdpa(q, k, v, causal=True),
        rtol=1e-4,
        atol=1e-5,
    )
    fmask = r.standard_normal((4, 4)).astype(np.float32)
    np.testing.assert_allclose(
        N(F.scaled_dot_product_attention(tq, tk, tv, attn_mask=T(fmask, device), scale=0.5)),
        np_sdpa(q, k, v, fmask, scale=0.5),
        rtol=1e-4,
        atol=1e-5,
    )
    bmask = np.tril(np.ones((4, 4), bool))
    np.testing.assert_allclose(
        N(F.scaled_dot_product_attention(tq, tk, tv, attn_mask=T(bmask, device))),
        np_sdpa(q, k, v, causal=True),
        rtol=1e-4,
        atol=1e-5,
    )


def test_norm_functions_match_numpy(device):
    r = rng(18)
    x = r.standard_normal((4, 6, 3, 2)).astype(np.float32)
    w = r.standard_normal(6).astype(np.float32)
    b = r.standard_normal(6).astype(np.float32)
    g = x.reshape(4, 3, -1)
    ref = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(
        x.shape
    )
    ref = ref * w.reshape(1, 6, 1, 1) + b.reshape(1, 6, 1, 1)
    np.testing.assert_allclose(
        N(F.group_norm(T(x, device), 3, T(w, device), T(b, device))), ref, rtol=1e-4, atol=1e-5
    )
    ln = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(N(F.layer_norm(T(x, device), (2,))), ln, rtol=1e-4, atol=1e-5)
    inorm = (x - x.mean((2, 3), keepdims=True)) / np.sqrt(x.var((2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(N(F.instance_norm(T(x, device))), inorm, rtol=1e-4, atol=1e-4)
    rms = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(N(F.rms_norm(T(x, device), (2,), eps=1e-6)), rms, rtol=1e-5)
    with pytest.raises(RuntimeError, match="Given normalized_shape"):
        F.layer_norm(T(x, device), (5,))


def test_bilinear_and_linear(device):
    r = rng(19)
    x1 = r.standard_normal((5, 3)).astype(np.float32)
    x2 = r.standard_normal((5, 4)).astype(np.float32)
    w = r.standard_normal((2, 3, 4)).astype(np.float32)
    b = r.standard_normal(2).astype(np.float32)
    ref = np.einsum("ni,kij,nj->nk", x1, w, x2) + b
    np.testing.assert_allclose(
        N(F.bilinear(T(x1, device), T(x2, device), T(w, device), T(b, device))),
        ref,
        rtol=1e-4,
        atol=1e-5,
    )
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        F.linear(T(x1, device), T(np.zeros((2, 4)), device))


def test_composed_gradients_finite_difference():
    """float64 central differences for a few composed functionals (cpu)."""
    r = rng(20)
    x0 = r.standard_normal((3, 4))
    t0 = r.random((3, 4))

    fns = {
        "bce_logits": lambda x: F.binary_cross_entropy_with_logits(
            x, ember.tensor(t0, dtype=ember.float64)
        ),
        "layer_norm": lambda x: (
            F.layer_norm(x, (4,)) * ember.tensor(t0, dtype=ember.float64)
        ).sum(),
        "smooth_l1": lambda x: F.smooth_l1_loss(x, ember.tensor(t0, dtype=ember.float64), beta=0.7),
        "cosine": lambda x: F.cosine_similarity(x, ember.tensor(t0, dtype=ember.float64)).sum(),
        "softplus": lambda x: F.softplus(x, beta=1.5).sum(),
        "cross_entropy": lambda x: F.cross_entropy(x, ember.tensor([1, 0, 3]), label_smoothing=0.1),
    }
    eps = 1e-6
    for name, fn in fns.items():
        x = ember.tensor(x0, dtype=ember.float64, requires_grad=True)
        fn(x).backward()
        fd = np.zeros_like(x0)
        for i in np.ndindex(x0.shape):
            xp, xm = x0.copy(), x0.copy()
            xp[i] += eps
            xm[i] -= eps
            fd[i] = (
                float(N(fn(ember.tensor(xp, dtype=ember.float64))))
                - float(N(fn(ember.tensor(xm, dtype=ember.float64))))
            ) / (2 * eps)
        np.testing.assert_allclose(N(x.grad), fd, rtol=1e-5, atol=1e-7, err_msg=name)


def test_unfold_matches_numpy_and_fold_is_its_adjoint(device):
    r = rng(21)
    x = r.standard_normal((2, 3, 6, 5)).astype(np.float32)
    geo = dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1))
    cols = F.unfold(T(x, device), **geo)
    # unfold == conv2d with one-hot kernels: row (c, i, j) picks channel c at offset (i, j)
    eye = np.zeros((3 * 6, 3, 3, 2), dtype=np.float32)
    for c in range(3):
        for i in range(3):
            for j in range(2):
                eye[c * 6 + i * 2 + j, c, i, j] = 1
    ref = np_conv2d(x, eye, None, (2, 1), (1, 1), (1, 2), 1)
    assert tuple(cols.shape) == (2, 18, ref.shape[2] * ref.shape[3])
    np.testing.assert_allclose(N(cols), ref.reshape(2, 18, -1), rtol=1e-6)
    y = r.standard_normal(tuple(cols.shape)).astype(np.float32)
    folded = F.fold(T(y, device), (6, 5), **geo)
    assert tuple(folded.shape) == (2, 3, 6, 5)
    # <unfold(x), y> == <x, fold(y)>
    np.testing.assert_allclose((N(cols) * y).sum(), (x * N(folded)).sum(), rtol=1e-4)
    ones = F.fold(F.unfold(T(np.ones((1, 1, 4, 4)), device), 2, stride=2), (4, 4), 2, stride=2)
    np.testing.assert_array_equal(N(ones), np.ones((1, 1, 4, 4)))
    assert tuple(ember.nn.Unfold(2)(T(x, device)).shape) == (2, 12, 20)


def test_composed_fallback_kernels_match_numpy(device):
    """The stand-ins used when ember._C lacks a conv/pool kernel follow the same contract
    (and, where the Rust kernel exists, agree with it)."""
    from ember.nn._functional import _kernels

    fb = _kernels._FALLBACKS
    r = rng(22)
    x = r.standard_normal((2, 4, 7, 6)).astype(np.float32)
    w = r.standard_normal((6, 2, 3, 3)).astype(np.float32)
    b = r.standard_normal(6).astype(np.float32)
    conv_args = ((2, 1), (1, 2), (1, 2), 2)
    got = fb["conv2d"](T(x, device), T(w, device), T(b, device), *conv_args)
    np.testing.assert_allclose(N(got), np_conv2d(x, w, b, *conv_args), rtol=1e-4, atol=1e-4)
    wt = r.standard_normal((4, 3, 3, 2)).astype(np.float32)
    ct_args = ((2, 2), (1, 0), (1, 1), 2, (1, 2))
    got = fb["conv_transpose2d"](T(x, device), T(wt, device), None, *ct_args)
    np.testing.assert_allclose(
        N(got), np_conv_transpose2d(x, wt, None, *ct_args), rtol=1e-4, atol=1e-4
    )
    out, idx = fb["max_pool2d"](T(x, device), (3, 2), (2, 2), (1, 1), (1, 1), True)
    np.testing.assert_allclose(N(out), np_pool(x, (3, 2), (2, 2), (1, 1), "max", True), rtol=1e-6)
    flat = x.reshape(2, 4, -1)
    np.testing.assert_allclose(
        np.take_along_axis(flat, N(idx).reshape(2, 4, -1), 2), N(out).reshape(2, 4, -1)
    )
    got = fb["avg_pool2d"](T(x, device), (3, 3), (2, 2), (1, 1), True, False, None)
    np.testing.assert_allclose(
        N(got), np_pool(x, (3, 3), (2, 2), (1, 1), "avg", True, False), rtol=1e-5, atol=1e-6
    )
    got = fb["adaptive_avg_pool2d"](T(x, device), (3, 4))
    assert tuple(got.shape) == (2, 4, 3, 4)
    out, idx = fb["adaptive_max_pool2d"](T(x, device), (2, 3))
    np.testing.assert_allclose(
        np.take_along_axis(flat, N(idx).reshape(2, 4, -1), 2), N(out).reshape(2, 4, -1)
    )
    for name in ["conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]:
        native = getattr(ember._C, name, None)
        if native is None:
            continue
        args = {
            "conv2d": (T(x, device), T(w, device), T(b, device), *conv_args),
            "max_pool2d": (T(x, device), (3, 2), (2, 2), (1, 1), (1, 1), True),
            "avg_pool2d": (T(x, device), (3, 3), (2, 2), (1, 1), True, False, None),
            "adaptive_avg_pool2d": (T(x, device), (3, 4)),
        }[name]
        a, f = native(*args), fb[name](*args)
        a, f = (a[0], f[0]) if isinstance(a, tuple) else (a, f)
        np.testing.assert_allclose(N(a), N(f), rtol=1e-4, atol=1e-5, err_msg=name)


def test_more_losses_match_numpy(device):
    r = rng(23)
    a, p, n = (r.standard_normal((5, 4)).astype(np.float32) for _ in range(3))
    d_ap = np.linalg.norm(a - p + 1e-6, axis=1)
    d_an = np.linalg.norm(a - n + 1e-6, axis=1)
    d_pn = np.linalg.norm(p - n + 1e-6, axis=1)
    got = ember.nn.TripletMarginLoss(margin=0.5, swap=True)(
        T(a, device), T(p, device), T(n, device)
    )
    np.testing.assert_allclose(
        float(N(got)), np.maximum(d_ap - np.minimum(d_an, d_pn) + 0.5, 0).mean(), rtol=1e-5
    )
    t = (r.random((5, 4)) > 0.5).astype(np.float32)
    sig = 1 / (1 + np.exp(-a))
    ref = -(t * np.log(sig) + (1 - t) * np.log(1 - sig)).mean(1)
    got = ember.nn.MultiLabelSoftMarginLoss(reduction="none")(T(a, device), T(t, device))
    np.testing.assert_allclose(N(got), ref, rtol=1e-5, atol=1e-6)
    counts = r.integers(0, 5, (5, 4)).astype(np.float32)
    got = ember.nn.PoissonNLLLoss(full=True, reduction="sum")(T(a, device), T(counts, device))
    st = np.where(
        counts > 1,
        counts * np.log(np.maximum(counts, 1))
        - counts
        + 0.5 * np.log(2 * np.pi * np.maximum(counts, 1)),
        0,
    )
    np.testing.assert_allclose(float(N(got)), (np.exp(a) - counts * a + st).sum(), rtol=1e-5)
    var = r.random((5, 4)).astype(np.float32) + 0.1
    got = ember.nn.GaussianNLLLoss(full=True)(T(a, device), T(p, device), T(var, device))
    ref = (0.5 * (np.log(var) + (a - p) ** 2 / var) + 0.5 * np.log(2 * np.pi)).mean()
    np.testing.assert_allclose(float(N(got)), ref, rtol=1e-5)
    got = ember.nn.GaussianNLLLoss()(T(a, device), T(p, device), T(var[:, 0], device))
    assert got.dim() == 0
    with pytest.raises(ValueError, match="var has negative"):
        F.gaussian_nll_loss(T(a, device), T(p, device), T(-var, device))
    y = np.array([0, 3, 1, 1, 2])
    w = np.array([1.0, 2.0, 0.5, 1.5], dtype=np.float32)
    xy = a[np.arange(5), y][:, None]
    m = np.maximum(0, 1.0 - xy + a) ** 2 * w[y][:, None]
    m[np.arange(5), y] = 0
    got = ember.nn.MultiMarginLoss(p=2, weight=T(w, device))(T(a, device), T(y, device))
    np.testing.assert_allclose(float(N(got)), (m.sum(1) / 4).mean(), rtol=1e-5)
