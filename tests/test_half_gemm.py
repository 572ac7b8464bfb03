"""bfloat16 / float16 matmul and conv2d: float32 accumulation, one rounding (issue 15).

References are numpy float64 products of the half-rounded inputs. The CPU bfloat16
product has two kernels (AVX512-BF16 where the CPU has it, float32 panels elsewhere);
the same cases run again in a child process with EMBER_DISABLE_AVX512BF16=1 so both
are tested on this machine.

Error bound used (`_bound`): the float32 accumulation of k products (each product of
two half values is exact in float32) is off by at most k * 2^-24 * sum|a_i b_i| in any
summation order; the one rounding to the half type adds at most u * |result| (u = 2^-8
bfloat16, 2^-11 float16; doubled for slack on |result| vs |exact|), and float16
results in its subnormal range are off by at most half its smallest step, 2^-25.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn as nn

DTYPES = {"bfloat16": ember.bfloat16, "float16": ember.float16}
UNIT = {"bfloat16": 2.0**-8, "float16": 2.0**-11}


def _half(arr, dtype, device):
    """An ember tensor of `dtype` and its exact float64 values."""
    t = ember.tensor(np.asarray(arr, np.float32), device=device).to(DTYPES[dtype])
    return t, _np(t)


def _np(t):
    return t.detach().float().cpu().numpy().astype(np.float64)


def _bound(dtype, exact, absprod, k):
    tol = 2 * UNIT[dtype] * np.abs(exact) + 2.0 * k * 2.0**-24 * absprod
    return tol + (2.0**-25 if dtype == "float16" else 0.0)


def _round_half(x, dtype):
    """float64 values exactly representable in float32, rounded to nearest even."""
    if dtype == "float16":
        return np.asarray(x, np.float64).astype(np.float16).astype(np.float64)
    b = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    r = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32).astype(np.float64)


# (a shape, b shape, how the operands are laid out)
CASES = [
    ((1, 1), (1, 1), "plain"),
    ((7, 13), (13, 5), "plain"),
    ((64, 300), (300, 65), "plain"),
    ((257, 129), (129, 511), "plain"),
    ((3, 37, 50), (3, 50, 29), "plain"),  # bmm
    ((2, 1, 7, 9), (4, 9, 6), "plain"),  # broadcast batch
    ((40, 70), (70, 33), "transposed"),  # a.t(), b.t() of contiguous tensors
    ((30, 520), (520, 300), "transposed"),
    ((45, 51), (51, 23), "sliced"),  # column strides 2 and 3, offsets
    ((5, 0), (0, 4), "plain"),  # k = 0: zeros
]


def _operands(sa, sb, layout, dtype, device, rng):
    if layout == "plain":
        a, an = _half(rng.standard_normal(sa), dtype, device)
        b, bn = _half(rng.standard_normal(sb), dtype, device)
    elif layout == "transposed":
        a, an = _half(rng.standard_normal(sa[::-1]), dtype, device)
        b, bn = _half(rng.standard_normal(sb[::-1]), dtype, device)
        a, an, b, bn = a.t(), an.T, b.t(), bn.T
    else:
        big_a, big_an = _half(rng.standard_normal((sa[0] + 3, 2 * sa[1] + 1)), dtype, device)
        big_b, big_bn = _half(rng.standard_normal((sb[0] + 1, 3 * sb[1])), dtype, device)
        a, an = big_a[3:, 1::2], big_an[3:, 1::2]
        b, bn = big_b[1:, ::3], big_bn[1:, ::3]
    return a, an, b, bn


def check_matmul(device, dtype, case, seed=0):
    sa, sb, layout = case
    rng = np.random.default_rng(seed)
    a, an, b, bn = _operands(sa, sb, layout, dtype, device, rng)
    assert tuple(a.shape) == sa and tuple(b.shape) == sb
    out = a @ b
    assert out.dtype == DTYPES[dtype]
    exact = np.matmul(an, bn)
    absprod = np.matmul(np.abs(an), np.abs(bn))
    got = _np(out)
    assert got.shape == exact.shape
    err = np.abs(got - exact)
    tol = _bound(dtype, exact, absprod, sa[-1])
    assert (err <= tol).all(), f"{case}: max err {err.max():.3g}, worst ratio {(err / tol).max()}"


def check_exact(device, dtype):
    """Integer operands: the float32 accumulation is exact, so the result must equal
    the exact product rounded once to the half type (accumulating in the half type,
    or rounding more than once, gives other values for these sums up to ~2000)."""
    rng = np.random.default_rng(5)
    an = rng.integers(-8, 9, size=(33, 300)).astype(np.float64)
    bn = rng.integers(-8, 9, size=(300, 40)).astype(np.float64)
    a, _ = _half(an, dtype, device)
    b, _ = _half(bn, dtype, device)
    got = _np(a @ b)
    np.testing.assert_array_equal(got, _round_half(an @ bn, dtype))
    # 301 ones sum to 301, a tie between 300 and 302 in bfloat16: one rounding gives
    # 300, while summing in bfloat16 would stall at 256.
    ones = ember.ones(1, 301, device=device, dtype=DTYPES[dtype])
    assert _np(ones @ ones.t())[0, 0] == _round_half(301.0, dtype)


def run_all_cpu():
    """Every matmul case on the CPU (the child process of the fallback test)."""
    for dtype in DTYPES:
        for case in CASES:
            check_matmul("cpu", dtype, case)
        check_exact("cpu", dtype)


def _has_avx512bf16():
    try:
        return "avx512_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}@{c[1]}-{c[2]}")
def test_matmul_half(device, dtype, case):
    check_matmul(device, dtype, case)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_matmul_half_exact(device, dtype):
    check_exact(device, dtype)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_linear_addmm_half(device, dtype):
    rng = np.random.default_rng(3)
    x, xn = _half(rng.standard_normal((20, 48)), dtype, device)
    w, wn = _half(rng.standard_normal((16, 48)), dtype, device)
    bias, bn = _half(rng.standard_normal(16), dtype, device)
    out = ember.nn.functional.linear(x, w, bias)
    assert out.dtype == DTYPES[dtype]
    exact = xn @ wn.T + bn
    absprod = np.abs(xn) @ np.abs(wn).T + np.abs(bn)
    # linear rounds the product and then the sum with the bias: two roundings.
    tol = 2 * _bound(dtype, exact, absprod, 49)
    assert (np.abs(_np(out) - exact) <= tol).all()


def test_kernel_selection_cpu():
    """The AVX512-BF16 kernel is used where the CPU has it (this CPU-only switch has
    no GPU counterpart), float16 always takes the float32-panel path."""
    want = "avx512bf16" if _has_avx512bf16() else "f32-panels"
    if os.environ.get("EMBER_DISABLE_AVX512BF16") == "1" or ember._C._cpu_capability() != "avx512":
        want = "f32-panels"
    assert ember._C._half_gemm_path("bfloat16") == want
    assert ember._C._half_gemm_path("float16") == "f32-panels"
    with pytest.raises(ValueError, match="_half_gemm_path"):
        ember._C._half_gemm_path("float32")


def test_matmul_half_fallback_cpu():
    """The same CPU cases with the AVX512-BF16 kernel switched off (a child process:
    the switch is read once per process). CPU-only: the switch selects a CPU kernel."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, EMBER_DISABLE_AVX512BF16="1")
    code = (
        "import sys; sys.path.insert(0, %r); import ember; import test_half_gemm as t;"
        "assert ember._C._half_gemm_path('bfloat16') == 'f32-panels';"
        "t.run_all_cpu(); print('fallback ok')"
    ) % str(root / "tests")
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fallback ok" in r.stdout


# ------------------------------------------------------------------ conv2d


def _im2col(x, kh, kw, pad):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, w + 2 * pad - kw + 1
    cols = np.empty((n, c, kh, kw, oh, ow))
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i : i + oh, j : j + ow]
    return cols.reshape(n, c * kh * kw, oh * ow), (oh, ow)


def _conv_ref(x, w, b, pad):
    o, c, kh, kw = w.shape
    cols, (oh, ow) = _im2col(x, kh, kw, pad)
    y = np.einsum("ok,nkl->nol", w.reshape(o, -1), cols).reshape(len(x), o, oh, ow)
    return y + b[None, :, None, None]


def _conv_grads(x, w, g, pad):
    """(grad input, grad weight) of the stride-1 conv, via im2col / col2im."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    cols, (oh, ow) = _im2col(x, kh, kw, pad)
    g2 = g.reshape(n, o, oh * ow)
    gw = np.einsum("nol,nkl->ok", g2, cols).reshape(w.shape)
    gcols = np.einsum("ok,nol->nkl", w.reshape(o, -1), g2).reshape(n, c, kh, kw, oh, ow)
    gxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    for i in range(kh):
        for j in range(kw):
            gxp[:, :, i : i + oh, j : j + ow] += gcols[:, :, i, j]
    return gxp[:, :, pad : pad + h, pad : pad + wd], gw


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_conv2d_half_forward_backward(device, dtype):
    rng = np.random.default_rng(7)
    x, xn = _half(rng.standard_normal((3, 4, 9, 8)), dtype, device)
    w, wn = _half(rng.standard_normal((6, 4, 3, 3)), dtype, device)
    b, bn = _half(rng.standard_normal(6), dtype, device)
    g, gn = _half(rng.standard_normal((3, 6, 9, 8)), dtype, device)
    x.requires_grad_(True)
    w.requires_grad_(True)
    b.requires_grad_(True)
    y = ember.nn.functional.conv2d(x, w, b, padding=1)
    assert y.dtype == DTYPES[dtype]
    exact = _conv_ref(xn, wn, bn, 1)
    absv = _conv_ref(np.abs(xn), np.abs(wn), np.abs(bn), 1)
    assert (np.abs(_np(y) - exact) <= _bound(dtype, exact, absv, 4 * 9 + 1)).all()
    y.backward(g)
    gx, gw = _conv_grads(xn, wn, gn, 1)
    agx, agw = _conv_grads(np.abs(xn), np.abs(wn), np.abs(gn), 1)
    assert x.grad.dtype == DTYPES[dtype] and w.grad.dtype == DTYPES[dtype]
    assert (np.abs(_np(x.grad) - gx) <= _bound(dtype, gx, agx, 6 * 9)).all()
    assert (np.abs(_np(w.grad) - gw) <= _bound(dtype, gw, agw, 3 * 9 * 8)).all()
    gb = gn.sum(axis=(0, 2, 3))
    agb = np.abs(gn).sum(axis=(0, 2, 3))
    assert (np.abs(_np(b.grad) - gb) <= _bound(dtype, gb, agb, 3 * 9 * 8)).all()


# ------------------------------------------------------------------ autocast training


def _train_mlp(device, amp, steps=30):
    rng = np.random.default_rng(11)
    xn = rng.standard_normal((128, 32)).astype(np.float32)
    yn = (xn[:, :4].sum(1) > 0).astype(np.int64) + 2 * (xn[:, 4] > 0.5)
    x = ember.tensor(xn, device=device)
    y = ember.tensor(yn, device=device)
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 4)).to(device)
    opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = ember.amp.GradScaler(device, enabled=amp and device != "cpu")
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        with ember.autocast(device, enabled=amp):
            out = model(x)
            loss = nn.functional.cross_entropy(out, y)
        if amp:
            assert out.dtype == (ember.bfloat16 if device == "cpu" else ember.float16)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    return losses


def test_autocast_mlp_trains(device):
    f32 = _train_mlp(device, False)
    amp = _train_mlp(device, True)
    assert amp[-1] < 0.5 * amp[0], amp
    # Same initial weights and data: the low-precision run tracks the float32 one.
    assert abs(amp[0] - f32[0]) < 0.02 * f32[0]
    assert abs(amp[-1] - f32[-1]) < 0.1 * f32[-1] + 0.01, (amp[-1], f32[-1])
