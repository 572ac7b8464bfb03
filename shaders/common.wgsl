// Shared prelude of every ember kernel. The Rust side (rust/core/src/wgpu)
// compiles each shader as `common.wgsl` + `<kernel>.wgsl`, after replacing the
// kernel's `alias T = f32;` line by the storage type of the dtype it runs
// (f32 for float32/float16/bfloat16, i32 for int32/int64/int16/int8, u32 for
// bool/uint8). Every element a kernel sees is one 32-bit word: float16 and
// bfloat16 storages (two values per word) are widened to f32 words before a
// kernel runs and packed back after it (half.wgsl).
//
// Binding 0 of group 0 is a 256-byte uniform block of 64 u32 "slots"; each
// kernel documents which slot holds what. Strided operands are described by
// shape + strides (in elements) + offset, up to MAXD dims.

const MAXD: u32 = 8u;
const WG: u32 = 256u;

struct Params {
    u: array<vec4<u32>, 16>,
}

@group(0) @binding(0) var<uniform> P: Params;

fn pu(i: u32) -> u32 {
    return P.u[i / 4u][i % 4u];
}

fn pi(i: u32) -> i32 {
    return bitcast<i32>(P.u[i / 4u][i % 4u]);
}

fn pf(i: u32) -> f32 {
    return bitcast<f32>(P.u[i / 4u][i % 4u]);
}

// Linear invocation index over a 2-d grid of workgroups of WG threads
// (the host splits large dispatches to respect 65535 groups per dimension).
fn linear_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Element offset of linear (row-major) index `i` of a tensor whose shape sits
// at slots [shape_at, shape_at+ndim) and strides at [strides_at, ...).
fn strided_offset(i: u32, ndim: u32, shape_at: u32, strides_at: u32, base: u32) -> u32 {
    var rem = i;
    var off = base;
    var d = ndim;
    loop {
        if d == 0u {
            break;
        }
        d = d - 1u;
        let n = pu(shape_at + d);
        let c = rem % n;
        rem = rem / n;
        off = off + c * pu(strides_at + d);
    }
    return off;
}

fn is_nan_f(x: f32) -> bool {
    // Bit test: compilers may fold x != x away when they assume no NaN.
    let b = bitcast<u32>(x);
    return (b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu) != 0u;
}

// Round an f32 to the nearest float16 value (ties to even), kept as f32:
// float16 tensors live in f32 words and are rounded after every op.
fn round_f16(x: f32) -> f32 {
    let b = bitcast<u32>(x);
    let sign = b & 0x80000000u;
    let a = b & 0x7fffffffu;
    if a >= 0x7f800000u {
        return x;
    }
    if a >= 0x477ff000u {
        return bitcast<f32>(sign | 0x7f800000u);
    }
    if a < 0x38800000u {
        // float16 subnormals: multiples of 2^-24.
        let q = round(bitcast<f32>(a) * 16777216.0) / 16777216.0;
        return bitcast<f32>(sign | bitcast<u32>(q));
    }
    let low = a & 0x1fffu;
    var m = a & 0xffffe000u;
    if low > 0x1000u || (low == 0x1000u && (m & 0x2000u) != 0u) {
        m = m + 0x2000u;
    }
    return bitcast<f32>(sign | m);
}

// Round an f32 to the nearest bfloat16 value (ties to even), kept as f32.
fn round_bf16(x: f32) -> f32 {
    let b = bitcast<u32>(x);
    if (b & 0x7fffffffu) > 0x7f800000u {
        return x;
    }
    return bitcast<f32>((b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u);
}

// Flags slot (3) of the elementwise kernels.
const F_CONTIG: u32 = 1u;
const F_SCALAR: u32 = 2u;
const F_ROUND16: u32 = 4u;
const F_U8: u32 = 8u;
const F_I8: u32 = 16u;
const F_I16: u32 = 32u;
const F_ROUNDBF: u32 = 64u;

fn ew_off_out(i: u32) -> u32 {
    if (pu(3u) & F_CONTIG) != 0u {
        return pu(4u) + i;
    }
    return strided_offset(i, pu(1u), 8u, 16u, pu(4u));
}

// Offset of input k (0, 1, 2) for output element i.
fn ew_off_in(i: u32, k: u32) -> u32 {
    if (pu(3u) & F_CONTIG) != 0u {
        return pu(5u + k) + i;
    }
    return strided_offset(i, pu(1u), 8u, 24u + 8u * k, pu(5u + k));
}

fn fin(v: f32) -> f32 {
    if (pu(3u) & F_ROUND16) != 0u {
        return round_f16(v);
    }
    if (pu(3u) & F_ROUNDBF) != 0u {
        return round_bf16(v);
    }
    return v;
}
