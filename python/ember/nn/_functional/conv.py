"""Convolutions of ember.nn.functional: argument normalisation around ember._C kernels."""

import ember

from ._kernels import kernel as _kernel
from ._utils import _fmt, _pair, _shape
from .resize import pad

__all__ = [
    "unfold",
    "fold",
    "conv2d",
    "conv1d",
    "conv_transpose2d",
    "conv_transpose1d",
]


def _same_padding(kernel, dilation):
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        left = total // 2
        pads.append((left, total - left))
    return pads


def _check_conv_input(name, input, weight, groups, transposed, nd):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got "
            f"input of size: {_fmt(input)}"
        )
    c_in = int(input.shape[-nd - 1])
    if not transposed:
        expected = int(weight.shape[1]) * groups
        if c_in != expected:
            raise RuntimeError(
                f"Given groups={groups}, weight of size {_fmt(weight)}, expected input"
                f"{_fmt(input)} to have {expected} channels, but got {c_in} channels instead"
            )
    else:
        if c_in != int(weight.shape[0]):
            raise RuntimeError(
                f"Given transposed=1, weight of size {_fmt(weight)}, expected input"
                f"{_fmt(input)} to have {int(weight.shape[0])} channels, but got {c_in} "
                "channels instead"
            )


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> "ember.Tensor":
    _check_conv_input("conv2d", input, weight, groups, False, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    stride = _pair(stride, 2, "stride")
    dilation = _pair(dilation, 2, "dilation")
    kernel = _shape(weight)[2:]
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            (ht, hb), (wl, wr) = _same_padding(kernel, dilation)
            if ht != hb or wl != wr:
                input = pad(input, (wl, wr, ht, hb))
                padding = (0, 0)
            else:
                padding = (ht, wl)
        else:
            raise ValueError(
                f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}"
            )
    padding = _pair(padding, 2, "padding")
    out = _kernel("conv2d")(input, weight, bias, stride, padding, dilation, int(groups))
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    _check_conv_input("conv1d", input, weight, groups, False, 1)
    (s,) = _pair(stride, 1, "stride")
    (d,) = _pair(dilation, 1, "dilation")
    if isinstance(padding, str):
        if padding == "same":
            if s != 1:
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            ((left, right),) = _same_padding(_shape(weight)[2:], (d,))
            if left != right:
                input = pad(input, (left, right))
                padding = 0
            else:
                padding = left
        elif padding == "valid":
            padding = 0
        else:
            raise ValueError(
                f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}"
            )
    (p,) = _pair(padding, 1, "padding")
    out = conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, s), (0, p), (1, d), groups)
    return out.squeeze(-2)


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    _check_conv_input("conv_transpose2d", input, weight, groups, True, 2)
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    stride = _pair(stride, 2, "stride")
    padding = _pair(padding, 2, "padding")
    output_padding = _pair(output_padding, 2, "output_padding")
    dilation = _pair(dilation, 2, "dilation")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError(
                "output padding must be smaller than either stride or dilation, but got "
                f"output_padding: {output_padding}, stride: {stride}, dilation: {dilation}"
            )
    out = _kernel("conv_transpose2d")(
        input, weight, bias, stride, padding, output_padding, int(groups), dilation
    )
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    _check_conv_input("conv_transpose1d", input, weight, groups, True, 1)
    (s,) = _pair(stride, 1)
    (p,) = _pair(padding, 1)
    (op,) = _pair(output_padding, 1)
    (d,) = _pair(dilation, 1)
    out = conv_transpose2d(
        input.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, s), (0, p), (0, op), groups, (1, d)
    )
    return out.squeeze(-2)


def _fold_geometry(kernel_size, dilation, padding, stride):
    return (
        _pair(kernel_size, 2, "kernel_size"),
        _pair(dilation, 2, "dilation"),
        _pair(padding, 2, "padding"),
        _pair(stride, 2, "stride"),
    )


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C * kh * kw, L), PyTorch's row order (c, i, j)."""
    if input.dim() not in (3, 4):
        raise RuntimeError(
            f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D)"
        )
    unbatched = input.dim() == 3
    if unbatched:
        input = input.unsqueeze(0)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = _fold_geometry(kernel_size, dilation, padding, stride)
    n, c, h, w = _shape(input)
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"Given input with spatial size ({h}, {w}), kernel_size=({kh}, {kw}), "
            f"dilation=({dh}, {dw}), padding=({ph}, {pw}), calculated shape of the array of "
            f"sliding blocks as ({oh}, {ow}), which is too small (non-positive)"
        )
    xp = pad(input, (pw, pw, ph, ph)) if (ph or pw) else input
    cols = [
        xp[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    out = ember.stack(cols, 2).reshape(n, c * kh * kw, oh * ow)
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of unfold: (N, C * kh * kw, L) -> (N, C, H, W), overlaps summed."""
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
            f"(got {input.dim()}D)"
        )
    unbatched = input.dim() == 2
    if unbatched:
        input = input.unsqueeze(0)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = _fold_geometry(kernel_size, dilation, padding, stride)
    h, w = _pair(output_size, 2, "output_size")
    n, ck, L = _shape(input)
    k = kh * kw
    if ck % k != 0:
        raise RuntimeError(
            f"Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={ck} and kernel_size=({kh}, {kw})"
        )
    c = ck // k
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh * ow != L:
        raise RuntimeError(
            f"Given output_size=({h}, {w}), kernel_size=({kh}, {kw}), dilation=({dh}, {dw}), "
            f"padding=({ph}, {pw}), stride=({sh}, {sw}), expected size of input's dimension 2 "
            f"to match the calculated number of sliding blocks {oh} * {ow} = {oh * ow}, but "
            f"got input.size(2)={L}."
        )
    hp, wp = h + 2 * ph, w + 2 * pw
    dev = input.device
    ki = ember.arange(kh, device=dev).reshape(kh, 1, 1, 1) * dh
    kj = ember.arange(kw, device=dev).reshape(1, kw, 1, 1) * dw
    ri = ember.arange(oh, device=dev).reshape(1, 1, oh, 1) * sh
    rj = ember.arange(ow, device=dev).reshape(1, 1, 1, ow) * sw
    target = ((ki + ri) * wp + (kj + rj)).reshape(-1)  # (k * L,), order (i, j, oh, ow)
    canvas = ember.zeros((n, c, hp * wp), dtype=input.dtype, device=dev)
    out = canvas.index_add(2, target, input.reshape(n, c, k * L))
    out = out.reshape(n, c, hp, wp)[:, :, ph : ph + h, pw : pw + w]
    return out.squeeze(0) if unbatched else out
