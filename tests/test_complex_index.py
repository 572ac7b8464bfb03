"""Index writes into complex tensors: x[idx] = v, x[mask] = v, index_put(_) with
accumulate, index_add, index_copy, index_fill, masked_scatter, masked_fill, scatter,
scatter_add, scatter_reduce (sum/mean). Values against numpy's own indexing (np.add.at,
put_along_axis), gradients against the rule of the real op on the (re, im) pairs. Both
devices; complex128 only on cpu (the gpu has no float64)."""

import numpy as np
import pytest

import ember as torch

RNG = np.random.default_rng(5)


def _c(shape, dt=np.complex64):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(dt)


def _np(t):
    return t.detach().cpu().numpy()


def _dts(device):
    return [np.complex64] + ([np.complex128] if device == "cpu" else [])


def test_setitem_and_index_put(device):
    for dt in _dts(device):
        a = _c((5, 3), dt)
        x = torch.tensor(a, device=device)
        idx = np.array([4, 0, 2])
        v = _c((3, 3), dt)
        x[torch.tensor(idx, device=device)] = torch.tensor(v, device=device)
        want = a.copy()
        want[idx] = v
        np.testing.assert_array_equal(_np(x), want)
        # a boolean mask with a complex Python scalar, and a column slice after an index
        mask = np.array([True, False, True, False, False])
        x[torch.tensor(mask, device=device)] = 2 - 1j
        want[mask] = 2 - 1j
        x[torch.tensor([1, 3], device=device), 1:] = torch.tensor(v[:2, :2], device=device)
        want[[1, 3], 1:] = v[:2, :2]
        np.testing.assert_array_equal(_np(x), want)
        # a real value into a complex tensor: imaginary part 0
        x[torch.tensor([0], device=device)] = 7.0
        want[0] = 7.0
        np.testing.assert_array_equal(_np(x), want)
        # accumulate with repeated indices (np.add.at), in place and out of place
        rep = np.array([1, 1, 4, 1])
        w = _c((4, 3), dt)
        out = x.index_put((torch.tensor(rep, device=device),), torch.tensor(w, device=device), True)
        want2 = want.copy()
        np.add.at(want2, rep, w)
        np.testing.assert_allclose(_np(out), want2, rtol=1e-6)
        np.testing.assert_array_equal(_np(x), want)  # out of place left x alone
        x.index_put_((torch.tensor(rep, device=device),), torch.tensor(w, device=device), True)
        np.testing.assert_allclose(_np(x), want2, rtol=1e-6)


def test_index_copy_fill_masked_scatter_fill(device):
    a = _c((4, 3))
    x = torch.tensor(a, device=device)
    src = _c((4, 2))
    got = x.index_copy(1, torch.tensor([2, 0], device=device), torch.tensor(src, device=device))
    want = a.copy()
    want[:, [2, 0]] = src
    np.testing.assert_array_equal(_np(got), want)
    got = x.index_fill(0, torch.tensor([1, 3], device=device), 1.5)
    want = a.copy()
    want[[1, 3]] = 1.5
    np.testing.assert_array_equal(_np(got), want)
    mask = RNG.random((4, 3)) > 0.5
    vals = _c(12)
    got = x.masked_scatter(torch.tensor(mask, device=device), torch.tensor(vals, device=device))
    want = a.copy()
    want[mask] = vals[: mask.sum()]
    np.testing.assert_array_equal(_np(got), want)
    got = x.masked_fill(torch.tensor(mask, device=device), 3 - 2j)
    want = a.copy()
    want[mask] = 3 - 2j
    np.testing.assert_array_equal(_np(got), want)


def test_index_add(device):
    for dt in _dts(device):
        a = _c((4, 3), dt)
        x = torch.tensor(a, device=device)
        idx = np.array([3, 0, 3])
        s0 = _c((3, 3), dt)
        got = x.index_add(0, torch.tensor(idx, device=device), torch.tensor(s0, device=device))
        want = a.copy()
        np.add.at(want, idx, s0)
        np.testing.assert_allclose(_np(got), want, rtol=1e-6)
        s1 = _c((4, 2), dt)
        got = torch.index_add(
            x, -1, torch.tensor([2, 2], device=device), torch.tensor(s1, device=device), alpha=2
        )
        want = a.copy()
        want[:, 2] += 2 * (s1[:, 0] + s1[:, 1])
        np.testing.assert_allclose(_np(got), want, rtol=1e-6)
        x.index_add_(0, torch.tensor(idx, device=device), torch.tensor(s0, device=device))
        want = a.copy()
        np.add.at(want, idx, s0)
        np.testing.assert_allclose(_np(x), want, rtol=1e-6)
    with pytest.raises(RuntimeError, match="same scalar type"):
        torch.zeros(3, device=device).index_add(
            0, torch.tensor([0], device=device), torch.tensor([1j], device=device)
        )


def test_scatter_scatter_add_reduce(device):
    a = _c((3, 4))
    x = torch.tensor(a, device=device)
    idx = np.array([[2, 0, 1, 1], [0, 1, 2, 0]])
    src = _c((2, 4))
    ti, ts = torch.tensor(idx, device=device), torch.tensor(src, device=device)
    got = x.scatter(0, ti, ts)
    want = a.copy()
    np.put_along_axis(want, idx, src, 0)  # indices unique per column: order-free
    np.testing.assert_array_equal(_np(got), want)
    got = x.scatter_add(0, ti, ts)
    want = a.copy()
    for (i, j), k in np.ndenumerate(idx):
        want[k, j] += src[i, j]
    np.testing.assert_allclose(_np(got), want, rtol=1e-6)
    # along the last dim with a negative dim, and a complex Python number as the value
    idx1 = np.array([[3], [0], [2]])
    got = x.scatter(-1, torch.tensor(idx1, device=device), 1 + 2j)
    want = a.copy()
    np.put_along_axis(want, idx1, 1 + 2j, 1)
    np.testing.assert_array_equal(_np(got), want)
    got = torch.scatter(x, 1, torch.tensor(idx1, device=device), 4.0)
    want = a.copy()
    np.put_along_axis(want, idx1, 4.0, 1)
    np.testing.assert_array_equal(_np(got), want)
    # scatter_reduce sum / mean (include_self False): parts reduce independently
    got = x.scatter_reduce(0, ti, ts, "sum", include_self=False)
    want, cnt = a.copy(), np.zeros(a.shape)
    hit = np.zeros(a.shape, bool)
    acc = np.zeros(a.shape, np.complex64)
    for (i, j), k in np.ndenumerate(idx):
        acc[k, j] += src[i, j]
        cnt[k, j] += 1
        hit[k, j] = True
    want[hit] = acc[hit]
    np.testing.assert_allclose(_np(got), want, rtol=1e-6)
    got = x.scatter_reduce(0, ti, ts, "mean", include_self=False)
    want = a.copy()
    want[hit] = acc[hit] / cnt[hit]
    np.testing.assert_allclose(_np(got), want, rtol=1e-6)
    with pytest.raises(NotImplementedError):
        x.scatter_reduce(0, ti, ts, "amax")


GR = np.array([[0.3, -0.7, 1.1], [0.5, 0.2, -0.4], [1.0, 2.0, -3.0], [0.1, 0.0, 0.6]])
GI = np.array([[0.5, 0.2, -0.4], [-1.0, 0.25, 0.75], [0.3, 0.3, 0.3], [-0.2, 0.9, 0.0]])


def _backward(out, device):
    # L = sum(GR * Re out + GI * Im out): dL/dout in PyTorch's convention is GR + i GI.
    gr = torch.tensor(GR[: out.shape[0], : out.shape[1]], dtype=torch.float32, device=device)
    gi = torch.tensor(GI[: out.shape[0], : out.shape[1]], dtype=torch.float32, device=device)
    ((out.real * gr).sum() + (out.imag * gi).sum()).backward()
    return (GR + 1j * GI)[: out.shape[0], : out.shape[1]]


def test_gradients(device):
    a, v = _c((4, 3)), _c((2, 3))
    idx = [3, 1]
    # index_put: self's gradient is zero at the overwritten rows, values get those rows
    x = torch.tensor(a, device=device, requires_grad=True)
    vt = torch.tensor(v, device=device, requires_grad=True)
    g = _backward(x.index_put((torch.tensor(idx, device=device),), vt), device)
    want = g.copy()
    want[idx] = 0
    np.testing.assert_allclose(_np(x.grad), want, rtol=1e-6)
    np.testing.assert_allclose(_np(vt.grad), g[idx], rtol=1e-6)
    # x[mask] = v through a non-leaf (setitem on a clone): v gets the masked entries
    x = torch.tensor(a, device=device, requires_grad=True)
    vt = torch.tensor(v[0, 0], device=device, requires_grad=True)
    y = x.clone()
    mask = np.array([[True, False, False], [False, True, True], [False] * 3, [True] * 3])
    y[torch.tensor(mask, device=device)] = vt
    g = _backward(y, device)
    np.testing.assert_allclose(_np(vt.grad), g[mask].sum(), rtol=1e-6)
    np.testing.assert_allclose(_np(x.grad), np.where(mask, 0, g), rtol=1e-6)
    # index_add: self gets the whole gradient, source the rows it was added to
    x = torch.tensor(a, device=device, requires_grad=True)
    s = torch.tensor(_c((3, 3)), device=device, requires_grad=True)
    g = _backward(x.index_add(0, torch.tensor([2, 0, 2], device=device), s), device)
    np.testing.assert_allclose(_np(x.grad), g, rtol=1e-6)
    np.testing.assert_allclose(_np(s.grad), g[[2, 0, 2]], rtol=1e-6)
    # scatter_add / scatter: src gets the gathered gradient
    ii = np.array([[1, 0, 3], [2, 3, 0]])
    for fn in ("scatter_add", "scatter"):
        x = torch.tensor(a, device=device, requires_grad=True)
        src = torch.tensor(_c((2, 3)), device=device, requires_grad=True)
        g = _backward(getattr(x, fn)(0, torch.tensor(ii, device=device), src), device)
        np.testing.assert_allclose(_np(src.grad), np.take_along_axis(g, ii, 0), rtol=1e-6)
        want = g.copy()
        if fn == "scatter":
            np.put_along_axis(want, ii, 0, 0)
        np.testing.assert_allclose(_np(x.grad), want, rtol=1e-6)


def test_writes_with_grad_into_new_complex_tensors(device):
    # A complex tensor made by zeros/.to(device) is a plain tensor: an index write of a value
    # that requires grad records history (it was refused as an in-place op on a view).
    z = torch.zeros(3, dtype=torch.complex64, device=device)
    v = torch.tensor([1 + 1j], device=device, requires_grad=True)
    z[torch.tensor([1], device=device)] = v
    z.abs().sum().backward()
    np.testing.assert_allclose(_np(v.grad), [np.sqrt(0.5) * (1 + 1j)], rtol=1e-6)
    # complex .to(device) is differentiable: the gradient moves back
    a = torch.tensor([1 + 2j, 3j], requires_grad=True)
    b = a.to(device)
    (torch.view_as_real(b) * torch.tensor([1.0, 2.0], device=device)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1 + 2j, 1 + 2j])
