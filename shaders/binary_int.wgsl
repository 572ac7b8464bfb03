// Integer binary ops (int32/int64 as i32, uint8 as u32 with F_U8 wrapping).
// Op codes of the Rust `Binary` enum: 0 add, 1 sub, 2 mul, 4 floor_divide,
// 5 remainder (sign of the divisor), 6 fmod (sign of the dividend),
// 9/11 maximum, 10/12 minimum, 13 and, 14 or, 15 xor. F_SCALAR: second
// operand in slot 52. Binding 4: the device error record (shaders/README.md);
// a zero divisor writes 0 and is reported there as op 6 (ZeroDivisionError).
// types: i32 u32
alias T = i32;
@group(0) @binding(1) var<storage, read_write> out: array<T>;
@group(0) @binding(2) var<storage, read> a: array<T>;
@group(0) @binding(3) var<storage, read> b: array<T>;
@group(0) @binding(4) var<storage, read_write> err: array<atomic<u32>>;

fn divide(op: u32, x: T, y: T) -> T {
    if y == T(0) {
        if atomicAdd(&err[0], 1u) == 0u {
            atomicStore(&err[1], 6u);
        }
        return T(0);
    }
    // WGSL's / truncates and % takes the dividend's sign (both defined for
    // MIN / -1); floor division and remainder correct them toward -inf.
    let q = x / y;
    let r = x - q * y;
    let fix = r != T(0) && ((r < T(0)) != (y < T(0)));
    if op == 4u {
        return select(q, q - T(1), fix);
    }
    if op == 5u {
        return select(r, r + y, fix);
    }
    return r;
}

fn apply(op: u32, x: T, y: T) -> T {
    switch op {
        case 0u: { return x + y; }
        case 1u: { return x - y; }
        case 2u: { return x * y; }
        case 4u, 5u, 6u: { return divide(op, x, y); }
        case 9u, 11u: { return max(x, y); }
        case 10u, 12u: { return min(x, y); }
        case 13u: { return x & y; }
        case 14u: { return x | y; }
        case 15u: { return x ^ y; }
        default: { return x; }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if i >= pu(0u) {
        return;
    }
    let x = a[ew_off_in(i, 0u)];
    var y: T;
    if (pu(3u) & F_SCALAR) != 0u {
        y = bitcast<T>(pu(52u));
    } else {
        y = b[ew_off_in(i, 1u)];
    }
    var v = apply(pu(2u), x, y);
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
