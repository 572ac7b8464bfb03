// Integer/bool unary ops. Op codes follow the Rust `Unary` enum:
// 0 neg, 1 abs, 25 relu, 40 sign, 42 square, 43 bitwise_not, 44 logical_not
// (writes 0/1), other integer-valued ops copy. Flag F_U8 wraps to 8 bits.
// types: i32 u32
alias T = i32;
@group(0) @binding(1) var<storage, read_write> out: array<T>;
@group(0) @binding(2) var<storage, read> a: array<T>;

fn apply(op: u32, x: T) -> T {
    let zero = T(0);
    let one = T(1);
    switch op {
        case 0u: { return zero - x; }
        case 1u: { if x < zero { return zero - x; } return x; }
        case 25u: { if x > zero { return x; } return zero; }
        case 40u: { if x > zero { return one; } if x < zero { return zero - one; } return zero; }
        case 42u: { return x * x; }
        case 43u: { return ~x; }
        case 44u: { if x == zero { return one; } return zero; }
        default: { return x; }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if i >= pu(0u) {
        return;
    }
    var v = apply(pu(2u), a[ew_off_in(i, 0u)]);
    if (pu(3u) & F_U8) != 0u {
        v = v & T(255);
    }
    // int8/int16 in i32 words: wrap to the width and sign-extend.
    if (pu(3u) & F_I8) != 0u {
        v = (v << 24u) >> 24u;
    }
    if (pu(3u) & F_I16) != 0u {
        v = (v << 16u) >> 16u;
    }
    out[ew_off_out(i)] = v;
}
