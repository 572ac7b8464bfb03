"""index_select / index_add through the backends' row kernels (cpu: whole rows of the
dims after `dim` copied or added per index), against numpy: every dim, dtypes, views with
offsets, non-contiguous inputs (the composed path), repeated indices, empty shapes, errors,
and the embedding gradient they carry."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F


def _t(a, device):
    return ember.tensor(a, device=device)


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_index_select_every_dim(device, dim):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 5, 6)).astype(np.float32)
    idx = np.array([3, 0, 0, 2, 1])
    idx = idx[idx < a.shape[dim]]
    got = _t(a, device).index_select(dim, _t(idx, device)).cpu().numpy()
    np.testing.assert_array_equal(got, np.take(a, idx, axis=dim))


@pytest.mark.parametrize("dtype", ["float64", "int64", "int32", "uint8", "bool", "float16"])
def test_index_select_dtypes(device, dtype):
    if device == "gpu" and dtype == "float64":
        pytest.skip("float64 is not stored on the gpu")
    a = (np.arange(60).reshape(3, 20) % 7).astype(dtype)
    idx = np.array([2, 2, 0])
    x = ember.tensor(a, device=device)
    got = x.index_select(0, _t(idx, device)).cpu().numpy()
    np.testing.assert_array_equal(got, a[idx])
    got = x.index_select(1, _t(np.array([19, 0, 5]), device)).cpu().numpy()
    np.testing.assert_array_equal(got, a[:, [19, 0, 5]])


def test_index_select_views(device):
    a = np.arange(120, dtype=np.float32).reshape(10, 12)
    x = _t(a, device)
    idx = _t(np.array([4, 1, 1]), device)
    # contiguous with a storage offset (the row kernel), and transposed (the composed path)
    np.testing.assert_array_equal(x[3:].index_select(0, idx).cpu().numpy(), a[3:][[4, 1, 1]])
    np.testing.assert_array_equal(x.t().index_select(0, idx).cpu().numpy(), a.T[[4, 1, 1]])
    np.testing.assert_array_equal(
        x[:, 2:].index_select(1, idx).cpu().numpy(), a[:, 2:][:, [4, 1, 1]]
    )


def test_index_select_empty_and_scalar(device):
    x = ember.zeros(3, 0, device=device)
    assert x.index_select(0, _t(np.array([1, 1]), device)).shape == (2, 0)
    y = ember.ones(3, 4, device=device)
    assert y.index_select(1, ember.tensor([], dtype=ember.int64, device=device)).shape == (3, 0)
    s = ember.tensor(5.0, device=device)
    assert s.index_select(0, ember.tensor([0], device=device)).item() == 5.0


def test_index_select_out_of_range(device):
    x = ember.ones(3, 4, device=device)
    with pytest.raises(RuntimeError, match="out of"):
        x.index_select(0, ember.tensor([0, 3], device=device)).cpu()
        if device == "gpu":
            ember.gpu.synchronize()


def test_index_select_large_parallel(device):
    # above the parallel threshold: rows split across threads
    rng = np.random.default_rng(1)
    a = rng.standard_normal((500, 300)).astype(np.float32)
    idx = rng.integers(0, 500, 700)
    got = _t(a, device).index_select(0, _t(idx, device)).cpu().numpy()
    np.testing.assert_array_equal(got, a[idx])
    idx1 = rng.integers(0, 300, 400)
    got = _t(a, device).index_select(1, _t(idx1, device)).cpu().numpy()
    np.testing.assert_array_equal(got, a[:, idx1])


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_index_add_repeated_indices(device, dim):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 4, 5)).astype(np.float32)
    idx = np.array([1, 1, 0, 1])[: min(4, a.shape[dim] + 1)]
    shape = list(a.shape)
    shape[dim] = len(idx)
    src = rng.standard_normal(shape).astype(np.float32)
    want = a.copy()
    np.add.at(want, (slice(None),) * dim + (idx,), src)
    got = _t(a, device).index_add(dim, _t(idx, device), _t(src, device)).cpu().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # alpha scales the source
    got = _t(a, device).index_add(dim, _t(idx, device), _t(src, device), alpha=-2.0)
    want2 = a.copy()
    np.add.at(want2, (slice(None),) * dim + (idx,), -2.0 * src)
    np.testing.assert_allclose(got.cpu().numpy(), want2, rtol=1e-6, atol=1e-6)


def test_index_add_float64_and_views(device):
    if device == "gpu":
        pytest.skip("float64 is not stored on the gpu")
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    src = np.arange(8, dtype=np.float64).reshape(2, 4)
    x = ember.tensor(a).t()  # a transposed self: the kernel copies it first
    got = x.index_add(1, ember.tensor([2, 2]), ember.tensor(src).t()).numpy()
    want = a.T.copy()
    np.add.at(want, (slice(None), [2, 2]), src.T)
    np.testing.assert_array_equal(got, want)
    # the original is untouched (index_add is out of place)
    np.testing.assert_array_equal(x.numpy(), a.T)


def test_index_add_errors(device):
    x = ember.zeros(3, 4, device=device)
    with pytest.raises(RuntimeError, match="Number of indices"):
        x.index_add(0, ember.tensor([0, 1], device=device), ember.ones(3, 4, device=device))
    with pytest.raises(RuntimeError, match="out of"):
        x.index_add(0, ember.tensor([5], device=device), ember.ones(1, 4, device=device)).cpu()
        if device == "gpu":
            ember.gpu.synchronize()


def test_index_add_gradients(device):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 3)).astype(np.float32)
    src = rng.standard_normal((5, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    idx = np.array([3, 0, 3, 3, 1])
    x = _t(a, device).requires_grad_()
    s = _t(src, device).requires_grad_()
    (x.index_add(0, _t(idx, device), s) * _t(w, device)).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), w, rtol=1e-6)
    np.testing.assert_allclose(s.grad.cpu().numpy(), w[idx], rtol=1e-6)


def test_embedding_gradient_accumulates_repeats(device):
    rng = np.random.default_rng(4)
    weight = rng.standard_normal((10, 6)).astype(np.float32)
    ids = np.array([[1, 7, 1], [3, 1, 9]])
    g = rng.standard_normal((2, 3, 6)).astype(np.float32)
    w = _t(weight, device).requires_grad_()
    out = F.embedding(_t(ids, device), w)
    np.testing.assert_array_equal(out.detach().cpu().numpy(), weight[ids])
    (out * _t(g, device)).sum().backward()
    want = np.zeros_like(weight)
    np.add.at(want, ids.reshape(-1), g.reshape(-1, 6))
    np.testing.assert_allclose(w.grad.cpu().numpy(), want, rtol=1e-5, atol=1e-6)


def test_index_add_expanded_source(device):
    # a gradient often arrives expanded (stride 0): the row kernel materialises it
    x = ember.zeros(5, 3, device=device)
    src = ember.tensor([[1.0, 2.0, 3.0]], device=device).expand(4, 3)
    got = x.index_add(0, ember.tensor([4, 0, 4, 4], device=device), src).cpu().numpy()
    want = np.zeros((5, 3), np.float32)
    want[0] = [1, 2, 3]
    want[4] = [3, 6, 9]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fill", [0.0, -0.0, 2.5])
def test_index_add_into_broadcast_scalar(device, fill):
    # the embedding gradient adds into a broadcast zero; other broadcast values keep theirs
    x = ember.tensor(fill, device=device).expand(4, 2)
    src = ember.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    got = x.index_add(0, ember.tensor([3, 3], device=device), src).cpu().numpy()
    want = np.full((4, 2), fill, np.float32)
    want[3] += [4.0, 6.0]
    np.testing.assert_array_equal(got, want)
    assert np.signbit(got[0, 0]) == np.signbit(np.float32(fill))
