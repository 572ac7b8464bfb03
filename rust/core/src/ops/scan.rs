//! Scans with a selection or a log-space sum: cummax/cummin (values and
//! indices, gradient scattered to the indices) and logcumsumexp.

use crate::autograd::{any_requires_grad, grad_enabled, record, BackCtx};
use crate::dtype::{DType, Element, Scalar};
use crate::error::Result;
use crate::ops::sort::{assemble, map_lines, record_select};
use crate::ops::Unary;
use crate::tensor::Tensor;
use crate::{dispatch, dispatch_float};

/// PyTorch's cummax/cummin line kernel: a NaN always takes over, and ties move
/// the index forward (>= / <=).
fn cum_line<T: Element>(line: &[T], is_max: bool) -> (Vec<T>, Vec<i64>) {
    let mut vals = Vec::with_capacity(line.len());
    let mut idx = Vec::with_capacity(line.len());
    let (mut best, mut bi) = match line.first() {
        Some(&x) => (x, 0i64),
        None => return (vals, idx),
    };
    for (i, &x) in line.iter().enumerate() {
        let better = if is_max { x >= best } else { x <= best };
        if x.is_nan_v() || (!best.is_nan_v() && better) {
            best = x;
            bi = i as i64;
        }
        vals.push(best);
        idx.push(bi);
    }
    (vals, idx)
}

/// log(exp(a) + exp(b)) as PyTorch's logcumsumexp step (infinities kept).
#[inline]
fn log_add_exp(a: f64, b: f64) -> f64 {
    let (lo, hi) = if b.is_nan() {
        (b, b)
    } else {
        (a.min(b), a.max(b))
    };
    if lo != hi || lo.is_finite() {
        (lo - hi).exp().ln_1p() + hi
    } else {
        a
    }
}

/// The most negative finite value of a float dtype.
fn lowest(dt: DType) -> f64 {
    match dt {
        DType::F16 => -65504.0,
        DType::BF16 => -3.3895313892515355e38,
        DType::F32 => f32::MIN as f64,
        _ => f64::MIN,
    }
}

impl Tensor {
    /// cummax (is_max) / cummin along `dim`: (values, int64 indices).
    pub fn cummax(&self, dim: i64, is_max: bool) -> Result<(Tensor, Tensor)> {
        crate::ops::complex::refuse("cummax", &[self])?;
        let op = if is_max { "cummax" } else { "cummin" };
        crate::layout::checked_numel(self.shape(), self.dtype().size() + 8, op)?;
        if !self.device().is_host() {
            let r = crate::ops::device::host_fallback_n("cummax", &[self], |h| {
                let (a, b) = h[0].cummax(dim, is_max)?;
                Ok(vec![a, b])
            })?;
            return Ok((r[0].clone(), r[1].clone()));
        }
        let d = crate::layout::wrap_dim(dim, self.ndim(), op)?;
        let (x, d) = if self.ndim() == 0 {
            (self.reshape(&[1])?, 0)
        } else {
            (self.clone(), d)
        };
        let shape = x.shape().to_vec();
        let (v, i) = dispatch!(x.dtype(), T => {
            let r = map_lines::<T, _>(&x, d, |l| cum_line(l, is_max))?;
            let (v, i): (Vec<_>, Vec<_>) = r.into_iter().unzip();
            (assemble(v, &shape, d), assemble(i, &shape, d))
        });
        record_select(
            if is_max {
                "CummaxBackward0"
            } else {
                "CumminBackward0"
            },
            &x,
            &v,
            &i,
            d,
            true,
        );
        if self.ndim() == 0 {
            return Ok((v.reshape(&[])?, i.reshape(&[])?));
        }
        Ok((v, i))
    }

    /// log(cumsum(exp(x))) along `dim`, computed as a running log-add-exp.
    pub fn logcumsumexp(&self, dim: i64) -> Result<Tensor> {
        crate::ops::complex::refuse("logcumsumexp", &[self])?;
        crate::layout::checked_numel(self.shape(), 8, "logcumsumexp")?;
        if !self.device().is_host() {
            return crate::ops::device::host_fallback("logcumsumexp", &[self], |h| {
                h[0].logcumsumexp(dim)
            });
        }
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.to_dtype(DType::F32)?
        };
        let d = crate::layout::wrap_dim(dim, x.ndim(), "logcumsumexp")?;
        let (xl, d) = if x.ndim() == 0 {
            (x.reshape(&[1])?, 0)
        } else {
            (x.clone(), d)
        };
        let shape = xl.shape().to_vec();
        let out = dispatch_float!(xl.dtype(), T => {
            let r = map_lines::<T, _>(&xl, d, |l| {
                let mut acc = f64::NEG_INFINITY;
                l.iter().map(|&v| { acc = log_add_exp(acc, v.to_f64()); T::from_f64(acc) }).collect::<Vec<T>>()
            })?;
            assemble(r, &shape, d)
        }, unreachable!());
        let out = out.reshape(x.shape())?;
        if !any_requires_grad(&[&x]) {
            return Ok(out);
        }
        let di = d as i64;
        record(
            "LogcumsumexpBackward0",
            &[&out],
            &[&x],
            vec![x.clone(), out.detach()],
            move |c: &BackCtx| {
                let g = c.grad(0)?;
                let xs = &c.saved[0];
                if xs.ndim() == 0 {
                    return Ok(vec![Some(g.clone())]);
                }
                let res = if grad_enabled() {
                    xs.logcumsumexp(di)?
                } else {
                    c.saved[1].clone()
                };
                // PyTorch's formula: split the gradient by sign and sum in log space.
                let low = Tensor::full(&[], Scalar::Float(lowest(g.dtype())), g.dtype())?;
                let log_abs = g.unary(Unary::Abs)?.unary(Unary::Log)?;
                let zero = g.zeros_like()?;
                let pos =
                    Tensor::where_(&g.binary(&zero, crate::ops::Binary::Gt)?, &log_abs, &low)?;
                let neg =
                    Tensor::where_(&g.binary(&zero, crate::ops::Binary::Lt)?, &log_abs, &low)?;
                let rev =
                    |t: &Tensor| -> Result<Tensor> { t.flip(&[di])?.logcumsumexp(di)?.flip(&[di]) };
                let op = rev(&pos.sub(&res)?)?.add(xs)?.unary(Unary::Exp)?;
                let on = rev(&neg.sub(&res)?)?.add(xs)?.unary(Unary::Exp)?;
                Ok(vec![Some(op.sub(&on)?)])
            },
        );
        Ok(out)
    }
}
