//! Sorting and selection along one dim: sort/argsort, topk, kthvalue,
//! median/nanmedian and mode.
//!
//! NaN orders above every number (PyTorch's rule), so ascending sorts put NaNs
//! last and descending ones first. Every ordering breaks ties by input
//! position: `sort` is stable in both directions (PyTorch's CPU sort is, with or
//! without `stable=True`) and the selections are deterministic. Selected values
//! carry a gradient that is scattered back to the selected positions.

use crate::autograd::{any_requires_grad, no_grad, record, BackCtx};
use crate::backend;
use crate::dtype::Scalar;
use crate::error::Result;
use crate::layout::wrap_dim;
use crate::ops::Binary;
use crate::tensor::Tensor;
use crate::{bail, dispatch};

pub(crate) use crate::cpu::sort::{asc, assemble, cmp_nan_last, map_lines};
use crate::cpu::sort::{mode_idx, select_lines};

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
        let (v, i) = backend::of(&x).sort(&x, d, descending, n)?;
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
        let (v, i) = backend::of(&x).sort(&x, d, largest, k)?;
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
            backend::of(x).kthvalue(x, d, k as usize - 1)
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
            backend::of(x).median(x, d, ignore_nan)
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
        crate::ops::complex::refuse("mode", &[self])?;
        if !self.device().is_host() {
            let r = crate::ops::device::host_fallback_n("mode", &[self], |h| {
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
