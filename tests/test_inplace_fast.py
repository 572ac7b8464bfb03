"""In-place arithmetic, copy_ and the transposed-weight GEMM (issue 11).

add_/sub_/mul_/div_ (and +=, -=, *=, /=) write into the tensor's memory in one
pass when nothing is recorded for autograd, and copy_ writes through the
destination's layout directly; every other case (autograd, mixed dtypes,
aliasing operands, strided destinations) keeps the out-of-place path. These
tests pin the values of both paths against numpy (float64 references), the
aliasing rules, the version counter autograd relies on, and the GEMM of
`x @ w.t()` at the widths whose column stride is a multiple of 256 floats (the
path that transposes the weight first). Every case runs on both devices.
"""

import numpy as np
import pytest

import ember


def _np(t):
    return t.detach().cpu().numpy()


def _rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _fma32(x, a, y):
    """float32 x + a * y with one rounding (PyTorch's vectorised add computes
    fmadd(y, alpha, x)); the float64 product of two float32 values is exact."""
    return (x.astype(np.float64) + np.float64(np.float32(a)) * y.astype(np.float64)).astype(
        np.float32
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (300, 257), (1 << 17,)])
def test_inplace_arith_same_shape(device, dtype, shape):
    if device == "gpu" and dtype == np.float64:
        pytest.skip("float64 is not stored on the gpu device")
    xa, ya = _rand(*shape, seed=1, dtype=dtype), _rand(*shape, seed=2, dtype=dtype)
    ya = np.where(np.abs(ya) < 0.1, 0.5, ya).astype(dtype)
    for name, ref in [
        ("add_", xa + ya),
        ("sub_", xa - ya),
        ("mul_", xa * ya),
        ("div_", xa / ya),
    ]:
        x = ember.tensor(xa, device=device)
        y = ember.tensor(ya, device=device)
        out = getattr(x, name)(y)
        assert out is x  # methods return self, for chaining
        np.testing.assert_allclose(_np(x), ref, rtol=1e-6 if dtype == np.float32 else 1e-13)
        np.testing.assert_array_equal(_np(y), ya)  # the operand is untouched


def test_add_alpha_is_one_rounding(device):
    xa, ya = _rand(4096, seed=3), _rand(4096, seed=4)
    x, y = ember.tensor(xa, device=device), ember.tensor(ya, device=device)
    x.add_(y, alpha=-0.01)
    ref = _fma32(xa, -0.01, ya)
    if device == "cpu":
        # Exactly PyTorch's fmadd (up to the rare double rounding of the reference).
        assert np.mean(_np(x) == ref) > 0.999
    np.testing.assert_allclose(_np(x), ref, rtol=2e-7, atol=1e-7)
    x2 = ember.tensor(xa, device=device)
    x2.sub_(y, alpha=3)
    np.testing.assert_allclose(_np(x2), xa - 3 * ya, rtol=1e-6, atol=1e-6)


def test_inplace_scalars(device):
    xa = _rand(1000, 33, seed=5)
    x = ember.tensor(xa, device=device)
    x.mul_(0.9).add_(2).div_(4).sub_(1, alpha=0.5)
    ref = ((xa * np.float32(0.9)) + 2) / 4 - 0.5
    np.testing.assert_allclose(_np(x), ref, rtol=1e-6, atol=1e-6)
    x += 1
    x *= 2.5
    x -= 0.25
    x /= 2
    np.testing.assert_allclose(_np(x), ((ref + 1) * 2.5 - 0.25) / 2, rtol=1e-6, atol=1e-6)
    assert x.dtype == ember.float32
    # A 0-dim tensor of the same dtype is a scalar operand too.
    x.mul_(ember.tensor(2.0, device=device))
    np.testing.assert_allclose(_np(x), ((ref + 1) * 2.5 - 0.25), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("yshape", [(64,), (1, 64), (32, 1), (1, 1), (5, 1, 64), (1, 32, 1)])
def test_inplace_broadcast_operand(device, yshape):
    xa = _rand(5, 32, 64, seed=6)
    ya = _rand(*yshape, seed=7) + 3.0
    for name, op in [("add_", np.add), ("mul_", np.multiply), ("div_", np.divide)]:
        x = ember.tensor(xa, device=device)
        getattr(x, name)(ember.tensor(ya, device=device))
        np.testing.assert_allclose(_np(x), op(xa, ya), rtol=1e-6, atol=1e-6)


def test_inplace_strided_destination(device):
    base = ember.tensor(_rand(40, 30, seed=8), device=device)
    ref = _np(base).copy()
    view = base.t()[::2]  # a non-contiguous view: the out-of-place path
    view.add_(ember.ones(15, 40, device=device), alpha=2)
    ref.T[::2] += 2
    np.testing.assert_allclose(_np(base), ref, rtol=1e-6)
    # A contiguous slice of rows writes through to its base.
    rows = base[10:20]
    rows.mul_(0.0)
    ref[10:20] = 0
    np.testing.assert_array_equal(_np(base), ref)


def test_inplace_aliasing_operands(device):
    xa = _rand(64, 48, seed=9)
    x = ember.tensor(xa, device=device)
    x.add_(x)
    np.testing.assert_allclose(_np(x), 2 * xa, rtol=1e-6)
    x = ember.tensor(xa, device=device)
    x.sub_(x.flip(0))  # overlapping, different order: must read the old values
    np.testing.assert_allclose(_np(x), xa - xa[::-1], rtol=1e-6, atol=1e-6)
    x = ember.tensor(xa, device=device)
    x[1:].mul_(x[:-1])
    ref = xa.copy()
    ref[1:] = xa[1:] * xa[:-1]
    np.testing.assert_allclose(_np(x), ref, rtol=1e-6)


def test_inplace_dtype_rules(device):
    x = ember.ones(4, device=device)
    x.add_(ember.tensor([1.0, 2.0, 3.0, 4.0], dtype=ember.float64, device=device))
    assert x.dtype == ember.float32
    np.testing.assert_array_equal(_np(x), [2, 3, 4, 5])
    i = ember.tensor([1, 2, 3], device=device)
    i.mul_(3)
    i.add_(ember.tensor([1, 1, 1], device=device), alpha=2)
    assert i.dtype == ember.int64
    np.testing.assert_array_equal(_np(i), [5, 8, 11])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.mul_(0.5)
    with pytest.raises(RuntimeError, match="alpha"):
        i.add_(i, alpha=0.5)


def test_inplace_bumps_version_for_autograd(device):
    w = ember.tensor(_rand(8, 8, seed=10), device=device, requires_grad=True)
    h = ember.tensor(_rand(8, 8, seed=11), device=device)
    loss = (w * h).sum()  # saves h
    with ember.no_grad():
        h.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_inplace_records_autograd_when_needed(device):
    a = ember.tensor(_rand(6, 5, seed=12), device=device, requires_grad=True)
    b = ember.tensor(_rand(6, 5, seed=13), device=device, requires_grad=True)
    y = a * 1.0
    y.add_(b, alpha=3).mul_(b)
    y.sum().backward()
    bn, an = _np(b).copy(), _np(a).copy()  # numpy() shares memory with the tensor
    np.testing.assert_allclose(_np(a.grad), bn, rtol=1e-6)
    np.testing.assert_allclose(_np(b.grad), an + 6 * bn, rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        a.add_(1)
    with ember.no_grad():  # an optimizer's update of a parameter
        a.add_(b, alpha=-0.5)
    np.testing.assert_allclose(_np(a), an - 0.5 * bn, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("src_dtype", [np.float32, np.float64, np.int64])
def test_copy_values_broadcast_and_cast(device, src_dtype):
    dst = ember.zeros(6, 40, device=device)
    src = np.arange(40).astype(src_dtype)
    dst.copy_(ember.tensor(src, device=device))
    np.testing.assert_array_equal(_np(dst), np.broadcast_to(src, (6, 40)).astype(np.float32))
    big = _rand(1 << 17, seed=14)
    d2 = ember.empty(1 << 17, device=device)
    d2.copy_(ember.tensor(big, device=device))
    np.testing.assert_array_equal(_np(d2), big)
    other = "gpu" if device == "cpu" else "cpu"
    d3 = ember.empty(40, device=device)
    d3.copy_(ember.tensor(src.astype(np.float32), device=other))  # no float64 on the gpu
    np.testing.assert_array_equal(_np(d3), src.astype(np.float32))


def test_copy_overlapping_and_autograd(device):
    xa = _rand(50, seed=15)
    x = ember.tensor(xa, device=device)
    x[1:].copy_(x[:-1])
    ref = xa.copy()
    ref[1:] = xa[:-1]
    np.testing.assert_array_equal(_np(x), ref)
    s = ember.tensor(xa, device=device, requires_grad=True)
    d = ember.zeros(50, device=device)
    d.copy_(s)
    (d * 2).sum().backward()
    np.testing.assert_array_equal(_np(s.grad), np.full(50, 2, np.float32))
    with pytest.raises(RuntimeError, match="broadcastable"):
        ember.zeros(3, device=device).copy_(ember.zeros(4, device=device))


@pytest.mark.parametrize("m,k,n", [(128, 512, 512), (64, 256, 96), (100, 1024, 33), (65, 512, 1)])
def test_matmul_transposed_weight(device, m, k, n):
    x, w = _rand(m, k, seed=16), _rand(n, k, seed=17)
    ref = x.astype(np.float64) @ w.astype(np.float64).T
    xt, wt = ember.tensor(x, device=device), ember.tensor(w, device=device)
    np.testing.assert_allclose(_np(xt @ wt.t()), ref, rtol=1e-4, atol=1e-3)
    b = _rand(n, seed=18)
    lin = ember.nn.functional.linear(xt, wt, ember.tensor(b, device=device))
    np.testing.assert_allclose(_np(lin), ref + b, rtol=1e-4, atol=1e-3)
    # A transposed view with an offset (a slice of a bigger weight).
    big = ember.tensor(_rand(n + 3, k, seed=19), device=device)
    sub = big[3:]
    ref2 = x.astype(np.float64) @ _np(sub).astype(np.float64).T
    np.testing.assert_allclose(_np(xt @ sub.t()), ref2, rtol=1e-4, atol=1e-3)
