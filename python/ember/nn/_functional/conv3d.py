"""conv3d, max_pool3d and avg_pool3d of ember.nn.functional, composed of existing ops.

ember has no 3-D kernels. conv3d is a sum over the kernel's depth taps of conv2d calls: for tap
kd, the depth slices it reads (kd*dilation, strided by stride) are folded into the batch and
convolved with weight[:, :, kd]. Pooling is separable: a max (or sum) over each dimension's
window in turn, taken from strided slices of the padded input, so each op stays differentiable.
"""

import ember

from ._utils import _fmt, _pair, _shape
from .conv import _check_conv_input, _same_padding
from .resize import pad

__all__ = ["conv3d", "max_pool3d", "avg_pool3d"]


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution over (N, C, D, H, W) input; see the module docstring for how."""
    if weight.dim() != 5:
        raise RuntimeError(
            f"conv3d: expected a 5-D weight (out, in/groups, kD, kH, kW), got {_fmt(weight)}"
        )
    _check_conv_input("conv3d", input, weight, groups, False, 3)
    unbatched = input.dim() == 4
    if unbatched:
        input = input.unsqueeze(0)
    stride = _pair(stride, 3, "stride")
    dilation = _pair(dilation, 3, "dilation")
    kernel = _shape(weight)[2:]
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0, 0)
        elif padding == "same":
            if stride != (1, 1, 1):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = _same_padding(kernel, dilation)
            input = pad(input, tuple(p for lr in reversed(pads) for p in lr))
            padding = (0, 0, 0)
        else:
            raise ValueError(
                f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}"
            )
    padding = _pair(padding, 3, "padding")
    if padding[0]:
        input = pad(input, (0, 0, 0, 0, padding[0], padding[0]))
    n, c, d = (int(s) for s in input.shape[:3])
    kd_, sd, dd = kernel[0], stride[0], dilation[0]
    d_out = (d - dd * (kd_ - 1) - 1) // sd + 1
    if d_out <= 0:
        raise RuntimeError(
            f"conv3d: calculated output depth {d_out} is too small for input {_fmt(input)} "
            f"(after padding) and kernel {_fmt(weight)}"
        )
    out = None
    for k in range(kd_):
        start = k * dd
        sl = input[:, :, start : start + (d_out - 1) * sd + 1 : sd]  # (N, C, Dout, H, W)
        sl = sl.transpose(1, 2).reshape(n * d_out, c, *sl.shape[3:])
        y = ember.nn.functional.conv2d(
            sl, weight[:, :, k], None, stride[1:], padding[1:], dilation[1:], groups
        )
        out = y if out is None else out + y
    o, ho, wo = (int(s) for s in out.shape[1:])
    out = out.reshape(n, d_out, o, ho, wo).transpose(1, 2)
    if bias is not None:
        out = out + bias.view(1, o, 1, 1, 1)
    return out.squeeze(0) if unbatched else out


def _out_size(length, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    num = length + 2 * p - eff
    if num < 0:
        raise RuntimeError(
            f"pool3d: kernel size {k} (dilation {d}) is larger than the padded input ({length} + "
            f"2*{p})"
        )
    out = (num + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= length + p:
        out -= 1
    return out


def _pool_args(name, input, kernel_size, stride, padding, dilation, ceil_mode):
    if input.dim() not in (4, 5):
        raise RuntimeError(
            f"{name}: Expected 4D or 5D (batch mode) tensor for input, but got: {_fmt(input)}"
        )
    kernel = _pair(kernel_size, 3, "kernel_size")
    stride = kernel if (stride is None or stride == [] or stride == ()) else _pair(stride, 3)
    padding = _pair(padding, 3, "padding")
    dilation = _pair(dilation, 3, "dilation")
    for k, p, d in zip(kernel, padding, dilation):
        if p > ((k - 1) * d + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation={d}"
            )
    sizes = [int(s) for s in input.shape[-3:]]
    outs = [
        _out_size(sz, k, s, p, d, ceil_mode)
        for sz, k, s, p, d in zip(sizes, kernel, stride, padding, dilation)
    ]
    return kernel, stride, padding, dilation, sizes, outs


def _padded(input, sizes, kernel, stride, padding, dilation, outs, value):
    # Pads each spatial dim by `padding` on both sides, plus what the last (ceil-mode) window
    # reaches past the end.
    spec = []
    for sz, k, s, p, d, o in reversed(list(zip(sizes, kernel, stride, padding, dilation, outs))):
        need = (o - 1) * s + d * (k - 1) + 1
        spec += [p, max(p, need - sz - p)]
    return pad(input, tuple(spec), value=value)


def _windows(x, kernel, stride, dilation, outs, combine):
    nd = x.dim()
    for axis in range(3):
        dim = nd - 3 + axis
        k, s, d, o = kernel[axis], stride[axis], dilation[axis], outs[axis]
        acc = None
        for j in range(k):
            idx = [slice(None)] * nd
            idx[dim] = slice(j * d, j * d + (o - 1) * s + 1, s)
            part = x[tuple(idx)]
            acc = part if acc is None else combine(acc, part)
        x = acc
    return x


def max_pool3d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """3-D max pooling over (N, C, D, H, W) (composed; return_indices is not supported)."""
    if return_indices:
        raise NotImplementedError(
            "max_pool3d(return_indices=True) is not supported by ember (the pooling is composed "
            "of elementwise maxima, which keep no indices)"
        )
    kernel, stride, padding, dilation, sizes, outs = _pool_args(
        "max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode
    )
    x = _padded(input, sizes, kernel, stride, padding, dilation, outs, float("-inf"))
    return _windows(x, kernel, stride, dilation, outs, ember.maximum)


def _counts(size, k, s, p, o, count_include_pad):
    # PyTorch's avg_pool divisor along one dim: the window clipped to the padded input
    # (count_include_pad) or to the input itself.
    out = []
    for i in range(o):
        start = i * s - p
        end = min(start + k, size + p)
        if not count_include_pad:
            start, end = max(start, 0), min(end, size)
        out.append(end - start)
    return out


def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """3-D average pooling over (N, C, D, H, W), with PyTorch's divisor rules."""
    kernel, stride, padding, dilation, sizes, outs = _pool_args(
        "avg_pool3d", input, kernel_size, stride, padding, 1, ceil_mode
    )
    x = _padded(input, sizes, kernel, stride, padding, dilation, outs, 0.0)
    total = _windows(x, kernel, stride, dilation, outs, ember.add)
    if divisor_override:
        return total / divisor_override
    cd, ch, cw = (
        _counts(sz, k, s, p, o, count_include_pad)
        for sz, k, s, p, o in zip(sizes, kernel, stride, padding, outs)
    )
    div = ember.tensor(
        [[[a * b * c for c in cw] for b in ch] for a in cd], dtype=input.dtype, device=input.device
    )
    return total / div
