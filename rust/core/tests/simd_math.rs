//! The branch-free f32 math of cpu::simd against libm, over the whole range.

use ember_core::cpu::simd::{erf_f32, exp_f32, ln_f32, sigmoid_f32, tanh_f32};

fn ulps(a: f32, b: f32) -> u64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
}

#[test]
fn exp_ln_within_two_ulps() {
    let mut x = -110.0f32;
    while x < 110.0 {
        assert!(
            ulps(exp_f32(x), x.exp()) <= 2,
            "exp({x}) = {} vs {}",
            exp_f32(x),
            x.exp()
        );
        if x > 0.0 {
            assert!(ulps(ln_f32(x), x.ln()) <= 2, "ln({x})");
        }
        x += 0.00731;
    }
    let r = std::f32::consts::FRAC_1_SQRT_2;
    for &x in &[1e-40f32, 1e-30, 3.4e38, 1.0, r * 0.9999, r, r * 1.0001] {
        assert!(
            ulps(ln_f32(x), x.ln()) <= 2,
            "ln({x}) = {} vs {}",
            ln_f32(x),
            x.ln()
        );
    }
    assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
    assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    assert!(exp_f32(f32::NAN).is_nan());
    assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
    assert!(ln_f32(-1.0).is_nan());
    assert_eq!(ln_f32(f32::INFINITY), f32::INFINITY);
}

#[test]
fn tanh_sigmoid_erf_close_to_libm() {
    let mut x = -30.0f32;
    while x < 30.0 {
        let t = x.tanh();
        assert!(
            (tanh_f32(x) - t).abs() <= 3e-7 * t.abs().max(1e-6),
            "tanh({x})"
        );
        let s = 1.0 / (1.0 + (-x as f64).exp());
        assert!(
            ((sigmoid_f32(x) as f64) - s).abs() <= 3e-7 * s.max(1e-30),
            "sigmoid({x})"
        );
        assert!(
            (erf_f32(x) as f64 - libm::erf(x as f64)).abs() < 5e-7,
            "erf({x})"
        );
        x += 0.00317;
    }
    assert!(tanh_f32(f32::NAN).is_nan());
    assert_eq!(tanh_f32(f32::INFINITY), 1.0);
    assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
}
