//! Index-based ops: gather, scatter(_add), index_select, index_add, masked_fill.

use crate::autograd::{any_requires_grad, record, BackCtx};
use crate::dtype::{DType, Element, Scalar};
use crate::error::Result;
use crate::layout::wrap_dim;
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use crate::wgpu::kernels as gpu;
use crate::{bail, dispatch, rt_err};

/// Visit every multi-index of `shape` in row-major order.
pub fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    let n: usize = shape.iter().product();
    if n == 0 {
        return;
    }
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        f(&idx);
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

fn check_index_dtype(idx: &Tensor, op: &str) -> Result<()> {
    if idx.dtype() != DType::I64 && idx.dtype() != DType::I32 {
        bail!("{op}(): Expected dtype int64 for index");
    }
    Ok(())
}

/// Index values as i64 in row-major order.
pub fn index_values(idx: &Tensor) -> Result<Vec<i64>> {
    crate::layout::check_alloc(idx.numel().saturating_mul(8), "index")?;
    let c = idx.contiguous()?;
    dispatch!(c.dtype(), T => Ok(c.to_vec::<T>()?.into_iter().map(|x| x.to_i64()).collect()))
}

/// An index of gather/scatter/index_select/index_add: PyTorch takes no
/// negative index here and raises RuntimeError (not IndexError) for one out
/// of range, with index_select's own message.
fn wrap_index(i: i64, n: usize, op: &str, dim: usize) -> Result<usize> {
    if i < 0 || i >= n as i64 {
        return Err(if op == "index_select" {
            rt_err!("INDICES element is out of DATA bounds, id={i} axis_dim={n}")
        } else {
            rt_err!("index {i} is out of bounds for dimension {dim} with size {n}")
        });
    }
    Ok(i as usize)
}

impl Tensor {
    pub fn gather(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        self.gather_reporting(dim, index, crate::wgpu::ERR_GATHER)
    }

    /// gather whose out-of-range indices a GPU kernel reports as op `code`
    /// (crate::wgpu::ERR_*): nll_loss uses it to name a bad target. Only
    /// ERR_GATHER lets negative indices count from the end there.
    pub fn gather_reporting(&self, dim: i64, index: &Tensor, code: u32) -> Result<Tensor> {
        check_index_dtype(index, "gather")?;
        if self.is_complex() && self.ndim() > 0 && index.ndim() == self.ndim() {
            // On the (re, im) view, each index picks both parts: the kernels
            // (host and gpu) never see a complex storage.
            let d = wrap_dim(dim, self.ndim(), "gather")?;
            let mut ishape = index.shape().to_vec();
            ishape.push(2);
            let idx = index.unsqueeze(index.ndim())?.expand(&ishape)?;
            return self
                .view_as_real()?
                .gather_reporting(d as i64, &idx, code)?
                .contiguous()?
                .view_as_complex();
        }
        let nd = self.ndim().max(1);
        let d = wrap_dim(dim, self.ndim(), "gather")?;
        if index.ndim().max(1) != nd {
            bail!("Index tensor must have the same number of dimensions as input tensor");
        }
        let xs = if self.ndim() == 0 {
            self.reshape(&[1])?
        } else {
            self.clone()
        };
        for k in 0..index.ndim() {
            if k != d && index.shape()[k] > xs.shape()[k] {
                bail!(
                    "Size does not match at dimension {} expected index {:?} to be smaller than self {:?} apart from dimension {}",
                    k,
                    index.shape(),
                    self.shape(),
                    d
                );
            }
        }
        let ishape = index.shape().to_vec();
        let out = if xs.is_gpu() {
            let idx = index.to_device_raw(xs.device())?;
            let ish = if ishape.is_empty() {
                vec![1]
            } else {
                ishape.clone()
            };
            let li = idx.layout().broadcast_to(&ish)?;
            let li = if ishape.is_empty() {
                crate::layout::Layout {
                    shape: vec![1],
                    strides: vec![0],
                    offset: li.offset,
                }
            } else {
                li
            };
            let o = gpu::gather(&xs, d, &idx, &li, &ish, code, false)?;
            if ishape.is_empty() {
                o.reshape(&[])?
            } else {
                o
            }
        } else {
            xs.gather_cpu(d, index, &ishape)?
        };
        if out.dtype().is_float() && any_requires_grad(&[self]) {
            let in_shape = self.shape().to_vec();
            let idx = index.clone();
            record(
                "GatherBackward0",
                &[&out],
                &[self],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    let z = Tensor::zeros_on(&in_shape, g.dtype(), g.device())?;
                    Ok(vec![Some(z.scatter_add(d as i64, &idx, g)?)])
                },
            );
        }
        Ok(out)
    }

    fn gather_cpu(&self, d: usize, index: &Tensor, ishape: &[usize]) -> Result<Tensor> {
        let xs = self;
        let ishape = ishape.to_vec();
        let iv = index_values(index)?;
        let l = xs.layout().clone();
        let n = l.shape[d];
        let mut offs = crate::layout::try_vec(iv.len(), "gather")?;
        let mut k = 0;
        let mut err = None;
        let ishape_it = if ishape.is_empty() {
            vec![1]
        } else {
            ishape.clone()
        };
        for_each_index(&ishape_it, |ix| {
            let mut o = l.offset;
            for (q, &v) in ix.iter().enumerate() {
                if q == d {
                    match wrap_index(iv[k], n, "gather", d) {
                        Ok(i) => o += i * l.strides[q],
                        Err(e) => err = Some(e),
                    }
                } else {
                    o += v * l.strides[q];
                }
            }
            offs.push(o);
            k += 1;
        });
        if let Some(e) = err {
            return Err(e);
        }
        xs.gather_offsets(&offs, &ishape)
    }

    /// Shared kernel of scatter / scatter_add / scatter_reduce: writes `src` values
    /// (or a scalar) into a copy of self at index positions along `dim`.
    /// Out-of-place scatter_add (or, with `replace`, scatter) on the GPU
    /// (shapes already checked); index errors are reported as op `code` at
    /// the next read to the host.
    pub(crate) fn scatter_gpu(
        &self,
        d: usize,
        index: &Tensor,
        src: &Tensor,
        code: u32,
        replace: bool,
    ) -> Result<Tensor> {
        crate::ops::complex::refuse("scatter", &[self, src])?;
        let dev = self.device();
        let s = src.to_dtype(self.dtype())?.to_device_raw(dev)?;
        let idx = index.to_device_raw(dev)?;
        let out = self.clone_data()?;
        let ishape = index.shape().to_vec();
        let ls = crate::layout::Layout {
            shape: ishape.clone(),
            strides: s.strides().to_vec(),
            offset: s.layout().offset,
        };
        gpu::scatter_add_into(
            &out,
            d,
            &idx,
            idx.layout(),
            &s,
            &ls,
            &ishape,
            code,
            // Only advanced indexing (index_put) wraps negative indices; scatter,
            // scatter_add and index_add report them, as PyTorch.
            code == crate::wgpu::ERR_INDEX_PUT,
            replace,
        )?;
        Ok(out)
    }

    fn scatter_impl(
        &self,
        dim: i64,
        index: &Tensor,
        src: Option<&Tensor>,
        value: Option<Scalar>,
        reduce: &str,
    ) -> Result<Tensor> {
        crate::ops::complex::refuse("scatter", &[self])?;
        check_index_dtype(index, "scatter")?;
        let d = wrap_dim(dim, self.ndim(), "scatter")?;
        if index.ndim() != self.ndim() && !(index.ndim() <= 1 && self.ndim() <= 1) {
            bail!("Index tensor must have the same number of dimensions as self tensor");
        }
        if let Some(s) = src {
            if s.ndim() != index.ndim() && !(index.ndim() <= 1 && s.ndim() <= 1) {
                bail!("Index tensor must have the same number of dimensions as src tensor");
            }
            for k in 0..index.ndim() {
                if index.shape()[k] > s.shape()[k] {
                    bail!("Expected index {:?} to be smaller than self {:?} apart from dimension {} and to be smaller size than src {:?}", index.shape(), self.shape(), d, s.shape());
                }
            }
        }
        let mut ts: Vec<&Tensor> = vec![self, index];
        ts.extend(src);
        if crate::ops::device::any_gpu(&ts) {
            let dev = crate::ops::device::common_device(&ts, "scatter")?;
            let replace = reduce.is_empty();
            let native = (reduce == "add" && self.dtype() != DType::Bool || replace)
                && self.ndim() > 0
                && index.ndim() == self.ndim();
            if native {
                for k in 0..index.ndim() {
                    if k != d && index.shape()[k] > self.shape()[k] {
                        bail!("Size does not match at dimension {} expected index {:?} to be smaller than self {:?} apart from dimension {}", k, index.shape(), self.shape(), d);
                    }
                }
                let filled;
                let src = match (src, value) {
                    (Some(s), _) => s,
                    (None, Some(v)) => {
                        filled = Tensor::full_on(index.shape(), v, self.dtype(), dev)?;
                        &filled
                    }
                    (None, None) => bail!("scatter(): expected a src tensor or a value"),
                };
                let code = if replace {
                    crate::wgpu::ERR_SCATTER
                } else {
                    crate::wgpu::ERR_SCATTER_ADD
                };
                return self.scatter_gpu(d, index, src, code, replace);
            }
            let hs = match src {
                Some(t) => Some(t.host()?),
                None => None,
            };
            let r = self
                .host()?
                .scatter_impl(dim, &index.host()?, hs.as_ref(), value, reduce)?;
            return r.to_device_raw(dev);
        }
        let out = self.clone_data()?;
        let iv = index_values(index)?;
        let ishape = if index.ndim() == 0 {
            vec![1]
        } else {
            index.shape().to_vec()
        };
        let ol = if out.ndim() == 0 {
            crate::layout::Layout::contiguous(&[1])
        } else {
            out.layout().clone()
        };
        let n = ol.shape[d];
        let src_c = match src {
            Some(s) => Some(s.to_dtype(self.dtype())?),
            None => None,
        };
        let sl = src_c.as_ref().map(|s| {
            if s.ndim() == 0 {
                crate::layout::Layout::contiguous(&[1])
            } else {
                s.layout().clone()
            }
        });
        let mut pairs: Vec<(usize, usize)> = crate::layout::try_vec(iv.len(), "scatter")?;
        let mut k = 0;
        let mut err = None;
        for_each_index(&ishape, |ix| {
            let mut o = 0;
            let mut so = sl.as_ref().map(|l| l.offset).unwrap_or(0);
            for (q, &v) in ix.iter().enumerate() {
                if q == d {
                    match wrap_index(iv[k], n, "scatter", d) {
                        Ok(i) => o += i * ol.strides[q],
                        Err(e) => err = Some(e),
                    }
                } else {
                    o += v * ol.strides[q];
                }
                if let Some(l) = &sl {
                    so += v * l.strides[q];
                }
            }
            pairs.push((o, so));
            k += 1;
        });
        if let Some(e) = err {
            return Err(e);
        }
        {
            let mut og = out.storage().write();
            let sg = src_c.as_ref().map(|s| s.storage().read());
            dispatch!(self.dtype(), T => {
                let od = T::slice_mut(og.cpu_mut());
                let sd: Option<&[T]> = sg.as_ref().map(|g| T::slice(g.cpu()));
                let val = value.map(T::from_scalar);
                let mut counts = if reduce == "mean" { vec![1usize; od.len()] } else { vec![] };
                let mut first = if matches!(reduce, "amax" | "amin" | "prod" | "mean") { vec![true; od.len()] } else { vec![] };
                let _ = &mut first;
                for &(o, so) in &pairs {
                    let v = match (sd, val) { (Some(s), _) => s[so], (None, Some(v)) => v, _ => T::zero_v() };
                    od[o] = match reduce {
                        "add" | "sum" => add_e(od[o], v),
                        "mean" => { counts[o] += 1; add_e(od[o], v) }
                        "multiply" | "prod" => T::from_f64(od[o].to_f64() * v.to_f64()),
                        "amax" => if v > od[o] || v.is_nan_v() { v } else { od[o] },
                        "amin" => if v < od[o] || v.is_nan_v() { v } else { od[o] },
                        _ => v,
                    };
                }
                if reduce == "mean" {
                    for (o, &c) in od.iter_mut().zip(&counts) {
                        if c > 1 {
                            *o = if T::DTYPE.is_float() { T::from_f64(o.to_f64() / c as f64) } else { T::from_i64(o.to_i64().div_euclid(c as i64)) };
                        }
                    }
                }
            });
        }
        Ok(out)
    }

    pub fn scatter_add(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        if self.is_complex() || src.is_complex() {
            return crate::ops::complex_index::scatter(self, dim, index, src, true);
        }
        let out = self.scatter_impl(dim, index, Some(src), None, "add")?;
        if out.dtype().is_float() && any_requires_grad(&[self, src]) {
            let idx = index.clone();
            record(
                "ScatterAddBackward0",
                &[&out],
                &[self, src],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    Ok(vec![
                        if c.needs[0] { Some(g.clone()) } else { None },
                        if c.needs[1] {
                            Some(g.gather(dim, &idx)?)
                        } else {
                            None
                        },
                    ])
                },
            );
        }
        Ok(out)
    }

    pub fn scatter(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        if self.is_complex() || src.is_complex() {
            return crate::ops::complex_index::scatter(self, dim, index, src, false);
        }
        let out = self.scatter_impl(dim, index, Some(src), None, "")?;
        if out.dtype().is_float() && any_requires_grad(&[self, src]) {
            let idx = index.clone();
            record(
                "ScatterBackward0",
                &[&out],
                &[self, src],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    let gs = if c.needs[0] {
                        Some(g.scatter_value(dim, &idx, Scalar::Float(0.0))?)
                    } else {
                        None
                    };
                    let gsrc = if c.needs[1] {
                        Some(g.gather(dim, &idx)?)
                    } else {
                        None
                    };
                    Ok(vec![gs, gsrc])
                },
            );
        }
        Ok(out)
    }

    pub fn scatter_value(&self, dim: i64, index: &Tensor, value: Scalar) -> Result<Tensor> {
        if self.is_complex() {
            return crate::ops::complex_index::scatter_value(self, dim, index, value);
        }
        let out = self.scatter_impl(dim, index, None, Some(value), "")?;
        if out.dtype().is_float() && any_requires_grad(&[self]) {
            let idx = index.clone();
            record(
                "ScatterBackward1",
                &[&out],
                &[self],
                vec![],
                move |c: &BackCtx| {
                    Ok(vec![Some(c.grad(0)?.scatter_value(
                        dim,
                        &idx,
                        Scalar::Float(0.0),
                    )?)])
                },
            );
        }
        Ok(out)
    }

    /// scatter_reduce(dim, index, src, reduce, include_self=True) without autograd
    /// for amax/amin/prod/mean (sum differentiates like scatter_add).
    pub fn scatter_reduce_raw(
        &self,
        dim: i64,
        index: &Tensor,
        src: &Tensor,
        reduce: &str,
        include_self: bool,
    ) -> Result<Tensor> {
        if !matches!(reduce, "sum" | "prod" | "mean" | "amax" | "amin") {
            bail!("reduce argument must be either sum, prod, mean, amax or amin, got {reduce}");
        }
        if reduce == "sum" && include_self {
            return self.scatter_impl(dim, index, Some(src), None, "add");
        }
        if !include_self {
            // Positions that receive values start from the reduction's identity.
            let ident = match reduce {
                "sum" | "mean" => Scalar::Float(0.0),
                "prod" => Scalar::Float(1.0),
                "amax" => Scalar::Float(f64::NEG_INFINITY),
                _ => Scalar::Float(f64::INFINITY),
            };
            let base = self.scatter_value(dim, index, ident)?;
            let r = base.scatter_impl(
                dim,
                index,
                Some(src),
                None,
                if reduce == "mean" { "sum" } else { reduce },
            )?;
            if reduce == "mean" {
                let ones = src.ones_like()?;
                let cnt = self
                    .zeros_like()?
                    .scatter_impl(dim, index, Some(&ones), None, "add")?;
                let cnt = cnt.clamp_s(Some(1.0), None)?;
                let hit = cnt.ge_s(1.0)?;
                let avg = if self.dtype().is_float() {
                    r.div(&cnt)?
                } else {
                    r.binary(&cnt, crate::ops::Binary::FloorDiv)?
                };
                let touched = self
                    .zeros_like()?
                    .scatter_impl(dim, index, Some(&ones), None, "add")?
                    .gt_s(0.0)?;
                let _ = hit;
                return Tensor::where_(&touched, &avg, self);
            }
            return Ok(r);
        }
        self.scatter_impl(dim, index, Some(src), None, reduce)
    }

    pub fn index_select(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        self.index_select_reporting(dim, index, crate::wgpu::ERR_INDEX_SELECT)
    }

    /// index_select whose out-of-range indices a GPU kernel reports as op
    /// `code` (crate::wgpu::ERR_*).
    pub(crate) fn index_select_reporting(
        &self,
        dim: i64,
        index: &Tensor,
        code: u32,
    ) -> Result<Tensor> {
        check_index_dtype(index, "index_select")?;
        if index.ndim() > 1 {
            bail!("index_select(): Index is supposed to be a vector");
        }
        if self.is_complex() && self.ndim() > 0 {
            // Rows of (re, im) pairs: the same selection on the real view.
            let d = wrap_dim(dim, self.ndim(), "index_select")?;
            return self
                .view_as_real()?
                .index_select_reporting(d as i64, index, code)?
                .contiguous()?
                .view_as_complex();
        }
        let xs = if self.ndim() == 0 {
            self.reshape(&[1])?
        } else {
            self.clone()
        };
        let d = wrap_dim(dim, xs.ndim(), "index_select")?;
        if xs.is_gpu() {
            let idx = index.to_device_raw(xs.device())?;
            let k = index.numel();
            let mut shape = xs.shape().to_vec();
            shape[d] = k;
            let mut strides = vec![0usize; shape.len()];
            strides[d] = if idx.ndim() == 0 { 0 } else { idx.strides()[0] };
            let li = crate::layout::Layout {
                shape: shape.clone(),
                strides,
                offset: idx.layout().offset,
            };
            // No wrapping: index_select takes no negative index, and advanced
            // indexing passes indices it already wrapped (a second wrap would
            // turn an index below -size into a valid one).
            let o = gpu::gather(&xs, d, &idx, &li, &shape, code, false)?;
            let out = if self.ndim() == 0 { o.reshape(&[])? } else { o };
            return self.index_select_record(d, index, out);
        }
        let iv = index_values(index)?;
        let n = xs.shape()[d];
        let l = xs.layout().clone();
        let mut shape = l.shape.clone();
        shape[d] = iv.len();
        let idx: Vec<usize> = iv
            .iter()
            .map(|&i| wrap_index(i, n, "index_select", d))
            .collect::<Result<_>>()?;
        crate::layout::checked_numel(&shape, xs.dtype().size(), "index_select")?;
        if let Some(o) = crate::backend::of(&xs).index_select(&xs, d, &idx)? {
            let out = if self.ndim() == 0 { o.reshape(&[])? } else { o };
            return self.index_select_record(d, index, out);
        }
        let mut offs = crate::layout::try_vec(
            crate::layout::checked_numel(&shape, 8, "index_select")?,
            "index_select",
        )?;
        for_each_index(&shape, |ix| {
            let mut o = l.offset;
            for (q, &v) in ix.iter().enumerate() {
                o += if q == d { idx[v] } else { v } * l.strides[q];
            }
            offs.push(o);
        });
        let out_shape = if self.ndim() == 0 { vec![] } else { shape };
        let out = xs.gather_offsets(&offs, &out_shape)?;
        self.index_select_record(d, index, out)
    }

    fn index_select_record(&self, d: usize, index: &Tensor, out: Tensor) -> Result<Tensor> {
        if out.dtype().is_float() && any_requires_grad(&[self]) {
            let in_shape = self.shape().to_vec();
            let index = index.clone();
            record(
                "IndexSelectBackward0",
                &[&out],
                &[self],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    let z = if !g.is_gpu() && matches!(g.dtype(), DType::F32 | DType::F64) {
                        // A broadcast zero: the row kernel starts from a fresh
                        // zeroed table instead of copying a materialised one.
                        Tensor::zeros_on(&[], g.dtype(), g.device())?.expand(&in_shape)?
                    } else {
                        Tensor::zeros_on(&in_shape, g.dtype(), g.device())?
                    };
                    Ok(vec![Some(z.index_add(d as i64, &index, g, 1.0)?)])
                },
            );
        }
        Ok(out)
    }

    /// self.index_add(dim, index, source, alpha): out[.., index[i], ..] += alpha * source[.., i, ..]
    pub fn index_add(
        &self,
        dim: i64,
        index: &Tensor,
        source: &Tensor,
        alpha: f64,
    ) -> Result<Tensor> {
        check_index_dtype(index, "index_add")?;
        if self.is_complex() || source.is_complex() {
            return crate::ops::complex_index::index_add(self, dim, index, source, alpha);
        }
        let d = wrap_dim(dim, self.ndim(), "index_add")?;
        let iv_len = index.numel();
        let src = if alpha != 1.0 {
            source.mul_s(alpha)?
        } else {
            source.clone()
        };
        let src_b = if source.ndim() == 0 {
            src.reshape(&[1])?
        } else {
            src.clone()
        };
        if src_b.ndim() > 0 && src_b.shape()[d.min(src_b.ndim() - 1)] != iv_len {
            bail!(
                "index_add_(): Number of indices ({}) should be equal to source.size(dim) ({})",
                iv_len,
                src_b.shape()[d]
            );
        }
        if !self.is_gpu() && self.ndim() > 0 && src_b.ndim() == self.ndim() {
            // Whole rows added by the backend's kernel when it has one.
            let n = self.shape()[d];
            let idx: Vec<usize> = index_values(index)?
                .iter()
                .map(|&i| wrap_index(i, n, "index_add", d))
                .collect::<Result<_>>()?;
            let src_c = src_b.detach();
            if let Some(out) = crate::backend::of(self).index_add(self, d, &idx, &src_c)? {
                // The source's gradient: the output's gradient at the indices.
                let index = index.clone();
                return self
                    .index_add_record(&src_b, out, move |g| g.index_select(d as i64, &index));
            }
        }
        // Expand the 1-d index into a full index tensor for scatter_add.
        let mut ishape = vec![1usize; src_b.ndim()];
        ishape[d] = iv_len;
        let idx = if self.is_gpu() {
            index
                .to_device_raw(self.device())?
                .cast_raw_if_raw(DType::I64)?
                .reshape(&ishape)?
                .expand(src_b.shape())?
                .contiguous()?
        } else {
            Tensor::from_vec(index_values(index)?, &ishape)
                .expand(src_b.shape())?
                .contiguous()?
        };
        let out = crate::autograd::no_grad(|| {
            if self.is_gpu() && self.ndim() > 0 && self.dtype() != DType::Bool {
                self.scatter_gpu(d, &idx, &src_b.detach(), crate::wgpu::ERR_INDEX_ADD, false)
            } else {
                self.scatter_impl(d as i64, &idx, Some(&src_b.detach()), None, "add")
            }
        })?;
        // The source's gradient: the output's gradient at the (expanded) indices.
        self.index_add_record(&src_b, out, move |g| g.gather(d as i64, &idx))
    }

    /// Autograd of an index_add: the gradient passes to `self` unchanged and
    /// `src_grad(g)` picks the source's from the output's.
    fn index_add_record(
        &self,
        src: &Tensor,
        out: Tensor,
        src_grad: impl Fn(&Tensor) -> Result<Tensor> + Send + Sync + 'static,
    ) -> Result<Tensor> {
        if out.dtype().is_float() && any_requires_grad(&[self, src]) {
            record(
                "IndexAddBackward0",
                &[&out],
                &[self, src],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    Ok(vec![
                        if c.needs[0] { Some(g.clone()) } else { None },
                        if c.needs[1] { Some(src_grad(g)?) } else { None },
                    ])
                },
            );
        }
        Ok(out)
    }

    pub fn masked_fill(&self, mask: &Tensor, value: &Tensor) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            bail!(
                "masked_fill_ only supports boolean masks, but got mask with dtype {}",
                mask.dtype()
            );
        }
        if value.ndim() != 0 {
            bail!("masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s).", value.ndim());
        }
        let shape =
            crate::layout::broadcast_shapes(self.shape(), mask.shape()).ok_or_else(|| {
                crate::rt_err!(
                    "masked_fill: The size of the mask {:?} must match the size of the tensor {:?}",
                    mask.shape(),
                    self.shape()
                )
            })?;
        if shape != self.shape() {
            bail!(
                "masked_fill: the mask {:?} must broadcast to the tensor's shape {:?}",
                mask.shape(),
                self.shape()
            );
        }
        let v = value.to_dtype(self.dtype())?;
        Tensor::where_(mask, &v, self)
    }
}

#[inline(always)]
fn add_e<T: Element>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() + b.to_f64())
    } else if T::DTYPE == DType::Bool {
        T::from_i64((a.to_i64() != 0 || b.to_i64() != 0) as i64)
    } else {
        T::from_i64(a.to_i64().wrapping_add(b.to_i64()))
    }
}
