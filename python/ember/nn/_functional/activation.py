"""Activation functions of ember.nn.functional (composed from tensor ops)."""

import math
import warnings

import ember

from ._utils import _scalar_like

__all__ = [
    "relu",
    "relu_",
    "threshold",
    "hardtanh",
    "hardtanh_",
    "relu6",
    "elu",
    "elu_",
    "selu",
    "celu",
    "leaky_relu",
    "leaky_relu_",
    "prelu",
    "gelu",
    "sigmoid",
    "tanh",
    "silu",
    "softplus",
    "logsigmoid",
    "softsign",
    "mish",
    "hardsigmoid",
    "hardswish",
    "hardshrink",
    "softshrink",
    "tanhshrink",
    "softmax",
    "log_softmax",
    "softmin",
    "glu",
]


def _apply_inplace(input, fn):
    """input.copy_(fn(input)), with fn run on a copy when autograd records: fn's backward may
    need its input, which the in-place write overwrites (PyTorch's in-place activations keep
    training working too, e.g. timm's MobileNetV3 with Hardswish(inplace=True))."""
    src = input.clone() if (input.requires_grad and ember.is_grad_enabled()) else input
    return input.copy_(fn(src))


def relu(input, inplace=False) -> "ember.Tensor":
    if inplace:
        return relu_(input)
    return input.relu()


def relu_(input):
    if hasattr(input, "relu_"):
        return input.relu_()
    return input.clamp_(min=0)


def threshold(input, threshold, value, inplace=False):
    if inplace:
        # (the argument `threshold` shadows this function's name)
        return _apply_inplace(
            input, lambda x: ember.where(x > threshold, x, _scalar_like(value, x))
        )
    return ember.where(input > threshold, input, _scalar_like(value, input))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return input.clamp_(min_val, max_val)
    # PyTorch's hardtanh has zero gradient exactly at the bounds (clamp passes it):
    # the same values, with the clamped ones detached.
    # "Not at or beyond a bound" rather than "strictly inside": NaN passes its gradient
    # through (PyTorch's hardtanh_backward), as it passes its value.
    inside = ~((input <= min_val) | (input >= max_val))
    return ember.where(inside, input, input.clamp(min_val, max_val).detach())


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def _neg_part_exp(input, scale=1.0):
    # exp of the non-positive part only: the unused branch never overflows, so its
    # zero gradient stays zero (no inf * 0 = nan leaking through `where`).
    return (input.clamp(max=0) * scale).exp() - 1


def elu(input, alpha=1.0, inplace=False):
    if inplace:
        return _apply_inplace(input, lambda x: elu(x, alpha))
    out = ember.where(input > 0, input, _neg_part_exp(input) * alpha)
    return out


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    if inplace:
        return _apply_inplace(input, lambda x: selu(x))
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    out = ember.where(input > 0, input, _neg_part_exp(input) * alpha) * scale
    return out


def celu(input, alpha=1.0, inplace=False):
    if inplace:
        return _apply_inplace(input, lambda x: celu(x, alpha))
    out = ember.where(input > 0, input, _neg_part_exp(input, 1.0 / alpha) * alpha)
    return out


def leaky_relu(input, negative_slope=0.01, inplace=False) -> "ember.Tensor":
    if inplace:
        return _apply_inplace(input, lambda x: leaky_relu(x, negative_slope))
    out = ember.where(input > 0, input, input * negative_slope)
    return out


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input, weight):
    w = weight
    if input.dim() >= 2 and weight.numel() > 1:
        w = weight.reshape((1, -1) + (1,) * (input.dim() - 2))
    out = ember.where(input > 0, input, input * w)
    # A one-element weight broadcast against a 0-d input must not add a dimension.
    return out.reshape(input.shape) if out.dim() != input.dim() else out


def gelu(input, approximate="none") -> "ember.Tensor":
    if approximate == "none":
        return input * 0.5 * (1.0 + (input * 0.7071067811865476).erf())
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (1.0 + inner.tanh())
    raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate}")


def sigmoid(input) -> "ember.Tensor":
    return input.sigmoid()


def tanh(input) -> "ember.Tensor":
    return input.tanh()


def silu(input, inplace=False) -> "ember.Tensor":
    if inplace:
        return _apply_inplace(input, lambda x: silu(x))
    out = input * input.sigmoid()
    return out


def _log1p_exp_neg_abs(x):
    return (-x.abs()).exp().log1p()


def softplus(input, beta=1.0, threshold=20.0):
    z = input * beta if beta != 1 else input
    # log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}): finite for every z.
    sp = z.relu() + _log1p_exp_neg_abs(z)
    if beta != 1:
        sp = sp / beta
    return ember.where(z > threshold, input, sp)


def logsigmoid(input):
    return input.clamp(max=0) - _log1p_exp_neg_abs(input)


def softsign(input):
    return input / (input.abs() + 1)


def mish(input, inplace=False):
    if inplace:
        return _apply_inplace(input, lambda x: mish(x))
    out = input * softplus(input).tanh()
    return out


def hardsigmoid(input, inplace=False):
    if inplace:
        return _apply_inplace(input, lambda x: hardsigmoid(x))
    # PyTorch's gradient is zero at x = -3 and x = 3 themselves: the clamped values are detached.
    inside = (input > -3) & (input < 3)
    return ember.where(inside, input / 6 + 0.5, (input / 6 + 0.5).clamp(0.0, 1.0).detach())


def hardswish(input, inplace=False):
    if inplace:
        return _apply_inplace(input, lambda x: hardswish(x))
    # PyTorch's gradient: 0 for x <= -3, (2x + 3) / 6 for -3 < x < 3, 1 for x >= 3.
    mid = input * (input + 3) / 6
    return ember.where(input >= 3, input, ember.where(input > -3, mid, input * 0))


def hardshrink(input, lambd=0.5):
    return ember.where(input.abs() > lambd, input, input * 0)


def softshrink(input, lambd=0.5):
    return ember.where(
        input > lambd, input - lambd, ember.where(input < -lambd, input + lambd, input * 0)
    )


def tanhshrink(input):
    return input - input.tanh()


def _get_softmax_dim(name, ndim, stacklevel):
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None) -> "ember.Tensor":
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return input.softmax(dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None) -> "ember.Tensor":
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return input.log_softmax(dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return (-input).softmax(dim)


def glu(input, dim=-1):
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = int(input.shape[dim])
    if n % 2 != 0:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {dim % input.dim()} is size {n}"
        )
    # narrow, not split: split(0) of an empty dim would give one chunk, not two.
    a, b = input.narrow(dim, 0, n // 2), input.narrow(dim, n // 2, n // 2)
    return a * b.sigmoid()
