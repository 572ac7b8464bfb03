"""Engine fixes for findings of the gradient fuzzer (issue 17), both devices.

Each case was a PanicException or a gradient different from PyTorch 2.15's; the
expected values are worked out by hand (and agree with PyTorch's, checked with
a by-hand install).
"""

import numpy as np
import pytest

import ember
import ember.nn.functional as F


def _np(t):
    return t.detach().cpu().numpy()


def _conv2d_ref(x, w, padding, dilation):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = h + 2 * padding - dilation * (kh - 1)
    ow = wd + 2 * padding - dilation * (kw - 1)
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i : i + dilation * kh : dilation, j : j + dilation * kw : dilation]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    return out


def test_conv_dilated_kernel_wider_than_padded_input(device):
    # Was a panic in im2col: some kernel columns only ever see padding.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, 7, 1)).astype(np.float32)
    w = rng.standard_normal((1, 1, 3, 3)).astype(np.float32)
    xt = ember.tensor(x, device=device, requires_grad=True)
    wt = ember.tensor(w, device=device, requires_grad=True)
    y = F.conv2d(xt, wt, padding=2, dilation=2)
    assert tuple(y.shape) == (2, 1, 7, 1)
    np.testing.assert_allclose(_np(y), _conv2d_ref(x, w, 2, 2), rtol=1e-5, atol=1e-5)
    y.sum().backward()
    # Only the middle kernel column touches the single real input column.
    assert np.all(_np(wt.grad)[..., 0] == 0) and np.all(_np(wt.grad)[..., 2] == 0)
    assert xt.grad.shape == xt.shape


def test_select_of_empty_and_setitem_backward(device):
    e = ember.zeros(3, 0, device=device)
    s = e[2]
    assert tuple(s.shape) == (0,)
    assert float(s.sum()) == 0.0  # was a panic: an offset past the empty storage
    a = ember.zeros(3, 0, device=device, requires_grad=True)
    v = ember.tensor(1.0, device=device, requires_grad=True)
    x = a.clone()
    x[2] = v
    (x * ember.ones(3, 0, device=device)).sum().backward()
    assert tuple(a.grad.shape) == (3, 0)
    assert float(v.grad) == 0.0


def test_relu_passes_gradient_at_nan(device):
    x = ember.tensor([float("nan"), -1.0, 0.0, 2.0], device=device, requires_grad=True)
    F.relu(x).backward(ember.ones(4, device=device))
    np.testing.assert_array_equal(_np(x.grad), [1.0, 0.0, 0.0, 1.0])
    # The create_graph path (no fused kernel) agrees.
    x2 = ember.tensor([float("nan"), -1.0, 0.0, 2.0], device=device, requires_grad=True)
    (g,) = ember.autograd.grad(F.relu(x2).sum(), x2, create_graph=True)
    np.testing.assert_array_equal(_np(g), [1.0, 0.0, 0.0, 1.0])


def test_hypot_copysign_second_derivatives():
    # d2/dx2 hypot(x, y) = y^2 / hypot^3; copysign is piecewise linear: 0.
    x = ember.tensor([0.5, -1.2], dtype=ember.float64, requires_grad=True)
    y = ember.tensor([2.0, 0.3], dtype=ember.float64)
    (g,) = ember.autograd.grad(ember.hypot(x, y).sum(), x, create_graph=True)
    (h,) = ember.autograd.grad(g.sum(), x)
    xn, yn = np.array([0.5, -1.2]), np.array([2.0, 0.3])
    np.testing.assert_allclose(_np(g), xn / np.hypot(xn, yn), rtol=1e-12)
    np.testing.assert_allclose(_np(h), yn**2 / np.hypot(xn, yn) ** 3, rtol=1e-12)
    (g,) = ember.autograd.grad(ember.copysign(x, y).sum(), x, create_graph=True)
    np.testing.assert_array_equal(_np(g), [1.0, -1.0])
    if g.requires_grad:
        (h,) = ember.autograd.grad(g.sum(), x, allow_unused=True)
        assert h is None or np.all(_np(h) == 0)


@pytest.mark.parametrize("shape", [(3, 0), (0, 4)])
def test_empty_views_keep_shapes(device, shape):
    t = ember.zeros(*shape, device=device)
    v = t.t()
    assert tuple(v.shape) == tuple(reversed(shape))
    assert float(v.contiguous().sum()) == 0.0
    assert _np(v[..., :0]).size == 0
