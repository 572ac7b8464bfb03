//! Layer normalisation over contiguous rows: one pass for the mean, one for
//! the variance, one writing (x - mean) * rstd * w + b; rows in parallel.

use super::simd;
use crate::dtype::Element;
use num_traits::Float;
use rayon::prelude::*;

/// Normalise each `n`-element row of `x` into `out`; returns (mean, rstd) per row.
pub fn layer_norm<T: Element + Float + Send + Sync>(
    x: &[T],
    n: usize,
    w: Option<&[T]>,
    b: Option<&[T]>,
    eps: f64,
    out: &mut [T],
) -> (Vec<T>, Vec<T>) {
    let rows = x.len().checked_div(n).unwrap_or(0);
    let mut mean = vec![T::zero_v(); rows];
    let mut rstd = vec![T::zero_v(); rows];
    if n == 0 {
        return (mean, rstd);
    }
    type Row<'a, T> = ((&'a mut [T], &'a [T]), (&'a mut T, &'a mut T));
    let row = |((o, xi), (m, r)): Row<'_, T>| {
        let (mu, var) = moments(xi);
        let rs = 1.0 / (var + eps).sqrt();
        *m = T::from_f64(mu);
        *r = T::from_f64(rs);
        normalize_row(o, xi, w, b, T::from_f64(mu), T::from_f64(rs));
    };
    if super::use_par(x.len()) && rows > 1 {
        out.par_chunks_mut(n)
            .zip(x.par_chunks(n))
            .zip(mean.par_iter_mut().zip(rstd.par_iter_mut()))
            .for_each(row);
    } else {
        out.chunks_mut(n)
            .zip(x.chunks(n))
            .zip(mean.iter_mut().zip(rstd.iter_mut()))
            .for_each(row);
    }
    (mean, rstd)
}

/// Element types a layer-norm row runs on.
pub trait NormElem: Element + Float {}
impl<T: Element + Float> NormElem for T {}

#[inline(always)]
fn normalize_body<T: NormElem>(
    o: &mut [T],
    xi: &[T],
    w: Option<&[T]>,
    b: Option<&[T]>,
    mt: T,
    rt: T,
) {
    match (w, b) {
        (Some(w), Some(b)) => {
            for (((o, &v), &wi), &bi) in o.iter_mut().zip(xi).zip(w).zip(b) {
                *o = (v - mt) * rt * wi + bi;
            }
        }
        (Some(w), None) => {
            for ((o, &v), &wi) in o.iter_mut().zip(xi).zip(w) {
                *o = (v - mt) * rt * wi;
            }
        }
        (None, Some(b)) => {
            for ((o, &v), &bi) in o.iter_mut().zip(xi).zip(b) {
                *o = (v - mt) * rt + bi;
            }
        }
        (None, None) => {
            for (o, &v) in o.iter_mut().zip(xi) {
                *o = (v - mt) * rt;
            }
        }
    }
}

simd::multiversion! {
    /// o = (x - mean) * rstd (* w) (+ b) for one row, in the CPU's widest vectors.
    fn normalize_row<T: NormElem>(o: &mut [T], xi: &[T], w: Option<&[T]>, b: Option<&[T]>, mt: T, rt: T) via normalize_body
}

/// Mean and biased variance of a row (two passes, f64 between blocks).
fn moments<T: Element + Float>(x: &[T]) -> (f64, f64) {
    let n = x.len() as f64;
    if T::DTYPE == crate::dtype::DType::F32 {
        // SAFETY: T is f32 exactly when its DTYPE says so.
        let s = unsafe { std::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) };
        let mu = simd::sum_f32(s) / n;
        return (mu, simd::sum_sq_dev_f32(s, mu as f32) / n);
    }
    let mu = x.iter().map(|&v| Element::to_f64(v)).sum::<f64>() / n;
    let var = x
        .iter()
        .map(|v| {
            let d = Element::to_f64(*v) - mu;
            d * d
        })
        .sum::<f64>()
        / n;
    (mu, var)
}
