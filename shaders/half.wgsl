// float16 / bfloat16 storage <-> f32 words. A 16-bit storage of n elements
// holds element i in word i / 2 (the low half for even i); the kernels compute
// on f32 words, so rust/core/src/wgpu/kernels.rs (Bufs) widens such a storage
// into a temporary of n f32 words before a kernel and packs the written ones
// back after it. Conversions are done on the bits: exact when widening, and
// round-to-nearest-even with inf, NaN and subnormals right when packing
// (pack2x16float leaves out-of-range values undefined).
// Op (slot 2): 0 unpack float16, 1 unpack bfloat16 (one thread per element,
// n = slot 0); 2 pack float16, 3 pack bfloat16 (one thread per packed word,
// so no two threads write the same word; n = slot 0 elements, words = slot 1).
// types: u32
alias T = u32;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<storage, read> a: array<u32>;

// f32 bits of a float16 pattern (exact).
fn f16_to_f32_bits(h: u32) -> u32 {
    let sign = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if e == 0x1fu {
        return sign | 0x7f800000u | (m << 13u);
    }
    if e == 0u {
        if m == 0u {
            return sign;
        }
        // Subnormal m * 2^-24: normalise (the leading 1 of m to bit 10).
        var mm = m;
        var ee = 113u;
        loop {
            if (mm & 0x400u) != 0u {
                break;
            }
            mm = mm << 1u;
            ee = ee - 1u;
        }
        return sign | (ee << 23u) | ((mm & 0x3ffu) << 13u);
    }
    return sign | ((e + 112u) << 23u) | (m << 13u);
}

// float16 pattern of f32 bits, rounded to nearest even.
fn f32_bits_to_f16(b: u32) -> u32 {
    let sign = (b >> 16u) & 0x8000u;
    let a = b & 0x7fffffffu;
    if a > 0x7f800000u {
        // NaN: keep the top payload bits, and stay a NaN (quiet bit set).
        return sign | 0x7e00u | ((a >> 13u) & 0x3ffu);
    }
    if a >= 0x477ff000u {
        // At or above 65520 (the midpoint past 65504), and inf: inf.
        return sign | 0x7c00u;
    }
    if a >= 0x38800000u {
        // Normal: rebias the exponent (127 -> 15), round the 13 dropped bits;
        // a carry out of the mantissa correctly bumps the exponent.
        var h = ((a >> 13u) - (112u << 10u));
        let rem = a & 0x1fffu;
        if rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u) {
            h = h + 1u;
        }
        return sign | h;
    }
    let e = a >> 23u;
    if e < 102u {
        // Below 2^-25 (half the smallest subnormal, which rounds to even 0).
        return sign;
    }
    // Subnormal: value / 2^-24 = m * 2^(e - 126), m with its implicit bit.
    let m = (a & 0x7fffffu) | 0x800000u;
    let shift = 126u - e;
    var h = m >> shift;
    let rem = m & ((1u << shift) - 1u);
    let halfway = 1u << (shift - 1u);
    if rem > halfway || (rem == halfway && (h & 1u) != 0u) {
        h = h + 1u;
    }
    return sign | h;
}

// bfloat16 pattern of f32 bits, rounded to nearest even (the top 16 bits).
fn f32_bits_to_bf16(b: u32) -> u32 {
    if (b & 0x7fffffffu) > 0x7f800000u {
        return (b >> 16u) | 0x40u;
    }
    return (b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u;
}

fn pack_one(b: u32, op: u32) -> u32 {
    if op == 2u {
        return f32_bits_to_f16(b);
    }
    return f32_bits_to_bf16(b);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    let n = pu(0u);
    let op = pu(2u);
    if op < 2u {
        if i >= n {
            return;
        }
        let h = (a[i / 2u] >> (16u * (i & 1u))) & 0xffffu;
        if op == 0u {
            out[i] = f16_to_f32_bits(h);
        } else {
            out[i] = h << 16u;
        }
        return;
    }
    if i >= pu(1u) {
        return;
    }
    let lo = pack_one(a[2u * i], op);
    var hi = 0u;
    if 2u * i + 1u < n {
        hi = pack_one(a[2u * i + 1u], op);
    }
    out[i] = lo | (hi << 16u);
}
