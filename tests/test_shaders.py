"""Direct tests of the WGSL kernels in shaders/ through wgpu-py (no ember build
needed): every shader must compile (for each dtype it declares), and the
kernels below are run on small random inputs and compared against numpy.

Skips when wgpu-py is not installed or no adapter (e.g. Mesa llvmpipe) exists.
"""

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest

wgpu = pytest.importorskip("wgpu")

SHADERS = Path(__file__).resolve().parents[1] / "shaders"
COMMON = (SHADERS / "common.wgsl").read_text()
NP_OF = {"f32": np.float32, "i32": np.int32, "u32": np.uint32}
ALIAS_RE = {a: re.compile(rf"^alias {a} = f32;[ \t]*$", re.M) for a in "TS"}


@pytest.fixture(scope="module")
def dev():
    try:
        adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
        if adapter is None:
            raise RuntimeError("no adapter")
        return adapter.request_device_sync()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no wgpu adapter: {e}")


# ---------------------------------------------------------------- helpers


def declared_types(src, key="types"):
    m = re.search(rf"^\s*//\s*{key}:\s*(.*)$", src, re.M)
    return m.group(1).split() if m else None


def variants(src):
    """(T, S, code) for every dtype combination the file declares."""
    ts = declared_types(src) or ["f32"]
    ss = declared_types(src, "stypes") or ts
    has_t = bool(ALIAS_RE["T"].search(src))
    has_s = bool(ALIAS_RE["S"].search(src))
    out = []
    for t, s in itertools.product(ts if has_t else ["f32"], ss if has_s else ["f32"]):
        code = ALIAS_RE["T"].sub(f"alias T = {t};", src)
        code = ALIAS_RE["S"].sub(f"alias S = {s};", code)
        out.append((t, s, COMMON + "\n" + code))
    return out


def source(name, t="f32"):
    src = (SHADERS / f"{name}.wgsl").read_text()
    return ALIAS_RE["T"].sub(f"alias T = {t};", COMMON + "\n" + src)


_PIPES = {}


def pipeline(dev, name, t, access):
    key = (id(dev), name, t, access)
    if key not in _PIPES:
        entries = [
            {"binding": 0, "visibility": wgpu.ShaderStage.COMPUTE, "buffer": {"type": "uniform"}}
        ]
        for i, rw in enumerate(access):
            kind = "storage" if rw else "read-only-storage"
            entries.append(
                {"binding": i + 1, "visibility": wgpu.ShaderStage.COMPUTE, "buffer": {"type": kind}}
            )
        bgl = dev.create_bind_group_layout(entries=entries)
        layout = dev.create_pipeline_layout(bind_group_layouts=[bgl])
        module = dev.create_shader_module(code=source(name, t))
        pipe = dev.create_compute_pipeline(
            layout=layout, compute={"module": module, "entry_point": "main"}
        )
        _PIPES[key] = (pipe, bgl)
    return _PIPES[key]


def params(slots):
    """Pack {slot: value} into the 64-slot uniform: Python floats are stored as
    f32 bits, ints as u32 (negative ints as i32)."""
    p = np.zeros(64, np.uint32)
    for k, v in slots.items():
        if isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                p[k + i] = np.array(x, np.int64).astype(np.uint32)
        elif isinstance(v, float):
            p[k] = np.array(v, np.float32).view(np.uint32)
        else:
            p[k] = np.array(v, np.int64).astype(np.uint32)
    return p


def grid_for(n, max_x=65535):
    """2-d grid of n workgroups, at most max_x along x."""
    n = max(n, 1)
    x = min(n, max_x)
    return (x, math.ceil(n / x), 1)


def elem_grid(n, max_x=65535):
    return grid_for(math.ceil(n / 256), max_x)


def run(dev, name, slots, buffers, grid, t="f32"):
    """Dispatch shader `name` with uniform `slots` and storage `buffers`
    (list of (np.ndarray, writable)) at binding 1, 2, ...; returns the
    read-back contents of the writable buffers (same dtypes as given)."""
    access = tuple(bool(rw) for _, rw in buffers)
    pipe, bgl = pipeline(dev, name, t, access)
    usage = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST
    ubuf = dev.create_buffer_with_data(
        data=params(slots), usage=wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST
    )
    gbufs = []
    for arr, _ in buffers:
        arr = np.ascontiguousarray(arr).reshape(-1)
        if arr.size == 0:
            arr = np.zeros(1, arr.dtype)
        gbufs.append(dev.create_buffer_with_data(data=arr, usage=usage))
    entries = [{"binding": 0, "resource": {"buffer": ubuf, "offset": 0, "size": 256}}]
    for i, b in enumerate(gbufs):
        entries.append({"binding": i + 1, "resource": {"buffer": b, "offset": 0, "size": b.size}})
    bind = dev.create_bind_group(layout=bgl, entries=entries)
    enc = dev.create_command_encoder()
    cp = enc.begin_compute_pass()
    cp.set_pipeline(pipe)
    cp.set_bind_group(0, bind)
    cp.dispatch_workgroups(*grid)
    cp.end()
    dev.queue.submit([enc.finish()])
    outs = []
    for (arr, rw), b in zip(buffers, gbufs):
        if rw:
            data = np.frombuffer(dev.queue.read_buffer(b), dtype=arr.dtype)
            outs.append(data[: arr.size].reshape(arr.shape).copy())
    return outs


def strided(base, offset, shape, strides):
    """numpy view of flat `base` at element offset/strides."""
    return np.lib.stride_tricks.as_strided(
        base[offset:], shape=shape, strides=[s * base.itemsize for s in strides]
    )


def rand(rng, t, size, lo=-3, hi=4):
    if t == "f32":
        return rng.standard_normal(size).astype(np.float32)
    if t == "u32":
        lo = max(lo, 0)
    return rng.integers(lo, hi, size).astype(NP_OF[t])


# ---------------------------------------------------------------- compile


ALL_VARIANTS = [
    pytest.param(p.name, t, s, id=f"{p.stem}-{t}-{s}")
    for p in sorted(SHADERS.glob("*.wgsl"))
    if p.name != "common.wgsl"
    for t, s, _ in variants(p.read_text())
]


@pytest.mark.parametrize("fname,t,s", ALL_VARIANTS)
def test_compiles(dev, fname, t, s):
    code = next(c for tt, ss, c in variants((SHADERS / fname).read_text()) if (tt, ss) == (t, s))
    module = dev.create_shader_module(code=code)
    dev.create_compute_pipeline(layout="auto", compute={"module": module, "entry_point": "main"})


def test_compile_error_is_detected(dev):
    with pytest.raises(Exception):  # noqa: B017
        module = dev.create_shader_module(code=COMMON + "\nfn main( {")
        dev.create_compute_pipeline(
            layout="auto", compute={"module": module, "entry_point": "main"}
        )


# ---------------------------------------------------------------- reduce

OPS = {"sum": 0, "prod": 1, "max": 2, "min": 3, "argmax": 4, "argmin": 5, "mean": 6}
OPS.update({"any": 7, "all": 8})


def reduce_gpu(dev, t, op, view_base, offset, shape, strides, red_dims, max_x=65535):
    nd = len(shape)
    kept = [d for d in range(nd) if d not in red_dims]
    kshape = [shape[d] for d in kept]
    rshape = [shape[d] for d in red_dims]
    n_out = int(np.prod(kshape, dtype=np.int64))
    R = int(np.prod(rshape, dtype=np.int64))
    slots = {0: n_out, 1: len(kept), 2: OPS[op], 3: len(red_dims), 5: offset, 6: R}
    slots[8] = kshape
    slots[16] = [strides[d] for d in kept]
    slots[24] = rshape
    slots[32] = [strides[d] for d in red_dims]
    out = np.zeros(max(n_out, 1), NP_OF[t])
    idx = np.zeros(max(n_out, 1), np.int32)
    o, i = run(
        dev,
        "reduce",
        slots,
        [(out, True), (idx, True), (view_base, False)],
        grid_for(n_out, max_x),
        t,
    )
    return o[:n_out].reshape(kshape), i[:n_out].reshape(kshape)


def reduce_ref(op, x, red_dims):
    kept = [d for d in range(x.ndim) if d not in red_dims]
    y = np.transpose(x, kept + list(red_dims)).reshape([x.shape[d] for d in kept] + [-1])
    dt = x.dtype
    if op == "sum":
        return y.sum(-1, dtype=np.float64 if dt == np.float32 else dt).astype(dt)
    if op == "mean":
        return y.astype(np.float64).mean(-1).astype(dt)
    if op == "prod":
        return y.prod(-1, dtype=np.float64 if dt == np.float32 else dt).astype(dt)
    if op in ("max", "argmax"):
        return y.max(-1), y.argmax(-1)
    if op in ("min", "argmin"):
        return y.min(-1), y.argmin(-1)
    if op == "any":
        return (y != 0).any(-1).astype(dt)
    if op == "all":
        return (y != 0).all(-1).astype(dt)
    raise ValueError(op)


REDUCE_CASES = [
    # shape, strides-permutation (of a contiguous base), offset, reduced dims
    ((5, 6, 7), (0, 1, 2), 0, (1,)),
    ((5, 6, 7), (2, 0, 1), 3, (0, 2)),
    ((3, 700), (1, 0), 1, (1,)),  # R > 256, non-contiguous
    ((4, 5, 6), (0, 1, 2), 2, (0, 1, 2)),  # full reduction
    ((300, 2), (0, 1), 0, (1,)),  # many outputs: 2-d grid
]


def make_view(rng, t, shape, perm, offset, lo=-3, hi=4):
    """A non-contiguous view: the base holds a contiguous array of the shape
    permuted by `perm`, transposed back."""
    pshape = [shape[p] for p in perm]
    size = int(np.prod(shape))
    base = rand(rng, t, size + offset, lo, hi)
    cstr = np.cumprod([1] + pshape[::-1])[:-1][::-1]  # contiguous strides of pshape
    strides = [0] * len(shape)
    for i, p in enumerate(perm):
        strides[p] = int(cstr[i])
    return base, strides, strided(base, offset, shape, strides)


@pytest.mark.parametrize("t", ["f32", "i32", "u32"])
@pytest.mark.parametrize("case", range(len(REDUCE_CASES)))
def test_reduce(dev, t, case):
    rng = np.random.default_rng(case)
    shape, perm, offset, red = REDUCE_CASES[case]
    ops = ["sum", "max", "min", "argmax", "argmin", "any", "all", "prod"]
    if t == "f32":
        ops.append("mean")
    for op in ops:
        if op == "prod":
            if t == "f32":
                base, strides, x = make_view(rng, t, shape, perm, offset)
                base[:] = rng.uniform(0.9, 1.1, base.size).astype(np.float32)
            else:
                base, strides, x = make_view(rng, t, shape, perm, offset, 1, 3)
                if t == "i32":
                    base *= rng.choice(np.array([-1, 1], np.int32), base.size)
        elif op in ("any", "all"):
            base, strides, x = make_view(rng, t, shape, perm, offset, 0, 2)
            if t == "f32":  # mostly ones, some exact zeros, -0.0 and NaN
                base[:] = rng.choice(
                    np.array([1.0, 0.0, -0.0, np.nan, 2.5], np.float32),
                    base.size,
                    p=[0.6, 0.01, 0.01, 0.01, 0.37],
                )
            else:
                base[:] = np.where(rng.random(base.size) < 0.01, 0, base + 1)
        else:
            lo, hi = (-3, 4) if op.startswith("arg") else (-1000, 1000)
            base, strides, x = make_view(rng, t, shape, perm, offset, lo, hi)
            if t == "f32" and op.startswith("arg"):
                base[:] = np.round(base * 2) / 2  # ties
        o, i = reduce_gpu(dev, t, op, base, offset, shape, strides, red, max_x=7)
        ref = reduce_ref(op, x, red)
        if op in ("max", "min", "argmax", "argmin"):
            np.testing.assert_array_equal(o, ref[0], err_msg=op)
            if op.startswith("arg"):
                np.testing.assert_array_equal(i, ref[1], err_msg=op)
        elif t == "f32":
            np.testing.assert_allclose(o, ref, rtol=1e-5, atol=1e-4, err_msg=op)
        else:
            np.testing.assert_array_equal(o, ref, err_msg=op)


def test_reduce_nan(dev):
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, (8, 600)).astype(np.float32)
    x[1, 5] = np.nan
    x[2, 599] = np.nan
    x[3, 300] = x[3, 20] = np.nan
    x[4, :] = np.nan
    x[5, 256] = np.nan
    x[5, 511] = np.nan
    for op in ("max", "min", "argmax", "argmin", "sum"):
        o, i = reduce_gpu(dev, "f32", op, x.reshape(-1), 0, x.shape, [600, 1], (1,))
        if op == "sum":
            np.testing.assert_array_equal(np.isnan(o), np.isnan(x).any(1))
            continue
        ref = reduce_ref(op, x, (1,))
        np.testing.assert_array_equal(o, ref[0], err_msg=op)
        if op.startswith("arg"):
            np.testing.assert_array_equal(i, ref[1], err_msg=op)


def test_reduce_empty(dev):
    base = np.zeros(4, np.float32)
    for op, want in (("sum", 0.0), ("prod", 1.0), ("mean", np.nan), ("any", 0.0), ("all", 1.0)):
        o, _ = reduce_gpu(dev, "f32", op, base, 0, (3, 0), [1, 1], (1,))
        np.testing.assert_array_equal(o, np.full(3, want, np.float32), err_msg=op)


def test_reduce_chunked_partials(dev):
    """Slot 7 > 1: each workgroup reduces one chunk of slot-4 length; the host
    then reduces the partials (rust/core/src/wgpu/kernels.rs::reduce)."""
    rng = np.random.default_rng(1)
    n_out, R, L = 3, 5000, 1024
    x = rng.standard_normal((n_out, R)).astype(np.float32)
    C = -(-R // L)
    for op in ("sum", "max", "argmin"):
        slots = {0: n_out, 1: 1, 2: OPS[op], 3: 1, 4: L, 5: 0, 6: R, 7: C}
        slots.update({8: [n_out], 16: [R], 24: [R], 32: [1]})
        out = np.zeros(n_out * C, np.float32)
        idx = np.zeros(n_out * C, np.int32)
        o, i = run(
            dev, "reduce", slots, [(out, True), (idx, True), (x, False)], grid_for(n_out * C)
        )
        o, i = o.reshape(n_out, C), i.reshape(n_out, C)
        if op == "sum":
            np.testing.assert_allclose(o.sum(1), x.sum(1), rtol=1e-4, atol=1e-3)
        elif op == "max":
            np.testing.assert_array_equal(o.max(1), x.max(1))
        else:
            best = o.argmin(1)
            np.testing.assert_array_equal(i[np.arange(n_out), best], x.argmin(1))


# ---------------------------------------------------------------- matmul


def matmul_gpu(dev, a_base, a_off, a_str, b_base, b_off, b_str, M, N, K, batch, c=None, acc=False):
    if c is None:
        c = np.zeros((batch, M, N), np.float32)
    slots = {0: M, 1: N, 2: K, 3: batch, 4: a_off, 5: b_off}
    slots.update({6: a_str[0], 7: a_str[1], 8: a_str[2], 9: b_str[0], 10: b_str[1]})
    slots.update({11: b_str[2], 12: 0, 13: M * N, 14: N, 15: int(acc)})
    grid = (math.ceil(N / 64), math.ceil(M / 64), batch)
    (out,) = run(dev, "matmul", slots, [(c, True), (a_base, False), (b_base, False)], grid)
    return out


@pytest.mark.parametrize(
    "batch,M,N,K,ta,tb",
    [
        (3, 67, 45, 33, False, False),
        (2, 67, 45, 33, True, False),
        (2, 67, 45, 33, False, True),
        (1, 130, 70, 1, True, True),
        (2, 5, 3, 100, False, False),
        (1, 64, 64, 32, False, False),
    ],
)
def test_matmul(dev, batch, M, N, K, ta, tb):
    rng = np.random.default_rng(M * N + K)
    off = 3
    a_base = rng.standard_normal(batch * M * K + off).astype(np.float32)
    b_base = rng.standard_normal(batch * K * N + off).astype(np.float32)
    # A stored (b, M, K) or, when ta, (b, K, M); same for B.
    a_str = (M * K, 1, M) if ta else (M * K, K, 1)
    b_str = (K * N, 1, K) if tb else (K * N, N, 1)
    a = strided(a_base, off, (batch, M, K), a_str).astype(np.float64)
    b = strided(b_base, off, (batch, K, N), b_str).astype(np.float64)
    ref = a @ b
    out = matmul_gpu(dev, a_base, off, a_str, b_base, off, b_str, M, N, K, batch)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    # accumulate into an existing C
    c0 = rng.standard_normal((batch, M, N)).astype(np.float32)
    out = matmul_gpu(dev, a_base, off, a_str, b_base, off, b_str, M, N, K, batch, c0, True)
    np.testing.assert_allclose(out, ref + c0, rtol=1e-5, atol=1e-5)


def test_matmul_broadcast_batch(dev):
    # batch stride 0 for B: one weight shared by all batches
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 20, 9)).astype(np.float32)
    b = rng.standard_normal((9, 70)).astype(np.float32)
    out = matmul_gpu(dev, a, 0, (180, 9, 1), b, 0, (0, 70, 1), 20, 70, 9, 4)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- im2col / col2im


def conv_geom(H, W, KH, KW, SH, SW, PH, PW, DH, DW):
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    return OH, OW


def im2col_ref(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * PH + DH * KH + SH * OH, W + 2 * PW + DW * KW + SW * OW), x.dtype)
    xp[:, :, PH : PH + H, PW : PW + W] = x
    cols = np.zeros((N, C, KH, KW, OH, OW), x.dtype)
    for i in range(KH):
        for j in range(KW):
            h0, w0 = i * DH, j * DW
            cols[:, :, i, j] = xp[:, :, h0 : h0 + SH * OH : SH, w0 : w0 + SW * OW : SW]
    return cols.reshape(N, C * KH * KW, OH * OW)


def col2im_ref(cols, N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    c6 = cols.reshape(N, C, KH, KW, OH, OW)
    xp = np.zeros((N, C, H + 2 * PH + DH * KH + SH * OH, W + 2 * PW + DW * KW + SW * OW))
    for i in range(KH):
        for j in range(KW):
            h0, w0 = i * DH, j * DW
            xp[:, :, h0 : h0 + SH * OH : SH, w0 : w0 + SW * OW : SW] += c6[:, :, i, j]
    return xp[:, :, PH : PH + H, PW : PW + W]


CONV_CASES = [
    # N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW
    (2, 3, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1),
    (1, 2, 10, 8, 3, 2, 2, 3, 1, 0, 2, 1),
    (2, 1, 5, 6, 1, 1, 1, 1, 0, 0, 1, 1),
    (1, 4, 9, 9, 4, 3, 3, 2, 2, 1, 1, 2),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_col2im(dev, case):
    N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW = case
    OH, OW = conv_geom(H, W, KH, KW, SH, SW, PH, PW, DH, DW)
    rng = np.random.default_rng(H * W)
    geom = [N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW]
    # x stored channels-last (N, H, W, C) at offset 2, viewed as NCHW
    off = 2
    base = rng.standard_normal(N * C * H * W + off).astype(np.float32)
    xs = (H * W * C, 1, W * C, C)
    x = strided(base, off, (N, C, H, W), xs)
    total = N * C * KH * KW * OH * OW
    cols = np.zeros(total, np.float32)
    (got,) = run(
        dev,
        "im2col",
        {0: total, 1: geom, 15: off, 16: list(xs)},
        [(cols, True), (base, False)],
        elem_grid(total, 2),
    )
    ref = im2col_ref(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    np.testing.assert_array_equal(got.reshape(ref.shape), ref)

    cols_in = rng.standard_normal(total).astype(np.float32)
    n = N * C * H * W
    dx = np.zeros(n, np.float32)
    (got,) = run(dev, "col2im", {0: n, 1: geom}, [(dx, True), (cols_in, False)], elem_grid(n, 2))
    ref = col2im_ref(cols_in, N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    np.testing.assert_allclose(got.reshape(ref.shape), ref, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- pooling


def pool_out_size(H, K, S, P, D, ceil):
    num = H + 2 * P - D * (K - 1) - 1
    o = (num + (S - 1 if ceil else 0)) // S + 1
    if ceil and (o - 1) * S >= H + P:
        o -= 1
    return o


def max_pool_ref(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    NC, H, W = x.shape
    out = np.zeros((NC, OH, OW), np.float32)
    idx = np.zeros((NC, OH, OW), np.int32)
    for p in range(NC):
        for oh in range(OH):
            for ow in range(OW):
                h0, w0 = oh * SH - PH, ow * SW - PW
                h1 = min(h0 + (KH - 1) * DH + 1, H)
                w1 = min(w0 + (KW - 1) * DW + 1, W)
                while h0 < 0:
                    h0 += DH
                while w0 < 0:
                    w0 += DW
                best, bi = -np.inf, h0 * W + w0
                for h in range(h0, h1, DH):
                    for w in range(w0, w1, DW):
                        v = x[p, h, w]
                        if v > best or np.isnan(v):
                            best, bi = v, h * W + w
                out[p, oh, ow], idx[p, oh, ow] = best, bi
    return out, idx


def avg_windows(H, W, KH, KW, SH, SW, PH, PW, OH, OW, cip, dov):
    for oh in range(OH):
        for ow in range(OW):
            h0, w0 = oh * SH - PH, ow * SW - PW
            h1, w1 = min(h0 + KH, H + PH), min(w0 + KW, W + PW)
            size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            div = dov if dov else (size if cip else (h1 - h0) * (w1 - w0))
            yield oh, ow, h0, h1, w0, w1, div


POOL_CASES = [
    # NC, H, W, KH, KW, SH, SW, PH, PW, DH, DW, ceil
    (6, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1, False),
    (3, 8, 7, 2, 3, 1, 2, 1, 0, 2, 1, False),
    (2, 10, 10, 3, 2, 3, 2, 1, 1, 1, 1, True),
    (4, 6, 6, 2, 2, 2, 2, 0, 0, 1, 1, False),
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool(dev, case):
    NC, H, W, KH, KW, SH, SW, PH, PW, DH, DW, ceil = case
    OH = pool_out_size(H, KH, SH, PH, DH, ceil)
    OW = pool_out_size(W, KW, SW, PW, DW, ceil)
    rng = np.random.default_rng(NC * H)
    x = rng.integers(-3, 4, (NC, H, W)).astype(np.float32)  # many ties
    x[0, 1, 1] = x[0, 2, 2] = x[1, 0, 0] = np.nan
    geom = {1: NC, 3: [H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW]}
    nout = NC * OH * OW
    out = np.zeros(nout, np.float32)
    idx = np.zeros(nout, np.int32)
    o, i = run(
        dev,
        "pool",
        {0: nout, 20: 0, **geom},
        [(out, True), (idx, True), (x, False)],
        elem_grid(nout, 1),
    )
    ro, ri = max_pool_ref(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    np.testing.assert_array_equal(o.reshape(ro.shape), ro)
    np.testing.assert_array_equal(i.reshape(ri.shape), ri)

    go = rng.standard_normal(nout).astype(np.float32)
    nin = NC * H * W
    gi = np.zeros(nin, np.float32)
    g, _ = run(
        dev,
        "pool",
        {0: nin, 20: 1, **geom},
        [(gi, True), (ri.reshape(-1), True), (go, False)],
        elem_grid(nin, 1),
    )
    ref = np.zeros(nin, np.float64)
    planes = np.repeat(np.arange(NC) * H * W, OH * OW)
    np.add.at(ref, planes + ri.reshape(-1), go)
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("cip,dov", [(True, 0), (False, 0), (True, 5)])
def test_avg_pool(dev, case, cip, dov):
    NC, H, W, KH, KW, SH, SW, PH, PW, _, _, ceil = case
    OH = pool_out_size(H, KH, SH, PH, 1, ceil)
    OW = pool_out_size(W, KW, SW, PW, 1, ceil)
    rng = np.random.default_rng(NC * W)
    x = rng.standard_normal((NC, H, W)).astype(np.float32)
    geom = {1: NC, 3: [H, W, KH, KW, SH, SW, PH, PW, 1, 1, OH, OW], 21: int(cip), 22: dov}
    nout, nin = NC * OH * OW, NC * H * W
    wins = list(avg_windows(H, W, KH, KW, SH, SW, PH, PW, OH, OW, cip, dov))
    ref = np.zeros((NC, OH, OW))
    for oh, ow, h0, h1, w0, w1, div in wins:
        ref[:, oh, ow] = x[:, h0:h1, w0:w1].astype(np.float64).sum((1, 2)) / div
    dummy = np.zeros(1, np.int32)
    o, _ = run(
        dev,
        "pool",
        {0: nout, 20: 2, **geom},
        [(np.zeros(nout, np.float32), True), (dummy, True), (x, False)],
        elem_grid(nout, 1),
    )
    np.testing.assert_allclose(o.reshape(ref.shape), ref, rtol=1e-5, atol=1e-6)

    go = rng.standard_normal((NC, OH, OW)).astype(np.float32)
    ref = np.zeros((NC, H, W))
    for oh, ow, h0, h1, w0, w1, div in wins:
        ref[:, h0:h1, w0:w1] += go[:, oh, ow, None, None] / div
    g, _ = run(
        dev,
        "pool",
        {0: nin, 20: 3, **geom},
        [(np.zeros(nin, np.float32), True), (dummy, True), (go, False)],
        elem_grid(nin, 1),
    )
    np.testing.assert_allclose(g.reshape(ref.shape), ref, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- integer division


@pytest.mark.parametrize("op", [4, 5, 6])
def test_int_division(dev, op):
    """floor_divide / remainder (Python's signs) / fmod (C's), exact at the
    extremes; a zero divisor writes 0 and is reported in the error record."""
    rng = np.random.default_rng(op)
    lo, hi = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    x = np.concatenate([rng.integers(-1000, 1000, 500), [lo, lo, hi, 7, -7, 7, -7]])
    y = np.concatenate(
        [rng.integers(1, 50, 500) * rng.choice([-1, 1], 500), [-1, 3, -2, 2, 2, -2, -2]]
    )
    x, y = x.astype(np.int32), y.astype(np.int32)
    n = x.size
    slots = {0: n, 1: 1, 2: op, 3: 1, 8: [n]}
    bufs = [(np.zeros(n, np.int32), True), (x, False), (y, False), (no_errors(), True)]
    got, err = run(dev, "binary_int", slots, bufs, elem_grid(n), "i32")
    x64, y64 = x.astype(np.int64), y.astype(np.int64)
    ref = {4: x64 // y64, 5: x64 % y64, 6: np.fmod(x64, y64)}[op]
    np.testing.assert_array_equal(got, ref.astype(np.int32))  # MIN // -1 wraps to MIN
    assert not err.any()
    y[3] = 0
    got, err = run(dev, "binary_int", slots, [*bufs[:2], (y, False), bufs[3]], elem_grid(n), "i32")
    assert got[3] == 0 and err[0] == 1 and err[1] == 6


# ---------------------------------------------------------------- gather / scatter_add


@pytest.mark.parametrize("t", ["f32", "i32", "u32"])
def test_gather(dev, t):
    rng = np.random.default_rng(3)
    shape = (4, 5, 6)
    off = 1
    base, sstr, src = make_view(rng, t, shape, (2, 0, 1), off, 0, 100)
    for dim in range(3):
        ishape = list(shape)
        ishape[dim] = 7
        ishape[(dim + 1) % 3] -= 1  # idx smaller than src on another dim
        size = shape[dim]
        ib = rng.integers(-size, size, int(np.prod(ishape)) + 2).astype(np.int32)
        istr = [ishape[1] * ishape[2], ishape[2], 1]
        idx = strided(ib, 2, ishape, istr)
        n = int(np.prod(ishape))
        slots = {0: n, 1: 3, 2: dim, 4: off, 5: 2, 6: size, 7: 1, 8: ishape, 24: sstr}
        slots[32] = istr
        out = np.zeros(n, NP_OF[t])
        bufs = [(out, True), (base, False), (ib, False), (no_errors(), True)]
        got, err = run(dev, "gather", slots, bufs, elem_grid(n), t)
        assert not err.any()
        sub = tuple(slice(0, s) if d != dim else slice(None) for d, s in enumerate(ishape))
        ref = np.take_along_axis(src[sub], np.where(idx < 0, idx + size, idx), dim)
        np.testing.assert_array_equal(got.reshape(ishape), ref)

    # index_select along dim 1 via a broadcast idx view (strides 0, 1, 0)
    sel = np.array([4, -1, 0, 2, 2], np.int32)
    oshape = [4, 5, 6]
    n = 120
    slots = {0: n, 1: 3, 2: 1, 4: off, 5: 0, 6: 5, 7: 1, 8: oshape, 24: sstr, 32: [0, 1, 0]}
    out = np.zeros(n, NP_OF[t])
    bufs = [(out, True), (base, False), (sel, False), (no_errors(), True)]
    got, err = run(dev, "gather", slots, bufs, elem_grid(n), t)
    assert not err.any()
    np.testing.assert_array_equal(got.reshape(oshape), src[:, sel % 5, :])


def no_errors():
    """A cleared device error record (8 words; layout in shaders/README.md)."""
    return np.zeros(8, np.uint32)


@pytest.mark.parametrize("wrap", [0, 1])
def test_gather_reports_bad_index(dev, wrap):
    src = np.arange(6, dtype=np.float32)
    idx = np.array([1, 9, -1, 2, 7], np.int32)
    slots = {0: 5, 1: 1, 2: 0, 3: 5, 6: 6, 7: wrap, 8: [5], 24: [1], 32: [1]}
    bufs = [(np.full(5, 7, np.float32), True), (src, False), (idx, False), (no_errors(), True)]
    got, err = run(dev, "gather", slots, bufs, elem_grid(5))
    bad = [1, 4] if wrap else [1, 2, 4]
    np.testing.assert_array_equal(got, [0 if i in bad else src[k] for i, k in enumerate(idx)])
    assert err[0] == len(bad)  # every bad index counts; the first one is recorded
    assert err[1] == 5 and err[3] == 6 and err[4] == 0
    assert err[2].view(np.int32) in idx[bad]


def test_scatter_replace(dev):
    idx = np.array([2, 0, 5, -1], np.int32)
    slots = {0: 4, 1: 1, 2: 0, 3: 7, 7: 3, 8: [4], 16: [1], 24: [1], 32: [1], 40: 4}
    init = np.full(4, 9, np.int32)
    src = np.array([10, 11, 12, 13], np.int32)
    bufs = [(init.view(np.uint32), True), (src, False), (idx, False), (no_errors(), True)]
    got, err = run(dev, "scatter_add", slots, bufs, elem_grid(4), "i32")
    np.testing.assert_array_equal(got.view(np.int32), [11, 9, 10, 13])
    assert err[0] == 1 and err[1] == 7 and err[2] == 5


def test_scatter_add_reports_bad_index(dev):
    idx = np.array([0, 3, -4, 2], np.int32)
    slots = {0: 4, 1: 1, 2: 0, 3: 4, 7: 1, 8: [4], 16: [1], 24: [1], 32: [1], 40: 3}
    init = np.zeros(3, np.float32)
    bufs = [(init.view(np.uint32), True), (np.ones(4, np.float32), False), (idx, False)]
    got, err = run(dev, "scatter_add", slots, [*bufs, (no_errors(), True)], elem_grid(4))
    np.testing.assert_array_equal(got.view(np.float32), [1, 0, 1])
    assert err[0] == 2 and err[1] == 4 and err[3] == 3
    assert err[2].view(np.int32) in (3, -4)


@pytest.mark.parametrize("t", ["f32", "i32", "u32"])
def test_scatter_add(dev, t):
    rng = np.random.default_rng(4)
    dshape = (4, 50, 6)
    for dim in range(3):
        oshape = list(dshape)
        oshape[dim] = 3  # heavy collisions
        size = oshape[dim]
        off = 2
        sbase, sstr, src = make_view(rng, t, dshape, (1, 2, 0), off, 0, 9)
        ib = rng.integers(-size, size, int(np.prod(dshape)) + 1).astype(np.int32)
        istr = [dshape[1] * dshape[2], dshape[2], 1]
        idx = strided(ib, 1, dshape, istr)
        ostr = [oshape[1] * oshape[2], oshape[2], 1]
        init = rand(rng, t, int(np.prod(oshape)), 0, 9).reshape(oshape)
        n = int(np.prod(dshape))
        slots = {0: n, 1: 3, 2: dim, 4: off, 5: 1, 8: list(dshape), 16: ostr, 24: sstr}
        slots.update({32: istr, 40: size})
        slots[7] = 1
        got, err = run(
            dev,
            "scatter_add",
            slots,
            [(init.view(np.uint32), True), (sbase, False), (ib, False), (no_errors(), True)],
            elem_grid(n, 2),
            t,
        )
        assert not err.any()
        got = got.view(NP_OF[t])
        coords = list(np.indices(dshape))
        coords[dim] = np.where(idx < 0, idx + size, idx)
        if t == "f32":
            ref = init.astype(np.float64)
            np.add.at(ref, tuple(coords), src)
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
        else:
            ref = init.copy()
            np.add.at(ref, tuple(coords), src)
            np.testing.assert_array_equal(got, ref)


# ---------------------------------------------------------------- optim


def sgd_ref(p, buf, g, lr, momentum, dampening, wd, nesterov, maximize, first):
    f = np.float32
    g = -g if maximize else g
    if wd:
        g = g + f(wd) * p
    if momentum:
        buf = g.copy() if first else f(momentum) * buf + f(1 - dampening) * g
        g = g + f(momentum) * buf if nesterov else buf
    return p - f(lr) * g, buf


@pytest.mark.parametrize(
    "momentum,dampening,wd,nesterov,maximize,first",
    [
        (0.0, 0.0, 0.0, False, False, False),
        (0.9, 0.0, 0.01, False, False, True),
        (0.9, 0.1, 0.01, False, True, False),
        (0.9, 0.0, 0.0, True, False, False),
    ],
)
def test_sgd(dev, momentum, dampening, wd, nesterov, maximize, first):
    rng = np.random.default_rng(5)
    n = 1000
    p, buf, g = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    lr = 0.05
    flags = int(nesterov) | int(maximize) << 1 | int(first) << 2
    slots = {0: n, 2: 0, 48: lr, 49: momentum, 50: dampening, 51: wd, 53: flags}
    slots[52] = float(1 - dampening)
    dummy = np.zeros(1, np.float32)
    bufs = [(p, True), (buf, True), (dummy, True), (g, False), (dummy, True)]
    gp, gb, _, _ = run(dev, "optim", slots, bufs, elem_grid(n, 2))
    rp, rb = sgd_ref(p, buf, g, lr, momentum, dampening, wd, nesterov, maximize, first)
    np.testing.assert_allclose(gp, rp, rtol=1e-5, atol=1e-6)
    if momentum:
        np.testing.assert_allclose(gb, rb, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "wd,maximize,decoupled,step,ams",
    [(0, 0, 0, 1, 0), (0.1, 1, 0, 3, 0), (0.1, 0, 1, 7, 0), (0.1, 0, 0, 4, 1)],
)
def test_adam(dev, wd, maximize, decoupled, step, ams):
    rng = np.random.default_rng(6)
    n = 777
    p, g = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
    m = rng.standard_normal(n).astype(np.float32) * 0.1
    v = rng.random(n).astype(np.float32) * 0.1
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
    bc1 = 1 - b1**step
    bc2s = math.sqrt(1 - b2**step)
    flags = int(maximize) << 1 | int(decoupled) << 2
    slots = {0: n, 2: 1, 48: lr, 49: b1, 50: b2, 51: eps, 52: float(wd), 53: flags}
    slots.update({54: bc1, 55: bc2s, 56: 1 - b1, 57: 1 - b2})
    slots.update({58: float(1 - lr * wd), 59: -(lr / bc1)})
    mx = rng.random(n).astype(np.float32) * 0.1 if ams else np.zeros(1, np.float32)
    slots[60] = ams
    bufs = [(p, True), (m, True), (v, True), (g, False), (mx, True)]
    gp, gm, gv, gmx = run(dev, "optim", slots, bufs, elem_grid(n))
    f = np.float32
    gg = -g if maximize else g
    pp = p.copy()
    if decoupled:
        pp = pp * f(1 - lr * wd)
    elif wd:
        gg = gg + f(wd) * pp
    rm = m + f(1 - b1) * (gg - m)
    rv = f(b2) * v + f(1 - b2) * gg * gg
    if ams:
        rmx = np.maximum(mx, rv)
        np.testing.assert_array_equal(gmx, rmx)
    denom = np.sqrt(rmx if ams else rv) / f(bc2s) + f(eps)
    rp = pp + f(-(lr / bc1)) * rm / denom
    np.testing.assert_allclose(gm, rm, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gv, rv, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gp, rp, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("centered,maximize,momentum,wd", [(0, 0, 0, 0), (1, 1, 0.9, 0.1)])
def test_rmsprop(dev, centered, maximize, momentum, wd):
    rng = np.random.default_rng(9)
    n = 600
    f = np.float32
    p, g, b = (rng.standard_normal(n).astype(f) for _ in range(3))
    sq = rng.random(n).astype(f)
    ga = (rng.standard_normal(n) * 0.1).astype(f)
    lr, alpha, eps = 0.01, 0.99, 1e-8
    flags = int(centered) | int(maximize) << 1 | int(momentum > 0) << 2
    slots = {0: n, 2: 2, 48: lr, 49: alpha, 50: eps, 51: float(wd), 52: 1 - alpha, 53: flags}
    slots[54] = float(momentum)
    bufs = [(p, True), (sq, True), (b, True), (g, False), (ga, True)]
    gp, gsq, gb, gga = run(dev, "optim", slots, bufs, elem_grid(n))
    d = -g if maximize else g
    d = d + f(wd) * p if wd else d
    rsq = sq * f(alpha) + f(1 - alpha) * d * d
    rga = ga + f(1 - alpha) * (d - ga)
    avg = (np.sqrt(rsq - rga * rga) if centered else np.sqrt(rsq)) + f(eps)
    if momentum:
        rb = b * f(momentum) + d / avg
        rp = p - f(lr) * rb
        np.testing.assert_allclose(gb, rb, rtol=1e-5, atol=1e-6)
    else:
        rp = p - f(lr) * d / avg
    np.testing.assert_allclose(gsq, rsq, rtol=1e-5, atol=1e-7)
    if centered:
        np.testing.assert_allclose(gga, rga, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gp, rp, rtol=1e-5, atol=1e-6)


def test_adagrad(dev):
    rng = np.random.default_rng(10)
    n = 500
    f = np.float32
    p, g = (rng.standard_normal(n).astype(f) for _ in range(2))
    acc = rng.random(n).astype(f)
    clr, eps, wd = 0.01 / (1 + 2 * 0.1), 1e-10, 0.05
    slots = {0: n, 2: 3, 48: clr, 50: eps, 51: wd, 53: 0}
    dummy = np.zeros(1, f)
    bufs = [(p, True), (acc, True), (dummy, True), (g, False), (dummy.copy(), True)]
    gp, gacc, _, _ = run(dev, "optim", slots, bufs, elem_grid(n))
    d = g + f(wd) * p
    racc = acc + d * d
    np.testing.assert_allclose(gacc, racc, rtol=1e-6)
    np.testing.assert_allclose(gp, p - f(clr) * d / (np.sqrt(racc) + f(eps)), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- scan / sort


@pytest.mark.parametrize("t", ["f32", "i32"])
@pytest.mark.parametrize("op", [0, 1])
def test_scan(dev, t, op):
    rng = np.random.default_rng(7)
    # line lengths around the 1024-element chunk, scanned along dim 1 of a
    # (3, L, 2) view (strided line and outer dims), written to a contiguous out
    for L in [1, 5, 1023, 1024, 1025, 3000]:
        shape = (3, L, 2)
        if op == 1:  # products stay finite: values near 1 (ints: +-1)
            lo, hi = (0.9, 1.1) if t == "f32" else (-1, 2)
        else:
            lo, hi = -5, 5
        base, sstr, src = make_view(rng, t, shape, (2, 0, 1), 1, lo, hi)
        if t == "i32" and op == 1:
            base[base == 0] = 1
        ostr = [L * 2, 2, 1]
        slots = {0: 6, 1: 2, 2: op, 4: 1, 5: L, 6: sstr[1], 7: ostr[1]}
        slots.update({8: [3, 2], 16: [sstr[0], sstr[2]], 24: [ostr[0], ostr[2]]})
        out = np.zeros(src.size, NP_OF[t])
        (got,) = run(dev, "scan", slots, [(out, True), (base, False)], grid_for(6), t)
        f = np.cumprod if op else np.cumsum
        if t == "f32":
            ref = f(src.astype(np.float64), axis=1)
            np.testing.assert_allclose(got.reshape(shape), ref, rtol=2e-5, atol=1e-4)
        else:
            np.testing.assert_array_equal(got.reshape(shape), f(src, axis=1).astype(np.int32))


def sort_passes(lines, L):
    """The dispatch plan of the host (rust/core/src/wgpu/kernels.rs sort)."""
    p2 = 1 << max(L - 1, 0).bit_length()
    b = min(p2, 2048)
    passes = [(0, 0, 0)]
    k = b * 2
    while k <= p2:
        j = k // 2
        while j >= b:
            passes.append((2, k, j))
            j //= 2
        passes.append((1, k, 0))
        k *= 2
    return p2, b, passes


@pytest.mark.parametrize("t", ["f32", "i32", "u32"])
@pytest.mark.parametrize("desc", [0, 1])
def test_sort(dev, t, desc):
    rng = np.random.default_rng(8)
    for L in [1, 7, 300, 2048, 5000]:
        lines = 3
        shape = (lines, L)
        base, sstr, src = make_view(rng, t, shape, (1, 0), 2, 0, 20)  # many ties
        if t == "f32":
            src = src.copy()
            src[0, ::5] = np.nan
            src[1, ::7] = -0.0
            base = np.zeros(2 + src.size, np.float32)
            base[2:] = src.T.reshape(-1)  # column-major view again
            sstr = [1, lines]
        p2, b, passes = sort_passes(lines, L)
        keys = np.zeros(lines * p2, NP_OF[t])
        idx = np.zeros(lines * p2, np.int32)
        out = np.zeros(lines * L, NP_OF[t])
        oidx = np.zeros(lines * L, np.int32)
        common = {0: lines, 1: 1, 3: desc, 4: 2, 5: L, 6: sstr[1], 7: 1, 8: [lines]}
        common.update({16: [sstr[0]], 24: [L], 40: p2, 41: b, 44: L})
        groups = lines * (p2 // b)
        for mode, k, j in passes:
            n = lines * p2 // 2 if mode == 2 else 0
            slots = {**common, 2: mode, 42: k, 43: j, 45: n}
            bufs = [(keys, True), (idx, True), (out, True), (oidx, True), (base, False)]
            keys, idx, out, oidx = run(
                dev, "sort", slots, bufs, grid_for(groups) if mode < 2 else elem_grid(n), t
            )
        slots = {**common, 2: 3, 45: lines * L}
        bufs = [(keys, True), (idx, True), (out, True), (oidx, True), (base, False)]
        _, _, out, oidx = run(dev, "sort", slots, bufs, elem_grid(lines * L), t)
        # Reference: stable sort with NaN largest; descending keeps ties in order.
        for r in range(lines):
            row = src[r]
            if desc:
                order = np.argsort(-row.astype(np.float64), kind="stable")
                nan = np.isnan(row.astype(np.float64))
                order = np.concatenate([np.flatnonzero(nan), order[~nan[order]]])
            else:
                order = np.argsort(row, kind="stable")
            np.testing.assert_array_equal(oidx.reshape(shape)[r], order)
            np.testing.assert_array_equal(out.reshape(shape)[r], row[order])
