// Float binary ops; op codes follow the Rust `Binary` enum (arithmetic part:
// 0 add, 1 sub, 2 mul, 3 div, 4 floor_divide, 5 remainder, 6 fmod, 7 pow,
// 8 atan2, 9 maximum, 10 minimum, 11 fmax, 12 fmin). Flag F_SCALAR: the
// second operand is the f32 in slot 52. Strided layout of the README.
// types: f32
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;

fn is_inf_f(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

fn sign_bit(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x80000000u) != 0u;
}

// x - a*b with the product's rounding error put back (Dekker's two-product;
// an fma may be unfused on some drivers, llvmpipe among them).
fn exact_sub_prod(x: f32, a: f32, b: f32) -> f32 {
    let p = a * b;
    let ca = 4097.0 * a;
    let ah = ca - (ca - a);
    let al = a - ah;
    let cb = 4097.0 * b;
    let bh = cb - (cb - b);
    let bl = b - bh;
    let err = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    return (x - p) - err;
}

// C fmod: x - y * trunc(x / y) with the quotient corrected, since x / y
// rounds (1 fmod 0.1 is 0.09999999, not 0); x - y*q is computed exactly.
fn fmod_f(x: f32, y: f32) -> f32 {
    if is_inf_f(y) && !is_inf_f(x) && !is_nan_f(x) {
        return x;
    }
    let ay = abs(y);
    var r = exact_sub_prod(x, y, trunc(x / y));
    // A huge quotient is inexact in f32: reduce what is left again.
    for (var k = 0; k < 8 && abs(r) >= ay && ay > 0.0; k = k + 1) {
        r = exact_sub_prod(r, y, trunc(r / y));
    }
    if !(r == 0.0) && ((r < 0.0) != (x < 0.0)) {
        r = r + select(ay, -ay, x < 0.0);
    } else if abs(r) >= ay {
        r = r - select(ay, -ay, x < 0.0);
    }
    if r == 0.0 {
        // The result takes x's sign.
        return select(0.0, -0.0, sign_bit(x));
    }
    return r;
}

fn pow_f(x: f32, y: f32) -> f32 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if is_inf_f(y) && !is_nan_f(x) {
        let ax = abs(x);
        if ax == 1.0 {
            return 1.0;
        }
        if (ax < 1.0) == (y > 0.0) {
            return 0.0;
        }
        return bitcast<f32>(0x7f800000u);
    }
    if y == 1.0 {
        return x;
    }
    if y == 2.0 {
        return x * x;
    }
    if y == 0.5 {
        return sqrt(x);
    }
    if x < 0.0 {
        // Negative base: defined only for integral exponents.
        if y != trunc(y) {
            return bitcast<f32>(0x7fc00000u);
        }
        let r = pow(-x, y);
        if fmod_f(y, 2.0) != 0.0 {
            return -r;
        }
        return r;
    }
    if x == 0.0 {
        if y < 0.0 {
            return bitcast<f32>(0x7f800000u);
        }
        return 0.0;
    }
    return pow(x, y);
}

fn apply(op: u32, x: f32, y: f32) -> f32 {
    switch op {
        case 0u: { return x + pf(48u) * y; }
        case 1u: { return x - pf(48u) * y; }
        case 2u: { return x * y; }
        case 3u: { return x / y; }
        case 4u: {
            if y == 0.0 {
                return x / y;
            }
            let r = fmod_f(x, y);
            var q = (x - r) / y;
            if !(r == 0.0) && ((r < 0.0) != (y < 0.0)) {
                q = q - 1.0;
            }
            let fq = floor(q);
            if q - fq > 0.5 {
                return fq + 1.0;
            }
            return fq;
        }
        case 5u: {
            let r = fmod_f(x, y);
            if !(r == 0.0) && ((r < 0.0) != (y < 0.0)) {
                return r + y;
            }
            return r;
        }
        case 6u: { return fmod_f(x, y); }
        case 7u: { return pow_f(x, y); }
        case 8u: {
            if x == 0.0 && y == 0.0 {
                // atan2(+-0, +0) = +-0 and atan2(+-0, -0) = +-pi, as in C.
                if sign_bit(y) {
                    return select(3.141592653589793, -3.141592653589793, sign_bit(x));
                }
                return x;
            }
            return atan2(x, y);
        }
        case 9u: {
            if is_nan_f(x) || is_nan_f(y) { return bitcast<f32>(0x7fc00000u); }
            return select(y, x, x > y);
        }
        case 10u: {
            if is_nan_f(x) || is_nan_f(y) { return bitcast<f32>(0x7fc00000u); }
            return select(y, x, x < y);
        }
        case 11u: {
            if is_nan_f(x) { return y; }
            if is_nan_f(y) { return x; }
            return select(y, x, x > y);
        }
        case 12u: {
            if is_nan_f(x) { return y; }
            if is_nan_f(y) { return x; }
            return select(y, x, x < y);
        }
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
    var y: f32;
    if (pu(3u) & F_SCALAR) != 0u {
        y = pf(52u);
    } else {
        y = b[ew_off_in(i, 1u)];
    }
    out[ew_off_out(i)] = fin(apply(pu(2u), x, y));
}
