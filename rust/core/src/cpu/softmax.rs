//! softmax / log_softmax along a contiguous line: max, exp-and-sum, scale,
//! each a lane-parallel loop compiled for the CPU's widest vectors.

use super::simd::{multiversion, FastMath};
use crate::dispatch_float;
use crate::dtype::Element;
use crate::error::Result;
use crate::layout::Layout;
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use num_traits::Float;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Element types a softmax line runs on.
pub trait SoftmaxElem: Float + Element + FastMath {}
impl<T: Float + Element + FastMath> SoftmaxElem for T {}

#[inline(always)]
fn line_max<T: SoftmaxElem>(i: &[T]) -> T {
    let mut lanes = [T::neg_infinity(); 16];
    let mut nan = false;
    let mut it = i.chunks_exact(16);
    for c in &mut it {
        for k in 0..16 {
            lanes[k] = if c[k] > lanes[k] { c[k] } else { lanes[k] };
            nan |= c[k].is_nan();
        }
    }
    let mut m = T::neg_infinity();
    for &x in lanes.iter().chain(it.remainder()) {
        m = if x > m { x } else { m };
        nan |= x.is_nan();
    }
    if nan {
        T::nan()
    } else {
        m
    }
}

#[inline(always)]
fn softmax_body<T: SoftmaxElem>(i: &[T], o: &mut [MaybeUninit<T>], log: bool) {
    let mut m = line_max(i);
    if m == T::neg_infinity() {
        // All -inf: exp(x - 0) = 0 everywhere and 0/0 gives PyTorch's NaN row.
        // (+inf is kept: inf - inf = NaN makes the whole row NaN, as PyTorch.)
        m = T::zero_v();
    }
    let mut lanes = [T::zero_v(); 16];
    {
        let mut oc = o.chunks_exact_mut(16);
        let mut ic = i.chunks_exact(16);
        for (oo, ii) in (&mut oc).zip(&mut ic) {
            for k in 0..16 {
                let e = (ii[k] - m).fexp();
                oo[k].write(e);
                lanes[k] = lanes[k] + e;
            }
        }
        for (oo, &x) in oc.into_remainder().iter_mut().zip(ic.remainder()) {
            let e = (x - m).fexp();
            oo.write(e);
            lanes[0] = lanes[0] + e;
        }
    }
    let s: f64 = lanes.iter().map(|&l| Element::to_f64(l)).sum();
    if log {
        // (x - m) - log(s), in that order: m + log(s) first would round away
        // log(s) against a large m (a row of 1000s lost 3e-5).
        let ls = T::from_f64(s.ln());
        for (oo, &x) in o.iter_mut().zip(i) {
            oo.write((x - m) - ls);
        }
    } else {
        let inv = T::from_f64(1.0 / s);
        for oo in o.iter_mut() {
            // SAFETY: the exp loop above wrote every element of `o`.
            let e = unsafe { oo.assume_init() };
            oo.write(e * inv);
        }
    }
}

multiversion! {
    /// Softmax (or log-softmax) of the line `i` into `o` (same length).
    pub fn softmax_line<T: SoftmaxElem>(i: &[T], o: &mut [MaybeUninit<T>], log: bool) via softmax_body
}

/// Softmax (or log-softmax) along `d` of a host float tensor: a new contiguous tensor.
pub fn softmax(x: &Tensor, d: usize, log: bool) -> Result<Tensor> {
    let xc = x.contiguous()?;
    let shape = xc.shape().to_vec();
    let len = shape[d];
    let stride = xc.strides()[d];
    let off = xc.layout().offset;
    let dt = xc.dtype();
    let data = dispatch_float!(dt, T => {
        let n = xc.numel();
        let out = xc.with_cpu(|dd, _| {
            let s = &T::slice(dd)[off..off + n];
            // Every element is written once (no zeroing pass first, which
            // ran on one thread before the parallel lines).
            super::fill_new(n, |out| {
                if stride == 1 {
                    let work = |(o, i): (&mut [MaybeUninit<T>], &[T])| softmax_line(i, o, log);
                    if super::use_par(n) {
                        out.par_chunks_mut(len.max(1)).zip(s.par_chunks(len.max(1))).for_each(work);
                    } else {
                        out.chunks_mut(len.max(1)).zip(s.chunks(len.max(1))).for_each(work);
                    }
                } else {
                    let bases = super::line_bases(&Layout::contiguous(&shape), d);
                    let mut line = vec![T::zero_v(); len];
                    let mut res = vec![MaybeUninit::new(T::zero_v()); len];
                    for &b in &bases {
                        for k in 0..len { line[k] = s[b + k * stride]; }
                        softmax_line(&line, &mut res, log);
                        for k in 0..len { out[b + k * stride] = res[k]; }
                    }
                }
            })
        })?;
        T::wrap(out)
    }, unreachable!());
    Ok(Tensor::from_cpu(data, &shape))
}
