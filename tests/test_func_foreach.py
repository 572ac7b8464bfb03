"""ember.func (vmap, grad, grad_and_value, jacrev, jacfwd, functional_call) and ember._foreach_*.

Expected values are computed by hand (derivatives of polynomials/sin) or with numpy.
"""

import math

import numpy as np
import pytest

import ember
from ember.func import functional_call, grad, grad_and_value, jacfwd, jacrev, vmap


def _np(t):
    return t.detach().cpu().numpy()


# ---------------------------------------------------------------------- vmap
def test_vmap_in_out_dims(device):
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    x = ember.tensor(a, device=device)
    np.testing.assert_allclose(_np(vmap(ember.dot)(x, x)), (a * a).sum(1))
    # in_dims=1 maps over columns; None broadcasts the scalar.
    s = ember.tensor(2.0, device=device)
    got = vmap(lambda u, c: u * c, in_dims=(1, None))(x, s)
    np.testing.assert_allclose(_np(got), a.T * 2)
    # out_dims per output.
    o0, o1 = vmap(lambda u: (u, u * 2), out_dims=(0, 1))(x)
    np.testing.assert_allclose(_np(o0), a)
    np.testing.assert_allclose(_np(o1), (a * 2).T)
    # nested vmap: outer product.
    u = ember.tensor([1.0, 2.0], device=device)
    v = ember.tensor([3.0, 4.0, 5.0], device=device)
    outer = vmap(vmap(ember.mul, in_dims=(None, 0)), in_dims=(0, None))(u, v)
    np.testing.assert_allclose(_np(outer), np.outer([1, 2], [3, 4, 5]))


def test_vmap_errors():
    x, y = ember.ones(2, 3), ember.ones(3, 3)
    with pytest.raises(ValueError, match="same size"):
        vmap(ember.add)(x, y)
    with pytest.raises(ValueError, match="in_dims"):
        vmap(ember.add, in_dims=(0,))(x, x)
    with pytest.raises(ValueError, match="out of range"):
        vmap(ember.neg, in_dims=2)(x)


# ---------------------------------------------------------------------- grad
def test_grad_and_value(device):
    x = ember.tensor([1.0, 2.0], device=device)
    f = lambda t: (t**3).sum()  # noqa: E731
    np.testing.assert_allclose(_np(grad(f)(x)), [3.0, 12.0])
    g, v = grad_and_value(f)(x)
    np.testing.assert_allclose(_np(g), [3.0, 12.0])
    assert v.item() == pytest.approx(9.0)
    assert not g.requires_grad
    # argnums tuple and has_aux.
    h = lambda a, b: ((a * b).sum(), a + b)  # noqa: E731
    b = ember.tensor([3.0, 4.0], device=device)
    (ga, gb), aux = grad(h, argnums=(0, 1), has_aux=True)(x, b)
    np.testing.assert_allclose(_np(ga), [3.0, 4.0])
    np.testing.assert_allclose(_np(gb), [1.0, 2.0])
    np.testing.assert_allclose(_np(aux), [4.0, 6.0])


def test_grad_nested_and_vmapped(device):
    # d2/dx2 x^3 = 6x; per-example grads of sum(t^3) = 3t^2.
    x = ember.tensor(2.0, device=device)
    assert grad(grad(lambda t: t**3))(x).item() == pytest.approx(12.0)
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    per = vmap(grad(lambda t: (t**3).sum()))(ember.tensor(a, device=device))
    np.testing.assert_allclose(_np(per), 3 * a**2)


def test_grad_errors():
    with pytest.raises(RuntimeError, match="scalar"):
        grad(lambda t: t * 2)(ember.ones(3))
    with pytest.raises(RuntimeError, match="floating point"):
        grad(lambda t: t.sum())(ember.ones(3, dtype=ember.int64))


def test_jacrev_jacfwd(device):
    x = ember.tensor([0.0, 1.0], device=device)
    want = np.diag(np.cos([0.0, 1.0]))
    np.testing.assert_allclose(_np(jacrev(ember.sin)(x)), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(jacfwd(ember.sin)(x)), want, rtol=1e-5, atol=1e-6)
    b = ember.tensor([3.0, 4.0], device=device)
    ja, jb = jacrev(lambda p, q: p * q, argnums=(0, 1))(x, b)
    np.testing.assert_allclose(_np(ja), np.diag([3.0, 4.0]))
    np.testing.assert_allclose(_np(jb), np.diag([0.0, 1.0]))
    # Hessian of sum(x^3) is diag(6x).
    hs = ember.func.hessian(lambda t: (t**3).sum())(ember.tensor([1.0, 2.0], device=device))
    np.testing.assert_allclose(_np(hs), np.diag([6.0, 12.0]))


def test_functional_call(device):
    ember.manual_seed(0)
    m = ember.nn.Linear(3, 2).to(device)
    w = ember.ones(2, 3, device=device)
    b = ember.tensor([1.0, -1.0], device=device)
    x = ember.tensor([[1.0, 2.0, 3.0]], device=device)
    out = functional_call(m, {"weight": w, "bias": b}, (x,))
    np.testing.assert_allclose(_np(out), [[7.0, 5.0]])
    assert isinstance(m.weight, ember.nn.Parameter)  # restored
    assert not np.allclose(_np(m.weight), 1.0)
    # Gradients flow to the supplied tensors (the per-sample-grad recipe).
    wg = w.clone().requires_grad_(True)
    functional_call(m, ({"weight": wg}, {"bias": b}), x).sum().backward()
    np.testing.assert_allclose(_np(wg.grad), [[1.0, 2.0, 3.0]] * 2)
    with pytest.raises(RuntimeError, match="missing keys"):
        functional_call(m, {"weight": w}, (x,), strict=True)


# ---------------------------------------------------------------------- _foreach
def test_foreach_inplace(device):
    a = [ember.tensor([1.0, 2.0], device=device), ember.tensor([3.0], device=device)]
    b = [ember.tensor([1.0, 1.0], device=device), ember.tensor([2.0], device=device)]
    ember._foreach_add_(a, b, alpha=2)
    assert [_np(t).tolist() for t in a] == [[3.0, 4.0], [7.0]]
    ember._foreach_mul_(a, 0.5)
    assert [_np(t).tolist() for t in a] == [[1.5, 2.0], [3.5]]
    ember._foreach_div_(a, [0.5, 7.0])
    assert [_np(t).tolist() for t in a] == [[3.0, 4.0], [0.5]]
    ember._foreach_addcmul_(a, b, b, value=2)  # a + 2*b*b
    assert [_np(t).tolist() for t in a] == [[5.0, 6.0], [8.5]]
    ember._foreach_addcdiv_(a, b, b, [1.0, -2.0])  # a + v*b/b
    assert [_np(t).tolist() for t in a] == [[6.0, 7.0], [6.5]]
    ember._foreach_lerp_(a, b, 0.5)
    assert [_np(t).tolist() for t in a] == [[3.5, 4.0], [4.25]]
    ember._foreach_maximum_(a, 4.0)
    assert [_np(t).tolist() for t in a] == [[4.0, 4.0], [4.25]]
    ember._foreach_zero_(a)
    assert [_np(t).tolist() for t in a] == [[0.0, 0.0], [0.0]]


def test_foreach_out_of_place(device):
    a = [ember.tensor([4.0, 9.0], device=device), ember.tensor([3.0, 4.0], device=device)]
    r = ember._foreach_sqrt(a)
    np.testing.assert_allclose(_np(r[0]), [2.0, 3.0])
    np.testing.assert_allclose(_np(r[1]), [math.sqrt(3.0), 2.0], rtol=1e-6)
    assert _np(a[0]).tolist() == [4.0, 9.0]  # unchanged
    n = ember._foreach_norm(a)
    assert n[0].item() == pytest.approx(math.sqrt(97.0))
    assert n[1].item() == pytest.approx(5.0)
    assert ember._foreach_norm(a, 1)[1].item() == pytest.approx(7.0)
    s = ember._foreach_sub(a, [ember.ones(2, device=device)] * 2, alpha=3)
    assert [_np(t).tolist() for t in s] == [[1.0, 6.0], [0.0, 1.0]]


def test_foreach_errors():
    with pytest.raises(RuntimeError, match="same length, got 1 and 2"):
        ember._foreach_add_([ember.ones(2)], [ember.ones(2), ember.ones(2)])
    with pytest.raises(TypeError, match="list of tensors"):
        ember._foreach_sqrt(ember.ones(2))
