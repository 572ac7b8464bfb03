"""pad, interpolate and pixel (un)shuffle of ember.nn.functional."""

import math

import ember

from ._utils import _fmt, _shape
from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d

__all__ = [
    "pad",
    "interpolate",
    "upsample",
    "pixel_shuffle",
    "pixel_unshuffle",
]


def pad(input, pad, mode="constant", value=None) -> "ember.Tensor":
    if len(pad) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension"
        )
    pads = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]
    if mode == "constant":
        fill = 0 if value is None else value
        out = input
        for i, (left, right) in enumerate(pads):
            dim = input.dim() - 1 - i
            if left < 0:
                out = out.narrow(dim, -left, int(out.shape[dim]) + left)
            if right < 0:
                out = out.narrow(dim, 0, int(out.shape[dim]) + right)
            parts = []
            if left > 0:
                shp = list(_shape(out))
                shp[dim] = left
                parts.append(ember.full(shp, fill, dtype=out.dtype, device=out.device))
            parts.append(out)
            if right > 0:
                shp = list(_shape(out))
                shp[dim] = right
                parts.append(ember.full(shp, fill, dtype=out.dtype, device=out.device))
            if len(parts) > 1:
                out = ember.cat(parts, dim)
        return out
    if value is not None and value != 0:
        raise NotImplementedError(f'Padding mode "{mode}" doesn\'t take in value argument.')
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    n_spatial = len(pads)
    if input.dim() not in (n_spatial + 1, n_spatial + 2):
        raise NotImplementedError(
            f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now; "
            f"got a {input.dim()}D input with {n_spatial} padded dims"
        )
    out = input
    for i, (left, right) in enumerate(pads):
        dim = input.dim() - 1 - i
        size = int(out.shape[dim])
        if mode == "reflect" and (left >= size or right >= size):
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({left}, {right}) at dimension {dim} of input "
                f"{_fmt(input)}"
            )
        idx = ember.arange(-left, size + right, device=out.device)
        if mode == "reflect":
            idx = (size - 1) - ((size - 1) - idx.abs()).abs()
        elif mode == "replicate":
            idx = idx.clamp(0, size - 1)
        else:
            if left > size or right > size:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            # PyTorch crops the negative sides first and wraps around what is left: with
            # pad (-1, 2) the two appended values are x[1], x[2], not x[0], x[1].
            lo, hi = max(-left, 0), size - max(-right, 0)
            if hi > lo and (lo or hi < size):
                out = out.narrow(dim, lo, hi - lo)
                size, left, right = hi - lo, max(left, 0), max(right, 0)
                idx = ember.arange(-left, size + right, device=out.device)
            idx = idx.remainder(size)
        out = out.index_select(dim, idx)
    return out


def _interp_scales(input, size, scale_factor, nd, recompute_scale_factor):
    spatial = _shape(input)[2:]
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * nd
        if len(sizes) != nd:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {list(spatial)} and output size of {sizes}. "
                "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                "(o1, o2, ...,oK) format."
            )
        out_sizes = [int(s) for s in sizes]
        scales = [None] * nd
    elif scale_factor is not None:
        sf = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * nd
        out_sizes = [int(math.floor(float(s) * float(f))) for s, f in zip(spatial, sf)]
        scales = [None] * nd if recompute_scale_factor else [float(f) for f in sf]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if any(int(s) <= 0 for s in list(spatial) + out_sizes):
        names = ["D", "H", "W"][-nd:] if nd <= 3 else [f"d{i}" for i in range(nd)]
        fmt = lambda v: ", ".join(f"{n}: {int(x)}" for n, x in zip(names, v))  # noqa: E731
        raise RuntimeError(
            f"Input and output sizes should be greater than 0, but got input ({fmt(spatial)}) "
            f"output ({fmt(out_sizes)})"
        )
    return spatial, out_sizes, scales


def _arange_f32(n, device):
    return ember.arange(n, dtype=ember.float32, device=device)


def _coords(n, x):
    # PyTorch computes linear/cubic source coordinates in the input's precision (double
    # for float64): float32 coordinates put float64 results ~1e-7 off.
    dt = ember.float64 if x.dtype == ember.float64 else ember.float32
    return ember.arange(n, dtype=dt, device=x.device)


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    if antialias:
        raise NotImplementedError("ember: interpolate(antialias=True) is not supported yet")
    nd = input.dim() - 2
    if not 1 <= nd <= 3:
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for "
            "the modes: nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact "
            f"(got {mode})"
        )
    if mode in ("nearest", "area", "nearest-exact") and align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if align_corners is None:
        align_corners = False
    spatial, out_sizes, scales = _interp_scales(
        input, size, scale_factor, nd, recompute_scale_factor
    )
    if mode == "area":
        if nd == 2:
            return adaptive_avg_pool2d(input, out_sizes)
        if nd == 1:
            return adaptive_avg_pool1d(input, out_sizes)
        raise NotImplementedError("area interpolation is supported for 3D and 4D inputs only")
    expected = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
    if mode in expected and expected[mode] != nd:
        raise NotImplementedError(
            f"Got {input.dim()}D input, but {mode} mode needs {expected[mode] + 2}D input"
        )
    out = input
    dev = input.device
    for i in range(nd):
        dim = 2 + i
        in_s, out_s, sc = int(spatial[i]), int(out_sizes[i]), scales[i]
        dst = _arange_f32(out_s, dev)
        if mode in ("nearest", "nearest-exact"):
            ratio = (1.0 / sc) if sc is not None else in_s / out_s
            if mode == "nearest":
                src = (dst * ratio).floor()
            else:
                src = ((dst + 0.5) * ratio).floor()
            idx = src.clamp(max=in_s - 1).to(ember.int64)
            out = out.index_select(dim, idx)
        elif mode in ("linear", "bilinear", "trilinear"):
            dst = _coords(out_s, input)
            if align_corners:
                ratio = (in_s - 1) / (out_s - 1) if out_s > 1 else 0.0
                src = dst * ratio
            else:
                ratio = (1.0 / sc) if sc is not None else in_s / out_s
                src = ((dst + 0.5) * ratio - 0.5).clamp(min=0.0)
            i0 = src.floor().clamp(max=in_s - 1)
            lam = (src - i0).to(input.dtype)
            i0 = i0.to(ember.int64)
            i1 = (i0 + 1).clamp(max=in_s - 1)
            shape = [1] * input.dim()
            shape[dim] = out_s
            lam = lam.reshape(shape)
            out = out.index_select(dim, i0) * (1 - lam) + out.index_select(dim, i1) * lam
        elif mode == "bicubic":
            out = _cubic_along(out, dim, in_s, out_s, sc, align_corners)
        else:
            raise NotImplementedError(
                f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) "
                f"for the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                f"nearest-exact (got {mode})"
            )
    return out


def _cubic_along(x, dim, in_s, out_s, sc, align_corners):
    A = -0.75
    dst = _coords(out_s, x)
    if align_corners:
        src = dst * ((in_s - 1) / (out_s - 1) if out_s > 1 else 0.0)
    else:
        ratio = (1.0 / sc) if sc is not None else in_s / out_s
        src = (dst + 0.5) * ratio - 0.5
    fl = src.floor()
    t = src - fl
    fl = fl.to(ember.int64)

    def c1(v):  # |v| <= 1
        return ((A + 2) * v - (A + 3)) * v * v + 1

    def c2(v):  # 1 < |v| < 2
        return ((A * v - 5 * A) * v + 8 * A) * v - 4 * A

    coeffs = [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]
    shape = [1] * x.dim()
    shape[dim] = out_s
    out = None
    for k, w in enumerate(coeffs):
        idx = (fl + (k - 1)).clamp(0, in_s - 1)
        term = x.index_select(dim, idx) * w.to(x.dtype).reshape(shape)
        out = term if out is None else out + term
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def pixel_shuffle(input, upscale_factor):
    r = int(upscale_factor)
    *lead, c, h, w = _shape(input)
    if c % (r * r) != 0:
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
            f"square of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    oc = c // (r * r)
    x = input.reshape(-1, oc, r, r, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(tuple(lead) + (oc, h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    r = int(downscale_factor)
    *lead, c, h, w = _shape(input)
    if h % r != 0 or w % r != 0:
        raise RuntimeError(
            f"pixel_unshuffle expects height and width to be divisible by downscale_factor, "
            f"but got {h}x{w} and {r}"
        )
    x = input.reshape(-1, c, h // r, r, w // r, r).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(tuple(lead) + (c * r * r, h // r, w // r))
