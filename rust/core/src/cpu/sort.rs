//! Sorting and selection kernels over the 1-d lines of a host tensor along
//! one dim: sort, top-k, k-th value, median, mode. NaN orders above every
//! number and ties break by position, so every result is deterministic.

use super::PAR_THRESHOLD;
use crate::dtype::Element;
use crate::error::Result;
use crate::layout::Layout;
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::cmp::Ordering;

/// Total order with NaN above everything (NaNs equal among themselves).
#[inline]
pub fn cmp_nan_last<T: Element>(a: &T, b: &T) -> Ordering {
    match a.partial_cmp(b) {
        Some(o) => o,
        None => a.is_nan_v().cmp(&b.is_nan_v()),
    }
}

/// Run `f` on every 1-d line of `x` along `d`, in row-major order of the
/// other dims. Strided lines are copied out first; big tensors run in parallel.
pub(crate) fn map_lines<T: CpuElement, R: Send>(
    x: &Tensor,
    d: usize,
    f: impl Fn(&[T]) -> R + Sync + Send,
) -> Result<Vec<R>> {
    let l = x.layout();
    let n = l.shape[d];
    let stride = l.strides[d];
    let bases = super::line_bases(l, d);
    x.with_cpu(|data, _| {
        let s = T::slice(data);
        let run = |&b: &usize| -> R {
            if n == 0 {
                f(&[])
            } else if stride == 1 {
                f(&s[b..b + n])
            } else {
                let line: Vec<T> = (0..n).map(|j| s[b + j * stride]).collect();
                f(&line)
            }
        };
        if x.numel() >= PAR_THRESHOLD && bases.len() > 1 {
            bases.par_iter().map(run).collect()
        } else {
            bases.iter().map(run).collect()
        }
    })
}

/// Write per-line results (each of length `out_shape[d]`) into a new
/// contiguous tensor of `out_shape`; lines come in `map_lines` order.
pub(crate) fn assemble<T: CpuElement>(lines: Vec<Vec<T>>, out_shape: &[usize], d: usize) -> Tensor {
    let ol = Layout::contiguous(out_shape);
    let mut v = vec![T::zero_v(); ol.numel()];
    if !v.is_empty() {
        let ostride = ol.strides[d];
        for (b, line) in super::line_bases(&ol, d).into_iter().zip(lines) {
            for (j, x) in line.into_iter().enumerate() {
                v[b + j * ostride] = x;
            }
        }
    }
    Tensor::from_vec(v, out_shape)
}

/// Pick `k` positions of each line with `pick`: (values, int64 indices), both
/// of x's shape with dim `d` set to `k`.
pub(crate) fn select_lines<T: CpuElement>(
    x: &Tensor,
    d: usize,
    k: usize,
    pick: impl Fn(&[T]) -> Vec<usize> + Sync + Send,
) -> Result<(Tensor, Tensor)> {
    let res = map_lines::<T, _>(x, d, |line| {
        let idx = pick(line);
        let vals: Vec<T> = idx.iter().map(|&i| line[i]).collect();
        (
            vals,
            idx.into_iter().map(|i| i as i64).collect::<Vec<i64>>(),
        )
    })?;
    let mut out_shape = x.shape().to_vec();
    out_shape[d] = k;
    let (vals, idxs): (Vec<_>, Vec<_>) = res.into_iter().unzip();
    Ok((assemble(vals, &out_shape, d), assemble(idxs, &out_shape, d)))
}

/// (value, position) pairs of a line.
pub(crate) fn pairs<T: Element>(line: &[T]) -> Vec<(T, usize)> {
    line.iter().copied().zip(0..).collect()
}

/// Ascending (NaN last), ties by position: a total order on (value, position).
pub(crate) fn asc<T: Element>(a: &(T, usize), b: &(T, usize)) -> Ordering {
    cmp_nan_last(&a.0, &b.0).then(a.1.cmp(&b.1))
}

pub(crate) fn desc<T: Element>(a: &(T, usize), b: &(T, usize)) -> Ordering {
    cmp_nan_last(&b.0, &a.0).then(a.1.cmp(&b.1))
}

pub(crate) fn sort_idx<T: Element>(line: &[T], descending: bool) -> Vec<usize> {
    let mut p = pairs(line);
    // The position tie-break makes the order total, so an unstable sort is stable.
    let ord = if descending { desc::<T> } else { asc::<T> };
    if p.len() >= PAR_THRESHOLD {
        p.par_sort_unstable_by(ord);
    } else {
        p.sort_unstable_by(ord);
    }
    p.into_iter().map(|(_, i)| i).collect()
}

pub(crate) fn topk_idx<T: Element>(line: &[T], k: usize, largest: bool) -> Vec<usize> {
    let mut p = pairs(line);
    let ord = if largest { desc::<T> } else { asc::<T> };
    if k < p.len() {
        p.select_nth_unstable_by(k, ord);
        p.truncate(k);
    }
    p.sort_unstable_by(ord);
    p.into_iter().map(|(_, i)| i).collect()
}

/// Position of the k-th smallest (0-based) element, ties by position.
pub(crate) fn kth_idx<T: Element>(line: &[T], k: usize) -> usize {
    let mut p = pairs(line);
    p.select_nth_unstable_by(k, asc);
    p[k].1
}

pub(crate) fn median_idx<T: Element>(line: &[T], ignore_nan: bool) -> usize {
    let nans = line.iter().filter(|x| x.is_nan_v()).count();
    if nans > 0 && (!ignore_nan || nans == line.len()) {
        // median propagates NaN (the first one); nanmedian of all-NaN is NaN.
        return line.iter().position(|x| x.is_nan_v()).unwrap_or(0);
    }
    kth_idx(line, (line.len() - nans - 1) / 2)
}

/// The most frequent value (the smallest among equally frequent ones) and its
/// last position, as PyTorch's CPU kernel. NaNs never compare equal, so each
/// counts once.
pub(crate) fn mode_idx<T: Element>(line: &[T]) -> usize {
    let mut p = pairs(line);
    p.sort_unstable_by(asc);
    let (mut best, mut best_n, mut run) = (0usize, 0usize, 0usize);
    for i in 0..p.len() {
        run += 1;
        if i + 1 == p.len() || p[i].0 != p[i + 1].0 {
            if run > best_n {
                best_n = run;
                best = i;
            }
            run = 0;
        }
    }
    p[best].1
}

/// See [`crate::backend::Backend::sort`].
pub fn sort(x: &Tensor, d: usize, descending: bool, k: usize) -> Result<(Tensor, Tensor)> {
    let n = x.shape()[d];
    crate::dispatch!(x.dtype(), T => if k == n {
        select_lines::<T>(x, d, n, |l| sort_idx(l, descending))
    } else {
        select_lines::<T>(x, d, k, |l| topk_idx(l, k, descending))
    })
}

/// See [`crate::backend::Backend::kthvalue`].
pub fn kthvalue(x: &Tensor, d: usize, k0: usize) -> Result<(Tensor, Tensor)> {
    crate::dispatch!(x.dtype(), T => select_lines::<T>(x, d, 1, |l| vec![kth_idx(l, k0)]))
}

/// See [`crate::backend::Backend::median`].
pub fn median(x: &Tensor, d: usize, ignore_nan: bool) -> Result<(Tensor, Tensor)> {
    crate::dispatch!(x.dtype(), T => select_lines::<T>(x, d, 1, |l| vec![median_idx(l, ignore_nan)]))
}
