"""nn.utils.parametrize, parametrizations.weight_norm/spectral_norm and the hook-based
weight_norm/spectral_norm. Expected values come from numpy (norms, SVD).
"""

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.autograd import gradcheck
from ember.nn.utils import parametrize as P


def _np(t):
    return t.detach().cpu().numpy()


class _Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)

    def right_inverse(self, a):
        return a.triu()


class _Double(nn.Module):
    def forward(self, x):
        return x * 2

    def right_inverse(self, a):
        return a / 2


def test_register_and_remove(device):
    ember.manual_seed(0)
    m = nn.Linear(3, 3).to(device)
    w0 = _np(m.weight)
    P.register_parametrization(m, "weight", _Symmetric())
    assert type(m).__name__ == "ParametrizedLinear"
    assert P.type_before_parametrizations(m) is nn.Linear
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight")
    assert not P.is_parametrized(m, "bias")
    assert not P.is_parametrized(nn.Linear(3, 3))  # other instances untouched
    assert sorted(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    want = np.triu(w0) + np.triu(w0, 1).T
    np.testing.assert_allclose(_np(m.weight), want, atol=1e-6)
    # right_inverse ran at registration: original holds triu(w0).
    np.testing.assert_allclose(_np(m.parametrizations.weight.original), np.triu(w0), atol=1e-6)
    # Gradients reach the original through the parametrization.
    x = ember.ones(1, 3, device=device)
    m(x).sum().backward()
    g = _np(m.parametrizations.weight.original.grad)
    np.testing.assert_allclose(g, np.triu(np.ones((3, 3))) + np.triu(np.ones((3, 3)), 1), atol=1e-6)
    # Chaining and assignment through right_inverse.
    P.register_parametrization(m, "weight", _Double())
    np.testing.assert_allclose(_np(m.weight), 2 * want, atol=1e-5)
    target = ember.eye(3, device=device) * 4
    m.weight = target
    np.testing.assert_allclose(_np(m.weight), _np(target), atol=1e-6)
    with P.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight
    P.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(_np(m.weight), _np(target), atol=1e-6)
    assert sorted(m.state_dict()) == ["bias", "weight"]


def test_parametrize_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="does not have a parameter"):
        P.register_parametrization(m, "nope", _Double())
    with pytest.raises(ValueError, match="does not have a parametrization"):
        P.remove_parametrizations(m, "weight")

    class Shrink(nn.Module):
        def forward(self, x):
            return x[0]

    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(m, "weight", Shrink())


def test_weight_norm_parametrization(device):
    ember.manual_seed(0)
    m = nn.Linear(3, 4).to(device)
    w = _np(m.weight)
    nn.utils.parametrizations.weight_norm(m)
    g = m.parametrizations.weight.original0
    v = m.parametrizations.weight.original1
    np.testing.assert_allclose(_np(g), np.linalg.norm(w, axis=1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(_np(v), w, atol=1e-6)
    np.testing.assert_allclose(_np(m.weight), w, atol=1e-5)
    with ember.no_grad():
        g.mul_(2)
    np.testing.assert_allclose(_np(m.weight), 2 * w, atol=1e-5)
    assert sorted(m.state_dict()) == [
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    ]
    # dim=None normalises by the norm of the whole tensor.
    m2 = nn.utils.parametrizations.weight_norm(nn.Linear(3, 4).to(device), dim=None)
    assert tuple(m2.parametrizations.weight.original0.shape) == ()


def test_weight_norm_hook_and_grad():
    m = nn.Linear(3, 2).double()
    w = _np(m.weight)
    nn.utils.weight_norm(m)
    assert sorted(m.state_dict()) == ["bias", "weight_g", "weight_v"]
    np.testing.assert_allclose(_np(m.weight_g), np.linalg.norm(w, axis=1, keepdims=True))
    x = ember.randn(5, 3, dtype=ember.float64)

    def f(g, v):
        return x @ (v * (g / v.norm(dim=1, keepdim=True))).t()

    g = m.weight_g.detach().clone().requires_grad_(True)
    v = m.weight_v.detach().clone().requires_grad_(True)
    assert gradcheck(f, (g, v))
    out = m(x)
    np.testing.assert_allclose(_np(out), _np(x) @ w.T + _np(m.bias), atol=1e-12)
    nn.utils.remove_weight_norm(m)
    assert sorted(m.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(_np(m.weight), w, atol=1e-12)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(m)


def test_spectral_norm(device):
    ember.manual_seed(0)
    m = nn.Linear(5, 4).to(device)
    w = _np(m.weight)
    sigma = np.linalg.svd(w, compute_uv=False)[0]
    nn.utils.parametrizations.spectral_norm(m)
    np.testing.assert_allclose(_np(m.weight), w / sigma, rtol=1e-4, atol=1e-5)
    assert "parametrizations.weight.0._u" in m.state_dict()
    m2 = nn.utils.spectral_norm(nn.Linear(5, 4).to(device))
    w2 = _np(m2.weight_orig)
    for _ in range(30):  # one power step per training forward
        m2(ember.ones(1, 5, device=device))
    s2 = np.linalg.svd(w2, compute_uv=False)[0]
    np.testing.assert_allclose(_np(m2.weight), w2 / s2, rtol=1e-4, atol=1e-5)
    assert sorted(m2.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    nn.utils.remove_spectral_norm(m2)
    assert sorted(m2.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(_np(m2.weight), w2 / s2, rtol=1e-4, atol=1e-5)
