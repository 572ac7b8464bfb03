//! Ops whose PyTorch gradients need dedicated rules: fill/zero_, hardtanh,
//! std, clamp with tensor bounds, scatter_reduce, exact cumprod backward.

use crate::autograd::{any_requires_grad, grad_enabled, no_grad, record, unary_record, BackCtx};
use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::ops::Binary;
use crate::tensor::Tensor;
use crate::{bail, dispatch_float};

fn mask_f(m: &Tensor, like: &Tensor) -> Result<Tensor> {
    m.to_dtype(like.dtype())
}

impl Tensor {
    /// `v` everywhere, with a zero gradient towards self (zero_ / fill_).
    pub fn filled_recorded(&self, v: Scalar) -> Result<Tensor> {
        let out = Tensor::full_on(self.shape(), v, self.dtype(), self.device())?;
        Ok(unary_record(
            "FillBackward0",
            out,
            self,
            vec![],
            |c: &BackCtx| Ok(vec![Some(c.grad(0)?.zeros_like()?)]),
        ))
    }

    /// hardtanh: clamp whose gradient is 0 exactly at the bounds.
    pub fn hardtanh(&self, lo: f64, hi: f64) -> Result<Tensor> {
        let out = no_grad(|| self.clamp_s(Some(lo), Some(hi)))?;
        Ok(unary_record(
            "HardtanhBackward0",
            out,
            self,
            vec![self.clone()],
            move |c: &BackCtx| {
                let (x, g) = (&c.saved[0], c.grad(0)?);
                let m = x.gt_s(lo)?.logical_and(&x.lt_s(hi)?)?;
                Ok(vec![Some(g.mul(&mask_f(&m, g)?)?)])
            },
        ))
    }

    /// std with PyTorch's backward (0 where std == 0 instead of 0/0).
    pub fn std_dims(&self, dims: &[i64], correction: f64, keepdim: bool) -> Result<Tensor> {
        if self.is_complex() {
            return crate::ops::complex_math::var(self, dims, correction, keepdim)?
                .unary(crate::ops::Unary::Sqrt);
        }
        let out = no_grad(|| {
            self.var_dims(dims, correction, keepdim)?
                .unary(crate::ops::Unary::Sqrt)
        })?;
        if !any_requires_grad(&[self]) {
            return Ok(out);
        }
        let dims_n = crate::ops::reduce::norm_dims(dims, self.ndim(), "std")?;
        let dims_i: Vec<i64> = dims_n.iter().map(|&d| d as i64).collect();
        let n: usize = dims_n.iter().map(|&d| self.shape()[d]).product();
        let in_shape = self.shape().to_vec();
        let out2 = out.clone();
        record(
            "StdBackward0",
            &[&out2],
            &[self],
            vec![self.clone(), out.detach()],
            move |c: &BackCtx| {
                let x = &c.saved[0];
                let s = if grad_enabled() {
                    x.std_dims(&dims_i, correction, keepdim)?
                } else {
                    c.saved[1].clone()
                };
                let mut g = c.grad(0)?.clone();
                let mut s = s;
                if !keepdim {
                    for &d in &dims_n {
                        g = g.unsqueeze(d)?;
                        s = s.unsqueeze(d)?;
                    }
                }
                let mean = x.mean_dims(&dims_i, true, None)?;
                let r = g
                    .mul(&x.sub(&mean)?)?
                    .div(&s.mul_s(n as f64 - correction)?)?;
                let zero = s.eq_t(&s.zeros_like()?)?.expand(&in_shape)?;
                Ok(vec![Some(Tensor::where_(&zero, &r.zeros_like()?, &r)?)])
            },
        );
        Ok(out2)
    }

    /// clamp(x, min=tensor, max=tensor) with PyTorch's gradient routing.
    pub fn clamp_t(&self, min: Option<&Tensor>, max: Option<&Tensor>) -> Result<Tensor> {
        if min.is_none() && max.is_none() {
            bail!("torch.clamp: At least one of 'min' or 'max' must not be None");
        }
        let out = no_grad(|| {
            let mut y = self.clone();
            if let Some(lo) = min {
                y = clamp_bound(&y, lo, true)?;
            }
            if let Some(hi) = max {
                y = clamp_bound(&y, hi, false)?;
            }
            Ok::<_, crate::Error>(y)
        })?;
        let mut inputs = vec![self];
        if let Some(l) = min {
            inputs.push(l);
        }
        if let Some(h) = max {
            inputs.push(h);
        }
        if !out.dtype().is_float() || !any_requires_grad(&inputs) {
            return Ok(out);
        }
        let saved: Vec<Tensor> = inputs.iter().map(|t| (*t).clone()).collect();
        let (has_lo, has_hi) = (min.is_some(), max.is_some());
        let shapes: Vec<(Vec<usize>, DType)> = inputs
            .iter()
            .map(|t| (t.shape().to_vec(), t.dtype()))
            .collect();
        record(
            "ClampBackward0",
            &[&out],
            &inputs,
            saved,
            move |c: &BackCtx| {
                let g = c.grad(0)?;
                let x = &c.saved[0];
                let lo = if has_lo { Some(&c.saved[1]) } else { None };
                let hi = if has_hi {
                    Some(&c.saved[if has_lo { 2 } else { 1 }])
                } else {
                    None
                };
                let z = g.zeros_like()?;
                let mut inside = x.binary(x, Binary::Eq)?; // true except NaN
                inside = inside.binary(&inside.logical_not_t()?, Binary::LogicalOr)?;
                if let Some(l) = lo {
                    inside = inside.logical_and(&x.binary(l, Binary::Ge)?)?;
                }
                if let Some(h) = hi {
                    inside = inside.logical_and(&x.binary(h, Binary::Le)?)?;
                }
                let mut res = vec![Some(Tensor::where_(&inside, g, &z)?)];
                if let Some(l) = lo {
                    let mut m = x.binary(l, Binary::Lt)?;
                    if let Some(h) = hi {
                        m = m.logical_and(&l.binary(h, Binary::Lt)?)?;
                    }
                    res.push(Some(Tensor::where_(&m, g, &z)?));
                }
                if let Some(h) = hi {
                    let mut m = x.binary(h, Binary::Gt)?;
                    if let Some(l) = lo {
                        m = m.binary(&h.binary(l, Binary::Lt)?, Binary::LogicalOr)?;
                    }
                    res.push(Some(Tensor::where_(&m, g, &z)?));
                }
                res.into_iter()
                    .zip(&shapes)
                    .map(|(r, (s, dt))| match r {
                        Some(t) => Ok(Some(t.sum_to(s)?.to_dtype(*dt)?)),
                        None => Ok(None),
                    })
                    .collect()
            },
        );
        Ok(out)
    }

    pub fn logical_not_t(&self) -> Result<Tensor> {
        self.unary(crate::ops::Unary::LogicalNot)
    }

    /// scatter_reduce with PyTorch's gradients for sum/prod/mean/amax/amin.
    pub fn scatter_reduce(
        &self,
        dim: i64,
        index: &Tensor,
        src: &Tensor,
        reduce: &str,
        include_self: bool,
    ) -> Result<Tensor> {
        if self.is_complex() || src.is_complex() {
            return crate::ops::complex_index::scatter_reduce(
                self,
                dim,
                index,
                src,
                reduce,
                include_self,
            );
        }
        if crate::ops::device::any_gpu(&[self, index, src]) {
            return crate::ops::device::host_fallback("scatter_reduce", &[self, index, src], |h| {
                h[0].scatter_reduce(dim, &h[1], &h[2], reduce, include_self)
            });
        }
        let out = no_grad(|| self.scatter_reduce_raw(dim, index, src, reduce, include_self))?;
        if !out.dtype().is_float() || !any_requires_grad(&[self, src]) {
            return Ok(out);
        }
        let idx = index.clone();
        let reduce = reduce.to_string();
        record(
            "ScatterReduceBackward0",
            &[&out],
            &[self, src],
            vec![self.clone(), src.clone(), out.detach()],
            move |c: &BackCtx| {
                let g = c.grad(0)?;
                let (x, s, res) = (&c.saved[0], &c.saved[1], &c.saved[2]);
                let zeros_x = x.zeros_like()?;
                let scattered = zeros_x.scatter_add(dim, &idx, &s.ones_like()?)?.gt_s(0.0)?;
                let keep_self = |t: Tensor| -> Result<Tensor> {
                    if include_self {
                        Ok(t)
                    } else {
                        Tensor::where_(&scattered, &t.zeros_like()?, &t)
                    }
                };
                let (gs, gsrc) = match reduce.as_str() {
                    "sum" => (keep_self(g.clone())?, g.gather(dim, &idx)?),
                    "prod" => {
                        let gr = g.mul(res)?;
                        let gs = if include_self {
                            gr.div(x)?
                        } else {
                            Tensor::where_(&scattered, &g.zeros_like()?, g)?
                        };
                        (gs, gr.gather(dim, &idx)?.div(s)?)
                    }
                    "mean" => {
                        let mut cnt = zeros_x.scatter_add(dim, &idx, &s.ones_like()?)?;
                        if include_self {
                            cnt = cnt.add_s(1.0)?;
                        }
                        let cnt = cnt.clamp_s(Some(1.0), None)?;
                        let gc = g.div(&cnt)?;
                        (
                            keep_self(if include_self { gc.clone() } else { g.clone() })?,
                            gc.gather(dim, &idx)?,
                        )
                    }
                    _ => {
                        // amax / amin: split evenly between all elements equal to the result.
                        let at = res.gather(dim, &idx)?;
                        let src_hit = mask_f(&s.eq_t(&at)?, s)?;
                        let self_hit = if include_self {
                            mask_f(&x.eq_t(res)?, x)?
                        } else {
                            x.zeros_like()?
                        };
                        let n = self_hit
                            .add(&zeros_x.scatter_add(dim, &idx, &src_hit)?)?
                            .clamp_s(Some(1.0), None)?;
                        let gn = g.div(&n)?;
                        let gs = if include_self {
                            gn.mul(&self_hit)?
                        } else {
                            Tensor::where_(&scattered, &g.zeros_like()?, g)?
                        };
                        (gs, gn.gather(dim, &idx)?.mul(&src_hit)?)
                    }
                };
                Ok(vec![
                    if c.needs[0] { Some(gs) } else { None },
                    if c.needs[1] { Some(gsrc) } else { None },
                ])
            },
        );
        Ok(out)
    }
}

fn clamp_bound(x: &Tensor, b: &Tensor, lower: bool) -> Result<Tensor> {
    let inside = if lower {
        x.binary(b, Binary::Ge)?
    } else {
        x.binary(b, Binary::Le)?
    };
    let nan = x.binary(x, Binary::Ne)?;
    let keep = inside.binary(&nan, Binary::LogicalOr)?;
    Tensor::where_(&keep, x, b)
}

/// Exact first-order gradient of cumprod along `dim` (handles zeros).
pub fn cumprod_backward_exact(x: &Tensor, g: &Tensor, dim: usize) -> Result<Tensor> {
    crate::ops::complex::refuse("cumprod_backward", &[x])?;
    let xc = x.contiguous()?;
    let gc = g.to_dtype(x.dtype())?.contiguous()?;
    let shape = xc.shape().to_vec();
    let len = shape[dim];
    let stride = xc.strides()[dim];
    let bases = crate::cpu::line_bases(&crate::layout::Layout::contiguous(&shape), dim);
    let xv = xc.to_f64_vec()?;
    let gv = gc.to_f64_vec()?;
    let mut out = vec![0f64; xv.len()];
    for &b in &bases {
        for i in 0..len {
            let mut p = 1f64;
            for j in 0..i {
                p *= xv[b + j * stride];
            }
            let mut acc = 0f64;
            for k in i..len {
                if k > i {
                    p *= xv[b + k * stride];
                }
                acc += gv[b + k * stride] * p;
            }
            out[b + i * stride] = acc;
        }
    }
    // Cast on the host, then move: the gpu stores no float64.
    let t = Tensor::from_vec(out, &shape);
    let t = dispatch_float!(x.dtype(), T => t.cast_raw(<T as crate::dtype::Element>::DTYPE), bail!("cumprod backward: float tensor expected"))?;
    t.to_device_raw(x.device())
}
