//! Runtime CPU feature dispatch and vectorisable f32 math.
//!
//! The wheel is built for baseline x86-64 (SSE2) so it runs everywhere; the
//! hot loops are compiled a second and third time with AVX2+FMA and AVX-512
//! enabled and picked once per process from what the CPU reports. The loop
//! bodies are plain Rust over slices (no intrinsics): LLVM vectorises them
//! for whichever feature set the wrapper enables. The f32 math functions
//! below are branch-free (selects instead of ifs, integer tricks for the
//! exponent) so they vectorise too; libm's `expf` is a call per element.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Base,
    Avx2,
    Avx512,
}

/// The widest instruction set this CPU runs (detected once).
pub fn level() -> Level {
    static L: OnceLock<Level> = OnceLock::new();
    *L.get_or_init(|| {
        if std::env::var("EMBER_CPU_LEVEL").as_deref() == Ok("base") {
            return Level::Base;
        }
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            let avx512 = avx2
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512dq");
            if avx512 && std::env::var("EMBER_CPU_LEVEL").as_deref() != Ok("avx2") {
                return Level::Avx512;
            }
            if avx2 {
                return Level::Avx2;
            }
        }
        Level::Base
    })
}

pub fn level_name() -> &'static str {
    match level() {
        Level::Base => "baseline",
        Level::Avx2 => "avx2+fma",
        Level::Avx512 => "avx512",
    }
}

/// Defines `$name` that runs `$body` compiled for the best level available.
/// The body is a generic inline(always) function, so the closure it calls is
/// inlined and vectorised under the wrapper's target features.
macro_rules! multiversion {
    (
        $(#[$m:meta])*
        $vis:vis fn $name:ident < $($g:ident : $b:path),* > ( $($a:ident : $t:ty),* $(,)? ) via $body:ident
    ) => {
        $(#[$m])*
        $vis fn $name<$($g: $b),*>($($a: $t),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
                unsafe fn v4<$($g: $b),*>($($a: $t),*) {
                    $body($($a),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3<$($g: $b),*>($($a: $t),*) {
                    $body($($a),*)
                }
                match $crate::cpu::simd::level() {
                    // SAFETY: the level says the CPU has these features.
                    $crate::cpu::simd::Level::Avx512 => return unsafe { v4($($a),*) },
                    $crate::cpu::simd::Level::Avx2 => return unsafe { v3($($a),*) },
                    $crate::cpu::simd::Level::Base => {}
                }
            }
            $body($($a),*)
        }
    };
}

pub(crate) use multiversion;

/// Marker for the closures the kernels take.
pub trait Op1<T, U>: Fn(T) -> U + Copy {}
impl<T, U, F: Fn(T) -> U + Copy> Op1<T, U> for F {}
pub trait Op2<T, U>: Fn(T, T) -> U + Copy {}
impl<T, U, F: Fn(T, T) -> U + Copy> Op2<T, U> for F {}

#[inline(always)]
fn map1_body<T: Copy, U, F: Fn(T) -> U>(src: &[T], dst: &mut [MaybeUninit<U>], f: F) {
    for (o, &x) in dst.iter_mut().zip(src) {
        o.write(f(x));
    }
}
#[inline(always)]
fn map2_body<T: Copy, U, F: Fn(T, T) -> U>(a: &[T], b: &[T], dst: &mut [MaybeUninit<U>], f: F) {
    for ((o, &x), &y) in dst.iter_mut().zip(a).zip(b) {
        o.write(f(x, y));
    }
}
#[inline(always)]
fn map1_inplace_body<T: Copy, F: Fn(T) -> T>(d: &mut [T], f: F) {
    for x in d.iter_mut() {
        *x = f(*x);
    }
}
#[inline(always)]
fn map2_inplace_body<T: Copy, F: Fn(T, T) -> T>(d: &mut [T], b: &[T], f: F) {
    for (x, &y) in d.iter_mut().zip(b) {
        *x = f(*x, y);
    }
}

multiversion! {
    /// dst[i] = f(src[i]); dst.len() == src.len().
    pub fn map1_slice<T: Copy, U: Sized, F: Op1<T, U>>(src: &[T], dst: &mut [MaybeUninit<U>], f: F) via map1_body
}
multiversion! {
    /// dst[i] = f(a[i], b[i]).
    pub fn map2_slice<T: Copy, U: Sized, F: Op2<T, U>>(a: &[T], b: &[T], dst: &mut [MaybeUninit<U>], f: F) via map2_body
}
multiversion! {
    /// d[i] = f(d[i]).
    pub fn map1_inplace<T: Copy, F: Op1<T, T>>(d: &mut [T], f: F) via map1_inplace_body
}
multiversion! {
    /// d[i] = f(d[i], b[i]).
    pub fn map2_inplace<T: Copy, F: Op2<T, T>>(d: &mut [T], b: &[T], f: F) via map2_inplace_body
}

#[inline(always)]
fn sum_f32_body(s: &[f32]) -> f64 {
    // 16 f32 lanes inside blocks of 512 (32 adds per lane, vectorised),
    // blocks combined in f64: the error is bounded by the block, not the length.
    let mut total = 0f64;
    for block in s.chunks(512) {
        let mut lanes = [0f32; 16];
        let mut it = block.chunks_exact(16);
        for c in &mut it {
            for i in 0..16 {
                lanes[i] += c[i];
            }
        }
        let mut b = 0f64;
        for l in lanes {
            b += l as f64;
        }
        for &x in it.remainder() {
            b += x as f64;
        }
        total += b;
    }
    total
}
#[inline(always)]
fn sum_sq_dev_f32_body(s: &[f32], m: f32) -> f64 {
    let mut total = 0f64;
    for block in s.chunks(512) {
        let mut lanes = [0f32; 16];
        let mut it = block.chunks_exact(16);
        for c in &mut it {
            for i in 0..16 {
                let d = c[i] - m;
                lanes[i] += d * d;
            }
        }
        let mut b = 0f64;
        for l in lanes {
            b += l as f64;
        }
        for &x in it.remainder() {
            let d = (x - m) as f64;
            b += d * d;
        }
        total += b;
    }
    total
}

/// Sum of an f32 slice (blocked lanes, f64 between blocks).
pub fn sum_f32(s: &[f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
        unsafe fn v4(s: &[f32]) -> f64 {
            sum_f32_body(s)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn v3(s: &[f32]) -> f64 {
            sum_f32_body(s)
        }
        match level() {
            // SAFETY: the level says the CPU has these features.
            Level::Avx512 => return unsafe { v4(s) },
            Level::Avx2 => return unsafe { v3(s) },
            Level::Base => {}
        }
    }
    sum_f32_body(s)
}

/// Sum of (x - m)^2 over an f32 slice.
pub fn sum_sq_dev_f32(s: &[f32], m: f32) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
        unsafe fn v4(s: &[f32], m: f32) -> f64 {
            sum_sq_dev_f32_body(s, m)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn v3(s: &[f32], m: f32) -> f64 {
            sum_sq_dev_f32_body(s, m)
        }
        match level() {
            // SAFETY: the level says the CPU has these features.
            Level::Avx512 => return unsafe { v4(s, m) },
            Level::Avx2 => return unsafe { v3(s, m) },
            Level::Base => {}
        }
    }
    sum_sq_dev_f32_body(s, m)
}

// ---- branch-free f32 math (Cephes-style minimax polynomials) ----------------
// The coefficients are kept as published (some carry digits past f32's
// precision; they round to the same f32).

#[inline(always)]
fn sel(c: bool, a: f32, b: f32) -> f32 {
    if c {
        a
    } else {
        b
    }
}

/// 2^n for integer-valued n in [-252, 254] as two factors (covers subnormal
/// results). No float-to-int conversion (Rust's saturating `as` does not
/// vectorise): the exponent bits come from adding a 2^23 magic number.
#[inline(always)]
fn pow2i(n: f32) -> (f32, f32) {
    const MAGIC: f32 = 8_388_608.0 + 127.0; // 2^23 + exponent bias
    let h = (n * 0.5).floor();
    let a = f32::from_bits((h + MAGIC).to_bits() << 23);
    let b = f32::from_bits((n - h + MAGIC).to_bits() << 23);
    (a, b)
}

/// e^x with about 1 ulp error; inf/nan/underflow as libm.
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    let xc = x.clamp(-104.0, 89.0);
    let n = (xc * LOG2E).round_ties_even();
    let r = xc - n * C1 - n * C2;
    let r2 = r * r;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let y = p * r2 + r + 1.0;
    let (a, b) = pow2i(n);
    let v = y * a * b;
    let v = sel(x > 88.722_84, f32::INFINITY, v);
    let v = sel(x < -103.972_08, 0.0, v);
    sel(x.is_nan(), x, v)
}

/// tanh: odd polynomial near zero, 1 - 2/(e^{2|x|}+1) elsewhere.
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let ax = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3_f32;
    p = p * z + 2.063_908_9e-2;
    p = p * z - 5.373_971_6e-2;
    p = p * z + 1.333_144_2e-1;
    p = p * z - 3.333_328_2e-1;
    let small = p * z * x + x;
    let e = exp_f32(2.0 * ax.min(20.0));
    let big = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    let v = sel(ax < 0.625, small, big);
    sel(x.is_nan(), x, v)
}

/// 1 / (1 + e^-x).
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// erf for GELU (Abramowitz-Stegun 7.1.26: |error| < 1.5e-7 in exact
/// arithmetic, < 5e-7 evaluated in f32).
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let ax = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * ax);
    let mut p = 1.061_405_4_f32;
    p = p * t - 1.453_152_1;
    p = p * t + 1.421_413_8;
    p = p * t - 0.284_496_72;
    p = p * t + 0.254_829_6;
    let y = 1.0 - p * t * exp_f32(-ax * ax);
    sel(x.is_nan(), x, y.copysign(x))
}

/// Natural log with about 1 ulp error; 0 -> -inf, negative -> nan.
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    // Normalise subnormals by 2^23 first.
    let sub = x < f32::MIN_POSITIVE;
    let xs = sel(sub, x * 8_388_608.0, x);
    let bits = xs.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // [0.5, 1)
    let lt = m < std::f32::consts::FRAC_1_SQRT_2;
    e -= lt as i32;
    m = sel(lt, m + m - 1.0, m - 1.0);
    let ef = e as f32 - sel(sub, 23.0, 0.0);
    let z = m * m;
    let mut p = 7.037_683_6e-2_f32;
    p = p * m - 1.151_461e-1;
    p = p * m + 1.167_699_9e-1;
    p = p * m - 1.242_014_1e-1;
    p = p * m + 1.424_932_3e-1;
    p = p * m - 1.666_805_8e-1;
    p = p * m + 2.000_071_4e-1;
    p = p * m - 2.499_999_4e-1;
    p = p * m + 3.333_333e-1;
    let mut y = p * m * z;
    y += ef * -2.121_944_4e-4;
    y -= 0.5 * z;
    let v = m + y + ef * 0.693_359_4;
    let v = sel(x == 0.0, f32::NEG_INFINITY, v);
    let v = sel(x < 0.0 || x.is_nan(), f32::NAN, v);
    sel(x == f32::INFINITY, x, v)
}

/// Transcendentals the elementwise kernels call: the vectorisable versions
/// above for f32 (and the 16-bit floats, computed in f32), libm for f64.
pub trait FastMath: Copy {
    fn fexp(self) -> Self;
    fn fln(self) -> Self;
    fn ftanh(self) -> Self;
    fn fsigmoid(self) -> Self;
    /// erf accurate enough for GELU (absolute error < 5e-7 in f32).
    fn ferf_gelu(self) -> Self;
}

impl FastMath for f32 {
    #[inline(always)]
    fn fexp(self) -> f32 {
        exp_f32(self)
    }
    #[inline(always)]
    fn fln(self) -> f32 {
        ln_f32(self)
    }
    #[inline(always)]
    fn ftanh(self) -> f32 {
        tanh_f32(self)
    }
    #[inline(always)]
    fn fsigmoid(self) -> f32 {
        sigmoid_f32(self)
    }
    #[inline(always)]
    fn ferf_gelu(self) -> f32 {
        erf_f32(self)
    }
}

impl FastMath for f64 {
    #[inline(always)]
    fn fexp(self) -> f64 {
        self.exp()
    }
    #[inline(always)]
    fn fln(self) -> f64 {
        self.ln()
    }
    #[inline(always)]
    fn ftanh(self) -> f64 {
        self.tanh()
    }
    #[inline(always)]
    fn fsigmoid(self) -> f64 {
        1.0 / (1.0 + (-self).exp())
    }
    #[inline(always)]
    fn ferf_gelu(self) -> f64 {
        libm::erf(self)
    }
}

macro_rules! half_fast_math {
    ($t:ty) => {
        impl FastMath for $t {
            #[inline(always)]
            fn fexp(self) -> $t {
                <$t>::from_f32(exp_f32(self.to_f32()))
            }
            #[inline(always)]
            fn fln(self) -> $t {
                <$t>::from_f32(ln_f32(self.to_f32()))
            }
            #[inline(always)]
            fn ftanh(self) -> $t {
                <$t>::from_f32(tanh_f32(self.to_f32()))
            }
            #[inline(always)]
            fn fsigmoid(self) -> $t {
                <$t>::from_f32(sigmoid_f32(self.to_f32()))
            }
            #[inline(always)]
            fn ferf_gelu(self) -> $t {
                <$t>::from_f32(erf_f32(self.to_f32()))
            }
        }
    };
}
half_fast_math!(half::f16);
half_fast_math!(half::bf16);
