//! Sorting and selection along one dim: sort/argsort, topk, kthvalue,
//! median/nanmedian and mode.
//!
//! NaN orders above every number (PyTorch's rule), so ascending sorts put NaNs
//! last and descending ones first. Every ordering breaks ties by input
//! position: `sort` is stable in both directions (PyTorch's CPU sort is, with or
//! without `stable=True`) and the selections are deterministic. Selected values
//! carry a gradient that is scattered back to the selected positions.

use crate::autograd::{any_requires_grad, no_grad, record, BackCtx};
use crate::cpu;
use crate::dtype::{Element, Scalar};
use crate::error::Result;
use crate::layout::{wrap_dim, Layout};
use crate::ops::Binary;
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use crate::{bail, dispatch};
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
    let bases = cpu::line_bases(l, d);
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
        if x.numel() >= cpu::PAR_THRESHOLD && bases.len() > 1 {
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
        for (b, line) in cpu::line_bases(&ol, d).into_iter().zip(lines) {
            for (j, x) in line.into_iter().enumerate() {
                v[b + j * ostride] = x;
            }
        }
    }
    Tensor::from_vec(v, out_shape)
}

/// Pick `k` positions of each line with `pick`: (values, int64 indices), both
/// of x's shape with dim `d` set to `k`.
fn select_lines<T: CpuElement>(
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

/// Record the gradient of a value-selecting op: scatter the incoming gradient
/// to the selected indices of the input (`has_dim`: the outputs keep dim `d`).
pub(crate) fn record_select(
    name: &'static str,
    x: &Tensor,
    values: &Tensor,
    indices: &Tensor,
    d: usize,
    has_dim: bool,
) {
    if !x.dtype().is_float() || !any_requires_grad(&[x]) {
        return;
    }
    let in_shape = x.shape().to_vec();
    let idx = indices.clone();
    record(
        name,
        &[values, indices],
        &[x],
        vec![],
        move |c: &BackCtx| {
            let g = c.grad(0)?;
            let (g, i) = if has_dim {
                (g.clone(), idx.clone())
            } else {
                (g.unsqueeze(d)?, idx.unsqueeze(d)?)
            };
            let z = Tensor::zeros_on(&in_shape, g.dtype(), g.device())?;
            Ok(vec![Some(z.scatter_add(d as i64, &i, &g)?)])
        },
    );
}

/// (value, position) pairs of a line.
fn pairs<T: Element>(line: &[T]) -> Vec<(T, usize)> {
    line.iter().copied().zip(0..).collect()
}

/// Ascending (NaN last), ties by position: a total order on (value, position).
pub(crate) fn asc<T: Element>(a: &(T, usize), b: &(T, usize)) -> Ordering {
    cmp_nan_last(&a.0, &b.0).then(a.1.cmp(&b.1))
}

fn desc<T: Element>(a: &(T, usize), b: &(T, usize)) -> Ordering {
    cmp_nan_last(&b.0, &a.0).then(a.1.cmp(&b.1))
}

fn sort_idx<T: Element>(line: &[T], descending: bool) -> Vec<usize> {
    let mut p = pairs(line);
    // The position tie-break makes the order total, so an unstable sort is stable.
    let ord = if descending { desc::<T> } else { asc::<T> };
    if p.len() >= cpu::PAR_THRESHOLD {
        p.par_sort_unstable_by(ord);
    } else {
        p.sort_unstable_by(ord);
    }
    p.into_iter().map(|(_, i)| i).collect()
}

fn topk_idx<T: Element>(line: &[T], k: usize, largest: bool) -> Vec<usize> {
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
fn kth_idx<T: Element>(line: &[T], k: usize) -> usize {
    let mut p = pairs(line);
    p.select_nth_unstable_by(k, asc);
    p[k].1
}

fn median_idx<T: Element>(line: &[T], ignore_nan: bool) -> usize {
    let nans = line.iter().filter(|x| x.is_nan_v()).count();
    if nans > 0 && (!ignore_nan || nans == line.len()) {
        // median propagates NaN (the first one); nanmedian of all-NaN is NaN.
        return line.iter().position(|x| x.is_nan_v()).unwrap_or(0);
    }
    kth_idx(line, (line.len() - nans - 1) / 2)
}

/// median_dim of a GPU tensor (dim `d` kept, size 1): the lines sorted
/// ascending (NaNs last, ties by position) and the pick of `median_idx` made
/// with tensor ops: with c non-NaN values of n, position (c - 1) / 2 when no
/// NaN counts (ignore_nan, or c == n), else c (the first NaN); 0 when c == 0.
fn gpu_median(x: &Tensor, d: usize, ignore_nan: bool) -> Result<(Tensor, Tensor)> {
    let n = x.shape()[d];
    let (v, i) = crate::wgpu::kernels::sort(x, d, false, n)?;
    let int = |k: i64| Tensor::wrapped_scalar(Scalar::Int(k), crate::dtype::DType::I64);
    let c = x
        .binary(x, Binary::Eq)?
        .sum_dims(&[d as i64], true, Some(crate::dtype::DType::I64))?;
    let mid = c
        .binary(&int(1), Binary::Sub)?
        .binary(&int(2), Binary::FloorDiv)?
        .binary(&int(0), Binary::Maximum)?;
    let pos = if ignore_nan {
        mid
    } else {
        let full = c.binary(&int(n as i64), Binary::Eq)?;
        Tensor::where_(&full, &mid, &c)?
    };
    Ok((v.gather(d as i64, &pos)?, i.gather(d as i64, &pos)?))
}

/// The most frequent value (the smallest among equally frequent ones) and its
/// last position, as PyTorch's CPU kernel. NaNs never compare equal, so each
/// counts once.
fn mode_idx<T: Element>(line: &[T]) -> usize {
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

impl Tensor {
    /// At least 1-d view of self, the wrapped dim, and whether self was 0-dim.
    fn line_input(&self, dim: i64, op: &str) -> Result<(Tensor, usize, bool)> {
        let d = wrap_dim(dim, self.ndim(), op)?;
        // Each line is copied and sorted with its indices: fail cleanly when
        // that cannot be allocated (an expanded view can be huge).
        crate::layout::checked_numel(self.shape(), self.dtype().size() + 8, op)?;
        if self.ndim() == 0 {
            return Ok((self.reshape(&[1])?, 0, true));
        }
        Ok((self.clone(), d, false))
    }

    /// (values, indices) sorted along `dim`; stable for either direction.
    pub fn sort(&self, dim: i64, descending: bool, _stable: bool) -> Result<(Tensor, Tensor)> {
        let (x, d, scalar) = self.line_input(dim, "sort")?;
        let n = x.shape()[d];
        let (v, i) = if x.is_gpu() {
            crate::wgpu::kernels::sort(&x, d, descending, n)?
        } else {
            dispatch!(x.dtype(), T => select_lines::<T>(&x, d, n, |l| sort_idx(l, descending)))?
        };
        record_select("SortBackward0", &x, &v, &i, d, true);
        if scalar {
            return Ok((v.reshape(&[])?, i.reshape(&[])?));
        }
        Ok((v, i))
    }

    pub fn argsort(&self, dim: i64, descending: bool, stable: bool) -> Result<Tensor> {
        Ok(no_grad(|| self.sort(dim, descending, stable))?.1)
    }

    /// The k largest (or smallest) along `dim`, in order (largest first for
    /// `largest`), ties by position.
    pub fn topk(&self, k: i64, dim: i64, largest: bool, _sorted: bool) -> Result<(Tensor, Tensor)> {
        let (x, d, scalar) = self.line_input(dim, "topk")?;
        let n = x.shape()[d];
        if k < 0 || k as usize > n {
            bail!(
                "topk(): selected index k out of range: k={k} but dimension {d} of input with shape {:?} has size {n}",
                self.shape()
            );
        }
        let k = k as usize;
        let (v, i) = if x.is_gpu() {
            crate::wgpu::kernels::sort(&x, d, largest, k)?
        } else {
            dispatch!(x.dtype(), T => select_lines::<T>(&x, d, k, |l| topk_idx(l, k, largest)))?
        };
        record_select("TopkBackward0", &x, &v, &i, d, true);
        if scalar && k == 1 {
            return Ok((v.reshape(&[])?, i.reshape(&[])?));
        }
        Ok((v, i))
    }

    /// Shared tail of the one-per-line reductions: pick, record, drop the dim.
    fn reduce_pick<F>(
        &self,
        dim: i64,
        keepdim: bool,
        op: &str,
        name: &'static str,
        pick: F,
    ) -> Result<(Tensor, Tensor)>
    where
        F: Fn(&Tensor, usize) -> Result<(Tensor, Tensor)>,
    {
        let (x, d, scalar) = self.line_input(dim, op)?;
        let (v, i) = pick(&x, d)?;
        record_select(name, &x, &v, &i, d, true);
        if scalar {
            return Ok((v.reshape(&[])?, i.reshape(&[])?));
        }
        if keepdim {
            return Ok((v, i));
        }
        Ok((v.squeeze_dims(&[d])?, i.squeeze_dims(&[d])?))
    }

    /// The k-th smallest (1-based) along `dim`.
    pub fn kthvalue(&self, k: i64, dim: i64, keepdim: bool) -> Result<(Tensor, Tensor)> {
        let shape = self.shape().to_vec();
        self.reduce_pick(dim, keepdim, "kthvalue", "KthvalueBackward0", |x, d| {
            let n = x.shape()[d];
            if k < 1 || k as usize > n {
                bail!(
                    "kthvalue(): selected number k out of range: k={k} but dimension {d} of input with shape {shape:?} has size {n}"
                );
            }
            let k0 = k as usize - 1;
            if x.is_gpu() {
                // The k smallest in order (ties by position); the last is the k-th.
                let (v, i) = crate::wgpu::kernels::sort(x, d, false, k0 + 1)?;
                let pick = |t: &Tensor| t.narrow(d as i64, k0, 1)?.contiguous();
                return Ok((pick(&v)?, pick(&i)?));
            }
            dispatch!(x.dtype(), T => select_lines::<T>(x, d, 1, |l| vec![kth_idx(l, k0)]))
        })
    }

    /// median (lower of the two middles) along `dim`; NaN wins unless `ignore_nan`.
    pub fn median_dim(
        &self,
        dim: i64,
        keepdim: bool,
        ignore_nan: bool,
    ) -> Result<(Tensor, Tensor)> {
        let op = if ignore_nan { "nanmedian" } else { "median" };
        let name = if ignore_nan {
            "NanmedianBackward1"
        } else {
            "MedianBackward1"
        };
        self.reduce_pick(dim, keepdim, op, name, |x, d| {
            if x.shape()[d] == 0 {
                bail!("{op}(): Expected reduction dim {d} to have non-zero size.");
            }
            if x.is_gpu() {
                return gpu_median(x, d, ignore_nan);
            }
            dispatch!(x.dtype(), T => select_lines::<T>(x, d, 1, |l| vec![median_idx(l, ignore_nan)]))
        })
    }

    /// median of all elements (no indices); NaN for an empty tensor. The
    /// gradient is shared evenly by the elements equal to the result (PyTorch's
    /// evenly_distribute_backward).
    pub fn median_all(&self, ignore_nan: bool) -> Result<Tensor> {
        let n = self.numel();
        if n == 0 {
            return Tensor::full_on(&[], Scalar::Float(f64::NAN), self.dtype(), self.device());
        }
        let flat = self.reshape(&[n])?;
        let (v, _) = no_grad(|| flat.median_dim(0, false, ignore_nan))?;
        let v = v.detach();
        if self.dtype().is_float() && any_requires_grad(&[self]) {
            record(
                if ignore_nan {
                    "NanmedianBackward0"
                } else {
                    "MedianBackward0"
                },
                &[&v],
                &[self],
                vec![self.clone(), v.detach()],
                |c: &BackCtx| {
                    let (x, y) = (&c.saved[0], &c.saved[1]);
                    let g = c.grad(0)?;
                    let both_nan = x
                        .binary(x, Binary::Ne)?
                        .logical_and(&y.binary(y, Binary::Ne)?)?;
                    let mask = x
                        .eq_t(y)?
                        .binary(&both_nan, Binary::LogicalOr)?
                        .to_dtype(g.dtype())?;
                    let count = mask.sum_all()?;
                    Ok(vec![Some(mask.mul(&g.div(&count)?)?)])
                },
            );
        }
        Ok(v)
    }

    /// Most frequent value along `dim` and its last position.
    pub fn mode(&self, dim: i64, keepdim: bool) -> Result<(Tensor, Tensor)> {
        if self.is_gpu() {
            let r = crate::ops::device::gpu_fallback_n("mode", &[self], |h| {
                let (a, b) = h[0].mode(dim, keepdim)?;
                Ok(vec![a, b])
            })?;
            return Ok((r[0].clone(), r[1].clone()));
        }
        self.reduce_pick(dim, keepdim, "mode", "ModeBackward0", |x, d| {
            if x.shape()[d] == 0 {
                bail!("mode(): Expected reduction dim {d} to have non-zero size.");
            }
            dispatch!(x.dtype(), T => select_lines::<T>(x, d, 1, |l| vec![mode_idx(l)]))
        })
    }
}
