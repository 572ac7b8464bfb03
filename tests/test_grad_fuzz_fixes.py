"""Regression tests for the Python-side findings of the gradient fuzzer (tools/fuzz.py --grad,
issue 17). Every expected value was computed by hand with PyTorch 2.15 (/tmp/tv) and pasted
here as a constant; PyTorch is not imported.
"""

import math

import pytest

import ember
import ember.nn.functional as F

INF, NAN = float("inf"), float("nan")


def _close(got, want, tol=1e-5):
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        if isinstance(w, list):
            _close(g, w, tol)
        elif math.isnan(w):
            assert math.isnan(g), (got, want)
        else:
            assert g == pytest.approx(w, rel=tol, abs=tol), (got, want)


@pytest.mark.parametrize("fn", ["smooth_l1_loss", "huber_loss"])
def test_smooth_l1_and_huber_gradient_at_infinity(fn, device):
    # The quadratic branch of where() got 0 * inf = NaN in its gradient at |x - y| = inf.
    x = ember.tensor([INF, -INF, NAN, 0.3, 2.0], device=device).requires_grad_()
    y = ember.tensor([0.0, 1.0, 0.0, 0.0, 0.5], device=device)
    getattr(F, fn)(x, y, reduction="sum").backward()
    # PyTorch: x.grad == [1.0, -1.0, nan, 0.30000001192092896, 1.0]
    _close(x.grad.cpu().tolist(), [1.0, -1.0, NAN, 0.30000001192092896, 1.0])


@pytest.mark.parametrize("fn", ["smooth_l1_loss", "huber_loss"])
def test_smooth_l1_and_huber_second_derivative(fn, device):
    x = ember.tensor([INF, -INF, 0.3, 2.0], device=device).requires_grad_()
    y = ember.tensor([0.0, 1.0, 0.0, 0.5], device=device)
    (g,) = ember.autograd.grad(getattr(F, fn)(x, y, reduction="sum"), x, create_graph=True)
    (h,) = ember.autograd.grad(g.sum(), x)
    # PyTorch: g == [1, -1, 0.30000001192092896, 1], h == [0, 0, 1, 0]
    _close(g.detach().cpu().tolist(), [1.0, -1.0, 0.30000001192092896, 1.0])
    _close(h.cpu().tolist(), [0.0, 0.0, 1.0, 0.0])


def test_cosine_similarity_broadcasts_before_the_norm(device):
    # A norm over a broadcast dimension counts every copy: the result was > 1 before.
    x1 = ember.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]], device=device).requires_grad_()
    x2 = ember.tensor([[1.0, -1.0, 2.0]], device=device).requires_grad_()
    out = F.cosine_similarity(x1, x2, dim=0)
    (out * ember.tensor([1.0, 2.0, -1.0], device=device)).sum().backward()
    _close(
        out.detach().cpu().tolist(), [0.857492983341217, -0.9191449880599976, 0.9383430480957031]
    )
    _close(
        x1.grad.cpu().tolist(),
        [
            [0.12105781584978104, -0.13583426177501678, -0.043845564126968384],
            [-0.030264481902122498, 0.054333657026290894, 0.020236387848854065],
        ],
    )
    _close(x2.grad.cpu().tolist(), [[0.0, 0.0, 0.0]])


def test_cosine_similarity_dim_of_the_broadcast_shape(device):
    # dim=-3 exists only after broadcasting a 0-d x2 against [1, 3, 1] (PyTorch: [[1], [1], [1]]).
    a = ember.tensor([[[1.0], [2.0], [3.0]]], device=device).requires_grad_()
    b = ember.tensor(2.0, device=device).requires_grad_()
    out = F.cosine_similarity(a, b, dim=-3)
    out.sum().backward()
    _close(out.detach().cpu().tolist(), [[1.0], [1.0], [1.0]])
    _close(a.grad.cpu().tolist(), [[[0.0], [0.0], [0.0]]])
    assert b.grad.item() == 0.0
    with pytest.raises(
        RuntimeError, match=r"size of tensor a \(2\) must match the size of tensor b \(4\)"
    ):
        F.cosine_similarity(ember.ones(2, 3, device=device), ember.ones(4, 3, device=device))


def test_soft_margin_loss_refuses_a_target_that_requires_grad(device):
    x = ember.tensor([0.5, -1.0, 2.0], device=device, requires_grad=True)
    t = ember.tensor([1.0, -1.0, 1.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'target'"):
        F.soft_margin_loss(x, t)
    with ember.no_grad():  # PyTorch computes it without grad mode: mean(log(1 + exp(-t * x)))
        v = F.soft_margin_loss(x, t).item()
    assert v == pytest.approx(
        (math.log1p(math.exp(-0.5)) + math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-2.0))) / 3,
        rel=1e-6,
    )
    F.soft_margin_loss(x, t.detach()).backward()
    assert x.grad is not None


def test_group_norm_one_value_per_group(device):
    # PyTorch checks [N*C//G, G, *spatial] before the divisibility of C by G.
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\[1, 4\]"):
        F.group_norm(ember.randn(1, 4, device=device), 4)
    with pytest.raises(ValueError, match=r"got input size \[1, 4\]"):
        F.group_norm(ember.randn(1, 6, device=device), 4)
    with pytest.raises(ValueError, match=r"got input size \[1, 2, 1\]"):
        F.group_norm(ember.randn(1, 2, 1, device=device), 2)
    out = F.group_norm(ember.tensor([[1.0, 3.0, 2.0, 6.0]], device=device), 2, eps=0.0)
    _close(out.cpu().tolist(), [[-1.0, 1.0, -1.0, 1.0]])


def test_instance_norm_one_spatial_element(device):
    with pytest.raises(ValueError, match=r"more than 1 spatial element when training"):
        F.instance_norm(ember.randn(3, 1, 1, device=device))
    with pytest.raises(ValueError, match=r"Size\(\[1, 3, 1, 1\]\)"):
        F.instance_norm(ember.randn(1, 3, 1, 1, device=device))
    # With running statistics and use_input_stats=False one element is fine.
    out = F.instance_norm(
        ember.tensor([[[2.0]]], device=device),
        ember.tensor([1.0], device=device),
        ember.tensor([4.0], device=device),
        use_input_stats=False,
        eps=0.0,
    )
    _close(out.cpu().tolist(), [[[0.5]]])


def test_nll_loss_checks_the_class_weight(device):
    x = ember.tensor([[-0.5, -1.0], [-2.0, -0.1]], device=device)
    t = ember.tensor([0, 1], device=device)
    for w, n, shape in ((ember.ones(3), 2, r"\[3\]"), (ember.ones(1, 2), 2, r"\[1, 2\]")):
        with pytest.raises(RuntimeError, match=rf"all {n} classes or no classes.*{shape}"):
            F.nll_loss(x, t, weight=w.to(device))
    with pytest.raises(RuntimeError, match="all 2 classes"):
        F.nll_loss(x[0], t[0], weight=ember.ones(3, device=device))
    got = F.nll_loss(x, t, weight=ember.tensor([2.0, 1.0], device=device)).item()
    assert got == pytest.approx((2.0 * 0.5 + 1.0 * 0.1) / 3.0, rel=1e-6)


# PyTorch: F.pad(x, p, mode="circular") and the gradient of sum(y * arange(16).reshape(1, 2, 8))
# for x = arange(14.).reshape(1, 2, 7). It crops the negative side first and wraps around
# what is left; ember wrapped around the uncropped input.
CIRCULAR = {
    (-1, 2): (
        [[[1, 2, 3, 4, 5, 6, 1, 2], [8, 9, 10, 11, 12, 13, 8, 9]]],
        [[[0, 6, 8, 2, 3, 4, 5], [0, 22, 24, 10, 11, 12, 13]]],
    ),
    (2, -1): (
        [[[4, 5, 0, 1, 2, 3, 4, 5], [11, 12, 7, 8, 9, 10, 11, 12]]],
        [[[2, 3, 4, 5, 6, 8, 0], [10, 11, 12, 13, 22, 24, 0]]],
    ),
}


@pytest.mark.parametrize("pad", sorted(CIRCULAR))
def test_circular_pad_with_a_negative_side(pad, device):
    x = ember.arange(14, dtype=ember.float32, device=device).reshape(1, 2, 7).requires_grad_()
    y = F.pad(x, pad, mode="circular")
    w = ember.arange(16, dtype=ember.float32, device=device).reshape(1, 2, 8)
    (g,) = ember.autograd.grad((y * w).sum(), x)
    want_y, want_g = CIRCULAR[pad]
    assert y.detach().cpu().tolist() == want_y
    assert g.cpu().tolist() == want_g


def test_circular_pad_2d_with_negative_sides(device):
    x = ember.arange(20, dtype=ember.float32, device=device).reshape(1, 1, 4, 5)
    # PyTorch's value for F.pad(x, (-1, 2, 1, -1), mode="circular")
    assert F.pad(x, (-1, 2, 1, -1), mode="circular").cpu().tolist() == [
        [
            [
                [11, 12, 13, 14, 11, 12],
                [1, 2, 3, 4, 1, 2],
                [6, 7, 8, 9, 6, 7],
                [11, 12, 13, 14, 11, 12],
            ]
        ]
    ]


def test_setitem_drops_leading_unit_dims_of_the_value(device):
    # PyTorch: x[1] = tensor([5.]) on a 1-d x, x[0] = ones(1, 1, 3) on a 2x3 x; the gradient
    # of the value keeps its shape ([[[1, 1, 1]]]).
    x = ember.zeros(4, device=device)
    x[1] = ember.tensor([5.0], device=device)
    assert x.cpu().tolist() == [0.0, 5.0, 0.0, 0.0]
    y = ember.zeros(2, 3, device=device, requires_grad=True).clone()
    v = ember.ones(1, 1, 3, device=device, requires_grad=True)
    y[0] = v * 2
    assert y.detach().cpu().tolist() == [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]
    y.sum().backward()
    assert v.grad.cpu().tolist() == [[[2.0, 2.0, 2.0]]]
    z = ember.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError):  # PyTorch: RuntimeError (3 vs 2)
        z[0] = ember.ones(1, 2, device=device)
    with pytest.raises(RuntimeError):  # PyTorch: RuntimeError (a [2, 1] value into a scalar)
        z[0, 1] = ember.ones(2, 1, device=device)
    assert z.cpu().tolist() == [[0.0] * 3] * 2


# autograd.functional on functions whose gradient does not depend on the input
# differentiably (linear maps, relu-like pieces, nll_loss): PyTorch returns zero Hessians,
# ember raised "element 0 of tensors does not require grad". Values from PyTorch at
# x = [0.5, -1, 2], v = [1, 2, 3].
HESSIANS = {
    "leaky_relu": (lambda x: F.leaky_relu(x).sum(), [[0.0] * 3] * 3, [0.0] * 3),
    "linear": (lambda x: (x * 2).sum(), [[0.0] * 3] * 3, [0.0] * 3),
    "nll_loss": (
        lambda x: F.nll_loss(x.unsqueeze(0), ember.tensor([1], device=x.device)),
        [[0.0] * 3] * 3,
        [0.0] * 3,
    ),
    "cube": (lambda x: (x**3).sum(), [[3.0, 0, 0], [0, -6.0, 0], [0, 0, 12.0]], [3, -12, 36]),
    "relu_times_x": (
        lambda x: (ember.relu(x) * x).sum(),
        [[2.0, 0, 0], [0, 0, 0], [0, 0, 2.0]],
        [2.0, 0.0, 6.0],
    ),
}


@pytest.mark.parametrize("name", sorted(HESSIANS))
def test_functional_hessian_of_piecewise_linear_functions(name, device):
    f, hess, hv = HESSIANS[name]
    x = ember.tensor([0.5, -1.0, 2.0], device=device)
    v = ember.tensor([1.0, 2.0, 3.0], device=device)
    AF = ember.autograd.functional
    _close(AF.hessian(f, x).cpu().tolist(), hess)
    _close(AF.hvp(f, x, v)[1].cpu().tolist(), hv)
    _close(AF.vhp(f, x, v)[1].cpu().tolist(), hv)


def test_functional_jacobian_of_a_constant_and_jvp(device):
    AF = ember.autograd.functional
    x = ember.tensor([0.5, -1.0, 2.0], device=device)
    v = ember.tensor([1.0, 2.0, 3.0], device=device)
    # PyTorch: zeros(2, 3); jvp of x*0+1 is ([1, 1, 1], [0, 0, 0]); of relu ([.5, 0, 2], [1, 0, 3])
    _close(AF.jacobian(lambda x: ember.ones(2, device=device), x).cpu().tolist(), [[0.0] * 3] * 2)
    out, jv = AF.jvp(lambda x: x * 0 + 1, x, v)
    _close(out.cpu().tolist(), [1.0, 1.0, 1.0])
    _close(jv.cpu().tolist(), [0.0, 0.0, 0.0])
    out, jv = AF.jvp(ember.relu, x, v)
    _close(out.cpu().tolist(), [0.5, 0.0, 2.0])
    _close(jv.cpu().tolist(), [1.0, 0.0, 3.0])


def test_index_copy_refuses_negative_and_large_indices(device):
    # PyTorch: IndexError "index_copy_(): index -3 is out of bounds for dimension 0 with
    # size 4"; valid indices give [2, 0, 0, 1]. ember's index_copy runs on index_put, which
    # wraps negatives: the check is made on the cpu only (on the gpu it would need a host
    # wait), so the gpu case checks the valid call alone.
    x = ember.zeros(4, device=device)
    src = ember.tensor([1.0, 2.0], device=device)
    ok = x.index_copy(0, ember.tensor([3, 0], device=device), src)
    assert ok.cpu().tolist() == [2.0, 0.0, 0.0, 1.0]
    if device == "cpu":
        for idx, bad in (([1, -3], -3), ([1, 4], 4)):
            with pytest.raises(IndexError, match=rf"index {bad} is out of bounds for dimension 0"):
                x.index_copy(0, ember.tensor(idx), src)
        with pytest.raises(
            IndexError, match="index 5 is out of bounds for dimension 1 with size 3"
        ):
            ember.zeros(2, 3).index_copy(-1, ember.tensor([2, 5]), ember.ones(2, 2))


@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_sdpa_fully_masked_row_is_zero_not_nan(mask_kind, device):
    # PyTorch's safe softmax: the second query sees no key; its output and all gradients
    # through it are 0 (ember gave NaN outputs and NaN gradients for q, k, v).
    q = ember.tensor([[[[1.0, 0.5], [0.2, -1.0]]]], device=device).requires_grad_()
    k = ember.tensor([[[[0.3, 0.1], [-0.5, 2.0]]]], device=device).requires_grad_()
    v = ember.tensor([[[[1.0, 2.0], [3.0, -1.0]]]], device=device).requires_grad_()
    if mask_kind == "bool":
        mask = ember.tensor([[True, False], [False, False]], device=device)
    else:
        mask = ember.tensor([[0.0, -INF], [-INF, -INF]], device=device)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    (out * ember.tensor([[1.0, -2.0], [0.5, 1.0]], device=device)).sum().backward()
    # PyTorch: out [[1, 2], [0, 0]]; q.grad = k.grad = 0; v.grad [[1, -2], [0, 0]]
    assert out.detach().cpu().tolist() == [[[[1.0, 2.0], [0.0, 0.0]]]]
    assert q.grad.cpu().tolist() == [[[[0.0, 0.0], [0.0, 0.0]]]]
    assert k.grad.cpu().tolist() == [[[[0.0, 0.0], [0.0, 0.0]]]]
    assert v.grad.cpu().tolist() == [[[[1.0, -2.0], [0.0, 0.0]]]]


# PyTorch (float64) for x = linspace(-1.3, 2.9, 16).reshape(1, 1, 4, 4), size=3, and the
# gradient of sum(y * linspace(0.5, -2, 9).reshape(1, 1, 3, 3)). ember computed the source
# coordinates in float32 even for float64 input: ~1e-7 off.
INTERP = {
    "bilinear": (
        [-1.0666666666666667, -0.6933333333333335, -0.32000000000000006, 0.4266666666666668,
         0.8000000000000003, 1.1733333333333333, 1.9200000000000002, 2.2933333333333334,
         2.6666666666666665],
        [0.34722222222222227, 0.14756944444444445, 0.06076388888888885, -0.08680555555555552,
         -0.11284722222222224, -0.19444444444444445, -0.26388888888888906, -0.46006944444444425,
         -0.3732638888888893, -0.4027777777777781, -0.4722222222222228, -0.7204861111111114,
         -0.9548611111111107, -0.8940972222222219, -0.9809027777777779, -1.388888888888888],
    ),
    "bicubic": (
        [-1.1233796296296292, -0.738703703703703, -0.35402777777777666, 0.4153240740740745,
         0.8000000000000002, 1.184675925925926, 1.9540277777777793, 2.338703703703705,
         2.7233796296296293],
        [0.3802622519075786, 0.21272166897076475, 0.12775302881730127, -0.028028616362311357,
         -0.0969702114947697, -0.2434095427169058, -0.32554159700788715, -0.4916307321137682,
         -0.35187613195516126, -0.48980570558984904, -0.5719377598808308, -0.7465366525741605,
         -0.8446103529020917, -0.9712598928862304, -1.0562285330396959, -1.252901221171982],
    ),
}  # fmt: skip


@pytest.mark.parametrize("mode", sorted(INTERP))
def test_interpolate_coordinates_in_the_input_precision(mode, device):
    # float64 on the cpu (the gpu stores no float64: float32 there, to float32 accuracy).
    dt, tol = (ember.float64, 1e-12) if device == "cpu" else (ember.float32, 2e-5)
    x = ember.linspace(-1.3, 2.9, 16, dtype=dt, device=device).reshape(1, 1, 4, 4)
    x.requires_grad_()
    w = ember.linspace(0.5, -2.0, 9, dtype=dt, device=device).reshape(1, 1, 3, 3)
    y = F.interpolate(x, size=3, mode=mode, align_corners=False)
    (g,) = ember.autograd.grad((y * w).sum(), x)
    want_y, want_g = INTERP[mode]
    _close(y.detach().cpu().reshape(-1).tolist(), want_y, tol)
    _close(g.cpu().reshape(-1).tolist(), want_g, tol)


def test_prelu_keeps_a_0d_input_0d(device):
    # PyTorch: prelu(tensor(-2.), tensor([0.25])) is 0-d -0.5; grads 0.25 and [-2.]
    a = ember.tensor(-2.0, device=device, requires_grad=True)
    w = ember.tensor([0.25], device=device, requires_grad=True)
    y = F.prelu(a, w)
    assert y.shape == () and y.item() == -0.5
    y.backward()
    assert a.grad.item() == 0.25 and w.grad.cpu().tolist() == [-2.0]


def test_hardtanh_and_relu6_pass_the_gradient_of_nan(device):
    # PyTorch: hardtanh([inf, -inf, nan, .5, 3, -1, 1]) gradient [0, 0, 1, 1, 0, 0, 0] (zero at
    # the bounds, NaN passes); relu6 [0, 0, 1, 1, 1, 0, 1]. ember gave 0 at NaN.
    x = ember.tensor([INF, -INF, NAN, 0.5, 3.0, -1.0, 1.0], device=device).requires_grad_()
    (g,) = ember.autograd.grad(F.hardtanh(x).sum(), x)
    assert g.cpu().tolist() == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    (g,) = ember.autograd.grad(F.relu6(x).sum(), x)
    assert g.cpu().tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0]
    _close(F.hardtanh(x).detach().cpu().tolist(), [1.0, -1.0, NAN, 0.5, 1.0, -1.0, 1.0])


def test_lerp_uses_the_two_sided_formula(device):
    # PyTorch: weight >= 0.5 computes end - (end - start) * (1 - weight), so lerp(a, b, 1) is
    # b exactly (ember's single formula was off by an ulp in ~1/3 of the values), and
    # lerp(0.3, -inf, 0.75) is NaN with gradients (0.25, 0.75, -inf) (PyTorch's values).
    import numpy as np

    rng = np.random.default_rng(0)
    a32, b32 = rng.standard_normal((2, 500)).astype(np.float32)
    a, b = (ember.from_numpy(v).to(device) for v in (a32, b32))
    assert (ember.lerp(a, b, 1.0) == b).all()
    want = b32 - (b32 - a32) * np.float32(0.25)  # float32 throughout, as PyTorch's kernel
    assert np.array_equal(ember.lerp(a, b, 0.75).cpu().numpy(), want)
    w = ember.full((500,), 0.75, device=device)
    assert np.array_equal(ember.lerp(a, b, w).cpu().numpy(), want)
    x = ember.tensor([0.3, 1.0], device=device, requires_grad=True)
    e = ember.tensor([-INF, 2.0], device=device, requires_grad=True)
    ww = ember.tensor([0.75, 0.6], device=device, requires_grad=True)
    y = ember.lerp(x, e, ww)
    _close(y.detach().cpu().tolist(), [NAN, 1.600000023841858])
    gs = ember.autograd.grad((y * ember.tensor([1.0, 2.0], device=device)).sum(), (x, e, ww))
    _close([g.cpu().tolist() for g in gs], [[0.25, 0.8], [0.75, 1.2], [-INF, 2.0]])


def test_integer_array_setitem_requires_the_same_dtype(device):
    # Found by the forward fuzzer once its negative-index tensors built. PyTorch: index_put
    # refuses a value tensor of another dtype; a bool mask, an int, a slice or a 0-d index
    # tensor cast it (the values below are PyTorch's).
    x = ember.zeros(5, dtype=ember.int32, device=device)
    v8 = ember.tensor(3, dtype=ember.int8, device=device)
    msg = "got Int for the destination and Char for the source"
    with pytest.raises(RuntimeError, match=msg):
        x[ember.tensor([1], device=device)] = v8
    with pytest.raises(RuntimeError, match=msg):
        x[[1, 2]] = v8
    with pytest.raises(RuntimeError, match=msg):
        x[ember.zeros(0, dtype=ember.int64, device=device)] = v8
    x[1] = v8
    x[2:4] = v8
    x[x == 0] = ember.tensor(7, dtype=ember.int8, device=device)
    assert x.cpu().tolist() == [7, 3, 3, 3, 7]
    y = ember.zeros(2, 3, device=device)
    y[0, [1, 2]] = 5  # a Python number is not a tensor of another dtype
    assert y.cpu().tolist() == [[0.0, 5.0, 5.0], [0.0, 0.0, 0.0]]
