//! CPU kernels of the unary elementwise ops (the op enum and its autograd
//! rules live in ops/elementwise.rs). Transcendentals go through
//! `FastMath`, vectorisable in f32.

use super::simd::FastMath;
use crate::cpu;
use crate::dtype::Element;
use crate::error::Result;
use crate::layout::Layout;
use crate::ops::Unary;
use crate::storage::{CpuData, CpuElement};
use crate::{bail, rt_err};
use num_traits::Float;

const SQRT_2_OVER_PI: f64 = 0.7978845608028654;

#[inline(always)]
fn f<T: Float>(v: f64) -> T {
    T::from(v).unwrap_or_else(T::nan)
}
#[inline(always)]
fn erf_t<T: Float + Element>(x: T) -> T {
    T::from_f64(libm::erf(x.to_f64()))
}
#[inline(always)]
fn softplus_t<T: Float>(x: T) -> T {
    // log(1 + exp(x)) without overflow.
    if x > f(20.0) {
        x
    } else {
        x.exp().ln_1p()
    }
}
#[inline(always)]
fn round_half_even<T: Float>(x: T) -> T {
    let r = x.round();
    if (x - x.trunc()).abs() == f(0.5) {
        // ties to even
        let h = (x / f(2.0)).round() * f(2.0);
        if (h - x).abs() <= f(0.5) {
            return h;
        }
        return r - x.signum();
    }
    r
}

pub fn float_unary<T: CpuElement + Float + FastMath>(
    op: Unary,
    d: &CpuData,
    l: &Layout,
) -> Result<Vec<T>> {
    use Unary::*;
    macro_rules! m {
        ($x:ident => $e:expr) => {
            Ok(cpu::map1::<T, T>(d, l, |$x: T| $e))
        };
    }
    match op {
        Neg => m!(x => -x),
        Abs => m!(x => x.abs()),
        Exp => m!(x => x.fexp()),
        Exp2 => m!(x => x.exp2()),
        Log => m!(x => x.fln()),
        Log2 => m!(x => x.log2()),
        Log10 => m!(x => x.log10()),
        Log1p => m!(x => x.ln_1p()),
        Expm1 => m!(x => x.exp_m1()),
        Sqrt => m!(x => x.sqrt()),
        Rsqrt => m!(x => x.sqrt().recip()),
        Sin => m!(x => x.sin()),
        Cos => m!(x => x.cos()),
        Tan => m!(x => x.tan()),
        Asin => m!(x => x.asin()),
        Acos => m!(x => x.acos()),
        Atan => m!(x => x.atan()),
        Sinh => m!(x => x.sinh()),
        Cosh => m!(x => x.cosh()),
        Tanh => m!(x => x.ftanh()),
        Asinh => m!(x => x.asinh()),
        Acosh => m!(x => x.acosh()),
        Atanh => m!(x => x.atanh()),
        Sigmoid => m!(x => x.fsigmoid()),
        LogSigmoid => m!(x => -softplus_t(-x)),
        Relu => m!(x => if x > T::zero_v() || x.is_nan() { x } else { T::zero_v() }),
        Relu6 => m!(x => if x.is_nan() { x } else { x.max(T::zero_v()).min(f(6.0)) }),
        Gelu => {
            m!(x => x * f(0.5) * (T::one_v() + (x * f(std::f64::consts::FRAC_1_SQRT_2)).ferf_gelu()))
        }
        GeluTanh => {
            m!(x => f::<T>(0.5) * x * (T::one_v() + (f::<T>(SQRT_2_OVER_PI) * (x + f::<T>(0.044715) * x * x * x)).ftanh()))
        }
        Silu => m!(x => x * x.fsigmoid()),
        Mish => m!(x => x * softplus_t(x).tanh()),
        Hardswish => m!(x => x * (x + f(3.0)).max(T::zero_v()).min(f(6.0)) / f(6.0)),
        Hardsigmoid => m!(x => (x + f(3.0)).max(T::zero_v()).min(f(6.0)) / f(6.0)),
        Erf => m!(x => erf_t(x)),
        Erfc => m!(x => T::from_f64(libm::erfc(x.to_f64()))),
        Floor => m!(x => x.floor()),
        Ceil => m!(x => x.ceil()),
        Round => m!(x => round_half_even(x)),
        Trunc => m!(x => x.trunc()),
        Frac => m!(x => x - x.trunc()),
        Sign => {
            m!(x => if x > T::zero_v() { T::one_v() } else if x < T::zero_v() { -T::one_v() } else { T::zero_v() })
        }
        Reciprocal => m!(x => x.recip()),
        Square => m!(x => x * x),
        BitNot | LogicalNot => Err(rt_err!(
            "{}: not supported for floating point tensors",
            op.name()
        )),
    }
}

pub fn int_unary<
    T: CpuElement
        + num_traits::PrimInt
        + num_traits::WrappingNeg
        + num_traits::WrappingMul
        + num_traits::WrappingSub,
>(
    op: Unary,
    d: &CpuData,
    l: &Layout,
) -> Result<Vec<T>> {
    use Unary::*;
    let signed = T::DTYPE.is_signed();
    Ok(match op {
        Neg => cpu::map1::<T, T>(d, l, |x| x.wrapping_neg()),
        Abs => cpu::map1::<T, T>(d, l, move |x| {
            if signed && x < T::zero_v() {
                x.wrapping_neg()
            } else {
                x
            }
        }),
        Floor | Ceil | Round | Trunc => cpu::map1::<T, T>(d, l, |x| x),
        Sign => cpu::map1::<T, T>(d, l, |x| {
            if x > T::zero_v() {
                T::one_v()
            } else if x < T::zero_v() {
                T::zero_v().wrapping_sub(&T::one_v())
            } else {
                T::zero_v()
            }
        }),
        Square => cpu::map1::<T, T>(d, l, |x| x.wrapping_mul(&x)),
        Relu => cpu::map1::<T, T>(d, l, |x| if x > T::zero_v() { x } else { T::zero_v() }),
        BitNot => cpu::map1::<T, T>(d, l, |x| !x),
        _ => bail!("{}: not implemented for integer tensors", op.name()),
    })
}
