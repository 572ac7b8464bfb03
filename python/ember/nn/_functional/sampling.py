"""grid_sample and affine_grid of ember.nn.functional, composed of differentiable tensor ops.

grid_sample gathers the (up to four) neighbours of every sampling point from the flattened
input with `gather` and blends them with weights computed from the grid, so gradients flow to
both the input (through gather) and the grid (through the weights), as in PyTorch.
"""

import ember

from ._utils import _fmt

__all__ = ["affine_grid", "grid_sample"]


def _base_coords(n, align_corners, like):
    # Pixel centres in [-1, 1]; without align_corners the extreme centres sit half a pixel in.
    if n <= 1:
        return ember.zeros(max(n, 1), dtype=like.dtype, device=like.device)
    c = ember.linspace(-1.0, 1.0, n, dtype=like.dtype, device=like.device)
    return c if align_corners else c * ((n - 1) / n)


def affine_grid(theta, size, align_corners=None):
    """Sampling grid for `grid_sample` from affine matrices theta (N,2,3) or (N,3,4)."""
    if align_corners is None:
        align_corners = False
    size = [int(s) for s in size]
    if not theta.is_floating_point():
        raise ValueError(
            f"Expected theta to have floating point type, but got {theta.dtype} instead"
        )
    if len(size) == 4:
        if theta.dim() != 3 or tuple(theta.shape[1:]) != (2, 3):
            raise ValueError(
                "Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                f"{size}. Got {_fmt(theta)}."
            )
        n, _, h, w = size
        xs = _base_coords(w, align_corners, theta)
        ys = _base_coords(h, align_corners, theta)
        base = ember.stack(
            [
                xs.view(1, w).expand(h, w),
                ys.view(h, 1).expand(h, w),
                ember.ones_like(ys.view(h, 1)).expand(h, w),
            ],
            dim=-1,
        ).reshape(1, h * w, 3)
        out_shape = (n, h, w, 2)
    elif len(size) == 5:
        if theta.dim() != 3 or tuple(theta.shape[1:]) != (3, 4):
            raise ValueError(
                "Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                f"{size}. Got {_fmt(theta)}."
            )
        n, _, d, h, w = size
        xs = _base_coords(w, align_corners, theta).view(1, 1, w).expand(d, h, w)
        ys = _base_coords(h, align_corners, theta).view(1, h, 1).expand(d, h, w)
        zs = _base_coords(d, align_corners, theta).view(d, 1, 1).expand(d, h, w)
        base = ember.stack([xs, ys, zs, ember.ones_like(xs)], dim=-1).reshape(1, d * h * w, 4)
        out_shape = (n, d, h, w, 3)
    else:
        raise NotImplementedError(
            f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {size}."
        )
    if int(theta.shape[0]) != n:
        raise ValueError(
            f"Expected theta to have batch size {n} matching size {size}, got {_fmt(theta)}"
        )
    return base.expand(n, *base.shape[1:]).matmul(theta.transpose(1, 2)).reshape(out_shape)


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _reflect(x, lo, hi):
    # Reflects coordinates into [lo, hi] (PyTorch's reflect_coordinates, in doubled units).
    if hi <= lo:
        return ember.zeros_like(x) + lo
    span = hi - lo
    x = (x - lo).abs()
    flips = ember.floor(x / span)
    extra = x - flips * span
    odd = ember.remainder(flips, 2) != 0
    return ember.where(odd, span - extra + lo, extra + lo)


def _apply_padding(coord, size, padding_mode, align_corners):
    if padding_mode == "border":
        return coord.clamp(0, size - 1)
    if padding_mode == "reflection":
        if align_corners:
            coord = _reflect(coord * 2, 0, 2 * (size - 1)) / 2
        else:
            coord = _reflect(coord * 2, -1, 2 * size - 1) / 2
        return coord.clamp(0, size - 1)
    return coord


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Samples 4-D `input` (N,C,H,W) at `grid` (N,Ho,Wo,2) locations in [-1, 1] (x, y order)."""
    if align_corners is None:
        align_corners = False
    if mode not in ("bilinear", "nearest"):
        raise NotImplementedError(
            f"grid_sample(): mode {mode!r} is not supported by ember (bilinear and nearest are)"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
            f"'reflection', but got: '{padding_mode}'"
        )
    if input.dim() != 4 or grid.dim() != 4 or int(grid.shape[-1]) != 2:
        raise RuntimeError(
            "grid_sample(): expected 4D input and 4D grid with last dimension 2 (ember supports "
            f"the 2-D case), but got input of shape {_fmt(input)} and grid of shape {_fmt(grid)}"
        )
    if int(input.shape[0]) != int(grid.shape[0]):
        raise RuntimeError(
            "grid_sample(): expected grid and input to have same batch size, but got input with "
            f"sizes {_fmt(input)} and grid with sizes {_fmt(grid)}"
        )
    if input.dtype != grid.dtype:
        raise RuntimeError(
            "grid_sample(): expected input and grid to have the same dtype, but input has "
            f"{input.dtype} and grid has {grid.dtype}"
        )
    n, c, h, w = (int(s) for s in input.shape)
    ho, wo = int(grid.shape[1]), int(grid.shape[2])
    ix = _unnormalize(grid[..., 0], w, align_corners)
    iy = _unnormalize(grid[..., 1], h, align_corners)
    ix = _apply_padding(ix, w, padding_mode, align_corners)
    iy = _apply_padding(iy, h, padding_mode, align_corners)
    flat = input.reshape(n, c, h * w)

    def gather(xi, yi):
        # Values at integer points (xi, yi) (N,Ho,Wo); zero where the point is outside.
        inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
        idx = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).to(ember.int64)
        idx = idx.reshape(n, 1, ho * wo).expand(n, c, ho * wo)
        vals = flat.gather(2, idx).reshape(n, c, ho, wo)
        return vals * inside.unsqueeze(1).to(input.dtype)

    if mode == "nearest":
        return gather(ember.round(ix.detach()), ember.round(iy.detach()))
    x0 = ember.floor(ix.detach())
    y0 = ember.floor(iy.detach())
    x1, y1 = x0 + 1, y0 + 1
    wx1 = (ix - x0).unsqueeze(1)
    wy1 = (iy - y0).unsqueeze(1)
    wx0, wy0 = 1 - wx1, 1 - wy1
    return (
        gather(x0, y0) * (wx0 * wy0)
        + gather(x1, y0) * (wx1 * wy0)
        + gather(x0, y1) * (wx0 * wy1)
        + gather(x1, y1) * (wx1 * wy1)
    )
