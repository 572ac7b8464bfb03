// Float unary ops (float32; float16 rounded via flag). Op codes follow the
// Rust `Unary` enum. Strided elementwise slot layout (README); 48 = alpha.
// types: f32
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;

fn erf_approx(x: f32) -> f32 {
    // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
    let s = sign(x);
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * z);
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-z * z);
    return s * y;
}

fn tanh_safe(x: f32) -> f32 {
    if is_nan_f(x) {
        return x;
    }
    let e = exp(-2.0 * abs(x));
    return sign(x) * (1.0 - e) / (1.0 + e);
}

fn sigmoid_f(x: f32) -> f32 {
    if x >= 0.0 {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

fn softplus_f(x: f32) -> f32 {
    // log(1 + exp(x)) without overflow.
    return max(x, 0.0) + log1p_f(exp(-abs(x)));
}

fn log1p_f(x: f32) -> f32 {
    let u = 1.0 + x;
    if u == 1.0 {
        return x;
    }
    if is_nan_f(x) || u == 0.0 || x > 1e30 {
        return log(u);
    }
    return log(u) * x / (u - 1.0);
}

fn expm1_f(x: f32) -> f32 {
    if abs(x) < 1e-5 {
        return x + 0.5 * x * x;
    }
    return exp(x) - 1.0;
}

fn nanpass(x: f32, y: f32) -> f32 {
    if is_nan_f(x) {
        return x;
    }
    return y;
}

// asin/acos through atan2: drivers' asin/acos can be far less precise
// (llvmpipe's are off by 4e-4 relative) and are undefined outside [-1, 1].
fn asin_f(x: f32) -> f32 {
    if abs(x) > 1.0 || is_nan_f(x) {
        return bitcast<f32>(0x7fc00000u);
    }
    return atan2(x, sqrt((1.0 - x) * (1.0 + x)));
}

fn acos_f(x: f32) -> f32 {
    if abs(x) > 1.0 || is_nan_f(x) {
        return bitcast<f32>(0x7fc00000u);
    }
    return 2.0 * atan2(sqrt(1.0 - x), sqrt(1.0 + x));
}

fn apply(op: u32, x: f32) -> f32 {
    switch op {
        case 0u: { return -x; }
        case 1u: { return abs(x); }
        case 2u: { return exp(x); }
        case 3u: { return exp2(x); }
        case 4u: { return log(x); }
        case 5u: { return log2(x); }
        case 6u: { return log(x) * 0.4342944819032518; }
        case 7u: { return log1p_f(x); }
        case 8u: { return expm1_f(x); }
        case 9u: { return sqrt(x); }
        case 10u: { return inverseSqrt(x); }
        case 11u: { return sin(x); }
        case 12u: { return cos(x); }
        case 13u: { return tan(x); }
        case 14u: { return asin_f(x); }
        case 15u: { return acos_f(x); }
        case 16u: { return atan(x); }
        case 17u: { return sinh(x); }
        case 18u: { return cosh(x); }
        case 19u: { return tanh_safe(x); }
        case 20u: { return asinh(x); }
        case 21u: { return acosh(x); }
        case 22u: { return atanh(x); }
        case 23u: { return sigmoid_f(x); }
        case 24u: { return -softplus_f(-x); }
        case 25u: { if x > 0.0 || is_nan_f(x) { return x; } return 0.0; }
        case 26u: { return nanpass(x, min(max(x, 0.0), 6.0)); }
        case 27u: { return x * 0.5 * (1.0 + erf_approx(x * 0.7071067811865476)); }
        case 28u: { return 0.5 * x * (1.0 + tanh_safe(0.7978845608028654 * (x + 0.044715 * x * x * x))); }
        case 29u: { return x * sigmoid_f(x); }
        case 30u: { return x * tanh_safe(softplus_f(x)); }
        case 31u: { return nanpass(x, x * min(max(x + 3.0, 0.0), 6.0) / 6.0); }
        case 32u: { return nanpass(x, min(max(x + 3.0, 0.0), 6.0) / 6.0); }
        case 33u: { return erf_approx(x); }
        case 34u: { return 1.0 - erf_approx(x); }
        case 35u: { return floor(x); }
        case 36u: { return ceil(x); }
        case 37u: { return round(x); }
        case 38u: { return trunc(x); }
        case 39u: { return x - trunc(x); }
        case 40u: { if x > 0.0 { return 1.0; } if x < 0.0 { return -1.0; } return 0.0; }
        case 41u: { return 1.0 / x; }
        case 42u: { return x * x; }
        default: { return x; }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if i >= pu(0u) {
        return;
    }
    out[ew_off_out(i)] = fin(apply(pu(2u), a[ew_off_in(i, 0u)]));
}
