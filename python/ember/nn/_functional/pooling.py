"""Pooling of ember.nn.functional: argument normalisation around ember._C kernels."""

from ._kernels import kernel as _kernel
from ._utils import _fmt, _pair, _shape

__all__ = [
    "max_pool2d",
    "max_pool1d",
    "avg_pool2d",
    "avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool1d",
]


def _check_pool_input(name, input, nd):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{name}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for input, but got: "
            f"{_fmt(input)}"
        )


def _check_pool_pad(kernel, padding, dilation=(1, 1)):
    for k, p, d in zip(kernel, padding, dilation):
        if p > ((k - 1) * d + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation={d}"
            )


def _max_pool2d_impl(input, kernel_size, stride, padding, dilation, ceil_mode):
    _check_pool_input("max_pool2d", input, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    kernel = _pair(kernel_size, 2, "kernel_size")
    stride = kernel if (stride is None or stride == [] or stride == ()) else _pair(stride)
    padding = _pair(padding)
    dilation = _pair(dilation)
    _check_pool_pad(kernel, padding, dilation)
    out, idx = _kernel("max_pool2d")(input, kernel, stride, padding, dilation, bool(ceil_mode))
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return out, idx


def max_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
):
    out, idx = _max_pool2d_impl(input, kernel_size, stride, padding, dilation, ceil_mode)
    return (out, idx) if return_indices else out


def max_pool1d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
):
    _check_pool_input("max_pool1d", input, 1)
    (k,) = _pair(kernel_size, 1)
    (s,) = (k,) if (stride is None or stride == [] or stride == ()) else _pair(stride, 1)
    (p,) = _pair(padding, 1)
    (d,) = _pair(dilation, 1)
    out, idx = _max_pool2d_impl(input.unsqueeze(-2), (1, k), (1, s), (0, p), (1, d), ceil_mode)
    out, idx = out.squeeze(-2), idx.squeeze(-2)
    return (out, idx) if return_indices else out


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    _check_pool_input("avg_pool2d", input, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    kernel = _pair(kernel_size)
    stride = kernel if (stride is None or stride == [] or stride == ()) else _pair(stride)
    padding = _pair(padding)
    _check_pool_pad(kernel, padding)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    out = _kernel("avg_pool2d")(
        input, kernel, stride, padding, bool(ceil_mode), bool(count_include_pad), divisor_override
    )
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    _check_pool_input("avg_pool1d", input, 1)
    (k,) = _pair(kernel_size, 1)
    (s,) = (k,) if (stride is None or stride == [] or stride == ()) else _pair(stride, 1)
    (p,) = _pair(padding, 1)
    out = avg_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, p), ceil_mode, count_include_pad)
    return out.squeeze(-2)


def _adaptive_size(output_size, input, nd):
    if isinstance(output_size, (list, tuple)):
        sizes = list(output_size)
        if len(sizes) == 1:
            sizes = sizes * nd
    else:
        sizes = [output_size] * nd
    spatial = _shape(input)[-nd:]
    return tuple(int(spatial[i]) if s is None else int(s) for i, s in enumerate(sizes))


def adaptive_avg_pool2d(input, output_size):
    _check_pool_input("adaptive_avg_pool2d", input, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    out = _kernel("adaptive_avg_pool2d")(input, _adaptive_size(output_size, input, 2))
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input, output_size):
    _check_pool_input("adaptive_avg_pool1d", input, 1)
    (o,) = _adaptive_size(output_size, input, 1)
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, o)).squeeze(-2)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    _check_pool_input("adaptive_max_pool2d", input, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    out, idx = _kernel("adaptive_max_pool2d")(input, _adaptive_size(output_size, input, 2))
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    _check_pool_input("adaptive_max_pool1d", input, 1)
    (o,) = _adaptive_size(output_size, input, 1)
    out, idx = adaptive_max_pool2d(input.unsqueeze(-2), (1, o), return_indices=True)
    out, idx = out.squeeze(-2), idx.squeeze(-2)
    return (out, idx) if return_indices else out
