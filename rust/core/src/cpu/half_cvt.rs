//! Vectorised conversions between float32 and the 16-bit floats (bfloat16,
//! float16) over slices: the casts autocast runs on every weight each step,
//! and the panel packing of the half-precision GEMM.
//!
//! bfloat16 is the top half of a float32, so both directions are integer
//! bit operations that LLVM vectorises under the `multiversion!` wrappers
//! (round to nearest even, NaN kept quiet, as PyTorch's `c10::BFloat16`).
//! float16 uses the hardware converters (`vcvtph2ps` / `vcvtps2ph`, AVX-512F
//! or F16C) picked at run time, with the `half` crate's scalar code for the
//! tail and for CPUs without them.

use super::simd::{self, Level};
use half::{bf16, f16};
use std::mem::MaybeUninit;

/// bfloat16 -> float32 (exact).
#[inline(always)]
pub fn bf16_bits_to_f32(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

/// float32 -> bfloat16, round to nearest even; NaN stays a (quiet) NaN.
/// Branch-free so that it vectorises.
#[inline(always)]
pub fn f32_to_bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    let rounded = b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16;
    let nan = (b >> 16) | 0x40;
    (if x.is_nan() { nan } else { rounded }) as u16
}

/// dst[i] = src[i] as f32.
pub fn bf16_to_f32(src: &[bf16], dst: &mut [MaybeUninit<f32>]) {
    simd::map1_slice(src, dst, |x: bf16| bf16_bits_to_f32(x.to_bits()));
}

/// dst[i] = bf16(src[i]) (round to nearest even).
pub fn f32_to_bf16(src: &[f32], dst: &mut [MaybeUninit<bf16>]) {
    simd::map1_slice(src, dst, |x: f32| bf16::from_bits(f32_to_bf16_bits(x)));
}

#[cfg(target_arch = "x86_64")]
fn f16c() -> bool {
    static F: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *F.get_or_init(|| simd::level() != Level::Base && is_x86_feature_detected!("f16c"))
}

/// dst[i] = src[i] as f32 (exact).
pub fn f16_to_f32(src: &[f16], dst: &mut [MaybeUninit<f32>]) {
    let n = src.len().min(dst.len());
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: the level / F16C bit say the CPU has these instructions;
        // the kernels touch only the first `n` elements of both slices.
        if simd::level() == Level::Avx512 {
            done = unsafe { x86::f16_to_f32_v4(src.as_ptr(), dst.as_mut_ptr().cast(), n) };
        } else if f16c() {
            done = unsafe { x86::f16_to_f32_v3(src.as_ptr(), dst.as_mut_ptr().cast(), n) };
        }
    }
    for i in done..n {
        dst[i].write(src[i].to_f32());
    }
}

/// dst[i] = f16(src[i]) (round to nearest even, overflow to infinity).
pub fn f32_to_f16(src: &[f32], dst: &mut [MaybeUninit<f16>]) {
    let n = src.len().min(dst.len());
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: as in `f16_to_f32`.
        if simd::level() == Level::Avx512 {
            done = unsafe { x86::f32_to_f16_v4(src.as_ptr(), dst.as_mut_ptr().cast(), n) };
        } else if f16c() {
            done = unsafe { x86::f32_to_f16_v3(src.as_ptr(), dst.as_mut_ptr().cast(), n) };
        }
    }
    for i in done..n {
        dst[i].write(f16::from_f32(src[i]));
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use half::f16;
    use std::arch::x86_64::*;

    // Round to nearest even, no exceptions (the immediate of the AVX-512
    // vcvtps2ph; the F16C form takes only the 3-bit rounding mode).
    const RNE: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

    /// Converts the first multiple of 16 elements; returns how many.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn f16_to_f32_v4(s: *const f16, d: *mut f32, n: usize) -> usize {
        let mut i = 0;
        while i + 16 <= n {
            let h = _mm256_loadu_si256(s.add(i).cast());
            _mm512_storeu_ps(d.add(i), _mm512_cvtph_ps(h));
            i += 16;
        }
        i
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn f32_to_f16_v4(s: *const f32, d: *mut f16, n: usize) -> usize {
        let mut i = 0;
        while i + 16 <= n {
            let h = _mm512_cvtps_ph::<RNE>(_mm512_loadu_ps(s.add(i)));
            _mm256_storeu_si256(d.add(i).cast(), h);
            i += 16;
        }
        i
    }

    #[target_feature(enable = "avx,f16c")]
    pub unsafe fn f16_to_f32_v3(s: *const f16, d: *mut f32, n: usize) -> usize {
        let mut i = 0;
        while i + 8 <= n {
            let h = _mm_loadu_si128(s.add(i).cast());
            _mm256_storeu_ps(d.add(i), _mm256_cvtph_ps(h));
            i += 8;
        }
        i
    }

    #[target_feature(enable = "avx,f16c")]
    pub unsafe fn f32_to_f16_v3(s: *const f32, d: *mut f16, n: usize) -> usize {
        let mut i = 0;
        while i + 8 <= n {
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm256_loadu_ps(s.add(i)));
            _mm_storeu_si128(d.add(i).cast(), h);
            i += 8;
        }
        i
    }
}

/// A 16-bit float the half-precision kernels handle: conversion of slices
/// to and from float32.
pub trait Half: Copy + Send + Sync + 'static {
    fn to_f32_slice(src: &[Self], dst: &mut [MaybeUninit<f32>]);
    fn from_f32_slice(src: &[f32], dst: &mut [MaybeUninit<Self>]);
    fn to_f32_one(self) -> f32;
}

impl Half for bf16 {
    fn to_f32_slice(src: &[Self], dst: &mut [MaybeUninit<f32>]) {
        bf16_to_f32(src, dst)
    }
    fn from_f32_slice(src: &[f32], dst: &mut [MaybeUninit<Self>]) {
        f32_to_bf16(src, dst)
    }
    #[inline(always)]
    fn to_f32_one(self) -> f32 {
        bf16_bits_to_f32(self.to_bits())
    }
}

impl Half for f16 {
    fn to_f32_slice(src: &[Self], dst: &mut [MaybeUninit<f32>]) {
        f16_to_f32(src, dst)
    }
    fn from_f32_slice(src: &[f32], dst: &mut [MaybeUninit<Self>]) {
        f32_to_f16(src, dst)
    }
    #[inline(always)]
    fn to_f32_one(self) -> f32 {
        self.to_f32()
    }
}

/// Contiguous `src` converted to a new vector, in parallel chunks when large.
pub fn convert_vec<S: Copy + Send + Sync, D: Send>(
    src: &[S],
    conv: impl Fn(&[S], &mut [MaybeUninit<D>]) + Send + Sync,
) -> Vec<D> {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 14;
    super::fill_new(src.len(), |dst| {
        if super::use_par(src.len()) {
            dst.par_chunks_mut(CHUNK)
                .zip(src.par_chunks(CHUNK))
                .for_each(|(o, i)| conv(i, o));
        } else {
            conv(src, dst);
        }
    })
}

/// The float32 <-> bfloat16/float16 casts of a contiguous view, vectorised
/// (`None` for other dtype pairs).
pub fn cast_contiguous(
    src: &crate::storage::CpuData,
    l: &crate::layout::Layout,
    to: crate::dtype::DType,
) -> Option<crate::storage::CpuData> {
    use crate::dtype::DType;
    use crate::storage::CpuElement;
    let (o, n) = (l.offset, l.numel());
    if n == 0 {
        return None;
    }
    Some(match (src.dtype(), to) {
        (DType::BF16, DType::F32) => {
            f32::wrap(convert_vec(&bf16::slice(src)[o..o + n], bf16_to_f32))
        }
        (DType::F16, DType::F32) => f32::wrap(convert_vec(&f16::slice(src)[o..o + n], f16_to_f32)),
        (DType::F32, DType::BF16) => {
            bf16::wrap(convert_vec(&f32::slice(src)[o..o + n], f32_to_bf16))
        }
        (DType::F32, DType::F16) => f16::wrap(convert_vec(&f32::slice(src)[o..o + n], f32_to_f16)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv<S: Copy + Send + Sync, D: Send>(
        s: &[S],
        f: impl Fn(&[S], &mut [MaybeUninit<D>]) + Send + Sync,
    ) -> Vec<D> {
        convert_vec(s, f)
    }

    #[test]
    fn bf16_round_trip_matches_half() {
        // Every bf16 bit pattern, and f32 values around each rounding tie.
        let all: Vec<bf16> = (0..=u16::MAX).map(bf16::from_bits).collect();
        let f = conv(&all, bf16_to_f32);
        for (h, x) in all.iter().zip(&f) {
            assert_eq!(h.to_f32().to_bits(), x.to_bits());
        }
        let mut xs: Vec<f32> = Vec::new();
        for b in (0..=u16::MAX).step_by(7) {
            let base = (b as u32) << 16;
            for d in [0u32, 1, 0x7fff, 0x8000, 0x8001, 0xffff] {
                xs.push(f32::from_bits(base | d));
            }
        }
        let back = conv(&xs, f32_to_bf16);
        for (x, h) in xs.iter().zip(&back) {
            let want = bf16::from_f32(*x);
            if x.is_nan() {
                assert!(h.is_nan());
            } else {
                assert_eq!(want.to_bits(), h.to_bits(), "{x:e}");
            }
        }
    }

    #[test]
    fn f16_round_trip_matches_half() {
        let all: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).collect();
        let f = conv(&all, f16_to_f32);
        for (h, x) in all.iter().zip(&f) {
            if h.is_nan() {
                assert!(x.is_nan());
            } else {
                assert_eq!(h.to_f32().to_bits(), x.to_bits());
            }
        }
        let xs: Vec<f32> = (0..200_000u32)
            .map(|i| f32::from_bits(0x3300_0000u32.wrapping_add(i.wrapping_mul(5419))))
            .chain([1e6, -1e6, 65520.0, 65519.0, 0.0, -0.0, f32::INFINITY])
            .collect();
        let back = conv(&xs, f32_to_f16);
        for (x, h) in xs.iter().zip(&back) {
            assert_eq!(f16::from_f32(*x).to_bits(), h.to_bits(), "{x:e}");
        }
    }
}
