//! unique and unique_consecutive, flattened or along a dim.
//!
//! As PyTorch's CPU kernels: `unique` always sorts (sorted=False gives the same
//! result), and NaNs never compare equal, so every NaN is its own entry. Each
//! call returns (values, inverse, counts); the Python layer keeps what was
//! asked for. No gradient (PyTorch has none).

use crate::cpu;
use crate::dtype::Element;
use crate::error::Result;
use crate::layout::wrap_dim;
use crate::ops::sort::{asc, cmp_nan_last};
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use crate::{bail, dispatch};
use rayon::prelude::*;
use std::cmp::Ordering;

/// Group the items of `order` into runs of equal items: (first item of each
/// run, group number of every item, run lengths).
fn runs(
    order: &[usize],
    n_items: usize,
    same: impl Fn(usize, usize) -> bool,
) -> (Vec<usize>, Vec<i64>, Vec<i64>) {
    let mut firsts = vec![];
    let mut counts: Vec<i64> = vec![];
    let mut inverse = vec![0i64; n_items];
    for (j, &i) in order.iter().enumerate() {
        if j == 0 || !same(order[j - 1], i) {
            firsts.push(i);
            counts.push(0);
        }
        if let Some(c) = counts.last_mut() {
            *c += 1;
        }
        inverse[i] = firsts.len() as i64 - 1;
    }
    (firsts, inverse, counts)
}

fn unique_flat<T: CpuElement>(x: &Tensor, consecutive: bool) -> Result<(Tensor, Tensor, Tensor)> {
    let v = x.to_vec::<T>()?;
    let order: Vec<usize> = if consecutive {
        (0..v.len()).collect()
    } else {
        // Sort (value, position) pairs: cache-friendly, and parallel when big.
        let mut p: Vec<(T, usize)> = v.iter().copied().zip(0..).collect();
        if p.len() >= cpu::PAR_THRESHOLD {
            p.par_sort_unstable_by(asc);
        } else {
            p.sort_unstable_by(asc);
        }
        p.into_iter().map(|(_, i)| i).collect()
    };
    let (firsts, inverse, counts) = runs(&order, v.len(), |a, b| v[a] == v[b]);
    let vals: Vec<T> = firsts.iter().map(|&i| v[i]).collect();
    let g = vals.len();
    Ok((
        Tensor::from_vec(vals, &[g]),
        Tensor::from_vec(inverse, x.shape()),
        Tensor::from_vec(counts, &[g]),
    ))
}

fn cmp_rows<T: Element>(a: &[T], b: &[T]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = cmp_nan_last(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn unique_along<T: CpuElement>(
    x: &Tensor,
    d: usize,
    consecutive: bool,
) -> Result<(Tensor, Tensor, Tensor)> {
    let n = x.shape()[d];
    // Slices along d become contiguous rows of length m.
    let rows = x.movedim(&[d as i64], &[0])?.contiguous()?;
    let m = x.numel().checked_div(n).unwrap_or(0);
    let v = rows.to_vec::<T>()?;
    let row = |i: usize| &v[i * m..(i + 1) * m];
    let mut order: Vec<usize> = (0..n).collect();
    if !consecutive {
        order.sort_by(|&a, &b| cmp_rows(row(a), row(b)));
    }
    let (firsts, inverse, counts) = runs(&order, n, |a, b| row(a) == row(b));
    let g = firsts.len();
    let mut out = Vec::with_capacity(g * m);
    for &i in &firsts {
        out.extend_from_slice(row(i));
    }
    let mut shape = rows.shape().to_vec();
    shape[0] = g;
    let vals = Tensor::from_vec(out, &shape)
        .movedim(&[0], &[d as i64])?
        .contiguous()?;
    Ok((
        vals,
        Tensor::from_vec(inverse, &[n]),
        Tensor::from_vec(counts, &[g]),
    ))
}

impl Tensor {
    /// torch.unique / torch.unique_consecutive: (values, inverse, counts).
    pub fn unique_t(
        &self,
        dim: Option<i64>,
        consecutive: bool,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        crate::ops::complex::refuse("unique", &[self])?;
        if !self.device().is_host() {
            let r = crate::ops::device::host_fallback_n("unique", &[&self.detach()], |h| {
                let (a, b, c) = h[0].unique_t(dim, consecutive)?;
                Ok(vec![a, b, c])
            })?;
            return Ok((r[0].clone(), r[1].clone(), r[2].clone()));
        }
        let x = self.detach();
        let dt = x.dtype();
        // Values, sort order and inverse indices: fail cleanly on a huge (expanded) input.
        crate::layout::checked_numel(x.shape(), dt.size() + 16, "unique")?;
        match dim {
            None => dispatch!(dt, T => unique_flat::<T>(&x, consecutive)),
            Some(dim) => {
                let op = if consecutive {
                    "unique_consecutive"
                } else {
                    "unique"
                };
                let d = wrap_dim(dim, x.ndim(), op)?;
                let x = if x.ndim() == 0 { x.reshape(&[1])? } else { x };
                let zero_dims = x.shape().iter().filter(|&&s| s == 0).count();
                if x.shape()[d] == 0 {
                    if zero_dims > 1 {
                        bail!("{op}(): Number of zero sized dimensions is more than one, so unique cannot be applied");
                    }
                    return Ok((
                        x.clone_data()?,
                        Tensor::zeros(&[0], crate::dtype::DType::I64)?,
                        Tensor::zeros(&[0], crate::dtype::DType::I64)?,
                    ));
                }
                if zero_dims > 0 {
                    bail!("{op}(): There are 0 sized dimensions, and they aren't selected, so unique cannot be applied");
                }
                dispatch!(dt, T => unique_along::<T>(&x, d, consecutive))
            }
        }
    }
}
