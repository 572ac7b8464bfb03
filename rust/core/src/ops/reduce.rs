//! Reductions (sum, mean, prod, max/min, var/std, norms, logsumexp, all/any),
//! scans (cumsum/cumprod) and softmax.

use crate::autograd::{any_requires_grad, record, unary_record, BackCtx};
use crate::cpu;
use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::layout::{wrap_dim, Layout};
use crate::storage::{CpuData, CpuElement};
use crate::tensor::Tensor;
use crate::wgpu::kernels as gpu;
use crate::{bail, dispatch, dispatch_float};
use num_traits::Float;
use rayon::prelude::*;

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
        if cpu::use_par(outer * inner) && outer > 1 {
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
        return cpu::simd::sum_f32(s32);
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
        if let Some(dt) = dtype {
            if dt != self.dtype() {
                return self.to_dtype(dt)?.sum_dims(dims, keepdim, None);
            }
        }
        if let Some(t) = self.upcast_half()? {
            return t.sum_dims(dims, keepdim, None)?.to_dtype(self.dtype());
        }
        let dims_n = norm_dims(dims, self.ndim(), "sum")?;
        let shape = out_shape(self.shape(), &dims_n, keepdim);
        let dt = self.dtype();
        let out = if self.is_gpu() {
            let (x, odt) = if dt.is_float() {
                (self.clone(), dt)
            } else {
                (self.cast_raw_if_raw(DType::I64)?, DType::I64)
            };
            gpu::reduce(&x, &dims_n, &shape, gpu::Red::Sum, odt)?.0
        } else {
            let data = if dt.is_float() {
                dispatch_float!(dt, T => T::wrap(self.sum_float::<T>(&dims_n)?), unreachable!())
            } else {
                let v = dispatch!(dt, T => reduce_chunks::<T, i64>(self, &dims_n, |c| c.iter().fold(0i64, |a, &x| a.wrapping_add(x.to_i64())))?);
                CpuData::I64(v)
            };
            Tensor::from_cpu(data, &shape)
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

    fn sum_float<T: CpuElement + Float>(&self, dims: &[usize]) -> Result<Vec<T>> {
        // Fast path: reducing leading dims of a contiguous tensor (bias gradients).
        let nd = self.ndim();
        let k = dims.len();
        if self.is_contiguous() && k > 0 && k < nd && dims.iter().enumerate().all(|(i, &d)| i == d)
        {
            let rows: usize = self.shape()[..k].iter().product();
            let cols: usize = self.shape()[k..].iter().product();
            let off = self.layout().offset;
            return self.with_cpu(|d, _| {
                let s = &T::slice(d)[off..off + rows * cols];
                if let Some(s32) = as_f32(s) {
                    // f32 lanes over blocks of 64 rows, blocks combined in f64.
                    let mut acc64 = vec![0f64; cols];
                    let mut acc = vec![0f32; cols];
                    for block in s32.chunks((cols * 64).max(1)) {
                        acc.fill(0.0);
                        for r in block.chunks(cols.max(1)) {
                            cpu::simd::map2_inplace(&mut acc, r, |a: f32, b: f32| a + b);
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
        reduce_chunks::<T, T>(self, dims, |c| T::from_f64(sum_slice(c)))
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
        let out = if self.is_gpu() {
            let (x, odt) = if dt.is_float() {
                (self.clone(), dt)
            } else {
                (self.cast_raw_if_raw(DType::I64)?, DType::I64)
            };
            gpu::reduce(&x, &dims_n, &shape, gpu::Red::Prod, odt)?.0
        } else {
            let data = if dt.is_float() {
                dispatch_float!(dt, T => T::wrap(reduce_chunks::<T, T>(self, &dims_n, |c| c.iter().fold(T::one_v(), |a, &x| a * x))?), unreachable!())
            } else {
                CpuData::I64(
                    dispatch!(dt, T => reduce_chunks::<T, i64>(self, &dims_n, |c| c.iter().fold(1i64, |a, &x| a.wrapping_mul(x.to_i64())))?),
                )
            };
            Tensor::from_cpu(data, &shape)
        };
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
        let out = if self.is_gpu() {
            let op = if is_max { gpu::Red::Max } else { gpu::Red::Min };
            gpu::reduce(self, &dims_n, &shape, op, dt)?.0
        } else {
            let data = dispatch!(dt, T => T::wrap(reduce_chunks::<T, T>(self, &dims_n, |c| {
            let mut best = c[0];
            for &x in &c[1..] {
                if best.is_nan_v() { break; }
                if x.is_nan_v() || (is_max && x > best) || (!is_max && x < best) { best = x; }
            }
            best
        })?));
            Tensor::from_cpu(data, &shape)
        };
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
        let (values, indices) = if self.is_gpu() {
            let op = if is_max {
                gpu::Red::ArgMax
            } else {
                gpu::Red::ArgMin
            };
            let (v, i) = gpu::reduce(self, &dims_n, &shape, op, dt)?;
            (v, i.expect("arg reduction returns indices"))
        } else {
            let pairs: Vec<(CpuData, Vec<i64>)> = vec![dispatch!(dt, T => {
                let r = reduce_chunks::<T, (T, i64)>(self, &dims_n, |c| {
                    let mut bi = 0usize;
                    for (i, &x) in c.iter().enumerate() {
                        let b = c[bi];
                        if b.is_nan_v() { break; }
                        if x.is_nan_v() || (is_max && x > b) || (!is_max && x < b) { bi = i; }
                    }
                    (c[bi], bi as i64)
                })?;
                let (v, i): (Vec<T>, Vec<i64>) = r.into_iter().unzip();
                (T::wrap(v), i)
            })];
            let (vals, idx) = pairs.into_iter().next().unwrap();
            (
                Tensor::from_cpu(vals, &shape),
                Tensor::from_vec(idx, &shape),
            )
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
        let dt = self.dtype();
        let out = if self.is_gpu() {
            let di: Vec<i64> = dims_n.iter().map(|&d| d as i64).collect();
            crate::autograd::no_grad(|| -> Result<Tensor> {
                let x = self.detach();
                let m = x.sum_dims(&di, true, None)?.div_s(n as f64)?;
                let d = x.sub(&m)?;
                d.mul(&d)?
                    .sum_dims(&di, keepdim, None)?
                    .div_s((n as f64 - correction).max(0.0))
            })?
        } else {
            let data = dispatch_float!(dt, T => T::wrap(reduce_chunks::<T, T>(self, &dims_n, |c| {
            let m = sum_slice(c) / c.len() as f64;
            let ss: f64 = c.iter().map(|&x| { let d = x.to_f64() - m; d * d }).sum();
            T::from_f64(ss / (c.len() as f64 - correction).max(0.0))
        })?), unreachable!());
            Tensor::from_cpu(data, &shape)
        };
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
        if b.is_gpu() {
            let op = if all { gpu::Red::All } else { gpu::Red::Any };
            let out = gpu::reduce(&b, &dims_n, &shape, op, DType::Bool)?.0;
            return if self.dtype() == DType::U8 {
                out.cast_raw(DType::U8)
            } else {
                Ok(out)
            };
        }
        let v = reduce_chunks::<bool, bool>(&b, &dims_n, |c| {
            if all {
                c.iter().all(|&x| x)
            } else {
                c.iter().any(|&x| x)
            }
        })?;
        let out = Tensor::from_vec(v, &shape);
        if self.dtype() == DType::U8 {
            return out.cast_raw(DType::U8);
        }
        Ok(out)
    }

    /// cumsum / cumprod along a dim.
    pub fn cumulative(&self, dim: i64, prod: bool, dtype: Option<DType>) -> Result<Tensor> {
        let opn = if prod { "cumprod" } else { "cumsum" };
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
        let out = if x.is_gpu() && crate::wgpu::wgsl_type(x.dtype()) != "u32" {
            crate::wgpu::kernels::scan(&x, d, prod)?
        } else {
            x.cumulative_host(d, prod)?
        };
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

    /// The serial cumsum/cumprod loop (CPU tensors, and GPU dtypes without a
    /// scan kernel, through a host copy): a contiguous tensor on x's device.
    fn cumulative_host(&self, d: usize, prod: bool) -> Result<Tensor> {
        let dev = self.device();
        let xc = self.contiguous()?.host()?;
        let shape = xc.shape().to_vec();
        let len = shape[d];
        let stride = xc.strides()[d];
        let bases = cpu::line_bases(xc.layout(), d);
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
        Tensor::from_cpu_on(data, &shape, dev)
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
        // An empty tensor has an empty result (the gpu path's amax would refuse an empty dim).
        if x.is_gpu() && x.numel() == 0 {
            return x.mul_s(0.0);
        }
        if x.is_gpu() {
            let out = crate::autograd::no_grad(|| -> Result<Tensor> {
                let xd = x.detach();
                let m = xd.amax_dims(&[d as i64], true, true, "AmaxBackward0")?;
                // Rows that are all -inf (or hold +inf) keep PyTorch's NaN/inf results.
                let z = xd.sub(&m)?;
                let e = z.unary(crate::ops::Unary::Exp)?;
                let s = e.sum_dims(&[d as i64], true, None)?;
                if log {
                    z.sub(&s.unary(crate::ops::Unary::Log)?)
                } else {
                    e.div(&s)
                }
            })?;
            return x.softmax_record(d, log, out);
        }
        let xc = x.contiguous()?;
        let shape = xc.shape().to_vec();
        let len = shape[d];
        let stride = xc.strides()[d];
        let off = xc.layout().offset;
        let dt = xc.dtype();
        let data = dispatch_float!(dt, T => {
            let mut out = vec![T::zero_v(); xc.numel()];
            xc.with_cpu(|dd, _| {
                let s = &T::slice(dd)[off..off + xc.numel()];
                if stride == 1 {
                    let work = |(o, i): (&mut [T], &[T])| cpu::softmax::softmax_line(i, o, log);
                    if cpu::use_par(xc.numel()) {
                        out.par_chunks_mut(len.max(1)).zip(s.par_chunks(len.max(1))).for_each(work);
                    } else {
                        out.chunks_mut(len.max(1)).zip(s.chunks(len.max(1))).for_each(work);
                    }
                } else {
                    let bases = cpu::line_bases(&Layout::contiguous(&shape), d);
                    let mut line = vec![T::zero_v(); len];
                    let mut res = vec![T::zero_v(); len];
                    for &b in &bases {
                        for k in 0..len { line[k] = s[b + k * stride]; }
                        cpu::softmax::softmax_line(&line, &mut res, log);
                        for k in 0..len { out[b + k * stride] = res[k]; }
                    }
                }
            })?;
            T::wrap(out)
        }, unreachable!());
        let out = Tensor::from_cpu(data, &shape);
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
    }
}
