"""batch/layer/group/instance/rms norm and normalize of ember.nn.functional."""

import numbers

import ember

from ._utils import _finfo_eps, _fmt, _shape, _size
from .pooling import avg_pool2d
from .resize import pad

__all__ = [
    "batch_norm",
    "layer_norm",
    "rms_norm",
    "group_norm",
    "instance_norm",
    "local_response_norm",
    "normalize",
]


def _bshape(input, t):
    return t.reshape((1, -1) + (1,) * (input.dim() - 2))


def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
) -> "ember.Tensor":
    if input.dim() < 2:
        raise ValueError(f"expected 2D or higher input (got {input.dim()}D input)")
    dims = [0] + list(range(2, input.dim()))
    if training:
        n = input.numel() // int(input.shape[1])
        if n <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size "
                f"{_size(input)}"
            )
        mean = input.mean(dims, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dims, keepdim=True)
        if running_mean is not None or running_var is not None:
            with ember.no_grad():
                m = 0.0 if momentum is None else momentum
                if running_mean is not None:
                    running_mean.mul_(1 - m).add_(mean.detach().reshape(-1) * m)
                if running_var is not None:
                    unbiased = var.detach().reshape(-1) * (n / (n - 1))
                    running_var.mul_(1 - m).add_(unbiased * m)
        out = centered * (var + eps).rsqrt()
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        out = (input - _bshape(input, running_mean)) * _bshape(input, running_var + eps).rsqrt()
    if weight is not None:
        out = out * _bshape(input, weight)
    if bias is not None:
        out = out + _bshape(input, bias)
    return out


_FUSED_DTYPES = (ember.float32, ember.float64)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5) -> "ember.Tensor":
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if _shape(input)[input.dim() - k :] != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size"
            f"{_fmt(input)}"
        )
    if (
        input.device.type == "cpu"
        and input.dtype in _FUSED_DTYPES
        and all(
            t is None or (t.device.type == "cpu" and t.dtype == input.dtype) for t in (weight, bias)
        )
    ):
        n = 1
        for s in normalized_shape:
            n *= s
        return ember._C._layer_norm(input, n, weight, bias, float(eps))
    dims = list(range(input.dim() - k, input.dim()))
    mean = input.mean(dims, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(dims, keepdim=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def rms_norm(input, normalized_shape, weight=None, eps=None):
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    k = len(normalized_shape)
    if eps is None:
        eps = _finfo_eps(input.dtype)
    dims = list(range(input.dim() - k, input.dim()))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        out = out * weight
    return out


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.dim() < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.dim()}"
        )
    n, c = int(input.shape[0]), int(input.shape[1])
    # PyTorch checks the values per group before the divisibility, on [N*C//G, G, *spatial].
    size = [n * c // num_groups, num_groups] + list(_shape(input)[2:])
    per = size[0]
    for s in size[2:]:
        per *= s
    if per == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {size}"
        )
    if c % num_groups != 0:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {_fmt(input)} and num_groups={num_groups}"
        )
    x = input.reshape(n, num_groups, -1)
    mean = x.mean(-1, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(-1, keepdim=True)
    out = (centered * (var + eps).rsqrt()).reshape(_shape(input))
    if weight is not None:
        out = out * _bshape(input, weight)
    if bias is not None:
        out = out + _bshape(input, bias)
    return out


def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    dims = list(range(2, input.dim()))
    if use_input_stats:
        spatial = 1
        for s in _shape(input)[2:]:
            spatial *= s
        if spatial == 1:  # one value per instance and channel: its variance is 0/0
            raise ValueError(
                f"Expected more than 1 spatial element when training, got input size {_size(input)}"
            )
        mean = input.mean(dims, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dims, keepdim=True)
        if running_mean is not None or running_var is not None:
            n = 1
            for s in _shape(input)[2:]:
                n *= s
            with ember.no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(
                        mean.detach().reshape(int(input.shape[0]), -1).mean(0) * momentum
                    )
                if running_var is not None:
                    uv = var.detach().reshape(int(input.shape[0]), -1).mean(0) * (n / max(n - 1, 1))
                    running_var.mul_(1 - momentum).add_(uv * momentum)
        out = centered * (var + eps).rsqrt()
    else:
        out = (input - _bshape(input, running_mean)) * _bshape(input, running_var + eps).rsqrt()
    if weight is not None:
        out = out * _bshape(input, weight)
    if bias is not None:
        out = out + _bshape(input, bias)
    return out


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    sq = (input * input).unsqueeze(1)
    if input.dim() == 3:
        sq = pad(sq, (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(sq, (size, 1), stride=1).squeeze(1)
    else:
        shp = _shape(input)
        sq = sq.reshape(shp[0], 1, shp[1], shp[2], -1)
        sq = pad(sq, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        s5 = _shape(sq)
        sq2 = sq.reshape(s5[0], 1, s5[2], -1)
        div = avg_pool2d(sq2, (size, 1), stride=1).reshape(shp)
    div = (div * alpha + k) ** beta
    return input / div


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None) -> "ember.Tensor":
    denom = input.norm(p, dim, keepdim=True).clamp(min=eps).expand_as(input)
    return input / denom
