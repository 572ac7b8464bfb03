//! Index writes into complex tensors: index_put (x[idx] = v, x[mask] = v,
//! index_copy, index_fill, masked_scatter), index_add, scatter, scatter_add
//! and scatter_reduce's sum/mean.
//!
//! Each runs the real op on the (re, im) view: the pair becomes a trailing
//! dim of size 2 that every index leaves whole (index_put's indices address
//! the leading dims only; scatter's index gets the pair dim by expansion), so
//! the host and gpu kernels never see a complex storage, and the gradient is
//! the real op's through view_as_real / view_as_complex.

use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::layout::wrap_dim;
use crate::ops::complex::not_implemented;
use crate::tensor::Tensor;
use crate::{bail, rt_err};

/// `src` as `x`'s complex dtype; a complex source into a real tensor is
/// PyTorch's dtype error.
fn as_dtype_of(x: &Tensor, src: &Tensor, op: &str) -> Result<Tensor> {
    if !x.is_complex() {
        bail!(
            "{op}(): Expected self.dtype to be equal to src.dtype, but got self {} and src {}",
            x.dtype().scalar_type_name(),
            src.dtype().scalar_type_name()
        );
    }
    if src.dtype() == x.dtype() {
        Ok(src.clone())
    } else {
        src.to_dtype(x.dtype())
    }
}

/// The real view of a complex result, back as complex.
fn back(r: Tensor) -> Result<Tensor> {
    r.contiguous()?.view_as_complex()
}

/// index (same rank as x) with a trailing pair dim: both parts at each position.
fn pair_index(index: &Tensor) -> Result<Tensor> {
    let mut shape = index.shape().to_vec();
    shape.push(2);
    index.unsqueeze(index.ndim())?.expand(&shape)
}

pub fn index_put(
    x: &Tensor,
    indices: &[Option<Tensor>],
    values: &Tensor,
    accumulate: bool,
) -> Result<Tensor> {
    let v = as_dtype_of(x, values, "index_put")?;
    // A 0-dim host value (a Python number) may fill a gpu tensor; its real view
    // has a dim, so it moves first.
    let v = if v.ndim() == 0 && v.device() != x.device() {
        v.to_device(x.device())?
    } else {
        v
    };
    // Indices address x's dims; the view's extra trailing dim is a full slice,
    // and v's trailing pair dim broadcasts against it.
    back(
        x.view_as_real()?
            .index_put(indices, &v.view_as_real()?, accumulate)?,
    )
}

pub fn index_add(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    source: &Tensor,
    alpha: f64,
) -> Result<Tensor> {
    if !x.is_complex() {
        bail!(
            "index_add_(): self ({}) and source ({}) must have the same scalar type",
            x.dtype().scalar_type_name(),
            source.dtype().scalar_type_name()
        );
    }
    if x.ndim() == 0 || source.ndim() != x.ndim() {
        bail!(
            "index_add_(): self ({:?}) and source ({:?}) of a complex index_add must have the same number of dimensions, at least one",
            x.shape(),
            source.shape()
        );
    }
    let d = wrap_dim(dim, x.ndim(), "index_add")?;
    let s = as_dtype_of(x, source, "index_add")?;
    back(
        x.view_as_real()?
            .index_add(d as i64, index, &s.view_as_real()?, alpha)?,
    )
}

/// Shape checks of a complex scatter (the real view's kernels would report
/// them with the pair dim in the shapes).
fn scatter_dims(x: &Tensor, dim: i64, index: &Tensor, src: &Tensor, op: &str) -> Result<usize> {
    if x.ndim() == 0 {
        return Err(not_implemented(op, x.dtype()));
    }
    let d = wrap_dim(dim, x.ndim(), op)?;
    if index.ndim() != x.ndim() {
        bail!("Index tensor must have the same number of dimensions as self tensor");
    }
    if src.ndim() != index.ndim() {
        bail!("Index tensor must have the same number of dimensions as src tensor");
    }
    for k in 0..index.ndim() {
        let (i, s, t) = (index.shape()[k], src.shape()[k], x.shape()[k]);
        if i > s || (k != d && i > t) {
            return Err(rt_err!(
                "Expected index {:?} to be smaller than self {:?} apart from dimension {} and to be smaller size than src {:?}",
                index.shape(),
                x.shape(),
                d,
                src.shape()
            ));
        }
    }
    Ok(d)
}

/// scatter (`add` false) or scatter_add (`add` true) of complex values.
pub fn scatter(x: &Tensor, dim: i64, index: &Tensor, src: &Tensor, add: bool) -> Result<Tensor> {
    let op = if add { "scatter_add" } else { "scatter" };
    let s = as_dtype_of(x, src, op)?;
    let d = scatter_dims(x, dim, index, &s, op)?;
    let (xr, sr, ir) = (x.view_as_real()?, s.view_as_real()?, pair_index(index)?);
    back(if add {
        xr.scatter_add(d as i64, &ir, &sr)?
    } else {
        xr.scatter(d as i64, &ir, &sr)?
    })
}

/// scatter of one (real) number into a complex tensor.
pub fn scatter_value(x: &Tensor, dim: i64, index: &Tensor, v: Scalar) -> Result<Tensor> {
    let src = Tensor::full_on(index.shape(), v, x.dtype(), x.device())?;
    scatter(x, dim, index, &src, false)
}

/// scatter_reduce of complex values: sum and mean act on the parts
/// independently; prod, amax and amin have no complex rule (PyTorch refuses
/// amax/amin on complex too).
pub fn scatter_reduce(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    src: &Tensor,
    reduce: &str,
    include_self: bool,
) -> Result<Tensor> {
    if !matches!(reduce, "sum" | "mean") {
        return Err(not_implemented(
            &format!("scatter_reduce_{reduce}"),
            if x.is_complex() {
                x.dtype()
            } else {
                DType::C64
            },
        ));
    }
    let s = as_dtype_of(x, src, "scatter_reduce")?;
    let d = scatter_dims(x, dim, index, &s, "scatter_reduce")?;
    back(x.view_as_real()?.scatter_reduce(
        d as i64,
        &pair_index(index)?,
        &s.view_as_real()?,
        reduce,
        include_self,
    )?)
}
