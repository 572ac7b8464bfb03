"""Convolution/pooling kernels: ember._C's Rust kernels, or composed stand-ins.

`kernel(name)` returns `ember._C.<name>` when the core has it. Builds without
it get a stand-in with the same contract, composed from differentiable
tensor ops (strided slices, matmul, index_add): correct, autograd-aware, and
slower. A one-time warning says which kernels are missing.
"""

import math
import warnings

import ember

_warned = set()


def kernel(name):
    k = getattr(ember._C, name, None)
    if k is not None:
        return k
    if name not in _warned:
        _warned.add(name)
        warnings.warn(
            f"ember._C.{name} is not available in this build; using a slower composed "
            "fallback (same results)",
            RuntimeWarning,
            stacklevel=3,
        )
    return _FALLBACKS[name]


def _pad(x, left, right, top, bottom, value=0.0):
    from .resize import pad

    if not (left or right or top or bottom):
        return x
    return pad(x, (left, right, top, bottom), value=value)


def _windows(xp, kh, kw, sh, sw, dh, dw, oh, ow):
    """(N, C, K, OH, OW): the kh*kw strided views of the padded input, stacked."""
    cols = [
        xp[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    return ember.stack(cols, 2)


def conv2d(x, w, b, stride, padding, dilation, groups):
    n, c, h, wd = (int(s) for s in x.shape)
    o, cg, kh, kw = (int(s) for s in w.shape)
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = _windows(_pad(x, pw, pw, ph, ph), kh, kw, sh, sw, dh, dw, oh, ow)
    cols = cols.reshape(n, groups, cg * kh * kw, oh * ow)
    out = w.reshape(groups, o // groups, cg * kh * kw).unsqueeze(0).matmul(cols)
    out = out.reshape(n, o, oh, ow)
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation):
    n, cin, h, wd = (int(s) for s in x.shape)
    _, og, kh, kw = (int(s) for s in w.shape)
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    cg = cin // groups
    # columns = W^T x per group, then col2im (scatter-add of every kernel tap)
    wt = w.reshape(groups, cg, og * kh * kw).transpose(1, 2)  # (g, og*k, cg)
    cols = wt.unsqueeze(0).matmul(x.reshape(n, groups, cg, h * wd))  # (n, g, og*k, h*w)
    cols = cols.reshape(n, groups * og, kh * kw * h * wd)
    hp, wp = oh + 2 * ph, ow + 2 * pw
    dev = x.device
    ki = ember.arange(kh, device=dev).reshape(kh, 1, 1, 1) * dh
    kj = ember.arange(kw, device=dev).reshape(1, kw, 1, 1) * dw
    ri = ember.arange(h, device=dev).reshape(1, 1, h, 1) * sh
    rj = ember.arange(wd, device=dev).reshape(1, 1, 1, wd) * sw
    rows, colsidx = ki + ri, kj + rj
    keep = ((rows < hp) & (colsidx < wp)).reshape(-1)
    target = (rows * wp + colsidx).reshape(-1)
    if not bool(keep.all().item()):  # taps beyond the output (output_padding < stride)
        sel = keep.nonzero().reshape(-1)
        target = target.index_select(0, sel)
        cols = cols.index_select(2, sel)
    canvas = ember.zeros((n, groups * og, hp * wp), dtype=x.dtype, device=dev)
    out = canvas.index_add(2, target, cols).reshape(n, groups * og, hp, wp)
    out = out[:, :, ph : ph + oh, pw : pw + ow]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def _pool_out(size, k, s, p, d, ceil):
    eff = d * (k - 1) + 1
    num = size + 2 * p - eff
    o = (-(-num // s) if ceil else num // s) + 1
    if ceil and (o - 1) * s >= size + p:
        o -= 1
    return o


def max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode):
    n, c, h, w = (int(s) for s in x.shape)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    oh, ow = _pool_out(h, kh, sh, ph, dh, ceil_mode), _pool_out(w, kw, sw, pw, dw, ceil_mode)
    extra_h = max((oh - 1) * sh + dh * (kh - 1) + 1 - h - 2 * ph, 0)
    extra_w = max((ow - 1) * sw + dw * (kw - 1) + 1 - w - 2 * pw, 0)
    xp = _pad(x, pw, pw + extra_w, ph, ph + extra_h, value=float("-inf"))
    out, arg = _windows(xp, kh, kw, sh, sw, dh, dw, oh, ow).max(2)
    ki, kj = arg // kw, arg % kw
    dev = x.device
    r = (ember.arange(oh, device=dev) * sh - ph).reshape(1, 1, oh, 1) + ki * dh
    cc = (ember.arange(ow, device=dev) * sw - pw).reshape(1, 1, 1, ow) + kj * dw
    return out, r * w + cc


def avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    n, c, h, w = (int(s) for s in x.shape)
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    oh, ow = _pool_out(h, kh, sh, ph, 1, ceil_mode), _pool_out(w, kw, sw, pw, 1, ceil_mode)
    extra_h = max((oh - 1) * sh + kh - h - 2 * ph, 0)
    extra_w = max((ow - 1) * sw + kw - w - 2 * pw, 0)
    xp = _pad(x, pw, pw + extra_w, ph, ph + extra_h)
    total = _windows(xp, kh, kw, sh, sw, 1, 1, oh, ow).sum(2)
    if divisor_override:
        return total / divisor_override
    ones = ember.ones((1, 1, h, w), dtype=x.dtype, device=x.device)
    if count_include_pad:  # padding cells count, the ceil_mode overhang does not
        cnt = _pad(_pad(ones, pw, pw, ph, ph, value=1.0), 0, extra_w, 0, extra_h)
    else:
        cnt = _pad(ones, pw, pw + extra_w, ph, ph + extra_h)
    return total / _windows(cnt, kh, kw, sh, sw, 1, 1, oh, ow).sum(2)


def _bins(i_size, o_size):
    return [
        (math.floor(i * i_size / o_size), math.ceil((i + 1) * i_size / o_size))
        for i in range(o_size)
    ]


def adaptive_avg_pool2d(x, output_size):
    oh, ow = output_size
    n, c, h, w = (int(s) for s in x.shape)
    if h % oh == 0 and w % ow == 0:
        return x.reshape(n, c, oh, h // oh, ow, w // ow).mean((3, 5))
    rows = []
    for a, b in _bins(h, oh):
        rows.append(ember.stack([x[:, :, a:b, e:f].mean((2, 3)) for e, f in _bins(w, ow)], -1))
    return ember.stack(rows, -2)


def adaptive_max_pool2d(x, output_size):
    oh, ow = output_size
    n, c, h, w = (int(s) for s in x.shape)
    vals, idxs = [], []
    for a, b in _bins(h, oh):
        vr, ir = [], []
        for e, f in _bins(w, ow):
            v, arg = x[:, :, a:b, e:f].reshape(n, c, -1).max(-1)
            vr.append(v)
            ir.append((arg // (f - e) + a) * w + arg % (f - e) + e)
        vals.append(ember.stack(vr, -1))
        idxs.append(ember.stack(ir, -1))
    return ember.stack(vals, -2), ember.stack(idxs, -2)


_FALLBACKS = {
    "conv2d": conv2d,
    "conv_transpose2d": conv_transpose2d,
    "max_pool2d": max_pool2d,
    "avg_pool2d": avg_pool2d,
    "adaptive_avg_pool2d": adaptive_avg_pool2d,
    "adaptive_max_pool2d": adaptive_max_pool2d,
}
