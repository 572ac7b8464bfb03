//! Reduction and scan kernels: sum/prod/max/min/argmax/argmin/all/any, variance,
//! cumsum/cumprod. Each output element reduces one contiguous chunk; chunks
//! run in parallel when the tensor is large.

use crate::backend::Red;
use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::storage::{CpuData, CpuElement};
use crate::tensor::Tensor;
use crate::{dispatch, dispatch_float};
use num_traits::Float;
use rayon::prelude::*;

/// Lay out the data so every output element owns one contiguous chunk of the
/// reduced elements. Returns (data tensor, number of chunks, chunk length).
fn chunked(t: &Tensor, dims: &[usize]) -> Result<(Tensor, usize, usize)> {
    let nd = t.ndim();
    let mut perm: Vec<usize> = (0..nd).filter(|d| !dims.contains(d)).collect();
    perm.extend(dims.iter().copied());
    let inner: usize = dims.iter().map(|&d| t.shape()[d]).product();
    let outer: usize = (0..nd)
        .filter(|d| !dims.contains(d))
        .map(|d| t.shape()[d])
        .product();
    let l = t.layout().permute(&perm)?;
    let data = if l.is_contiguous() {
        t.view_of(l)
    } else {
        t.view_of(l).clone_data()?
    };
    Ok((data, outer, inner))
}

/// Apply `f` to each chunk of reduced elements (parallel when large).
fn reduce_chunks<T: CpuElement, U: Send + Sync + Clone>(
    t: &Tensor,
    dims: &[usize],
    f: impl Fn(&[T]) -> U + Sync + Send,
) -> Result<Vec<U>> {
    let (data, outer, inner) = chunked(t, dims)?;
    let off = data.layout().offset;
    data.with_cpu(|d, _| {
        let s = &T::slice(d)[off..off + outer * inner];
        if inner == 0 {
            let v = f(&[]);
            return vec![v; outer];
        }
        if super::use_par(outer * inner) && outer > 1 {
            s.par_chunks(inner).map(&f).collect()
        } else {
            s.chunks(inner).map(&f).collect()
        }
    })
}

/// The slice as f32 when T is f32.
#[inline]
fn as_f32<T: Element>(s: &[T]) -> Option<&[f32]> {
    // SAFETY: T is f32 exactly when its DTYPE says so.
    (T::DTYPE == DType::F32)
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len()) })
}

/// Sum in blocks: SIMD-friendly lanes in T, blocks combined in f64.
#[inline]
pub fn sum_slice<T: Float + Element>(s: &[T]) -> f64 {
    if let Some(s32) = as_f32(s) {
        return super::simd::sum_f32(s32);
    }
    let mut total = 0f64;
    for block in s.chunks(1024) {
        let mut lanes = [T::zero_v(); 8];
        let mut it = block.chunks_exact(8);
        for c in &mut it {
            for i in 0..8 {
                lanes[i] = lanes[i] + c[i];
            }
        }
        let mut b = 0f64;
        for l in lanes {
            b += l.to_f64();
        }
        for &x in it.remainder() {
            b += x.to_f64();
        }
        total += b;
    }
    total
}

fn sum_float<T: CpuElement + Float>(x: &Tensor, dims: &[usize]) -> Result<Vec<T>> {
    // Fast path: reducing leading dims of a contiguous tensor (bias gradients).
    let nd = x.ndim();
    let k = dims.len();
    if x.is_contiguous() && k > 0 && k < nd && dims.iter().enumerate().all(|(i, &d)| i == d) {
        let rows: usize = x.shape()[..k].iter().product();
        let cols: usize = x.shape()[k..].iter().product();
        let off = x.layout().offset;
        return x.with_cpu(|d, _| {
            let s = &T::slice(d)[off..off + rows * cols];
            if let Some(s32) = as_f32(s) {
                // f32 lanes over blocks of 64 rows, blocks combined in f64.
                let mut acc64 = vec![0f64; cols];
                let mut acc = vec![0f32; cols];
                for block in s32.chunks((cols * 64).max(1)) {
                    acc.fill(0.0);
                    for r in block.chunks(cols.max(1)) {
                        super::simd::map2_inplace(&mut acc, r, |a: f32, b: f32| a + b);
                    }
                    for (a, &b) in acc64.iter_mut().zip(&acc) {
                        *a += b as f64;
                    }
                }
                return acc64.into_iter().map(T::from_f64).collect();
            }
            let mut acc = vec![0f64; cols];
            for r in s.chunks(cols.max(1)) {
                for (a, &x) in acc.iter_mut().zip(r) {
                    *a += x.to_f64();
                }
            }
            acc.into_iter().map(T::from_f64).collect()
        });
    }
    reduce_chunks::<T, T>(x, dims, |c| T::from_f64(sum_slice(c)))
}

/// Max/min of a chunk; the first NaN wins (NaN propagates).
#[inline]
fn extreme<T: Element>(c: &[T], is_max: bool) -> (T, i64) {
    if c.is_empty() {
        // ops/ rejects empty reduced dims; stay total anyway.
        return (T::zero_v(), 0);
    }
    let mut bi = 0usize;
    for (i, &x) in c.iter().enumerate() {
        let b = c[bi];
        if b.is_nan_v() {
            break;
        }
        if x.is_nan_v() || (is_max && x > b) || (!is_max && x < b) {
            bi = i;
        }
    }
    (c[bi], bi as i64)
}

/// See [`crate::backend::Backend::reduce`].
pub fn reduce(
    x: &Tensor,
    dims: &[usize],
    shape: &[usize],
    op: Red,
    out_dt: DType,
) -> Result<(Tensor, Option<Tensor>)> {
    let dt = x.dtype();
    let data = match op {
        Red::Sum if dt.is_float() => {
            dispatch_float!(dt, T => T::wrap(sum_float::<T>(x, dims)?), unreachable!())
        }
        Red::Sum => CpuData::from(dispatch!(dt, T => reduce_chunks::<T, i64>(x, dims, |c| {
            c.iter().fold(0i64, |a, &v| a.wrapping_add(v.to_i64()))
        })?)),
        Red::Prod if dt.is_float() => {
            dispatch_float!(dt, T => T::wrap(reduce_chunks::<T, T>(x, dims, |c| {
            c.iter().fold(T::one_v(), |a, &v| a * v)
        })?), unreachable!())
        }
        Red::Prod => CpuData::from(dispatch!(dt, T => reduce_chunks::<T, i64>(x, dims, |c| {
            c.iter().fold(1i64, |a, &v| a.wrapping_mul(v.to_i64()))
        })?)),
        Red::Max | Red::Min => {
            let is_max = op == Red::Max;
            dispatch!(dt, T => T::wrap(reduce_chunks::<T, T>(x, dims, |c| extreme(c, is_max).0)?))
        }
        Red::ArgMax | Red::ArgMin => {
            let is_max = op == Red::ArgMax;
            let (v, i) = dispatch!(dt, T => {
                let r = reduce_chunks::<T, (T, i64)>(x, dims, |c| extreme(c, is_max))?;
                let (v, i): (Vec<T>, Vec<i64>) = r.into_iter().unzip();
                (T::wrap(v), i)
            });
            return Ok((Tensor::from_cpu(v, shape), Some(Tensor::from_vec(i, shape))));
        }
        Red::All | Red::Any => {
            let all = op == Red::All;
            CpuData::from(reduce_chunks::<bool, bool>(x, dims, |c| {
                if all {
                    c.iter().all(|&v| v)
                } else {
                    c.iter().any(|&v| v)
                }
            })?)
        }
    };
    debug_assert_eq!(data.dtype(), out_dt);
    Ok((Tensor::from_cpu(data, shape), None))
}

/// See [`crate::backend::Backend::var`]: two passes per chunk (mean, then
/// squared deviations), accumulated in f64.
pub fn var(x: &Tensor, dims: &[usize], shape: &[usize], correction: f64) -> Result<Tensor> {
    let data = dispatch_float!(x.dtype(), T => T::wrap(reduce_chunks::<T, T>(x, dims, |c| {
        let m = sum_slice(c) / c.len() as f64;
        let ss: f64 = c.iter().map(|&v| { let d = v.to_f64() - m; d * d }).sum();
        T::from_f64(ss / (c.len() as f64 - correction).max(0.0))
    })?), unreachable!());
    Ok(Tensor::from_cpu(data, shape))
}

#[inline(always)]
fn add_elem<T: Element>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() + b.to_f64())
    } else {
        T::from_i64(a.to_i64().wrapping_add(b.to_i64()))
    }
}
#[inline(always)]
fn mul_elem<T: Element>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() * b.to_f64())
    } else {
        T::from_i64(a.to_i64().wrapping_mul(b.to_i64()))
    }
}

/// The serial cumsum/cumprod loop over each line along `d` of a host tensor;
/// returns a contiguous host tensor.
pub fn scan(x: &Tensor, d: usize, prod: bool) -> Result<Tensor> {
    let xc = x.contiguous()?.host()?;
    let shape = xc.shape().to_vec();
    let len = shape[d];
    let stride = xc.strides()[d];
    let bases = super::line_bases(xc.layout(), d);
    let dt = xc.dtype();
    let data = dispatch!(dt, T => {
        let mut out = vec![T::zero_v(); xc.numel()];
        let off = xc.layout().offset;
        xc.with_cpu(|dd, _| {
            let s = T::slice(dd);
            for &b in &bases {
                let mut acc = if prod { T::one_v() } else { T::zero_v() };
                for k in 0..len {
                    let o = b + k * stride;
                    let v = s[o];
                    acc = if prod { mul_elem(acc, v) } else { add_elem(acc, v) };
                    out[o - off] = acc;
                }
            }
        })?;
        T::wrap(out)
    });
    Ok(Tensor::from_cpu(data, &shape))
}
