"""nn additions: conv3d/pool3d, grid_sample/affine_grid, EmbeddingBag, lazy modules.

Reference values marked "PyTorch 2.15" were computed by hand with real PyTorch (CPU) on the same
inputs and pasted here, rounded to 5 decimals; the others come from numpy or hand computation.
"""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck

# fmt: off
# PyTorch 2.15: F.conv3d(x, w, b, stride=(1,2,1), padding=(1,0,1))[0, :, :, 0, :] etc. (see
# _x/_w below for the inputs).
CONV3D = [[[1.09912, 1.41966, 0.97415, 0.71828], [2.93804, 4.44253, 4.66602, 3.49316], [2.34492, 3.651, 4.45218, 3.47584], [0.37247, 0.91221, 2.02885, 1.82309]], [[-1.75417, -2.70322, -2.97608, -2.2812], [-3.00418, -5.199, -6.89376, -5.37598], [-1.33952, -2.87563, -5.2372, -4.44739], [0.34471, -0.12861, -1.84684, -1.88185]], [[2.02634, 3.37008, 4.29409, 3.33138], [2.37947, 4.7239, 7.4724, 5.98363], [0.05337, 1.44108, 4.78124, 4.37255], [-0.92769, -0.63741, 1.25911, 1.52626]]]
CONV3D_SHAPE = (2, 3, 4, 2, 4)
MAXPOOL = [[[-0.3232, 0.39942], [0.91313, 0.99875], [0.77119, 0.14024]], [[-0.3232, 0.39942], [0.94704, 0.99907], [0.94704, 0.48284]], [[-0.23392, 0.04768], [0.99934, 0.99907], [0.99934, 0.76244]], [[-0.23392, -0.31027], [0.99934, 0.9186], [0.99934, 0.76244]]]
AVGPOOL = [[[-0.24222, 0.1438], [0.36335, 0.24184]], [[-0.465, -0.10661], [0.38001, 0.32546]]]
AVGPOOL_CM = [[[0.01584, -0.10198, -0.10402], [-0.16002, -0.17198, 0.01132], [0.11516, 0.24277, 0.09475]], [[0.15305, 0.05636, -0.10432], [-0.36307, -0.61513, -0.16881], [0.14418, 0.44723, 0.24252]]]
AG = [[[[-0.4, -1.15], [0.2, -0.95], [0.8, -0.75]], [[-0.6, -0.05], [0.0, 0.15], [0.6, 0.35]]]]
AGT = [[[[-0.6, -1.8], [0.3, -1.5], [1.2, -1.2]], [[-1.0, 0.4], [-0.1, 0.7], [0.8, 1.0]]]]
GRID_SAMPLE = {
    ('bilinear', 'zeros', False): [[[[0.0, 2.45, 1.0725], [2.75, 3.4, 0.3825]], [[1.5, 8.45, 2.2425], [8.75, 9.4, 1.9125]]]],
    ('bilinear', 'zeros', True): [[[[0.0, 2.575, 4.505], [2.75, 3.125, 1.38938]], [[6.0, 8.575, 9.605], [8.75, 9.125, 7.08938]]]],
    ('bilinear', 'border', False): [[[[0.0, 2.45, 5.5], [2.75, 3.4, 1.5]], [[6.0, 8.45, 11.5], [8.75, 9.4, 7.5]]]],
    ('bilinear', 'border', True): [[[[0.0, 2.575, 5.3], [2.75, 3.125, 1.4625]], [[6.0, 8.575, 11.3], [8.75, 9.125, 7.4625]]]],
    ('bilinear', 'reflection', False): [[[[0.0, 2.45, 5.5], [2.75, 3.4, 1.5]], [[6.0, 8.45, 11.5], [8.75, 9.4, 7.5]]]],
    ('bilinear', 'reflection', True): [[[[0.0, 2.575, 5.225], [2.75, 3.125, 1.5625]], [[6.0, 8.575, 11.225], [8.75, 9.125, 7.5625]]]],
    ('nearest', 'zeros', False): [[[[0.0, 3.0, 0.0], [3.0, 4.0, 0.0]], [[6.0, 9.0, 0.0], [9.0, 10.0, 0.0]]]],
    ('nearest', 'zeros', True): [[[[0.0, 3.0, 5.5], [3.0, 2.0, 1.5]], [[6.0, 9.0, 11.5], [9.0, 8.0, 7.5]]]],
    ('nearest', 'border', False): [[[[0.0, 3.0, 5.5], [3.0, 4.0, 1.5]], [[6.0, 9.0, 11.5], [9.0, 10.0, 7.5]]]],
    ('nearest', 'border', True): [[[[0.0, 3.0, 5.5], [3.0, 2.0, 1.5]], [[6.0, 9.0, 11.5], [9.0, 8.0, 7.5]]]],
    ('nearest', 'reflection', False): [[[[0.0, 3.0, 5.5], [3.0, 4.0, 1.5]], [[6.0, 9.0, 11.5], [9.0, 10.0, 7.5]]]],
    ('nearest', 'reflection', True): [[[[0.0, 3.0, 5.5], [3.0, 2.0, 1.5]], [[6.0, 9.0, 11.5], [9.0, 8.0, 7.5]]]],
}
# fmt: on


def _np(t):
    return t.detach().cpu().numpy()


def _x(device, dtype=ember.float32):
    x = (ember.arange(2 * 2 * 3 * 4 * 4, dtype=ember.float32).reshape(2, 2, 3, 4, 4) * 0.37).sin()
    return x.to(dtype).to(device)


def _w(device, dtype=ember.float32):
    w = (ember.arange(3 * 2 * 2 * 2 * 3, dtype=ember.float32).reshape(3, 2, 2, 2, 3) * 0.11).cos()
    return w.to(dtype).to(device)


def test_conv3d_values(device):
    b = ember.tensor([0.1, -0.2, 0.3], device=device)
    y = F.conv3d(_x(device), _w(device), b, stride=(1, 2, 1), padding=(1, 0, 1))
    assert tuple(y.shape) == CONV3D_SHAPE
    np.testing.assert_allclose(_np(y[0, :, :, 0, :]), CONV3D, atol=2e-5)
    m = ember.nn.Conv3d(2, 3, (2, 2, 3), stride=(1, 2, 1), padding=(1, 0, 1)).to(device)
    with ember.no_grad():
        m.weight.copy_(_w(device))
        m.bias.copy_(b)
    np.testing.assert_allclose(_np(m(_x(device))[0, :, :, 0, :]), CONV3D, atol=2e-5)


def test_conv3d_groups_same_and_grad():
    # groups=2 equals two independent convolutions; 'same' keeps the size; gradients by
    # finite differences (float64).
    x = _x("cpu", ember.float64)
    w = _w("cpu", ember.float64)[:2, :1]
    y = F.conv3d(x, w, groups=2, padding="same")
    assert tuple(y.shape) == (2, 2, 3, 4, 4)
    y0 = F.conv3d(x[:, :1], w[:1], padding="same")
    np.testing.assert_allclose(_np(y[:, :1]), _np(y0), atol=1e-12)
    xs = x[:1, :, :2, :3, :3].clone().requires_grad_(True)
    ws = w.clone().requires_grad_(True)
    assert gradcheck(lambda a, k: F.conv3d(a, k, stride=(1, 1, 2), padding=1, groups=2), (xs, ws))
    with pytest.raises(RuntimeError, match="channels"):
        F.conv3d(x, _w("cpu", ember.float64)[:, :1])


def test_pool3d_values(device):
    x = _x(device)
    got = F.max_pool3d(x, (2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0), ceil_mode=True)
    np.testing.assert_allclose(_np(got[1, 0]), MAXPOOL, atol=2e-5)
    got = F.avg_pool3d(x, 3, stride=2, padding=1, count_include_pad=False)
    np.testing.assert_allclose(_np(got[0, 1]), AVGPOOL, atol=2e-5)
    got = ember.nn.AvgPool3d(2, stride=2, padding=1, ceil_mode=True)(x)
    np.testing.assert_allclose(_np(got[1, 1]), AVGPOOL_CM, atol=2e-5)
    # divisor_override: plain window sums over non-overlapping 2x2x2 blocks, / 3.
    a = np.sin(np.arange(2 * 2 * 3 * 4 * 4, dtype=np.float32) * 0.37).reshape(2, 2, 3, 4, 4)
    want = a[:, :, :2].reshape(2, 2, 1, 2, 2, 2, 2, 2).sum(axis=(3, 5, 7)) / 3
    got = F.avg_pool3d(x, 2, divisor_override=3)
    np.testing.assert_allclose(_np(got), want, atol=2e-5)
    got = ember.nn.MaxPool3d(2)(x)
    np.testing.assert_allclose(
        _np(got), a[:, :, :2].reshape(2, 2, 1, 2, 2, 2, 2, 2).max(axis=(3, 5, 7)), atol=1e-6
    )


def test_pool3d_grad_and_errors():
    x = _x("cpu", ember.float64)[:1, :1, :, :3, :3].clone().requires_grad_(True)
    assert gradcheck(
        lambda t: F.avg_pool3d(t, 2, stride=1, padding=1, count_include_pad=False), (x,)
    )
    assert gradcheck(lambda t: F.max_pool3d(t, 2, stride=1), (x,))
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool3d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match="5D"):
        F.avg_pool3d(x[0, 0], 2)
    with pytest.raises(NotImplementedError, match="return_indices"):
        F.max_pool3d(x, 2, return_indices=True)


def _gs_input(device):
    inp = ember.arange(24, dtype=ember.float32).reshape(1, 2, 3, 4).to(device) * 0.5
    grid = ember.tensor(
        [[[[-1.0, -1.0], [0.3, -0.2], [1.1, 0.9]], [[0.0, 0.0], [-0.7, 0.45], [0.95, -1.05]]]],
        device=device,
    )
    return inp, grid


@pytest.mark.parametrize("key", sorted(GRID_SAMPLE))
def test_grid_sample_values(device, key):
    mode, padding_mode, align = key
    inp, grid = _gs_input(device)
    got = F.grid_sample(inp, grid, mode=mode, padding_mode=padding_mode, align_corners=align)
    np.testing.assert_allclose(_np(got), GRID_SAMPLE[key], atol=2e-5)


def test_grid_sample_grad_and_errors():
    inp, grid = _gs_input("cpu")
    inp = inp.double().requires_grad_(True)
    # Keep points away from pixel boundaries, where bilinear weights are not differentiable.
    grid = (grid.double() * 0.9 + 0.013).requires_grad_(True)
    for pm in ("zeros", "border"):
        assert gradcheck(
            lambda a, g, pm=pm: F.grid_sample(a, g, padding_mode=pm, align_corners=False),
            (inp, grid),
        )
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(inp, grid, padding_mode="wrap")
    with pytest.raises(RuntimeError, match="same batch size"):
        F.grid_sample(inp, grid.expand(2, 2, 3, 2))


def test_affine_grid(device):
    th = ember.tensor([[[0.9, -0.2, 0.1], [0.3, 1.1, -0.4]]], device=device)
    np.testing.assert_allclose(
        _np(F.affine_grid(th, (1, 1, 2, 3), align_corners=False)), AG, atol=1e-6
    )
    np.testing.assert_allclose(
        _np(F.affine_grid(th, (1, 1, 2, 3), align_corners=True)), AGT, atol=1e-6
    )
    # The identity transform with align_corners=True samples the input exactly.
    img = ember.arange(12, dtype=ember.float32).reshape(1, 1, 3, 4).to(device)
    eye = ember.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], device=device)
    grid = F.affine_grid(eye, (1, 1, 3, 4), align_corners=True)
    np.testing.assert_allclose(
        _np(F.grid_sample(img, grid, align_corners=True)), _np(img), atol=1e-5
    )
    # 3-D: a pure translation moves every point by theta's last column.
    th3 = ember.tensor([[[1.0, 0, 0, 0.5], [0, 1.0, 0, -0.25], [0, 0, 1.0, 0.0]]], device=device)
    g3 = F.affine_grid(th3, (1, 1, 2, 2, 2), align_corners=True)
    np.testing.assert_allclose(_np(g3[0, 0, 0, 0]), [-0.5, -1.25, -1.0], atol=1e-6)
    with pytest.raises(ValueError, match="Nx2x3"):
        F.affine_grid(th3, (1, 1, 2, 2))


def _bag_reference(weight, inp, offsets, mode, padding_idx=None, psw=None):
    bags = []
    ends = list(offsets[1:]) + [len(inp)]
    for s, e in zip(offsets, ends):
        rows = [
            weight[i] * (1.0 if psw is None else psw[j])
            for j, i in enumerate(inp[s:e], start=s)
            if i != padding_idx
        ]
        if not rows:
            bags.append(np.zeros(weight.shape[1]))
        elif mode == "sum":
            bags.append(np.sum(rows, 0))
        elif mode == "mean":
            bags.append(np.mean(rows, 0))
        else:
            bags.append(np.max(rows, 0))
    return np.array(bags)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag(device, mode):
    wn = np.sin(np.arange(24.0) * 0.7).reshape(8, 3).astype(np.float32)
    inp = [1, 2, 4, 5, 4, 3, 2, 0, 7]
    offsets = [0, 3, 3, 6]
    w = ember.tensor(wn, device=device)
    i = ember.tensor(inp, device=device)
    o = ember.tensor(offsets, device=device)
    got = F.embedding_bag(i, w, o, mode=mode)
    np.testing.assert_allclose(_np(got), _bag_reference(wn, inp, offsets, mode), atol=1e-6)
    got = F.embedding_bag(i, w, o, mode=mode, padding_idx=2)
    want = _bag_reference(wn, inp, offsets, mode, padding_idx=2)
    np.testing.assert_allclose(_np(got), want, atol=1e-6)
    # include_last_offset: offsets carry the end; the last bag runs to the end of input.
    got = F.embedding_bag(
        i, w, ember.tensor([0, 3, 3, 9], device=device), mode=mode, include_last_offset=True
    )
    np.testing.assert_allclose(_np(got), _bag_reference(wn, inp, [0, 3, 3], mode), atol=1e-6)
    # 2-D input: each row is a bag.
    bag = ember.nn.EmbeddingBag.from_pretrained(w, mode=mode)
    got = bag(ember.tensor([[0, 2], [7, 7]], device=device))
    np.testing.assert_allclose(_np(got), _bag_reference(wn, [0, 2, 7, 7], [0, 2], mode), atol=1e-6)


def test_embedding_bag_grad_and_weights(device):
    wn = np.sin(np.arange(24.0) * 0.7).reshape(8, 3).astype(np.float32)
    m = ember.nn.EmbeddingBag(8, 3, mode="sum", _weight=ember.tensor(wn, device=device))
    inp = [1, 2, 4, 5, 4]
    psw = [0.5, 1.0, 2.0, -1.0, 0.25]
    out = m(
        ember.tensor(inp, device=device),
        ember.tensor([0, 2], device=device),
        per_sample_weights=ember.tensor(psw, device=device),
    )
    np.testing.assert_allclose(_np(out), _bag_reference(wn, inp, [0, 2], "sum", psw=psw), atol=1e-6)
    out.sum().backward()
    # d(sum)/d(weight[r]) = sum of the per-sample weights of the positions that look r up.
    want = np.zeros(8)
    for r, p in zip(inp, psw):
        want[r] += p
    np.testing.assert_allclose(_np(m.weight.grad)[:, 0], want, atol=1e-6)
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        F.embedding_bag(
            ember.tensor([1, 2]),
            m.weight.detach().cpu(),
            ember.tensor([0]),
            mode="max",
            per_sample_weights=ember.ones(2),
        )
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(ember.tensor([[1, 2]]), m.weight.detach().cpu(), ember.tensor([0]))


def test_lazy_modules(device):
    ember.manual_seed(0)
    m = ember.nn.LazyLinear(4).to(device)
    assert repr(m) == "LazyLinear(in_features=0, out_features=4, bias=True)"
    y = m(ember.ones(2, 3, device=device))
    assert type(m) is ember.nn.Linear and tuple(m.weight.shape) == (4, 3)
    assert tuple(y.shape) == (2, 4) and m.in_features == 3
    bound = 1 / np.sqrt(3)  # kaiming_uniform(a=sqrt(5)) bound for fan_in 3
    assert np.abs(_np(m.weight)).max() <= bound + 1e-6
    np.testing.assert_allclose(
        _np(y), _np(ember.ones(2, 3, device=device) @ m.weight.T + m.bias), atol=1e-6
    )
    c = ember.nn.LazyConv2d(5, 3, padding=1, bias=False).to(device)
    y = c(ember.ones(2, 3, 6, 6, device=device))
    assert type(c) is ember.nn.Conv2d and tuple(c.weight.shape) == (5, 3, 3, 3) and c.bias is None
    assert tuple(y.shape) == (2, 5, 6, 6)
    assert len(list(c.parameters())) == 1
