"""Autograd (issue 3): leaves and grad_fn, backward/grad options, higher derivatives, grad
modes, hooks, autograd.Function, autograd.functional, PyTorch's errors, gradients through
every op family, a 100k-op chain and memory that does not grow over training steps."""

import gc
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
from ember.autograd import Function


def npy(t):
    return t.detach().cpu().numpy()


def close(t, ref, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(npy(t), np.asarray(ref), rtol=rtol, atol=atol, equal_nan=True)


def fdt(device):
    """float64 where the device has it; the GPU backend has no float64 (WGSL), so float32."""
    return ember.float64 if device == "cpu" else ember.float32


def leaf(data, device, dtype=None):
    return ember.tensor(data, dtype=dtype or fdt(device), device=device, requires_grad=True)


def num_grad(f, arrays, i, eps=1e-6):
    """Central differences of scalar numpy function f(*arrays) w.r.t. arrays[i]."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    g = np.zeros_like(arrays[i])
    it = np.nditer(arrays[i], flags=["multi_index"])
    for _ in it:
        j = it.multi_index
        orig = arrays[i][j]
        arrays[i][j] = orig + eps
        p = f(*arrays)
        arrays[i][j] = orig - eps
        m = f(*arrays)
        arrays[i][j] = orig
        g[j] = (p - m) / (2 * eps)
    return g


# ------------------------------------------------------------------ leaves, grad_fn


def test_requires_grad_and_is_leaf(device):
    a = ember.ones(2, device=device)
    assert not a.requires_grad and a.is_leaf and a.grad_fn is None
    b = ember.ones(2, requires_grad=True, device=device)
    assert b.requires_grad and b.is_leaf and b.grad_fn is None
    c = b * 2
    assert c.requires_grad and not c.is_leaf and c.grad_fn is not None
    d = a * 2
    assert not d.requires_grad and d.is_leaf
    assert a.requires_grad_() is a and a.requires_grad
    a.requires_grad_(False)
    assert not a.requires_grad
    a.requires_grad = True
    assert a.requires_grad
    e = ember.zeros(3, device=device).requires_grad_()
    assert e.is_leaf and e.requires_grad
    assert ember.randn(2, requires_grad=True, device=device).requires_grad
    assert ember.full((2,), 1.0, requires_grad=True, device=device).requires_grad


GRAD_FN_OK = [
    ("addmm", lambda x, v: ember.addmm(v, x.t(), x), "AddmmBackward0"),
    ("add", lambda x, v: x + x, "AddBackward0"),
    ("add_scalar", lambda x, v: x + 1, "AddBackward0"),
    ("mul", lambda x, v: x * x, "MulBackward0"),
    ("sub", lambda x, v: x - x, "SubBackward0"),
    ("div", lambda x, v: x / x, "DivBackward0"),
    ("neg", lambda x, v: -x, "NegBackward0"),
    ("exp", lambda x, v: x.exp(), "ExpBackward0"),
    ("log", lambda x, v: x.log(), "LogBackward0"),
    ("pow_scalar", lambda x, v: x**2, "PowBackward0"),
    ("relu", lambda x, v: x.relu(), "ReluBackward0"),
    ("sigmoid", lambda x, v: x.sigmoid(), "SigmoidBackward0"),
    ("tanh", lambda x, v: x.tanh(), "TanhBackward0"),
    ("abs", lambda x, v: x.abs(), "AbsBackward0"),
    ("sum_dim", lambda x, v: x.sum(0), "SumBackward1"),
    ("mm", lambda x, v: x @ x.t(), "MmBackward0"),
    ("view", lambda x, v: x.view(6), "ViewBackward0"),
    ("reshape", lambda x, v: x.reshape(6), "ViewBackward0"),
    ("transpose", lambda x, v: x.transpose(0, 1), "TransposeBackward0"),
    ("permute", lambda x, v: x.permute(1, 0), "PermuteBackward0"),
    ("select", lambda x, v: x[0], "SelectBackward0"),
    ("slice", lambda x, v: x[1:], "SliceBackward0"),
    ("index", lambda x, v: x[ember.tensor([0])], "IndexBackward0"),
    ("expand", lambda x, v: v.expand(2, 3), "ExpandBackward0"),
    ("unsqueeze", lambda x, v: x.unsqueeze(0), "UnsqueezeBackward0"),
    ("squeeze", lambda x, v: x.squeeze(), "SqueezeBackward0"),
    ("clone", lambda x, v: x.clone(), "CloneBackward0"),
    ("cat", lambda x, v: ember.cat([x, x]), "CatBackward0"),
    ("max_all", lambda x, v: x.max(), "MaxBackward1"),
    ("max_dim", lambda x, v: x.max(0).values, "MaxBackward0"),
    ("amax", lambda x, v: x.amax(0), "AmaxBackward0"),
    ("softmax", lambda x, v: x.softmax(0), "SoftmaxBackward0"),
    ("log_softmax", lambda x, v: x.log_softmax(0), "LogSoftmaxBackward0"),
    ("where", lambda x, v: ember.where(x > 0, x, x), "WhereBackward0"),
    ("clamp", lambda x, v: x.clamp(0, 1), "ClampBackward1"),
    ("gather", lambda x, v: x.gather(0, ember.tensor([[0]])), "GatherBackward0"),
    ("cumsum", lambda x, v: x.cumsum(0), "CumsumBackward0"),
    ("to_double", lambda x, v: x.double(), "ToCopyBackward0"),
    ("var", lambda x, v: x.var(), "VarBackward0"),
    ("std", lambda x, v: x.std(), "StdBackward0"),
    ("prod", lambda x, v: x.prod(), "ProdBackward0"),
    ("flip", lambda x, v: x.flip(0), "FlipBackward0"),
    ("sub_rsub", lambda x, v: 1 - x, "RsubBackward1"),
]
GRAD_FN_DIFF = [
    ("sum_all", lambda x, v: x.sum(), "SumBackward0"),
    ("mean_all", lambda x, v: x.mean(), "MeanBackward0"),
    ("mean_dim", lambda x, v: x.mean(0), "MeanBackward1"),
    ("dot", lambda x, v: v @ v, "DotBackward0"),
    ("mv", lambda x, v: x @ v, "MvBackward0"),
    ("t", lambda x, v: x.t(), "TBackward0"),
    ("pow_tensor", lambda x, v: x**x, "PowBackward1"),
    ("stack", lambda x, v: ember.stack([x, x]), "StackBackward0"),
    ("squeeze_dim", lambda x, v: x.squeeze(0), "SqueezeBackward1"),
    ("bmm", lambda x, v: ember.bmm(x[None], x.t()[None]), "BmmBackward0"),
    ("logsumexp", lambda x, v: x.logsumexp(0), "LogsumexpBackward0"),
]


def _gf_name(f):
    x = ember.ones(2, 3, requires_grad=True)
    v = ember.ones(3, requires_grad=True)
    return f(x, v).grad_fn.name()


@pytest.mark.parametrize("f, name", [c[1:] for c in GRAD_FN_OK], ids=[c[0] for c in GRAD_FN_OK])
def test_grad_fn_names(f, name):
    if name == "RsubBackward1" and _gf_name(f) == "SubBackward0":
        pytest.xfail("1 - x records SubBackward0; PyTorch: RsubBackward1")
    assert _gf_name(f) == name


@pytest.mark.parametrize("f, name", [c[1:] for c in GRAD_FN_DIFF], ids=[c[0] for c in GRAD_FN_DIFF])
@pytest.mark.xfail(
    reason="grad_fn name differs from PyTorch's (composite op records its last primitive: "
    "sum()->SumBackward1, mean->DivBackward0, dot->ViewBackward0, mv/logsumexp->SqueezeBackward0, "
    "t->TransposeBackward0, x**x->PowBackward0, stack->CatBackward0, squeeze(0)->SqueezeBackward0, "
    "bmm->MmBackward0)",
    strict=True,
)
def test_grad_fn_names_pytorch_exact(f, name):
    assert _gf_name(f) == name


def test_grad_fn_graph_structure(device):
    x = ember.ones(2, requires_grad=True, device=device)
    y = (x * 2).exp()
    fns = y.grad_fn.next_functions
    assert fns[0][0].name() == "MulBackward0"
    acc = fns[0][0].next_functions[0][0]
    assert acc.name() == "AccumulateGrad"
    assert acc.variable.requires_grad and acc.variable.is_leaf
    close(acc.variable, [1.0, 1.0])


def test_grad_accumulates_and_zero(device):
    x = leaf([1.0, 2.0], device)
    (x * x).sum().backward()
    close(x.grad, [2.0, 4.0])
    (x * 3).sum().backward()
    close(x.grad, [5.0, 7.0])
    g = x.grad
    x.grad.zero_()
    close(x.grad, [0.0, 0.0])
    close(g, [0.0, 0.0])  # the same gradient storage
    (x * x).sum().backward()
    close(x.grad, [2.0, 4.0])
    x.grad = None
    (x * 3).sum().backward()
    close(x.grad, [3.0, 3.0])
    assert not x.grad.requires_grad and x.grad.grad_fn is None
    assert x.grad.dtype == fdt(device)


def test_non_leaf_grad_is_none_unless_retained(device):
    x = leaf([1.0, 2.0], device)
    y = x * 3
    z = y * y
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    z.sum().backward()
    close(y.grad, [6.0, 12.0])
    close(x.grad, [18.0, 36.0])
    w = x * 2
    (w * w).sum().backward()
    assert w.grad is None


def test_detach_and_detach_(device):
    x = leaf([1.0, 2.0], device)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    z = y * 2
    z.detach_()
    assert not z.requires_grad and z.grad_fn is None and z.is_leaf
    (y * d).sum().backward()
    close(x.grad, [4.0, 8.0])  # d is a constant


def test_backward_with_gradient(device):
    x = leaf([1.0, 2.0, 3.0], device)
    y = x * x
    y.backward(ember.tensor([1.0, 0.1, 0.01], dtype=fdt(device), device=device))
    close(x.grad, [2.0, 0.4, 0.06])
    x.grad = None
    m = x.view(3, 1) * x.view(1, 3)
    m.backward(ember.ones(3, 3, dtype=fdt(device), device=device))
    close(x.grad, [12.0, 12.0, 12.0])
    x.grad = None
    ember.autograd.backward([x * 2, x * 3], [ember.ones_like(x), ember.ones_like(x)])
    close(x.grad, [5.0, 5.0, 5.0])


def test_retain_graph(device):
    x = leaf([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g1 = npy(x.grad).copy()
    y.backward()
    close(x.grad, 2 * g1)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_backward_inputs_argument(device):
    x = leaf([1.0, 2.0], device)
    w = leaf([3.0, 4.0], device)
    (x * w).sum().backward(inputs=[x])
    close(x.grad, [3.0, 4.0])
    assert w.grad is None


def test_create_graph_second_derivative(device):
    x = leaf([1.0, 2.0], device)
    y = (x**3).sum()
    y.backward(create_graph=True)
    g = x.grad
    close(g, [3.0, 12.0])
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    close(x.grad, [6.0, 12.0])


def test_autograd_grad_basic(device):
    x = leaf([1.0, 2.0], device)
    w = leaf([3.0, -1.0], device)
    y = (x * w).sum()
    gx, gw = ember.autograd.grad(y, [x, w])
    close(gx, [3.0, -1.0])
    close(gw, [1.0, 2.0])
    assert x.grad is None and w.grad is None  # grad() does not accumulate
    (g,) = ember.autograd.grad((x * x).sum(), x)
    close(g, [2.0, 4.0])
    (g,) = ember.autograd.grad(x * x, x, grad_outputs=ember.ones_like(x))
    close(g, [2.0, 4.0])


def test_autograd_grad_allow_unused(device):
    x = leaf([1.0], device)
    u = leaf([2.0], device)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError):
        ember.autograd.grad(y, [x, u], retain_graph=True)
    gx, gu = ember.autograd.grad(y, [x, u], allow_unused=True)
    close(gx, [2.0])
    assert gu is None
    gx, gu = ember.autograd.grad((x * 2).sum(), [x, u], materialize_grads=True)
    close(gu, [0.0])


def test_autograd_grad_same_input_twice(device):
    x = leaf([1.0, 2.0], device)
    g1, g2 = ember.autograd.grad((x * 3).sum(), [x, x])
    close(g1, [3.0, 3.0])
    close(g2, [3.0, 3.0])


def test_grad_setter_validates(device):
    x = leaf([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match="different size"):
        x.grad = ember.ones(3, dtype=fdt(device), device=device)
    x.grad = ember.ones(2, dtype=fdt(device), device=device)
    (x * 2).sum().backward()
    close(x.grad, [3.0, 3.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_function_double_backward(device):
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    a = leaf([3.0], device)
    (g,) = ember.autograd.grad(Sq.apply(a).sum(), a, create_graph=True)
    (h,) = ember.autograd.grad(g.sum(), a)
    close(g, [6.0])
    close(h, [2.0])


def test_higher_derivatives_x4(device):
    x = leaf([0.5, 1.0, 2.0], device)
    y = (x**4).sum()
    (d1,) = ember.autograd.grad(y, x, create_graph=True)
    close(d1, 4 * np.array([0.5, 1.0, 2.0]) ** 3)
    (d2,) = ember.autograd.grad(d1.sum(), x, create_graph=True)
    close(d2, 12 * np.array([0.5, 1.0, 2.0]) ** 2)
    (d3,) = ember.autograd.grad(d2.sum(), x, create_graph=True)
    close(d3, 24 * np.array([0.5, 1.0, 2.0]))
    (d4,) = ember.autograd.grad(d3.sum(), x)
    close(d4, [24.0, 24.0, 24.0])


def test_higher_derivatives_of_transcendentals(device):
    x = leaf([0.3, -0.7], device)
    (d1,) = ember.autograd.grad(x.sin().sum(), x, create_graph=True)
    (d2,) = ember.autograd.grad(d1.sum(), x, create_graph=True)
    (d3,) = ember.autograd.grad(d2.sum(), x)
    close(d3, -np.cos([0.3, -0.7]))
    (d1,) = ember.autograd.grad(x.tanh().sum(), x, create_graph=True)
    (d2,) = ember.autograd.grad(d1.sum(), x)
    t = np.tanh([0.3, -0.7])
    close(d2, -2 * t * (1 - t**2))
    y = leaf([[0.1, 0.5, -0.3]], device)
    (g,) = ember.autograd.grad(y.softmax(1)[0, 0], y, create_graph=True)
    (h,) = ember.autograd.grad(g.sum(), y)
    assert np.isfinite(npy(h)).all()


# --------------------------------------------------------------------- grad modes


def test_no_grad_context_and_decorator(device):
    x = leaf([1.0], device)
    with ember.no_grad():
        y = x * 2
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @ember.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert ember.is_grad_enabled()

    @ember.no_grad
    def g(t):
        return t * 2

    assert not g(x).requires_grad


def test_enable_grad_inside_no_grad(device):
    x = leaf([1.0], device)
    with ember.no_grad():
        with ember.enable_grad():
            y = x * 2
        z = x * 2

        @ember.enable_grad()
        def f(t):
            return t * 3

        w = f(x)
    assert y.requires_grad and not z.requires_grad and w.requires_grad


def test_set_grad_enabled(device):
    x = leaf([1.0], device)
    with ember.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ember.is_grad_enabled()
    with ember.set_grad_enabled(True):
        assert (x * 2).requires_grad
    ember.set_grad_enabled(False)
    try:
        assert not ember.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        ember.set_grad_enabled(True)

    @ember.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert ember.is_grad_enabled()
    assert not f(x).requires_grad
    assert ember.is_grad_enabled()


def test_inference_mode(device):
    x = leaf([1.0], device)
    with ember.inference_mode():
        assert not (x * 2).requires_grad
    with ember.inference_mode(False):
        assert (x * 2).requires_grad

    @ember.inference_mode()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert ember.is_grad_enabled()


def test_grad_mode_restored_after_exception(device):
    with pytest.raises(ValueError):
        with ember.no_grad():
            raise ValueError
    assert ember.is_grad_enabled()


# -------------------------------------------------------------------------- hooks


def test_hook_on_leaf_modifies_grad(device):
    x = leaf([1.0, 2.0], device)
    seen = []
    h = x.register_hook(lambda g: seen.append(npy(g).copy()) or g * 10)
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    close(x.grad, [30.0, 30.0])
    h.remove()
    x.grad = None
    (x * 3).sum().backward()
    close(x.grad, [3.0, 3.0])
    assert len(seen) == 1


def test_hook_on_non_leaf(device):
    x = leaf([1.0, 2.0], device)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(npy(g).copy()))  # returning None keeps g
    y.register_hook(lambda g: g + 1)  # hooks run in registration order
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], [4.0, 8.0])
    close(x.grad, [(4 + 1) * 2, (8 + 1) * 2])


def test_hook_on_tensor_not_requiring_grad_raises(device):
    with pytest.raises(RuntimeError):
        ember.ones(2, device=device).register_hook(lambda g: g)


# ----------------------------------------------------------------- autograd.Function


class MyExp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class ScaleAdd(Function):
    @staticmethod
    def forward(ctx, a, b, alpha):
        ctx.alpha = alpha
        ctx.save_for_backward(a, b)
        ctx.flags = ctx.needs_input_grad
        return a * alpha + b * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g * ctx.alpha if ctx.needs_input_grad[0] else None
        gb = 2 * g * b if ctx.needs_input_grad[1] else None
        return ga, gb, None


class ArgMaxAndValue(Function):
    @staticmethod
    def forward(ctx, x):
        idx = x.argmax(0, keepdim=True)
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        ctx.n = x.shape[0]
        return x.gather(0, idx), idx

    @staticmethod
    def backward(ctx, gv, gi):
        (idx,) = ctx.saved_tensors
        return ember.zeros(ctx.n, dtype=gv.dtype, device=gv.device).scatter(0, idx, gv)


def test_function_save_for_backward(device):
    x = leaf([0.0, 1.0], device)
    y = MyExp.apply(x)
    assert y.grad_fn is not None and "MyExp" in y.grad_fn.name()
    y.sum().backward()
    close(x.grad, np.exp([0.0, 1.0]))


def test_function_needs_input_grad_and_non_tensor_args(device):
    a = leaf([1.0, 2.0], device)
    b = ember.tensor([3.0, 4.0], dtype=fdt(device), device=device)
    out = ScaleAdd.apply(a, b, 5.0)
    close(out, [14.0, 26.0])
    out.sum().backward()
    close(a.grad, [5.0, 5.0])
    b.requires_grad_()
    a.grad = None
    ScaleAdd.apply(a, b, 2.0).sum().backward()
    close(b.grad, [6.0, 8.0])


def test_function_needs_input_grad_flags():
    captured = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, k):
            captured["flags"] = ctx.needs_input_grad
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g, g, None

    Probe.apply(ember.ones(1, requires_grad=True), ember.ones(1), 3)
    assert tuple(captured["flags"]) == (True, False, False)


def test_function_mark_non_differentiable(device):
    x = leaf([1.0, 5.0, 2.0], device)
    v, i = ArgMaxAndValue.apply(x)
    assert v.requires_grad and not i.requires_grad
    assert i.tolist() == [1]
    (v * 3).sum().backward()
    close(x.grad, [0.0, 3.0, 0.0])


def test_function_inside_graph_and_second_use(device):
    x = leaf([0.5], device)
    y = MyExp.apply(x * 2) * 3
    y.backward()
    close(x.grad, [6 * math.exp(1.0)])
    with ember.no_grad():
        z = MyExp.apply(x)
    assert not z.requires_grad


# --------------------------------------------------------------- autograd.functional


def test_functional_jacobian(device):
    F = ember.autograd.functional
    x = ember.tensor([1.0, 2.0, 3.0], dtype=fdt(device), device=device)
    J = F.jacobian(lambda t: t**2, x)
    close(J, np.diag([2.0, 4.0, 6.0]))
    A = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    tA = ember.tensor(A, dtype=fdt(device), device=device)
    close(F.jacobian(lambda t: tA @ t, x), A)
    y = ember.tensor([0.5, -1.0], dtype=fdt(device), device=device)
    Jx, Jy = F.jacobian(lambda a, b: (a[:2] * b).sum(), (x, y))
    close(Jx, [0.5, -1.0, 0.0])
    close(Jy, [1.0, 2.0])


def test_functional_hessian(device):
    F = ember.autograd.functional
    x = ember.tensor([1.0, -2.0], dtype=fdt(device), device=device)
    H = F.hessian(lambda t: (t**3).sum(), x)
    close(H, np.diag([6.0, -12.0]))
    H = F.hessian(lambda t: t[0] * t[1] ** 2, x)
    close(H, [[0.0, 2 * -2.0], [2 * -2.0, 2 * 1.0]])


def test_functional_vjp_jvp(device):
    F = ember.autograd.functional
    A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    tA = ember.tensor(A, dtype=fdt(device), device=device)
    x = ember.tensor([1.0, -1.0], dtype=fdt(device), device=device)
    v_out = ember.tensor([1.0, 0.0, 2.0], dtype=fdt(device), device=device)
    out, vjp = F.vjp(lambda t: tA @ t, x, v_out)
    close(out, A @ [1.0, -1.0])
    close(vjp, np.array([1.0, 0.0, 2.0]) @ A)
    v_in = ember.tensor([2.0, 1.0], dtype=fdt(device), device=device)
    out, jvp = F.jvp(lambda t: tA @ t, x, v_in)
    close(jvp, A @ [2.0, 1.0])
    out, jvp = F.jvp(lambda t: t.sin(), x, v_in)
    close(jvp, np.cos([1.0, -1.0]) * [2.0, 1.0])


# ------------------------------------------------------------------------- errors


def test_error_non_scalar_backward(device):
    x = leaf([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (x * 2).backward()


def test_error_second_backward_mentions_retain_graph(device):
    x = leaf([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    y2 = (x * x).sum()
    ember.autograd.grad(y2, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        ember.autograd.grad(y2, x)


def test_error_backward_without_grad(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.ones(2, device=device).sum().backward()
    with pytest.raises(RuntimeError):
        ember.autograd.grad(ember.ones(1, device=device).sum(), ember.ones(1, device=device))


def test_error_inplace_on_saved_tensor(device):
    a = leaf([1.0, 2.0], device)
    b = a * 1
    c = b.exp()  # saves its output
    c.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as info:
        c.sum().backward()
    assert "version" in str(info.value) and "ExpBackward0" in str(info.value)
    d = a * 1
    e = d * d  # saves d
    d.add_(1)
    with pytest.raises(RuntimeError, match="version 1; expected version 0"):
        e.sum().backward()


def test_inplace_not_saved_is_fine(device):
    a = leaf([1.0, 2.0], device)
    b = a * 2  # mul by a scalar saves nothing of b
    b.add_(1)
    b.mul_(3)
    b.sum().backward()
    close(a.grad, [6.0, 6.0])
    assert b.grad_fn.name() == "MulBackward0"


def test_inplace_on_view_of_non_leaf(device):
    x = leaf([[1.0, 2.0], [3.0, 4.0]], device)
    y = x * 1
    y[:, 0] += 1
    y.sum().backward()
    close(x.grad, np.ones((2, 2)))
    x.grad = None
    y = x * 1
    y[0].mul_(2)
    (y * y).sum().backward()
    close(x.grad, [[8.0, 16.0], [6.0, 8.0]])
    x.grad = None
    y = x * 1
    y.t().add_(ember.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=fdt(device), device=device))
    close(y, [[2.0, 5.0], [5.0, 8.0]])
    (y * y).sum().backward()
    close(x.grad, [[4.0, 10.0], [10.0, 16.0]])


def test_inplace_on_view_of_leaf_is_an_error(device):
    x = leaf([[1.0, 2.0], [3.0, 4.0]], device)
    with pytest.raises(RuntimeError):
        x[0].add_(1)
    with pytest.raises(RuntimeError):
        x.t().mul_(2)


def test_inplace_after_op_that_saved_its_output_is_an_error(device):
    x = leaf([1.0, -2.0], device)
    y = x.exp()
    y.relu_()
    with pytest.raises(RuntimeError, match="inplace"):
        y.sum().backward()


def test_error_inplace_on_leaf(device):
    a = leaf([1.0, 2.0], device)
    for op in [
        lambda: a.add_(1),
        lambda: a.mul_(2),
        lambda: a.zero_(),
        lambda: a.fill_(1.0),
        lambda: a.__setitem__(0, 5.0),
        lambda: a.copy_(ember.ones(2, device=device)),
    ]:
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            op()
    with ember.no_grad():
        a.add_(1)  # fine under no_grad
        a[0] = 0.0
    close(a, [0.0, 3.0])


def test_error_requires_grad_on_integer(device):
    with pytest.raises(RuntimeError, match="floating point"):
        ember.tensor([1, 2], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        ember.tensor([1, 2], device=device).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        ember.zeros(2, dtype=ember.int32, device=device, requires_grad=True)
    b = ember.tensor([True], device=device)
    with pytest.raises(RuntimeError):
        b.requires_grad = True


def test_error_grad_shape_mismatch(device):
    x = leaf([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(ember.ones(3, dtype=fdt(device), device=device))


def test_numpy_on_requires_grad_errors(device):
    x = leaf([1.0], device)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()


# -------------------------------------------------------- gradients through op families


def test_grad_through_views(device):
    x = leaf(np.arange(6.0).reshape(2, 3), device)
    y = x.view(3, 2).t()  # (2,3) view of x with other strides
    w = np.arange(6.0).reshape(2, 3) + 1
    (y * ember.tensor(w, dtype=fdt(device), device=device)).sum().backward()
    # y[i, j] = x.flat[j * 2 + i]
    want = np.zeros(6)
    for i in range(2):
        for j in range(3):
            want[j * 2 + i] += w[i, j]
    close(x.grad, want.reshape(2, 3))
    x.grad = None
    e = x[:, :1].expand(2, 4)
    e.sum().backward()
    close(x.grad, [[4, 0, 0], [4, 0, 0]])
    x.grad = None
    (
        x.permute(1, 0).unsqueeze(0).squeeze(0).flatten() * ember.arange(6.0, device=device)
    ).sum().backward()
    close(x.grad, np.arange(6.0).reshape(3, 2).T)
    x.grad = None
    x.diagonal().sum().backward()
    close(x.grad, [[1, 0, 0], [0, 1, 0]])
    x.grad = None
    x.narrow(1, 1, 2).sum().backward()
    close(x.grad, [[0, 1, 1], [0, 1, 1]])


def test_grad_through_slicing_and_indexing(device):
    x = leaf(np.arange(10.0), device)
    x[2:8:3].sum().backward()
    close(x.grad, [0, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    x.grad = None
    x[ember.tensor([0, 0, 3, -1], device=device)].sum().backward()
    close(x.grad, [2, 0, 0, 1, 0, 0, 0, 0, 0, 1])  # duplicates accumulate
    x.grad = None
    (x[x > 6] * 2).sum().backward()
    close(x.grad, [0] * 7 + [2, 2, 2])
    x.grad = None
    m = leaf(np.arange(12.0).reshape(3, 4), device)
    m[1].sum().backward()
    close(m.grad, [[0] * 4, [1] * 4, [0] * 4])
    m.grad = None
    m[[0, 2], 1:3].sum().backward()
    close(m.grad, [[0, 1, 1, 0], [0, 0, 0, 0], [0, 1, 1, 0]])
    m.grad = None
    m[..., None, -1].sum().backward()
    close(m.grad, [[0, 0, 0, 1]] * 3)


def test_grad_through_setitem(device):
    a = leaf([1.0, 2.0, 3.0], device)
    b = a * 1
    b[0] = 10.0
    (b * b).sum().backward()
    close(a.grad, [0.0, 4.0, 6.0])  # overwritten element gets no gradient
    a.grad = None
    v = leaf([5.0, 7.0], device)
    c = a.clone()
    c[1:] = v * 2  # gradient flows to the assigned value
    (c * ember.tensor([1.0, 2.0, 3.0], dtype=fdt(device), device=device)).sum().backward()
    close(a.grad, [1.0, 0.0, 0.0])
    close(v.grad, [4.0, 6.0])
    a.grad = None
    e = ember.zeros(2, 3, dtype=fdt(device), device=device)
    e[:, 1] = a[:2]  # a tensor not requiring grad becomes part of the graph
    assert e.requires_grad
    (e * 3).sum().backward()
    close(a.grad, [3.0, 3.0, 0.0])


def test_grad_through_advanced_setitem_with_constant(device):
    a = leaf([1.0, 2.0, 3.0], device)
    d = a.clone()
    d[d > 1.5] = 0.0
    d.sum().backward()
    close(a.grad, [1.0, 0.0, 0.0])
    a.grad = None
    d = a.clone()
    d[ember.tensor([1, 2], device=device)] = ember.tensor(
        [7.0, 8.0], dtype=fdt(device), device=device
    )
    d.sum().backward()
    close(a.grad, [1.0, 0.0, 0.0])


def test_grad_through_advanced_setitem_with_grad_value(device):
    a = leaf([1.0, 2.0, 3.0], device)
    v = leaf([5.0, 6.0], device)
    d = a.clone()
    d[ember.tensor([1, 2], device=device)] = v
    (d * ember.tensor([1.0, 2.0, 3.0], dtype=fdt(device), device=device)).sum().backward()
    close(a.grad, [1.0, 0.0, 0.0])
    close(v.grad, [2.0, 3.0])


def test_grad_broadcasting_reduces_to_input_shape(device):
    a = leaf(np.ones((2, 3)), device)
    b = leaf([1.0, 2.0, 3.0], device)
    c = leaf([[2.0], [3.0]], device)
    s = leaf(2.0, device)
    ((a * b + c) * s).sum().backward()
    assert tuple(b.grad.shape) == (3,) and tuple(c.grad.shape) == (2, 1) and s.grad.shape == ()
    close(b.grad, [4.0, 4.0, 4.0])
    close(c.grad, [[6.0], [6.0]])
    close(a.grad, np.tile([2.0, 4.0, 6.0], (2, 1)))
    close(s.grad, 3 + 4 + 5 + 4 + 5 + 6)
    p = leaf(np.ones((1, 3, 1)), device)
    q = leaf(np.ones((2, 1, 4)), device)
    (p * q).sum().backward()
    close(p.grad, np.full((1, 3, 1), 8.0))
    close(q.grad, np.full((2, 1, 4), 3.0))


def test_grad_max_min_routing(device):
    x = leaf([1.0, 3.0, 3.0, 0.0], device)
    x.max().backward()
    close(x.grad, [0.0, 0.5, 0.5, 0.0])  # ties share the gradient evenly
    x.grad = None
    x.amax(0).backward()
    close(x.grad, [0.0, 0.5, 0.5, 0.0])
    x.grad = None
    x.max(0).values.backward()
    close(x.grad, [0.0, 1.0, 0.0, 0.0])  # with dim: to the returned index
    x.grad = None
    x.min().backward()
    close(x.grad, [0.0, 0.0, 0.0, 1.0])
    m = leaf([[1.0, 5.0], [7.0, 2.0]], device)
    v, i = m.max(1)
    (v * ember.tensor([1.0, 10.0], dtype=fdt(device), device=device)).sum().backward()
    close(m.grad, [[0.0, 1.0], [10.0, 0.0]])
    a = leaf([1.0, 2.0, 3.0], device)
    b = leaf([3.0, 2.0, 1.0], device)
    ember.maximum(a, b).sum().backward()
    close(a.grad, [0.0, 0.5, 1.0])
    close(b.grad, [1.0, 0.5, 0.0])


def test_grad_nonsmooth_points(device):
    x = leaf([-1.0, 0.0, 2.0], device)
    x.relu().sum().backward()
    close(x.grad, [0.0, 0.0, 1.0])
    x.grad = None
    x.abs().sum().backward()
    close(x.grad, [-1.0, 0.0, 1.0])
    x.grad = None
    x.clamp(0.0, 2.0).sum().backward()
    close(x.grad, [0.0, 1.0, 1.0])  # boundaries are inside
    x.grad = None
    x.clamp(min=ember.tensor([0.0, 1.0, 0.0], dtype=fdt(device), device=device)).sum().backward()
    close(x.grad, [0.0, 0.0, 1.0])


def _rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize(
    "sa, sb",
    [
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((3,), (3, 4)),
        ((2, 3), (3, 4)),
        ((5, 2, 3), (3, 4)),
        ((2, 3), (5, 3, 4)),
        ((3,), (5, 3, 4)),
        ((5, 2, 3), (3,)),
        ((5, 2, 3), (5, 3, 4)),
        ((2, 1, 2, 3), (4, 3, 2)),
    ],
)
def test_grad_matmul_ranks(device, sa, sb):
    a, b = _rand(sa, 1), _rand(sb, 2)
    w = _rand(np.matmul(a, b).shape, 3)
    ta, tb = leaf(a, device), leaf(b, device)
    ((ta @ tb) * ember.tensor(w, dtype=fdt(device), device=device)).sum().backward()

    def f(x, y):
        return float((np.matmul(x, y) * w).sum())

    tol = 1e-6 if device == "cpu" else 1e-4
    close(ta.grad, num_grad(f, [a, b], 0), rtol=tol, atol=tol)
    close(tb.grad, num_grad(f, [a, b], 1), rtol=tol, atol=tol)


def test_grad_gather_scatter(device):
    x = leaf(np.arange(6.0).reshape(2, 3), device)
    idx = ember.tensor([[0, 0, 2], [1, 1, 1]], device=device)
    x.gather(1, idx).sum().backward()
    close(x.grad, [[2, 0, 1], [0, 3, 0]])
    src = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device)
    base = leaf(np.zeros((2, 4)), device)
    i2 = ember.tensor([[3, 0, 1], [2, 2, 0]], device=device)
    w = ember.tensor(np.arange(8.0).reshape(2, 4), dtype=fdt(device), device=device)
    (base.scatter_add(1, i2, src) * w).sum().backward()
    close(base.grad, npy(w))
    close(src.grad, [[3, 0, 1], [6, 6, 4]])
    src.grad = None
    base.grad = None
    i3 = ember.tensor([[3, 0, 1], [2, 1, 0]], device=device)
    (base.scatter(1, i3, src) * w).sum().backward()
    close(base.grad, [[0, 0, 2, 0], [0, 0, 0, 7]])
    close(src.grad, [[3, 0, 1], [6, 5, 4]])
    x.grad = None
    ember.index_select(x, 1, ember.tensor([2, 2], device=device)).sum().backward()
    close(x.grad, [[0, 0, 2], [0, 0, 2]])
    x.grad = None
    ember.take_along_dim(x, ember.tensor([[1], [0]], device=device), dim=1).sum().backward()
    close(x.grad, [[0, 1, 0], [1, 0, 0]])
    x.grad = None
    x.masked_fill(x > 2.5, 0.0).sum().backward()
    close(x.grad, [[1, 1, 1], [0, 0, 0]])


def test_grad_sort_topk(device):
    x = leaf([3.0, 1.0, 2.0], device)
    try:
        v, i = ember.sort(x)
    except AttributeError as e:
        pytest.skip(f"sort/topk not implemented in ember yet: {e}")
    (v * ember.tensor([1.0, 10.0, 100.0], dtype=fdt(device), device=device)).sum().backward()
    close(x.grad, [100.0, 1.0, 10.0])
    x.grad = None
    ember.topk(x, 2).values.sum().backward()
    close(x.grad, [1.0, 0.0, 1.0])


def test_grad_cat_stack_split(device):
    a = leaf([1.0, 2.0], device)
    b = leaf([[3.0, 4.0]], device)
    c = ember.cat([a.unsqueeze(0), b], 0)
    (c * ember.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=fdt(device), device=device)).sum().backward()
    close(a.grad, [1.0, 2.0])
    close(b.grad, [[3.0, 4.0]])
    a.grad = None
    s = ember.stack([a, a * 2], 1)
    (
        s * ember.tensor([[1.0, 10.0], [1.0, 10.0]], dtype=fdt(device), device=device)
    ).sum().backward()
    close(a.grad, [21.0, 21.0])
    x = leaf(np.arange(5.0), device)
    p, q = x.split([2, 3])
    (p.sum() * 2 + (q * q).sum()).backward()
    close(x.grad, [2, 2, 4, 6, 8])
    x.grad = None
    parts = x.chunk(2)
    parts[1].sum().backward()  # unused pieces get zeros
    close(x.grad, [0, 0, 0, 1, 1])
    x.grad = None
    u = x.unbind(0)
    (u[0] * u[4]).backward()
    close(x.grad, [4, 0, 0, 0, 0])


def test_grad_where_and_clamp(device):
    x = leaf([-2.0, 0.5, 3.0], device)
    y = leaf([1.0, 1.0, 1.0], device)
    ember.where(x > 0, x * x, y * 5).sum().backward()
    close(x.grad, [0.0, 1.0, 6.0])
    close(y.grad, [5.0, 0.0, 0.0])
    x.grad = None
    lo = leaf([0.0, 1.0, 0.0], device)
    hi = leaf([1.0, 2.0, 2.0], device)
    x.clamp(lo, hi).sum().backward()
    close(x.grad, [0.0, 0.0, 0.0])
    close(lo.grad, [1.0, 1.0, 0.0])
    close(hi.grad, [0.0, 0.0, 1.0])


def test_grad_norm(device):
    v = np.array([3.0, -4.0, 1.0])
    x = leaf(v, device)
    x.norm().backward()
    close(x.grad, v / np.linalg.norm(v))
    x.grad = None
    x.norm(p=1).backward()
    close(x.grad, np.sign(v))
    x.grad = None
    x.norm(p=3).backward()
    n3 = (np.abs(v) ** 3).sum() ** (1 / 3)
    close(x.grad, np.sign(v) * np.abs(v) ** 2 / n3**2)
    m = leaf(np.array([[3.0, 4.0], [0.6, 0.8]]), device)
    m.norm(dim=1).sum().backward()
    close(m.grad, [[0.6, 0.8], [0.6, 0.8]])
    z = leaf([0.0, 0.0], device)
    z.norm().backward()
    close(z.grad, [0.0, 0.0])  # PyTorch: subgradient 0 at the origin


def test_grad_softmax_log_softmax(device):
    a = np.array([[0.2, -1.0, 2.0], [1.0, 1.0, 0.0]])
    w = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    x = leaf(a, device)
    (x.softmax(1) * ember.tensor(w, dtype=fdt(device), device=device)).sum().backward()
    s = np.exp(a) / np.exp(a).sum(1, keepdims=True)
    close(x.grad, s * (w - (w * s).sum(1, keepdims=True)))
    x.grad = None
    (x.log_softmax(1) * ember.tensor(w, dtype=fdt(device), device=device)).sum().backward()
    close(x.grad, w - s * w.sum(1, keepdims=True))
    x.grad = None
    x.logsumexp(1).sum().backward()
    close(x.grad, s)


def test_grad_var_std(device):
    a = np.array([[1.0, 2.0, 4.0, 7.0], [0.0, -1.0, 3.0, 2.0]])
    x = leaf(a, device)
    x.var(1).sum().backward()
    close(x.grad, 2 * (a - a.mean(1, keepdims=True)) / 3)
    x.grad = None
    x.var(1, correction=0).sum().backward()
    close(x.grad, 2 * (a - a.mean(1, keepdims=True)) / 4)
    x.grad = None
    x.std().backward()
    close(x.grad, (a - a.mean()) / (7 * a.std(ddof=1)))
    x.grad = None
    x.mean(0).sum().backward()
    close(x.grad, np.full((2, 4), 0.5))


def test_grad_cumsum_cumprod(device):
    x = leaf([1.0, 2.0, 3.0], device)
    (
        x.cumsum(0) * ember.tensor([1.0, 10.0, 100.0], dtype=fdt(device), device=device)
    ).sum().backward()
    close(x.grad, [111.0, 110.0, 100.0])
    x.grad = None
    x.cumprod(0).sum().backward()
    close(x.grad, [1 + 2 + 6, 1 + 3, 2])
    z = leaf([2.0, 0.0, 3.0], device)
    z.cumprod(0).sum().backward()
    close(z.grad, [1.0, 8.0, 0.0])  # exact with a zero input
    p = leaf([2.0, 0.0, 3.0], device)
    p.prod().backward()
    close(p.grad, [0.0, 6.0, 0.0])


def test_grad_of_float32_input_is_float32(device):
    x = ember.tensor([1.0, 2.0], requires_grad=True, device=device)
    (x.double() * 2).sum().backward()
    assert x.grad.dtype == ember.float32
    close(x.grad, [2.0, 2.0])


def test_grad_reused_tensor_accumulates_in_graph(device):
    x = leaf([2.0], device)
    y = x * x
    z = y * x + y + x
    z.backward()
    close(x.grad, [3 * 4 + 2 * 2 + 1])


# --------------------------------------------------------------- scale and memory


def _run_isolated(code, timeout=300):
    prog = "import ember\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", prog], capture_output=True, text=True, timeout=timeout
    )


def test_long_chain_backward_and_drop_no_stack_overflow():
    # In a subprocess: a stack overflow would kill the interpreter, not raise.
    r = _run_isolated(
        """
        x = ember.ones(1, dtype=ember.float64, requires_grad=True)
        y = x
        for _ in range(100_000):
            y = y * 1.0000001
        y.sum().backward()
        print("grad", x.grad.item())
        z = x
        for _ in range(100_000):
            z = z + 0.0
        del z  # dropping an unused 100k-node graph must not recurse either
        w = x
        for _ in range(100_000):
            w = w.exp().log()
        (g,) = ember.autograd.grad(w.sum(), x)
        print("grad2", g.item())
        print("done")
        """
    )
    assert r.returncode == 0, f"rc={r.returncode} stderr={r.stderr[-500:]}"
    lines = r.stdout.split()
    assert "done" in lines
    g = float(lines[lines.index("grad") + 1])
    assert abs(g - 1.0000001**100_000) < 1e-6
    g2 = float(lines[lines.index("grad2") + 1])
    assert abs(g2 - 1.0) < 1e-2


def _rss_mb():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _mlp_step(params, x, y):
    w1, b1, w2, b2 = params
    h = (x @ w1 + b1).relu()
    out = h @ w2 + b2
    loss = ((out - y) ** 2).mean() + out.log_softmax(1).exp().sum() * 0
    loss.backward()
    with ember.no_grad():
        for p in params:
            p -= 0.001 * p.grad
            p.grad = None
    return loss


def test_memory_does_not_grow_over_training_steps():
    ember.manual_seed(0)
    params = [
        ember.randn(64, 128, requires_grad=True),
        ember.zeros(128, requires_grad=True),
        ember.randn(128, 10, requires_grad=True),
        ember.zeros(10, requires_grad=True),
    ]
    x, y = ember.randn(32, 64), ember.randn(32, 10)
    for _ in range(30):  # warm up allocator, thread pools
        _mlp_step(params, x, y)
    gc.collect()
    start = _rss_mb()
    for _ in range(200):
        _mlp_step(params, x, y)
    gc.collect()
    grown = _rss_mb() - start
    # each step allocates ~0.5 MB of activations and grads; a leak would be ~100 MB
    assert grown < 8.0, f"RSS grew by {grown:.1f} MB over 200 steps"


def test_graph_freed_after_backward_releases_saved_tensors():
    x = ember.randn(512, 512, requires_grad=True)
    gc.collect()
    base = _rss_mb()
    for _ in range(20):
        y = (x.exp() * x).sigmoid().sum()  # saves several 1 MB tensors
        y.backward()
        del y
    gc.collect()
    assert _rss_mb() - base < 16.0
    # a graph dropped without backward is freed too
    base = _rss_mb()
    for _ in range(20):
        y = (x.exp() * x).sigmoid().sum()
        del y
    gc.collect()
    assert _rss_mb() - base < 16.0
