"""Reductions over all or given dims (keepdim), max/min named tuples, var/std correction,
logsumexp, norm, all/any, cumsum/cumprod, softmax/log_softmax — against numpy."""

import numpy as np
import pytest

import ember

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4, 5)).astype(np.float32)


def npy(t):
    return t.detach().cpu().numpy()


def close(t, ref, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(npy(t), np.asarray(ref), rtol=rtol, atol=atol, equal_nan=True)


DIMS = [None, 0, 1, -1, (0, 2), (1, -1), (0, 1, 2)]

RED = [
    ("sum", np.sum),
    ("mean", np.mean),
    ("prod", np.prod),
    ("amax", np.max),
    ("amin", np.min),
    ("logsumexp", None),
    ("var", lambda a, axis, keepdims: np.var(a, axis=axis, keepdims=keepdims, ddof=1)),
    ("std", lambda a, axis, keepdims: np.std(a, axis=axis, keepdims=keepdims, ddof=1)),
    ("nansum", np.nansum),
]


def _lse(a, axis, keepdims):
    m = np.max(a, axis=axis, keepdims=True)
    r = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis)


@pytest.mark.parametrize("name, ref", RED, ids=[r[0] for r in RED])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_reduction(device, name, ref, dim, keepdim):
    ref = ref or _lse
    t = ember.tensor(A, device=device)
    fn = getattr(t, name)
    if dim is None:
        if name in ("prod", "logsumexp") or keepdim:
            if name == "logsumexp":
                pytest.skip("logsumexp requires dim")
            if name == "prod":
                close(fn(), np.prod(A), rtol=1e-4)
                return
            if keepdim:
                pytest.skip("dim=None with keepdim is not a PyTorch overload for every op")
        got = fn()
        assert got.dim() == 0
        close(got, ref(A, axis=None, keepdims=False), rtol=1e-4)
        return
    if name == "prod" and isinstance(dim, tuple):
        pytest.skip("prod takes a single dim in PyTorch")
    want = ref(A, axis=dim, keepdims=keepdim)
    got = fn(dim, keepdim=keepdim)
    assert tuple(got.shape) == np.shape(want)
    close(got, want, rtol=1e-4)
    close(getattr(ember, name)(t, dim, keepdim=keepdim), want, rtol=1e-4)
    # reductions over a non-contiguous view
    v = ember.tensor(np.ascontiguousarray(A.transpose(2, 0, 1)), device=device).permute(1, 2, 0)
    close(getattr(v, name)(dim, keepdim=keepdim), want, rtol=1e-4)


def test_sum_dtypes(device):
    i = ember.tensor([[1, 2], [3, 4]], dtype=ember.int32, device=device)
    assert i.sum().dtype == ember.int64  # integer sums accumulate in int64
    assert i.sum().item() == 10
    b = ember.tensor([True, True, False], device=device)
    assert b.sum().dtype == ember.int64 and b.sum().item() == 2
    if device == "cpu":  # no float64 on the GPU backend
        assert i.sum(dtype=ember.float64).dtype == ember.float64
    assert i.prod().dtype == ember.int64
    with pytest.raises(RuntimeError):
        i.mean()
    assert i.float().mean().item() == 2.5
    e = ember.zeros(0, 3, device=device)
    assert e.sum().item() == 0.0
    np.testing.assert_array_equal(npy(e.sum(0)), np.zeros(3))
    assert e.prod().item() == 1.0
    assert np.isnan(e.mean().item())


def test_max_min_with_dim(device):
    t = ember.tensor(A, device=device)
    r = t.max(dim=1)
    assert type(r).__name__ == "max"
    assert r._fields == ("values", "indices")
    close(r.values, A.max(1))
    np.testing.assert_array_equal(npy(r.indices), A.argmax(1))
    assert r.indices.dtype == ember.int64
    v, i = t.min(-1, keepdim=True)
    close(v, A.min(-1, keepdims=True))
    np.testing.assert_array_equal(npy(i), A.argmin(-1)[..., None])
    assert t.max().dim() == 0
    close(t.max(), A.max())
    close(ember.max(t, 2).values, A.max(2))
    close(ember.min(t), A.min())
    # binary max/min
    close(ember.max(t, ember.zeros_like(t)), np.maximum(A, 0))
    close(ember.min(t, ember.zeros_like(t)), np.minimum(A, 0))


def test_max_ties_take_first_index(device):
    t = ember.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]], device=device)
    np.testing.assert_array_equal(npy(t.max(1).indices), [1, 0])
    np.testing.assert_array_equal(npy(t.argmax(1)), [1, 0])
    np.testing.assert_array_equal(npy(t.argmin(1)), [3, 0])
    assert t.argmax().item() == 1


def test_argmax_argmin(device):
    t = ember.tensor(A, device=device)
    assert t.argmax().item() == int(A.argmax())
    assert t.argmin().item() == int(A.argmin())
    np.testing.assert_array_equal(npy(t.argmax(0)), A.argmax(0))
    np.testing.assert_array_equal(npy(t.argmin(2, keepdim=True)), A.argmin(2)[..., None])


def test_nan_in_reductions(device):
    t = ember.tensor([[1.0, float("nan"), 3.0], [4.0, 5.0, 6.0]], device=device)
    assert np.isnan(t.max().item()) and np.isnan(t.sum().item())
    close(t.max(1).values, [np.nan, 6.0])
    np.testing.assert_array_equal(npy(t.max(1).indices)[0], 1)
    np.testing.assert_array_equal(npy(t.argmax(1)), [1, 2])
    close(t.amin(1), [np.nan, 4.0])
    close(t.nansum(1), [4.0, 15.0])
    close(t.nanmean(1), [2.0, 5.0])


def test_var_std_correction(device):
    t = ember.tensor(A, device=device)
    close(t.var(), A.var(ddof=1), rtol=1e-4)
    close(t.var(unbiased=False), A.var(), rtol=1e-4)
    close(t.var(1, correction=0), A.var(1), rtol=1e-4)
    close(t.var(1, correction=2), A.var(1, ddof=2), rtol=1e-4)
    close(t.std(dim=(0, 2), correction=0, keepdim=True), A.std((0, 2), keepdims=True), rtol=1e-4)
    close(t.std(0, unbiased=True), A.std(0, ddof=1), rtol=1e-4)
    s, m = ember.std_mean(t, 1)
    close(s, A.std(1, ddof=1), rtol=1e-4)
    close(m, A.mean(1), rtol=1e-4)
    v, m = ember.var_mean(t, dim=0, correction=0)
    close(v, A.var(0), rtol=1e-4)
    one = ember.tensor([2.0], device=device)
    assert np.isnan(one.var().item())  # N - 1 == 0
    assert one.var(correction=0).item() == 0.0


def test_norm(device):
    t = ember.tensor(A, device=device)
    close(t.norm(), np.linalg.norm(A.reshape(-1)), rtol=1e-5)
    close(t.norm(p=1), np.abs(A).sum(), rtol=1e-5)
    close(t.norm(p=3), (np.abs(A) ** 3).sum() ** (1 / 3), rtol=1e-5)
    close(t.norm(p=float("inf")), np.abs(A).max())
    close(t.norm(p=float("-inf")), np.abs(A).min())
    close(t.norm(dim=1), np.linalg.norm(A, axis=1), rtol=1e-5)
    close(t.norm(2, dim=(0, 2), keepdim=True), np.sqrt((A**2).sum((0, 2), keepdims=True)))
    close(t.norm(p=0), np.count_nonzero(A))
    close(ember.norm(t, p="fro"), np.linalg.norm(A.reshape(-1)), rtol=1e-5)
    close(ember.linalg.vector_norm(t, ord=1, dim=-1), np.abs(A).sum(-1), rtol=1e-5)


def test_all_any(device):
    b = np.array([[True, False, True], [True, True, True]])
    t = ember.tensor(b, device=device)
    assert t.all().item() is False and t.any().item() is True
    np.testing.assert_array_equal(npy(t.all(1)), b.all(1))
    np.testing.assert_array_equal(npy(t.any(0)), b.any(0))
    np.testing.assert_array_equal(npy(t.all(dim=1, keepdim=True)), b.all(1, keepdims=True))
    assert t.all().dtype == ember.bool
    f = ember.tensor([0.0, 2.0], device=device)
    assert f.any().item() is True and f.all().item() is False
    assert ember.zeros(0, device=device).all().item() is True
    assert ember.zeros(0, device=device).any().item() is False
    i = ember.tensor([1, 2, 3], device=device)
    assert ember.all(i).item() is True
    assert (i.all()).dtype == ember.bool


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_cumsum_cumprod(device, dim):
    t = ember.tensor(A, device=device)
    close(t.cumsum(dim), np.cumsum(A, dim), rtol=1e-5, atol=1e-5)
    close(ember.cumsum(t, dim=dim), np.cumsum(A, dim), rtol=1e-5, atol=1e-5)
    close(t.cumprod(dim), np.cumprod(A, dim), rtol=1e-5, atol=1e-5)
    close(t.transpose(0, 2).cumsum(dim), np.cumsum(A.transpose(2, 1, 0), dim), rtol=1e-5, atol=1e-5)


def test_cumsum_int_and_dtype(device):
    i = ember.tensor([1, 2, 3], dtype=ember.int32, device=device)
    c = i.cumsum(0)
    assert c.dtype == ember.int64
    assert c.tolist() == [1, 3, 6]
    assert i.cumsum(0, dtype=ember.float32).dtype == ember.float32
    b = ember.tensor([True, True, False], device=device)
    assert b.cumsum(0).tolist() == [1, 2, 2]
    z = ember.tensor([2.0, 0.0, 3.0], device=device)
    assert z.cumprod(0).tolist() == [2.0, 0.0, 0.0]


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax(device, dim):
    t = ember.tensor(A * 10, device=device)
    a = (A * 10).astype(np.float64)
    e = np.exp(a - a.max(dim, keepdims=True))
    sm = e / e.sum(dim, keepdims=True)
    close(t.softmax(dim), sm, rtol=1e-5, atol=1e-6)
    close(ember.softmax(t, dim=dim), sm, rtol=1e-5, atol=1e-6)
    close(t.log_softmax(dim), np.log(sm), rtol=1e-5, atol=1e-5)
    close(ember.log_softmax(t, dim), np.log(sm), rtol=1e-5, atol=1e-5)
    if device == "cpu":
        assert t.softmax(dim, dtype=ember.float64).dtype == ember.float64


def test_softmax_extremes(device):
    t = ember.tensor([[1000.0, 0.0], [-1000.0, -1000.0]], device=device)
    close(t.softmax(1), [[1.0, 0.0], [0.5, 0.5]])
    close(t.log_softmax(1), [[0.0, -1000.0], [np.log(0.5), np.log(0.5)]])
    m = ember.tensor([[float("-inf"), 0.0]], device=device)
    close(m.softmax(1), [[0.0, 1.0]])
    close(
        ember.tensor([1e4, 1e4 + 1.0], device=device).logsumexp(0), 1e4 + 1 + np.log1p(np.exp(-1))
    )
    assert ember.tensor([float("-inf")] * 2, device=device).logsumexp(0).item() == float("-inf")


def test_mean_float_dtypes(device):
    h = ember.tensor([1.0, 2.0, 4.0], dtype=ember.float16, device=device)
    assert h.mean().dtype == ember.float16
    assert abs(h.mean().item() - 7 / 3) < 1e-2
    if device != "cpu":
        return  # no float64 on the GPU backend
    d = ember.tensor(A.astype(np.float64), device=device)
    np.testing.assert_allclose(d.mean().item(), A.astype(np.float64).mean(), rtol=1e-12)


def test_large_sum_precision(device):
    t = ember.ones(10_000_000, device=device)
    assert t.sum().item() == 1e7
    assert abs(t.mean().item() - 1.0) < 1e-6


def test_aminmax_count_nonzero(device):
    t = ember.tensor([[3.0, -1.0, 0.0], [0.0, 2.0, 5.0]], device=device)
    r = ember.aminmax(t)
    assert r.min.item() == -1.0 and r.max.item() == 5.0
    assert ember.count_nonzero(t).item() == 4
    np.testing.assert_array_equal(npy(ember.count_nonzero(t, dim=0)), [1, 2, 1])
