"""Sorting/selection, unique, scans and special functions against numpy, on
each device: values, indices, NaN ordering, ties, empty tensors, errors and
gradients (closed form or finite differences in float64)."""

import math

import numpy as np
import pytest

import ember

rng = np.random.default_rng(7)


def T(a, device, requires_grad=False):
    t = ember.tensor(np.asarray(a)).to(device)
    return t.requires_grad_(requires_grad) if requires_grad else t


def N(t):
    return t.detach().cpu().numpy()


def ties(shape, hi=4, dtype="float32"):
    return rng.integers(0, hi, size=shape).astype(dtype)


def np_sort(a, axis, descending):
    """Stable in both directions with NaN largest (PyTorch's order)."""
    if descending:
        # dense ranks (np.unique puts NaN last); a stable sort of -rank keeps ties in order
        ranks = np.apply_along_axis(
            lambda c: np.unique(c, return_inverse=True)[1].reshape(-1), axis, a
        )
        idx = np.argsort(-ranks, axis=axis, kind="stable")
    else:
        idx = np.argsort(a, axis=axis, kind="stable")
    return np.take_along_axis(a, idx, axis), idx


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "float16"])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_matches_numpy(device, dtype, descending):
    for a in (rng.normal(size=(5, 7)).astype(dtype) * 10, ties((6, 9), dtype=dtype)):
        for dim in (0, 1, -1):
            v, i = T(a, device).sort(dim=dim, descending=descending)
            ev, ei = np_sort(a, dim % 2, descending)
            assert v.dtype == ember.tensor(a).dtype and i.dtype == ember.int64
            np.testing.assert_array_equal(N(v), ev)
            np.testing.assert_array_equal(N(i), ei)
            np.testing.assert_array_equal(
                N(T(a, device).argsort(dim, descending=descending, stable=True)), ei
            )


def test_sort_nan_and_strided(device):
    a = np.array([[3, np.nan, 1, 3, -0.5, np.nan, 1]], dtype="float32")
    v, i = T(a, device).sort()
    np.testing.assert_array_equal(N(v), [[-0.5, 1, 1, 3, 3, np.nan, np.nan]])
    np.testing.assert_array_equal(N(i), [[4, 2, 6, 0, 3, 1, 5]])
    v, i = T(a, device).sort(descending=True)
    np.testing.assert_array_equal(N(v), [[np.nan, np.nan, 3, 3, 1, 1, -0.5]])
    np.testing.assert_array_equal(N(i), [[1, 5, 0, 3, 2, 6, 4]])
    b = rng.normal(size=(4, 6, 5)).astype("float32")
    x = T(b, device).permute(2, 0, 1)[:, ::2]
    v, i = ember.sort(x, 1)
    ref = np.transpose(b, (2, 0, 1))[:, ::2]
    np.testing.assert_array_equal(N(v), np.sort(ref, axis=1))
    np.testing.assert_array_equal(N(i), np.argsort(ref, axis=1, kind="stable"))
    np.testing.assert_array_equal(N(x.msort()), np.sort(ref, axis=0))


def test_sort_empty_scalar_bool(device):
    v, i = T(np.zeros((3, 0), "float32"), device).sort(1)
    assert tuple(v.shape) == (3, 0) and tuple(i.shape) == (3, 0)
    v, i = T(np.array([2.5], "float32"), device).reshape(()).sort()
    assert v.shape == () and v.item() == 2.5 and i.item() == 0
    b = np.array([True, False, True, False])
    np.testing.assert_array_equal(N(T(b, device).sort().values), np.sort(b))
    np.testing.assert_array_equal(N(T(b, device).argsort()), [1, 3, 0, 2])
    assert isinstance(T(b, device).sort(), ember.return_types.sort)


@pytest.mark.parametrize("largest", [True, False])
def test_topk(device, largest):
    for a in (rng.normal(size=(6, 40)).astype("float32"), ties((6, 40))):
        for k in (0, 1, 5, 40):
            v, i = T(a, device).topk(k, largest=largest)
            ev, ei = np_sort(a, 1, descending=largest)
            np.testing.assert_array_equal(N(v), ev[:, :k])
            np.testing.assert_array_equal(N(i), ei[:, :k])
    a = np.array([1, np.nan, 5, 5, -2], "float32")
    v, i = T(a, device).topk(3)
    np.testing.assert_array_equal(N(v), [np.nan, 5, 5])
    np.testing.assert_array_equal(N(i), [1, 2, 3])
    v, i = ember.topk(T(a, device), 2, dim=0, largest=False)
    np.testing.assert_array_equal(N(v), [-2, 1])


def test_kthvalue_median_mode(device):
    for a in (rng.normal(size=(5, 8)).astype("float64"), ties((5, 8), hi=3, dtype="float64")):
        for k in (1, 3, 8):
            v, i = T(a, device).kthvalue(k, dim=1)
            ev = np.partition(a, k - 1, axis=1)[:, k - 1]
            np.testing.assert_array_equal(N(v), ev)
            np.testing.assert_array_equal(np.take_along_axis(a, N(i)[:, None], 1)[:, 0], ev)
        v, i = T(a, device).median(0, keepdim=True)
        ev = np.sort(a, axis=0)[(a.shape[0] - 1) // 2][None]
        np.testing.assert_array_equal(N(v), ev)
        np.testing.assert_array_equal(np.take_along_axis(a, N(i), 0), ev)
        assert T(a, device).median().item() == np.sort(a, axis=None)[(a.size - 1) // 2]
    a = np.array([[1, np.nan, 3, 2], [4, 1, 2, 3]], "float32")
    v, i = T(a, device).median(1)
    np.testing.assert_array_equal(N(v), [np.nan, 2])
    np.testing.assert_array_equal(N(i), [1, 2])
    v, i = T(a, device).nanmedian(1)
    np.testing.assert_array_equal(N(v), [2, 2])
    assert math.isnan(T(a, device).median().item())
    assert T(a, device).nanmedian().item() == 2.0
    assert math.isnan(T(np.zeros(0, "float32"), device).median().item())
    m = np.array([[2, 1, 2, 1, 3], [5, 5, 4, 4, 4]])
    v, i = T(m, device).mode()
    np.testing.assert_array_equal(N(v), [1, 4])
    np.testing.assert_array_equal(N(i), [3, 4])
    r = ember.mode(T(ties((4, 30), hi=5), device), 1, keepdim=True)
    assert isinstance(r, ember.return_types.mode) and tuple(r.values.shape) == (4, 1)


def test_unique(device):
    for a in (rng.integers(-3, 4, size=(5, 6)), ties((40,), hi=6)):
        u, inv, c = ember.unique(T(a, device), return_inverse=True, return_counts=True)
        eu, einv, ec = np.unique(a, return_inverse=True, return_counts=True)
        np.testing.assert_array_equal(N(u), eu)
        np.testing.assert_array_equal(N(inv), einv.reshape(a.shape))
        np.testing.assert_array_equal(N(c), ec)
        np.testing.assert_array_equal(N(T(a, device).unique(sorted=False)), eu)
    u, c = T(np.array([np.nan, 1, np.nan], "float32"), device).unique(return_counts=True)
    np.testing.assert_array_equal(N(u), [1, np.nan, np.nan])
    np.testing.assert_array_equal(N(c), [1, 1, 1])
    a = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    u, inv, c = T(a, device).unique_consecutive(return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(N(u), [1, 2, 3, 1, 2])
    np.testing.assert_array_equal(N(inv), [0, 0, 1, 1, 2, 3, 3, 4])
    np.testing.assert_array_equal(N(c), [2, 2, 1, 2, 1])
    m = rng.integers(0, 2, size=(8, 3))
    u, inv, c = ember.unique(T(m, device), dim=0, return_inverse=True, return_counts=True)
    eu, einv, ec = np.unique(m, axis=0, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(N(u), eu)
    np.testing.assert_array_equal(N(inv), einv.reshape(-1))
    np.testing.assert_array_equal(N(c), ec)
    u = ember.unique(T(m.T, device), dim=1)
    np.testing.assert_array_equal(N(u), np.unique(m.T, axis=1))
    assert tuple(T(np.zeros(0), device).unique().shape) == (0,)


def test_errors(device):
    x = T(rng.normal(size=(3, 4)).astype("float32"), device)
    with pytest.raises(RuntimeError, match=r"topk.*5.*4"):
        x.topk(5)
    with pytest.raises(RuntimeError, match="kthvalue"):
        x.kthvalue(0)
    with pytest.raises(RuntimeError, match="kthvalue"):
        x.kthvalue(5, 1)
    for f in (
        lambda: x.sort(2),
        lambda: x.argsort(-3),
        lambda: x.topk(1, 2),
        lambda: x.kthvalue(1, 2),
        lambda: x.median(2),
        lambda: x.mode(5),
        lambda: x.cummax(2),
    ):
        with pytest.raises(IndexError):
            f()
    # PyTorch 2.15 raises IndexError for an empty reduction dim (checked by hand).
    with pytest.raises(IndexError, match="mode"):
        T(np.zeros((2, 0), "float32"), device).mode(1)


def test_sort_family_gradients(device):
    a = rng.normal(size=(3, 5))
    g = rng.normal(size=(3, 5))
    x = T(a, device, True)
    v, i = x.sort(1, descending=True)
    (v * T(g, device)).sum().backward()
    expect = np.zeros_like(a)
    np.put_along_axis(expect, N(i), g, 1)
    np.testing.assert_allclose(N(x.grad), expect)

    x = T(a, device, True)
    v, i = x.topk(2, dim=0, largest=False)
    (v * T(g[:2], device)).sum().backward()
    expect = np.zeros_like(a)
    np.put_along_axis(expect, N(i), g[:2], 0)
    np.testing.assert_allclose(N(x.grad), expect)

    for fn in (
        lambda t: t.kthvalue(2, 1),
        lambda t: t.median(1),
        lambda t: t.nanmedian(1),
        lambda t: t.mode(1),
    ):
        x = T(a, device, True)
        v, i = fn(x)
        (v * T(g[:, 0], device)).sum().backward()
        expect = np.zeros_like(a)
        np.put_along_axis(expect, N(i)[:, None], g[:, :1], 1)
        np.testing.assert_allclose(N(x.grad), expect)

    # median of all elements: shared evenly among the elements equal to it
    x = T(np.array([2.0, 1.0, 2.0, 7.0]), device, True)
    x.median().backward()
    np.testing.assert_allclose(N(x.grad), [0.5, 0, 0.5, 0])

    x = T(np.array([1.0, 3.0, 2.0, 3.0, 0.0]), device, True)
    v, i = x.cummax(0)
    np.testing.assert_array_equal(N(i), [0, 1, 1, 3, 3])
    v.sum().backward()
    np.testing.assert_allclose(N(x.grad), [1, 2, 0, 2, 0])
    v, i = T(np.array([3.0, 1.0, 1.0, np.nan, 0.0]), device).cummin(0)
    np.testing.assert_array_equal(N(v), [3, 1, 1, np.nan, np.nan])
    np.testing.assert_array_equal(N(i), [0, 1, 2, 3, 3])


def _fd_check(f, a, device, eps=1e-6, atol=1e-6):
    x = T(a, device, True)
    f(x).sum().backward()
    num = np.zeros_like(a)
    for k in range(a.size):
        d = np.zeros_like(a)
        d.flat[k] = eps
        hi = N(f(T(a + d, device))).sum()
        lo = N(f(T(a - d, device))).sum()
        num.flat[k] = (hi - lo) / (2 * eps)
    np.testing.assert_allclose(N(x.grad), num, atol=atol, rtol=1e-5)


def test_special_values(device):
    xs = np.array([0.1, 0.5, 1.0, 2.5, 7.0, 30.0, -0.5, -2.5])
    np.testing.assert_allclose(N(T(xs, device).lgamma()), [math.lgamma(v) for v in xs], rtol=1e-13)
    h = 1e-5
    num = [(math.lgamma(v + h) - math.lgamma(v - h)) / (2 * h) for v in xs]
    np.testing.assert_allclose(N(T(xs, device).digamma()), num, rtol=1e-7, atol=1e-7)
    ys = np.linspace(-0.999, 0.999, 31)
    out = N(T(ys, device).erfinv())
    np.testing.assert_allclose([math.erf(v) for v in out], ys, atol=1e-15)
    assert N(T(np.array([1.0, -1.0]), device).erfinv()).tolist() == [math.inf, -math.inf]
    assert T(np.array([1, 2, 3]), device).lgamma().dtype == ember.float32
    np.testing.assert_allclose(
        N(T(np.array([1.0]), device).polygamma(1)), [math.pi**2 / 6], rtol=1e-12
    )
    np.testing.assert_allclose(
        N(T(np.array([2.5]), device).mvlgamma(2)),
        [math.lgamma(2.5) + math.lgamma(2.0) + 0.5 * math.log(math.pi)],
        rtol=1e-12,
    )


def test_special_gradients(device):
    a = np.array([0.3, 1.7, 4.2])
    _fd_check(lambda t: t.lgamma(), a, device)
    _fd_check(lambda t: t.digamma(), a, device, atol=1e-5)
    _fd_check(lambda t: t.erfinv(), np.array([-0.6, 0.1, 0.8]), device, atol=1e-5)
    _fd_check(lambda t: t.logcumsumexp(0), rng.normal(size=5), device)
    _fd_check(lambda t: t.sinc(), np.array([-1.3, 0.4, 2.2]), device)
    b = np.array([0.7, -1.1, 2.0])
    for name in ("hypot", "logaddexp", "logaddexp2", "xlogy"):
        bb = np.abs(b) if name == "xlogy" else b
        _fd_check(lambda t, n=name, bb=bb: getattr(t, n)(T(bb, device)), b, device)
        _fd_check(lambda t, n=name: getattr(T(b, device), n)(t), np.abs(b) + 0.1, device)
    x = T(np.array([0.0]), device, True)
    x.sinc().sum().backward()
    assert N(x.grad).tolist() == [0.0]


def test_math_helpers(device):
    a = rng.normal(size=(4, 6)).astype("float32")
    b = rng.normal(size=(4, 6)).astype("float32")
    x, y = T(a, device), T(b, device)
    np.testing.assert_allclose(N(x.hypot(y)), np.hypot(a, b), rtol=1e-6)
    np.testing.assert_allclose(N(x.logaddexp(y)), np.logaddexp(a, b), rtol=1e-6)
    np.testing.assert_allclose(N(ember.logaddexp2(x, y)), np.logaddexp2(a, b), rtol=1e-6)
    np.testing.assert_allclose(N(x.copysign(y)), np.copysign(a, b))
    np.testing.assert_allclose(N(x.copysign(-1.0)), -np.abs(a))
    np.testing.assert_allclose(N(x.sinc()), np.sinc(a), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(N(x.deg2rad()), np.deg2rad(a), rtol=1e-6)
    np.testing.assert_allclose(N(x.rad2deg()), np.rad2deg(a), rtol=1e-6)
    assert T(np.array([180]), device).deg2rad().dtype == ember.float32
    xl = N(
        T(np.array([0.0, 0.0, 2.0, 1.0]), device).xlogy(
            T(np.array([0.0, np.nan, 3.0, 0.0]), device)
        )
    )
    np.testing.assert_array_equal(xl[[0, 2, 3]], [0.0, 2 * math.log(3), -np.inf])
    assert math.isnan(xl[1])
    h = T(np.array([-1.5, 0.0, 2.0, np.nan], "float32"), device)
    np.testing.assert_array_equal(
        N(h.heaviside(T(np.array([0.5], "float32"), device))), [0, 0.5, 1, 0]
    )
    np.testing.assert_allclose(
        N(x.logcumsumexp(1)), np.logaddexp.accumulate(a.astype("f8"), axis=1), rtol=1e-5
    )
    for n in (1, 2, 3):
        for dim in (0, 1):
            np.testing.assert_allclose(N(x.diff(n, dim)), np.diff(a, n, axis=dim), rtol=1e-5)
    p, q = a[:, :1], a[:, -2:]
    np.testing.assert_allclose(
        N(ember.diff(x, dim=1, prepend=T(p, device), append=T(q, device))),
        np.diff(a, axis=1, prepend=p, append=q),
        rtol=1e-5,
    )
    bools = np.array([True, False, False, True])
    np.testing.assert_array_equal(N(T(bools, device).diff()), np.diff(bools))
    assert tuple(T(np.arange(3.0), device).diff(5).shape) == (0,)


def test_large_inputs_take_the_parallel_paths(device):
    a = rng.normal(size=(300, 300)).astype("float32")
    a[rng.random(a.shape) < 0.01] = np.nan
    v, i = T(a, device).sort(0, descending=True)
    ev, ei = np_sort(a, 0, True)
    np.testing.assert_array_equal(N(v), ev)
    np.testing.assert_array_equal(N(i), ei)
    b = ties((100_000,), hi=50)
    v, i = T(b, device).sort()
    np.testing.assert_array_equal(N(i), np.argsort(b, kind="stable"))
    v, i = T(b, device).topk(10, largest=False)
    np.testing.assert_array_equal(N(i), np.argsort(b, kind="stable")[:10])
    np.testing.assert_array_equal(N(T(b, device).unique()), np.unique(b))
