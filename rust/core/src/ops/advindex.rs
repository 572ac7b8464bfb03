//! Advanced indexing (aten::index / index_put) and setitem.

use crate::autograd::{any_requires_grad, grad_enabled, record, BackCtx};
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::{broadcast_shapes, Layout};
use crate::ops::shape::ViewFn;
use crate::ops::Binary;
use crate::tensor::Tensor;
use crate::{bail, idx_err};

/// Offsets into `x`'s storage for an aten::index-style indexing, plus the
/// result shape. `indices` has one optional long tensor per leading dim.
struct AdvPlan {
    offsets: Vec<usize>,
    /// Shape with the broadcast index dims first.
    shape_first: Vec<usize>,
    /// Where the index dims go in the final result (0 when not adjacent).
    insert_at: usize,
    n_index_dims: usize,
}

fn expand_bool_indices(x: &Tensor, indices: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
    let mut out = vec![];
    let mut dim = 0;
    for ix in indices {
        match ix {
            Some(t) if t.dtype() == DType::Bool || t.dtype() == DType::U8 => {
                let k = t.ndim();
                for j in 0..k {
                    if dim + j >= x.ndim() || t.shape()[j] != x.shape()[dim + j] {
                        return Err(idx_err!(
                            "The shape of the mask {:?} at index {} does not match the shape of the indexed tensor {:?} at index {}",
                            t.shape(),
                            j,
                            x.shape(),
                            dim + j
                        ));
                    }
                }
                let nz = t.nonzero()?;
                for j in 0..k {
                    out.push(Some(nz.select(1, j as i64)?));
                }
                dim += k;
            }
            Some(t) => {
                if t.dtype().is_float() {
                    return Err(idx_err!(
                        "tensors used as indices must be long, int, byte or bool tensors"
                    ));
                }
                out.push(Some(t.clone()));
                dim += 1;
            }
            None => {
                out.push(None);
                dim += 1;
            }
        }
    }
    if out.len() > x.ndim() {
        return Err(idx_err!(
            "too many indices for tensor of dimension {}",
            x.ndim()
        ));
    }
    Ok(out)
}

/// Advanced indexing's negative positions counted from the end (`size` of the
/// indexed dim): index_select and index_add take no negative index. A
/// position below `-size` is left as it is, so the kernel's bounds error
/// names the index the user wrote (-3, not the wrapped -1).
fn wrap_negative(flat: &Tensor, size: usize) -> Result<Tensor> {
    let n = Tensor::wrapped_scalar(crate::dtype::Scalar::Int(size as i64), flat.dtype());
    crate::autograd::no_grad(|| {
        let neg = flat
            .lt_s(0.0)?
            .binary(&flat.ge_s(-(size as f64))?, Binary::LogicalAnd)?;
        Tensor::where_(&neg, &flat.add(&n)?, flat)
    })
}

fn plan(x: &Tensor, indices: &[Option<Tensor>]) -> Result<AdvPlan> {
    let idx = expand_bool_indices(x, indices)?;
    let nd = x.ndim();
    let adv: Vec<usize> = (0..idx.len()).filter(|&i| idx[i].is_some()).collect();
    let mut bshape: Vec<usize> = vec![];
    for &i in &adv {
        let s = idx[i].as_ref().unwrap().shape().to_vec();
        bshape = broadcast_shapes(&bshape, &s).ok_or_else(|| {
            idx_err!(
                "shape mismatch: indexing tensors could not be broadcast together with shapes {:?}",
                adv.iter()
                    .map(|&j| idx[j].as_ref().unwrap().shape().to_vec())
                    .collect::<Vec<_>>()
            )
        })?;
    }
    let adjacent = adv.windows(2).all(|w| w[1] == w[0] + 1);
    let rest: Vec<usize> = (0..nd).filter(|d| !adv.contains(d)).collect();
    let l = x.layout();
    // Per broadcast position, the offset contributed by the indexed dims (an
    // expanded index can make this huge: fail cleanly).
    let nb = crate::layout::checked_numel(&bshape, 16, "index")?;
    let mut base = crate::layout::try_vec(nb, "index")?;
    base.resize(nb, l.offset);
    for &d in &adv {
        let t = idx[d].as_ref().unwrap().expand(&bshape)?;
        let vals = crate::ops::index::index_values(&t)?;
        let n = l.shape[d] as i64;
        for (b, &v) in base.iter_mut().zip(&vals) {
            if v < -n || v >= n {
                return Err(idx_err!(
                    "index {} is out of bounds for dimension {} with size {}",
                    v,
                    d,
                    n
                ));
            }
            let v = if v < 0 { v + n } else { v } as usize;
            *b += v * l.strides[d];
        }
    }
    let rl = Layout {
        shape: rest.iter().map(|&d| l.shape[d]).collect(),
        strides: rest.iter().map(|&d| l.strides[d]).collect(),
        offset: 0,
    };
    let roffs = rl.offsets();
    let mut offsets = crate::layout::try_vec(nb.saturating_mul(roffs.len()), "index")?;
    for &b in &base {
        for &r in &roffs {
            offsets.push(b + r);
        }
    }
    let mut shape_first = bshape.clone();
    shape_first.extend(rl.shape.iter().copied());
    let insert_at = if adjacent && !adv.is_empty() {
        adv[0]
    } else {
        0
    };
    Ok(AdvPlan {
        offsets,
        shape_first,
        insert_at,
        n_index_dims: bshape.len(),
    })
}

fn move_index_dims(t: &Tensor, p: &AdvPlan) -> Result<Tensor> {
    if p.insert_at == 0 {
        return Ok(t.clone());
    }
    let nd = t.ndim();
    let k = p.n_index_dims;
    // [B..., rest...] -> [rest[:at], B..., rest[at:]]
    let mut perm: Vec<i64> = vec![];
    for i in 0..p.insert_at {
        perm.push((k + i) as i64);
    }
    for i in 0..k {
        perm.push(i as i64);
    }
    for i in (k + p.insert_at)..nd {
        perm.push(i as i64);
    }
    t.permute(&perm)?.contiguous()
}

/// The dim and tensor of an index list with one integer tensor and nothing
/// else (x[idx], x[:, idx], ...): index_select's case, which runs on the GPU.
fn single_int_index<'a>(x: &Tensor, indices: &'a [Option<Tensor>]) -> Option<(usize, &'a Tensor)> {
    let mut found = None;
    for (d, i) in indices.iter().enumerate() {
        if let Some(t) = i {
            if found.is_some() || !matches!(t.dtype(), DType::I64 | DType::I32) {
                return None;
            }
            found = Some((d, t));
        }
    }
    found.filter(|(d, _)| *d < x.ndim())
}

/// `shape` with its dims p..p+k replaced by `with`.
fn splice_dims(shape: &[usize], p: usize, k: usize, with: &[usize]) -> Vec<usize> {
    let mut out = shape[..p].to_vec();
    out.extend_from_slice(with);
    out.extend_from_slice(&shape[p + k..]);
    out
}

/// Several integer index tensors on adjacent dims p, p+1, ... and nothing
/// else (x[i, j], x[:, i, j]): the result keeps the broadcast index shape in
/// place of those dims.
fn adjacent_int_indices<'a>(
    x: &Tensor,
    indices: &'a [Option<Tensor>],
) -> Option<(usize, Vec<&'a Tensor>)> {
    let first = indices.iter().position(|i| i.is_some())?;
    let ts: Vec<&Tensor> = indices[first..].iter().map_while(|i| i.as_ref()).collect();
    let rest_none = indices[first + ts.len()..].iter().all(|i| i.is_none());
    let ints = ts
        .iter()
        .all(|t| matches!(t.dtype(), DType::I64 | DType::I32));
    (ts.len() >= 2 && rest_none && ints && first + ts.len() <= x.ndim()).then_some((first, ts))
}

impl Tensor {
    /// x[.., i, j, ..] on the GPU: the indexed dims are merged and indexed
    /// with the flat index sum_k i_k * stride_k (negative indices wrap per
    /// dim); a position out of range in any dim becomes an out-of-range flat
    /// index, which the kernel reports at the next read to the host.
    fn index_gpu_multi(&self, p: usize, ts: &[&Tensor]) -> Result<Tensor> {
        let dev = self.device();
        let int = |k: i64| Tensor::wrapped_scalar(crate::Scalar::Int(k), DType::I64);
        let mut b: Vec<usize> = vec![];
        for t in ts {
            b = broadcast_shapes(&b, t.shape()).ok_or_else(|| {
                idx_err!(
                    "shape mismatch: indexing tensors could not be broadcast together with shapes {}",
                    ts.iter()
                        .map(|t| format!("{:?}", t.shape()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        }
        let sizes = &self.shape()[p..p + ts.len()];
        let total: usize = sizes.iter().product();
        let (flat, bad) = crate::autograd::no_grad(|| -> Result<(Tensor, Tensor)> {
            let mut flat: Option<Tensor> = None;
            let mut bad: Option<Tensor> = None;
            for (t, &n) in ts.iter().zip(sizes) {
                let t = t.to_device_raw(dev)?.to_dtype(DType::I64)?;
                let n = n as i64;
                let neg = t.binary(&int(0), Binary::Lt)?.to_dtype(DType::I64)?;
                let w = t.add(&neg.binary(&int(n), Binary::Mul)?)?;
                let out = w
                    .binary(&int(0), Binary::Lt)?
                    .binary(&w.binary(&int(n), Binary::Ge)?, Binary::LogicalOr)?;
                bad = Some(match bad {
                    Some(b) => b.binary(&out, Binary::LogicalOr)?,
                    None => out,
                });
                flat = Some(match flat {
                    Some(f) => f.binary(&int(n), Binary::Mul)?.add(&w)?,
                    None => w,
                });
            }
            match (flat, bad) {
                (Some(f), Some(b)) => Ok((f, b)),
                _ => bail!("index(): expected index tensors"),
            }
        })?;
        let flat = Tensor::where_(&bad, &int(total as i64), &flat)?
            .expand(&b)?
            .reshape(&[crate::layout::numel(&b)])?;
        let merged = splice_dims(self.shape(), p, ts.len(), &[total]);
        let sel = self.reshape(&merged)?.index_select_reporting(
            p as i64,
            &flat,
            crate::wgpu::ERR_ADV_INDEX,
        )?;
        sel.reshape(&splice_dims(self.shape(), p, ts.len(), &b))
    }

    /// x[.., idx, ..] on the GPU: index_select of the flattened index (bounds
    /// are checked by the kernel and raised at the next read to the host),
    /// reshaped; the gradient is an index_add.
    fn index_gpu(&self, d: usize, idx: &Tensor) -> Result<Tensor> {
        let flat = idx.reshape(&[idx.numel()])?;
        // Negative positions count from the end here (index_select and the
        // backward's index_add take no negative index); out-of-range ones are
        // reported as advanced indexing's IndexError.
        let flat = wrap_negative(&flat, self.shape()[d])?;
        let sel = crate::autograd::no_grad(|| {
            self.index_select_reporting(d as i64, &flat, crate::wgpu::ERR_GETITEM)
        })?;
        let shape = splice_dims(self.shape(), d, 1, idx.shape());
        let out = crate::autograd::no_grad(|| sel.reshape(&shape))?;
        if out.dtype().is_float() && any_requires_grad(&[self]) {
            let in_shape = self.shape().to_vec();
            let sel_shape = sel.shape().to_vec();
            record(
                "IndexBackward0",
                &[&out],
                &[self],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?.reshape(&sel_shape)?;
                    let z = Tensor::zeros_on(&in_shape, g.dtype(), g.device())?;
                    Ok(vec![Some(z.index_add(d as i64, &flat, &g, 1.0)?)])
                },
            );
        }
        Ok(out)
    }

    /// index_put cases with GPU kernels, composed of differentiable ops:
    /// a boolean mask of self's shape with one value (x[mask] = v, a where),
    /// and one integer index tensor with accumulate (index_add). None: no
    /// kernel for this case.
    fn index_put_gpu(
        &self,
        indices: &[Option<Tensor>],
        values: &Tensor,
        accumulate: bool,
    ) -> Result<Option<Tensor>> {
        let v = values.to_dtype(self.dtype())?;
        // Values from the host (a 0-dim scalar is a fill, not an upload).
        let v = if v.device() == self.device() {
            v
        } else {
            v.to_device(self.device())?
        };
        if let [Some(m)] = indices {
            if m.dtype() == DType::Bool && m.shape() == self.shape() && v.numel() == 1 {
                let v0 = v.reshape(&[])?;
                let m = m.to_device(self.device())?;
                return Ok(Some(if accumulate {
                    let zero = Tensor::zeros_on(&[], self.dtype(), self.device())?;
                    self.add(&Tensor::where_(&m, &v0, &zero)?)?
                } else {
                    Tensor::where_(&m, &v0, self)?
                }));
            }
        }
        let Some((d, idx)) = single_int_index(self, indices) else {
            return Ok(None);
        };
        let shape = splice_dims(self.shape(), d, 1, idx.shape());
        let v = v.expand(&shape).map_err(|_| {
            crate::rt_err!("shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {:?}", values.shape(), shape)
        })?;
        let mut flat_shape = self.shape().to_vec();
        flat_shape[d] = idx.numel();
        let v = v.reshape(&flat_shape)?;
        let flat = idx.reshape(&[idx.numel()])?;
        if accumulate {
            // index_add takes no negative index: wrap them first.
            let flat = wrap_negative(&flat, self.shape()[d])?;
            return Ok(Some(self.index_add(d as i64, &flat, &v, 1.0)?));
        }
        // x[.., idx, ..] = v: a scatter with the index spread over v's shape.
        let mut ishape = vec![1usize; flat_shape.len()];
        ishape[d] = flat.numel();
        let full = flat
            .to_device_raw(self.device())?
            .reshape(&ishape)?
            .expand(&flat_shape)?;
        let out = crate::autograd::no_grad(|| {
            self.scatter_gpu(d, &full, &v.detach(), crate::wgpu::ERR_INDEX_PUT, true)
        })?;
        self.index_put_record(indices, values, accumulate, &out);
        Ok(Some(out))
    }

    /// aten::index: x[idx0, idx1, ...] with optional long/bool tensors per dim.
    pub fn index(&self, indices: &[Option<Tensor>]) -> Result<Tensor> {
        if self.is_gpu() {
            if let Some((d, idx)) = single_int_index(self, indices) {
                return self.index_gpu(d, idx);
            }
            if let Some((p, ts)) = adjacent_int_indices(self, indices) {
                return self.index_gpu_multi(p, &ts);
            }
            // The offsets below are computed on the host from the indices.
            crate::wgpu::note_fallback("index");
        }
        let p = plan(self, indices)?;
        let raw = self.gather_offsets(&p.offsets, &p.shape_first)?;
        let out = crate::autograd::no_grad(|| move_index_dims(&raw, &p))?;
        if out.dtype().is_float() && any_requires_grad(&[self]) {
            let in_shape = self.shape().to_vec();
            let idx: Vec<Option<Tensor>> = indices.to_vec();
            record(
                "IndexBackward0",
                &[&out],
                &[self],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    let z = Tensor::zeros_on(&in_shape, g.dtype(), g.device())?;
                    Ok(vec![Some(z.index_put(&idx, g, true)?)])
                },
            );
        }
        Ok(out)
    }

    /// Out-of-place index_put: a copy of self with values written (or added) at the indices.
    pub fn index_put(
        &self,
        indices: &[Option<Tensor>],
        values: &Tensor,
        accumulate: bool,
    ) -> Result<Tensor> {
        if self.is_complex() {
            return crate::ops::complex_index::index_put(self, indices, values, accumulate);
        }
        if self.is_gpu() {
            if let Some(r) = self.index_put_gpu(indices, values, accumulate)? {
                return Ok(r);
            }
        }
        if crate::ops::device::any_gpu(&[self, values]) {
            // No GPU kernel: run on host copies (differentiable moves). Index
            // tensors may live on either device, as in PyTorch.
            let hidx: Vec<Option<Tensor>> = indices
                .iter()
                .map(|i| i.as_ref().map(|t| t.host()).transpose())
                .collect::<Result<_>>()?;
            return crate::ops::device::host_fallback("index_put", &[self, values], |h| {
                h[0].index_put(&hidx, &h[1], accumulate)
            });
        }
        // Offsets must be computed on the contiguous copy we write into.
        let out = self.clone_data()?;
        let p = plan(&out, indices)?;
        // values broadcast to the result shape (final order), then to index-first order.
        let mut final_shape = p.shape_first.clone();
        if p.insert_at > 0 {
            let k = p.n_index_dims;
            let b: Vec<usize> = p.shape_first[..k].to_vec();
            let rest: Vec<usize> = p.shape_first[k..].to_vec();
            final_shape = rest[..p.insert_at].to_vec();
            final_shape.extend(b);
            final_shape.extend_from_slice(&rest[p.insert_at..]);
        }
        let v = values.to_dtype(self.dtype())?;
        let v = v.expand(&final_shape).map_err(|_| {
            crate::rt_err!("shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {:?}", values.shape(), final_shape)
        })?;
        let v_first = if p.insert_at > 0 {
            let k = p.n_index_dims;
            let nd = final_shape.len();
            let mut perm: Vec<i64> = (p.insert_at..p.insert_at + k).map(|x| x as i64).collect();
            perm.extend((0..p.insert_at).map(|x| x as i64));
            perm.extend((p.insert_at + k..nd).map(|x| x as i64));
            v.permute(&perm)?
        } else {
            v.clone()
        };
        let vals = crate::autograd::no_grad(|| v_first.contiguous())?;
        {
            let vg = vals.storage().read();
            let mut og = out.storage().write();
            let voff = vals.layout().offset;
            crate::dispatch!(self.dtype(), T => {
                use crate::storage::CpuElement;
                use crate::dtype::Element;
                let src = &T::slice(vg.cpu())[voff..];
                let dst = T::slice_mut(og.cpu_mut());
                for (k, &o) in p.offsets.iter().enumerate() {
                    dst[o] = if accumulate {
                        if T::DTYPE.is_float() { T::from_f64(dst[o].to_f64() + src[k].to_f64()) } else { T::from_i64(dst[o].to_i64().wrapping_add(src[k].to_i64())) }
                    } else {
                        src[k]
                    };
                }
            });
        }
        self.index_put_record(indices, values, accumulate, &out);
        Ok(out)
    }

    /// IndexPutBackward0 of `out = self.index_put(indices, values, accumulate)`.
    fn index_put_record(
        &self,
        indices: &[Option<Tensor>],
        values: &Tensor,
        accumulate: bool,
        out: &Tensor,
    ) {
        if out.dtype().is_float() && any_requires_grad(&[self, values]) {
            let idx: Vec<Option<Tensor>> = indices.to_vec();
            let vshape = values.shape().to_vec();
            let vdt = values.dtype();
            record(
                "IndexPutBackward0",
                &[out],
                &[self, values],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    let gs = if c.needs[0] {
                        Some(if accumulate {
                            g.clone()
                        } else {
                            g.index_put(&idx, &Tensor::zeros(&[], g.dtype())?, false)?
                        })
                    } else {
                        None
                    };
                    let gv = if c.needs[1] {
                        Some(g.index(&idx)?.sum_to(&vshape)?.to_dtype(vdt)?)
                    } else {
                        None
                    };
                    Ok(vec![gs, gv])
                },
            );
        }
    }

    /// nonzero(): (n, ndim) int64 coordinates of the non-zero elements.
    pub fn nonzero(&self) -> Result<Tensor> {
        let b = if self.dtype() == DType::Bool {
            self.clone()
        } else {
            self.binary(&Tensor::zeros(&[], self.dtype())?, crate::ops::Binary::Ne)?
        };
        let v = b.to_vec::<bool>()?;
        let nd = self.ndim();
        let hits = v.iter().filter(|&&x| x).count();
        let mut out = crate::layout::try_vec(hits.saturating_mul(nd.max(1)), "nonzero")?;
        let mut count = 0;
        crate::ops::index::for_each_index(self.shape(), |ix| {
            if v[count] {
                out.extend(ix.iter().map(|&i| i as i64));
            }
            count += 1;
        });
        if nd == 0 {
            let n = v.first().copied().unwrap_or(false) as usize;
            return Tensor::from_vec(Vec::<i64>::new(), &[n, 0]).to_device_raw(self.device());
        }
        let n = out.len() / nd;
        Tensor::from_vec(out, &[n, nd]).to_device_raw(self.device())
    }

    pub fn masked_select(&self, mask: &Tensor) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            bail!("masked_select: expected BoolTensor for mask");
        }
        let shape = broadcast_shapes(self.shape(), mask.shape()).ok_or_else(|| {
            crate::rt_err!(
                "The size of tensor a ({:?}) must match the size of tensor b ({:?})",
                self.shape(),
                mask.shape()
            )
        })?;
        let x = self.expand(&shape)?;
        let m = mask.expand(&shape)?;
        x.index(&[Some(m)])
    }

    /// x[view] = value for a basic-indexing view, as an in-place op on x.
    pub fn setitem_view(&self, view: ViewFn, value: &Tensor) -> Result<()> {
        if !(grad_enabled() && (self.requires_grad() || value.requires_grad())) {
            let v = view(self)?;
            let val = if value.dtype() != self.dtype() {
                value.cast_raw(self.dtype())?
            } else {
                value.clone()
            };
            return v.copy_raw_from(&val, false);
        }
        self.apply_inplace("setitem", |src| {
            let out = src.clone_data()?;
            view(&out)?.copy_raw_from(&value.detach(), false)?;
            if any_requires_grad(&[src, value]) {
                let vshape = value.shape().to_vec();
                let vdt = value.dtype();
                let vf = view.clone();
                record(
                    "CopySlices",
                    &[&out],
                    &[src, value],
                    vec![],
                    move |c: &BackCtx| {
                        let g = c.grad(0)?;
                        let gs = if c.needs[0] {
                            let gg = g.clone_data()?;
                            vf(&gg)?.fill_scalar_raw(crate::dtype::Scalar::Float(0.0))?;
                            Some(gg)
                        } else {
                            None
                        };
                        let gv = if c.needs[1] {
                            Some(vf(g)?.sum_to(&vshape)?.to_dtype(vdt)?)
                        } else {
                            None
                        };
                        Ok(vec![gs, gv])
                    },
                );
            }
            Ok(out)
        })
    }

    /// x[indices] = value with advanced indices, as an in-place op on x.
    pub fn setitem_index(
        &self,
        indices: &[Option<Tensor>],
        value: &Tensor,
        accumulate: bool,
    ) -> Result<()> {
        self.apply_inplace("index_put_", |src| {
            src.index_put(indices, value, accumulate)
        })
    }
}
