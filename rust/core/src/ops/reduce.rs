//! Reductions (sum, mean, prod, max/min, var/std, norms, logsumexp, all/any),
//! scans (cumsum/cumprod) and softmax.

use crate::autograd::{any_requires_grad, record, unary_record, BackCtx};
use crate::backend::{self, Red};
use crate::bail;
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::wrap_dim;
use crate::tensor::Tensor;

/// Normalise a dim list: empty means all dims. Sorted, deduplicated.
pub fn norm_dims(dims: &[i64], ndim: usize, op: &str) -> Result<Vec<usize>> {
    if dims.is_empty() {
        return Ok((0..ndim).collect());
    }
    let mut out = vec![];
    for &d in dims {
        let w = wrap_dim(d, ndim, op)?;
        if out.contains(&w) {
            bail!("{op}: dim {w} appears multiple times in the list of dims");
        }
        out.push(w);
    }
    out.sort();
    if ndim == 0 {
        return Ok(vec![]);
    }
    Ok(out)
}

fn out_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Vec<usize> {
    let mut s = vec![];
    for (i, &n) in shape.iter().enumerate() {
        if dims.contains(&i) {
            if keepdim {
                s.push(1);
            }
        } else {
            s.push(n);
        }
    }
    s
}

pub use crate::cpu::reduce::sum_slice;

fn expand_grad(g: &Tensor, in_shape: &[usize], dims: &[usize], keepdim: bool) -> Result<Tensor> {
    let mut g = g.clone();
    if !keepdim {
        for &d in dims {
            g = g.unsqueeze(d)?;
        }
    }
    g.expand(in_shape)
}

impl Tensor {
    fn upcast_half(&self) -> Result<Option<Tensor>> {
        Ok(if matches!(self.dtype(), DType::F16 | DType::BF16) {
            Some(self.to_dtype(DType::F32)?)
        } else {
            None
        })
    }

    pub fn sum_dims(&self, dims: &[i64], keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        if self.dtype().is_complex() && dtype.is_none_or(|d| d == self.dtype()) {
            return crate::ops::complex::sum_dims(self, dims, keepdim, false);
        }
        if let Some(dt) = dtype {
            if dt != self.dtype() {
                return self.to_dtype(dt)?.sum_dims(dims, keepdim, Some(dt));
            }
        }
        if let Some(t) = self.upcast_half()? {
            return t.sum_dims(dims, keepdim, None)?.to_dtype(self.dtype());
        }
        let dims_n = norm_dims(dims, self.ndim(), "sum")?;
        let shape = out_shape(self.shape(), &dims_n, keepdim);
        let dt = self.dtype();
        let odt = if dt.is_float() { dt } else { DType::I64 };
        let out = backend::of(self)
            .reduce(self, &dims_n, &shape, Red::Sum, odt)?
            .0;
        // An integer sum is int64 unless a dtype is asked for (int32 stays
        // int32 with dtype=int32, wrapping as PyTorch's does).
        let out = match dtype {
            Some(d) if !d.is_float() && d != odt => out.to_dtype(d)?,
            _ => out,
        };
        let in_shape = self.shape().to_vec();
        Ok(unary_record(
            "SumBackward1",
            out,
            self,
            vec![],
            move |c: &BackCtx| {
                Ok(vec![Some(expand_grad(
                    c.grad(0)?,
                    &in_shape,
                    &dims_n,
                    keepdim,
                )?)])
            },
        ))
    }

    pub fn sum_all(&self) -> Result<Tensor> {
        self.sum_dims(&[], false, None)
    }

    /// Sum a broadcast gradient back to `shape`.
    pub fn sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let lead = self.ndim() - shape.len();
        let mut dims: Vec<i64> = (0..lead as i64).collect();
        for (i, &s) in shape.iter().enumerate() {
            if s == 1 && self.shape()[lead + i] != 1 {
                dims.push((lead + i) as i64);
            }
        }
        let r = if dims.is_empty() {
            self.clone()
        } else {
            self.sum_dims(&dims, true, None)?
        };
        let r = if lead > 0 || r.shape() != shape {
            r.reshape(shape)?
        } else {
            r
        };
        Ok(r)
    }

    pub fn mean_dims(&self, dims: &[i64], keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        if self.dtype().is_complex() && dtype.is_none_or(|d| d == self.dtype()) {
            return crate::ops::complex::sum_dims(self, dims, keepdim, true);
        }
        let src = match dtype {
            Some(dt) => self.to_dtype(dt)?,
            None => self.clone(),
        };
        if !src.dtype().is_float() {
            bail!(
                "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
                legacy_short(src.dtype())
            );
        }
        let dims_n = norm_dims(dims, src.ndim(), "mean")?;
        let count: usize = dims_n
            .iter()
            .map(|&d| src.shape()[d])
            .product::<usize>()
            .max(if src.ndim() == 0 { 1 } else { 0 });
        if matches!(src.dtype(), DType::F16 | DType::BF16) {
            // Accumulate in float32 as PyTorch (a float16 sum of 4 x 40000 is inf).
            let s = src.sum_dims(dims, keepdim, Some(DType::F32))?;
            return s.div_s(count as f64)?.to_dtype(src.dtype());
        }
        let s = src.sum_dims(dims, keepdim, None)?;
        s.div_s(count as f64)
    }

    pub fn prod_dim(
        &self,
        dim: Option<i64>,
        keepdim: bool,
        dtype: Option<DType>,
    ) -> Result<Tensor> {
        if let Some(dt) = dtype {
            if dt != self.dtype() {
                return self.to_dtype(dt)?.prod_dim(dim, keepdim, None);
            }
        }
        if let Some(t) = self.upcast_half()? {
            return t.prod_dim(dim, keepdim, None)?.to_dtype(self.dtype());
        }
        let dims_n = match dim {
            Some(d) => vec![wrap_dim(d, self.ndim(), "prod")?],
            None => (0..self.ndim()).collect(),
        };
        let dims_n: Vec<usize> = if self.ndim() == 0 { vec![] } else { dims_n };
        let shape = out_shape(self.shape(), &dims_n, keepdim && dim.is_some());
        let dt = self.dtype();
        let odt = if dt.is_float() { dt } else { DType::I64 };
        let out = backend::of(self)
            .reduce(self, &dims_n, &shape, Red::Prod, odt)?
            .0;
        let in_shape = self.shape().to_vec();
        let kd = keepdim && dim.is_some();
        Ok(unary_record(
            "ProdBackward0",
            out,
            self,
            vec![self.clone()],
            move |c: &BackCtx| {
                let x = &c.saved[0];
                let g = expand_grad(c.grad(0)?, &in_shape, &dims_n, kd)?;
                // prod of all other elements = exclusive cumprod from both sides.
                let (xf, d) = match dim {
                    Some(d) => (x.clone(), wrap_dim(d, x.ndim(), "prod")? as i64),
                    None => (x.reshape(&[x.numel()])?, 0),
                };
                if xf.ndim() == 0 {
                    return Ok(vec![Some(g)]);
                }
                let left = exclusive_cumprod(&xf, d)?;
                let right = exclusive_cumprod(&xf.flip(&[d])?, d)?.flip(&[d])?;
                let others = left.mul(&right)?.reshape(&in_shape)?;
                Ok(vec![Some(g.mul(&others)?)])
            },
        ))
    }

    /// max/min over all elements (NaN propagates); gradient spread over ties.
    pub fn max_all(&self, is_max: bool) -> Result<Tensor> {
        if self.numel() == 0 {
            bail!(
                "{}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.",
                if is_max { "max" } else { "min" }
            );
        }
        self.amax_dims(&[], false, is_max, "MaxBackward1")
    }

    pub fn amax_dims(
        &self,
        dims: &[i64],
        keepdim: bool,
        is_max: bool,
        name: &'static str,
    ) -> Result<Tensor> {
        let opn = if is_max { "amax" } else { "amin" };
        let dims_n = norm_dims(dims, self.ndim(), opn)?;
        for &d in &dims_n {
            if self.shape()[d] == 0 {
                bail!("{opn}(): Expected reduction dim {d} to have non-zero size.");
            }
        }
        let shape = out_shape(self.shape(), &dims_n, keepdim);
        let dt = self.dtype();
        let op = if is_max { Red::Max } else { Red::Min };
        let out = backend::of(self).reduce(self, &dims_n, &shape, op, dt)?.0;
        if !dt.is_float() || !any_requires_grad(&[self]) {
            return Ok(out);
        }
        let in_shape = self.shape().to_vec();
        record(
            name,
            &[&out],
            &[self],
            vec![self.clone(), out.detach()],
            move |c: &BackCtx| {
                let (x, y) = (&c.saved[0], &c.saved[1]);
                let y = expand_grad(y, &in_shape, &dims_n, keepdim)?;
                let g = expand_grad(c.grad(0)?, &in_shape, &dims_n, keepdim)?;
                let mask = x
                    .eq_t(&y)?
                    .binary(
                        &x.binary(x, crate::ops::Binary::Ne)?,
                        crate::ops::Binary::LogicalOr,
                    )?
                    .to_dtype(x.dtype())?;
                let count = expand_grad(
                    &mask.sum_dims(
                        &dims_n.iter().map(|&d| d as i64).collect::<Vec<_>>(),
                        keepdim,
                        None,
                    )?,
                    &in_shape,
                    &dims_n,
                    keepdim,
                )?;
                Ok(vec![Some(g.mul(&mask)?.div(&count)?)])
            },
        );
        Ok(out)
    }

    /// max/min along one dim: (values, int64 indices); the gradient goes to the index.
    pub fn max_dim(&self, dim: i64, keepdim: bool, is_max: bool) -> Result<(Tensor, Tensor)> {
        let opn = if is_max { "max" } else { "min" };
        let d = wrap_dim(dim, self.ndim(), opn)?;
        let dims_n = if self.ndim() == 0 { vec![] } else { vec![d] };
        if self.ndim() > 0 && self.shape()[d] == 0 {
            bail!("{opn}(): Expected reduction dim {d} to have non-zero size.");
        }
        let shape = out_shape(self.shape(), &dims_n, keepdim);
        let dt = self.dtype();
        let op = if is_max { Red::ArgMax } else { Red::ArgMin };
        let (values, indices) = match backend::of(self).reduce(self, &dims_n, &shape, op, dt)? {
            (v, Some(i)) => (v, i),
            (_, None) => bail!(
                "{opn}: the {} backend returned no indices",
                backend::of(self).name()
            ),
        };
        if dt.is_float() && any_requires_grad(&[self]) {
            let in_shape = self.shape().to_vec();
            let idx2 = indices.clone();
            let nd = self.ndim();
            record(
                if is_max {
                    "MaxBackward0"
                } else {
                    "MinBackward0"
                },
                &[&values, &indices],
                &[self],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    if nd == 0 {
                        return Ok(vec![Some(g.clone())]);
                    }
                    let (g, i) = if keepdim {
                        (g.clone(), idx2.clone())
                    } else {
                        (g.unsqueeze(d)?, idx2.unsqueeze(d)?)
                    };
                    let z = Tensor::zeros_on(&in_shape, g.dtype(), g.device())?;
                    Ok(vec![Some(z.scatter_add(d as i64, &i, &g)?)])
                },
            );
        }
        Ok((values, indices))
    }

    pub fn argmax(&self, dim: Option<i64>, keepdim: bool, is_max: bool) -> Result<Tensor> {
        match dim {
            Some(d) => Ok(crate::autograd::no_grad(|| self.max_dim(d, keepdim, is_max))?.1),
            None => {
                if self.numel() == 0 {
                    bail!(
                        "{}(): Expected reduction dim to be specified for input.numel() == 0.",
                        if is_max { "argmax" } else { "argmin" }
                    );
                }
                let flat = self.reshape(&[self.numel()])?;
                let (_, i) = crate::autograd::no_grad(|| flat.max_dim(0, false, is_max))?;
                if keepdim {
                    i.reshape(&vec![1; self.ndim()])
                } else {
                    Ok(i)
                }
            }
        }
    }

    pub fn var_dims(&self, dims: &[i64], correction: f64, keepdim: bool) -> Result<Tensor> {
        if self.is_complex() {
            return crate::ops::complex_math::var(self, dims, correction, keepdim);
        }
        if !self.dtype().is_float() {
            bail!(
                "std and var only support floating point and complex dtypes (got {})",
                self.dtype()
            );
        }
        if let Some(t) = self.upcast_half()? {
            return t
                .var_dims(dims, correction, keepdim)?
                .to_dtype(self.dtype());
        }
        let dims_n = norm_dims(dims, self.ndim(), "var")?;
        let n: usize = dims_n.iter().map(|&d| self.shape()[d]).product();
        let shape = out_shape(self.shape(), &dims_n, keepdim);
        let out = backend::of(self).var(self, &dims_n, &shape, correction)?;
        let in_shape = self.shape().to_vec();
        let dims_i: Vec<i64> = dims_n.iter().map(|&d| d as i64).collect();
        Ok(unary_record(
            "VarBackward0",
            out,
            self,
            vec![self.clone()],
            move |c: &BackCtx| {
                let x = &c.saved[0];
                let g = expand_grad(c.grad(0)?, &in_shape, &dims_n, keepdim)?;
                let mean = x.mean_dims(&dims_i, true, None)?;
                let scale = 2.0 / (n as f64 - correction);
                Ok(vec![Some(g.mul(&x.sub(&mean)?)?.mul_s(scale)?)])
            },
        ))
    }

    pub fn logsumexp(&self, dims: &[i64], keepdim: bool) -> Result<Tensor> {
        crate::ops::complex::refuse("logsumexp", &[self])?;
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.to_dtype(DType::F32)?
        };
        let dims_n = norm_dims(dims, x.ndim(), "logsumexp")?;
        let dims_i: Vec<i64> = dims_n.iter().map(|&d| d as i64).collect();
        if x.numel() == 0 {
            return x
                .unary(crate::ops::Unary::Exp)?
                .sum_dims(&dims_i, keepdim, None)?
                .unary(crate::ops::Unary::Log);
        }
        let m = crate::autograd::no_grad(|| x.amax_dims(&dims_i, true, true, "AmaxBackward0"))?;
        // Infinite maxima would give inf - inf; use 0 there.
        let m = crate::autograd::no_grad(|| {
            let fin = m.unary(crate::ops::Unary::Abs)?.lt_s(f64::INFINITY)?;
            Tensor::where_(&fin, &m, &m.zeros_like()?)
        })?;
        let s = x
            .sub(&m)?
            .unary(crate::ops::Unary::Exp)?
            .sum_dims(&dims_i, true, None)?
            .unary(crate::ops::Unary::Log)?
            .add(&m)?;
        if keepdim {
            Ok(s)
        } else {
            s.squeeze_dims(&dims_n)
        }
    }

    /// Vector p-norm over dims (p may be inf, -inf, 0).
    pub fn vector_norm(
        &self,
        p: f64,
        dims: &[i64],
        keepdim: bool,
        dtype: Option<DType>,
    ) -> Result<Tensor> {
        let x = match dtype {
            Some(dt) => self.to_dtype(dt)?,
            None => self.clone(),
        };
        if x.is_complex() {
            return crate::ops::complex_math::vector_norm(&x, p, dims, keepdim);
        }
        if !x.dtype().is_float() {
            bail!(
                "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
                legacy_short(x.dtype())
            );
        }
        let a = x.unary(crate::ops::Unary::Abs)?;
        if p == 2.0 {
            return norm2(&x, dims, keepdim);
        }
        if p.is_infinite() {
            return a.amax_dims(dims, keepdim, p > 0.0, "LinalgVectorNormBackward0");
        }
        if p == 0.0 {
            return a.ne_zero_count(dims, keepdim);
        }
        if p == 1.0 {
            return a.sum_dims(dims, keepdim, None);
        }
        a.pow_s(p)?.sum_dims(dims, keepdim, None)?.pow_s(1.0 / p)
    }

    fn ne_zero_count(&self, dims: &[i64], keepdim: bool) -> Result<Tensor> {
        let nz =
            crate::autograd::no_grad(|| self.binary(&self.zeros_like()?, crate::ops::Binary::Ne))?
                .to_dtype(self.dtype())?;
        let r = nz.sum_dims(dims, keepdim, None)?;
        // Zero gradient, as PyTorch.
        Ok(unary_record(
            "LinalgVectorNormBackward0",
            r.detach(),
            self,
            vec![],
            |c: &BackCtx| Ok(vec![Some(c.grad(0)?.zeros_like()?)]),
        ))
    }

    pub fn all_any(&self, dims: &[i64], keepdim: bool, all: bool) -> Result<Tensor> {
        let b = if self.dtype() == DType::Bool {
            self.clone()
        } else {
            self.binary(&self.zeros_like()?, crate::ops::Binary::Ne)?
        };
        let dims_n = norm_dims(dims, b.ndim(), if all { "all" } else { "any" })?;
        let shape = out_shape(b.shape(), &dims_n, keepdim);
        let op = if all { Red::All } else { Red::Any };
        let out = backend::of(&b)
            .reduce(&b, &dims_n, &shape, op, DType::Bool)?
            .0;
        if self.dtype() == DType::U8 {
            return out.cast_raw(DType::U8);
        }
        Ok(out)
    }

    /// cumsum / cumprod along a dim.
    pub fn cumulative(&self, dim: i64, prod: bool, dtype: Option<DType>) -> Result<Tensor> {
        let opn = if prod { "cumprod" } else { "cumsum" };
        if self.is_complex() && dtype.is_none_or(|d| d == self.dtype()) {
            return crate::ops::complex::cumsum(self, dim, prod);
        }
        let mut x = match dtype {
            Some(dt) => self.to_dtype(dt)?,
            None => self.clone(),
        };
        if !x.dtype().is_float() && dtype.is_none() {
            x = x.to_dtype(DType::I64)?;
        }
        if let Some(t) = x.upcast_half()? {
            return t.cumulative(dim, prod, None)?.to_dtype(x.dtype());
        }
        if x.ndim() == 0 {
            return x.clone_t();
        }
        let d = wrap_dim(dim, x.ndim(), opn)?;
        let out = backend::of(&x).scan(&x, d, prod)?;
        let dt = out.dtype();
        if !dt.is_float() || !any_requires_grad(&[&x]) {
            return Ok(out);
        }
        let saved = if prod {
            vec![x.clone(), out.detach()]
        } else {
            vec![]
        };
        record(
            if prod {
                "CumprodBackward0"
            } else {
                "CumsumBackward0"
            },
            &[&out],
            &[&x],
            saved,
            move |c: &BackCtx| {
                let g = c.grad(0)?;
                let di = d as i64;
                if !prod {
                    return Ok(vec![Some(
                        g.flip(&[di])?.cumulative(di, false, None)?.flip(&[di])?,
                    )]);
                }
                let xs = &c.saved[0];
                if !crate::autograd::grad_enabled() {
                    return Ok(vec![Some(crate::ops::extra::cumprod_backward_exact(
                        xs, g, d,
                    )?)]);
                }
                // Building a higher-order graph: recompute the output from the input.
                let y = &xs.cumulative(d as i64, true, None)?;
                // For inputs without zeros: sum_{k>=i} g_k y_k / x_i.
                let r = g
                    .mul(y)?
                    .flip(&[di])?
                    .cumulative(di, false, None)?
                    .flip(&[di])?;
                Ok(vec![Some(r.div(xs)?)])
            },
        );
        Ok(out)
    }

    pub fn softmax(&self, dim: i64, log: bool) -> Result<Tensor> {
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.to_dtype(DType::F32)?
        };
        if let Some(t) = x.upcast_half()? {
            return t.softmax(dim, log)?.to_dtype(x.dtype());
        }
        if x.ndim() == 0 {
            return if log {
                x.mul_s(0.0)
            } else {
                x.mul_s(0.0)?.add_s(1.0)
            };
        }
        let d = wrap_dim(dim, x.ndim(), if log { "log_softmax" } else { "softmax" })?;
        let out = backend::of(&x).softmax(&x, d, log)?;
        x.softmax_record(d, log, out)
    }

    fn softmax_record(&self, d: usize, log: bool, out: Tensor) -> Result<Tensor> {
        let x = self;
        if !any_requires_grad(&[x]) {
            return Ok(out);
        }
        record(
            if log {
                "LogSoftmaxBackward0"
            } else {
                "SoftmaxBackward0"
            },
            &[&out],
            &[x],
            vec![x.clone(), out.detach()],
            move |c: &BackCtx| {
                let g = c.grad(0)?;
                let di = d as i64;
                let y = if crate::autograd::grad_enabled() {
                    c.saved[0].softmax(di, log)?
                } else {
                    c.saved[1].clone()
                };
                if log {
                    let s = g.sum_dims(&[di], true, None)?;
                    Ok(vec![Some(
                        g.sub(&y.unary(crate::ops::Unary::Exp)?.mul(&s)?)?,
                    )])
                } else {
                    let s = g.mul(&y)?.sum_dims(&[di], true, None)?;
                    Ok(vec![Some(y.mul(&g.sub(&s)?)?)])
                }
            },
        );
        Ok(out)
    }
}

fn exclusive_cumprod(x: &Tensor, d: i64) -> Result<Tensor> {
    // [1, x0, x0*x1, ...] along d
    let n = x.shape()[d as usize];
    if n == 0 {
        return Ok(x.clone());
    }
    let ones = x.narrow(d, 0, 1)?.ones_like()?;
    let head = x.narrow(d, 0, n - 1)?;
    Tensor::cat(&[&ones, &head], d)?.cumulative(d, true, None)
}

fn norm2(x: &Tensor, dims: &[i64], keepdim: bool) -> Result<Tensor> {
    let dims_n = norm_dims(dims, x.ndim(), "norm")?;
    let sq = crate::autograd::no_grad(|| {
        x.mul(x)?
            .sum_dims(dims, keepdim, None)?
            .unary(crate::ops::Unary::Sqrt)
    })?;
    let out = sq.detach();
    let in_shape = x.shape().to_vec();
    Ok(unary_record(
        "LinalgVectorNormBackward0",
        out.clone(),
        x,
        vec![x.clone(), out],
        move |c: &BackCtx| {
            let (x, n) = (&c.saved[0], &c.saved[1]);
            let n = if crate::autograd::grad_enabled() {
                norm2(
                    x,
                    &dims_n.iter().map(|&d| d as i64).collect::<Vec<_>>(),
                    keepdim,
                )?
            } else {
                n.clone()
            };
            let g = expand_grad(c.grad(0)?, &in_shape, &dims_n, keepdim)?;
            let n = expand_grad(&n, &in_shape, &dims_n, keepdim)?;
            let r = x.mul(&g)?.div(&n)?;
            let zero = n.eq_t(&n.zeros_like()?)?;
            Ok(vec![Some(Tensor::where_(&zero, &r.zeros_like()?, &r)?)])
        },
    ))
}

fn legacy_short(d: DType) -> &'static str {
    match d {
        DType::Bool => "Bool",
        DType::U8 => "Byte",
        DType::I8 => "Char",
        DType::I16 => "Short",
        DType::I32 => "Int",
        DType::I64 => "Long",
        DType::F16 => "Half",
        DType::BF16 => "BFloat16",
        DType::F32 => "Float",
        DType::F64 => "Double",
        DType::C64 | DType::C128 => d.scalar_type_name(),
    }
}
