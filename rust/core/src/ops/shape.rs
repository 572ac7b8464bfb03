//! Views (share storage, new Layout) and data-movement ops: cat, stack, split,
//! flip, roll, repeat, tril/triu.

use crate::autograd::{any_requires_grad, record, unary_record, BackCtx};
use crate::backend;
use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::layout::{infer_shape, wrap_dim, Layout};
use crate::tensor::Tensor;
use crate::{bail, idx_err, rt_err};
use std::sync::Arc;

pub type ViewFn = Arc<dyn Fn(&Tensor) -> Result<Tensor> + Send + Sync>;

/// Gradient of a view: zeros of the input's shape with `g` written where the view looks.
pub fn view_scatter(g: &Tensor, in_shape: &[usize], view: ViewFn) -> Result<Tensor> {
    let z = Tensor::zeros_on(in_shape, g.dtype(), g.device())?;
    {
        let v = view(&z)?;
        v.copy_raw_from(g, true)?;
    }
    let out = z;
    if any_requires_grad(&[g]) {
        record(
            "AsStridedScatterBackward0",
            &[&out],
            &[g],
            vec![],
            move |c: &BackCtx| Ok(vec![Some(view(c.grad(0)?)?)]),
        );
    }
    Ok(out)
}

impl Tensor {
    /// Write `src` (broadcast, cast) into this tensor's memory; no autograd.
    /// With `accumulate`, adds instead of overwriting (for overlapping views).
    pub fn copy_raw_from(&self, src: &Tensor, accumulate: bool) -> Result<()> {
        src.layout().broadcast_to(self.shape()).map_err(|_| {
            rt_err!(
                "The size of tensor a ({:?}) must match the size of tensor b ({:?}) for copy",
                self.shape(),
                src.shape()
            )
        })?;
        let src = src.to_device_raw(self.device())?;
        if self.dtype().is_complex() || src.dtype().is_complex() {
            // Complex memory is written through the real views (ops::complex).
            let src = if src.dtype() != self.dtype() {
                src.cast_raw(self.dtype())?
            } else {
                src
            };
            if !self.dtype().is_complex() {
                return self.copy_raw_from(&src, accumulate);
            }
            let (d, s) = (self.view_as_real()?.detach(), src.view_as_real()?.detach());
            return d.copy_raw_from(&s, accumulate);
        }
        backend::of(self).copy_into(self, &src, accumulate)?;
        self.storage().bump_version();
        Ok(())
    }

    fn make_view(
        &self,
        layout: Layout,
        name: &'static str,
        backward: impl Fn(&Tensor) -> Result<Tensor> + Send + Sync + 'static,
    ) -> Tensor {
        let out = self.view_of(layout);
        if crate::autograd::grad_enabled() && self.requires_grad() {
            let root = self.meta().base.clone().unwrap_or_else(|| self.clone());
            out.meta().base = Some(root);
        }
        unary_record(name, out, self, vec![], move |c: &BackCtx| {
            Ok(vec![Some(backward(c.grad(0)?)?)])
        })
    }

    pub fn view(&self, shape: &[i64]) -> Result<Tensor> {
        let s = infer_shape(shape, self.numel(), "view")?;
        let l = self.layout().view(&s).ok_or_else(|| {
            rt_err!("view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
        })?;
        let in_shape = self.shape().to_vec();
        Ok(self.make_view(l, "ViewBackward0", move |g| g.reshape(&in_shape)))
    }

    /// reshape with known sizes: a view when possible, else a copy.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let s: Vec<i64> = shape.iter().map(|&x| x as i64).collect();
        self.reshape_i(&s)
    }

    pub fn reshape_i(&self, shape: &[i64]) -> Result<Tensor> {
        let s = infer_shape(shape, self.numel(), "reshape")?;
        if s == self.shape() {
            return Ok(self.alias_with_grad());
        }
        let in_shape = self.shape().to_vec();
        match self.layout().view(&s) {
            Some(l) => Ok(self.make_view(l, "ViewBackward0", move |g| g.reshape(&in_shape))),
            None => {
                let c = self.clone_data()?;
                let out = c.view_of(Layout::contiguous(&s));
                out.meta().is_view = false;
                Ok(unary_record(
                    "UnsafeViewBackward0",
                    out,
                    self,
                    vec![],
                    move |c: &BackCtx| Ok(vec![Some(c.grad(0)?.reshape(&in_shape)?)]),
                ))
            }
        }
    }

    /// A new handle on the same data whose gradient flows to self.
    pub fn alias_with_grad(&self) -> Tensor {
        self.make_view(self.layout().clone(), "AliasBackward0", |g| Ok(g.clone()))
    }

    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let l = self.layout().broadcast_to(shape)?;
        let in_shape = self.shape().to_vec();
        Ok(self.make_view(l, "ExpandBackward0", move |g| g.sum_to(&in_shape)))
    }

    /// expand with -1 meaning "keep this size".
    pub fn expand_i(&self, sizes: &[i64]) -> Result<Tensor> {
        if sizes.len() < self.ndim() {
            bail!(
                "expand(torch.FloatTensor{{{:?}}}, size={:?}): the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                self.shape(),
                sizes,
                sizes.len(),
                self.ndim()
            );
        }
        let lead = sizes.len() - self.ndim();
        let mut shape = vec![];
        for (i, &s) in sizes.iter().enumerate() {
            if s == -1 {
                if i < lead {
                    bail!("expand: -1 is not allowed in a leading, non-existing dimension {i}");
                }
                shape.push(self.shape()[i - lead]);
            } else if s < 0 {
                bail!("expand: invalid size {s}");
            } else {
                shape.push(s as usize);
            }
        }
        self.expand(&shape)
    }

    pub fn permute(&self, dims: &[i64]) -> Result<Tensor> {
        let nd = self.ndim();
        let d: Vec<usize> = dims
            .iter()
            .map(|&x| wrap_dim(x, nd, "permute"))
            .collect::<Result<_>>()?;
        let l = self.layout().permute(&d)?;
        let mut inv = vec![0i64; nd];
        for (i, &x) in d.iter().enumerate() {
            inv[x] = i as i64;
        }
        Ok(self.make_view(l, "PermuteBackward0", move |g| g.permute(&inv)))
    }

    pub fn transpose(&self, a: i64, b: i64) -> Result<Tensor> {
        let nd = self.ndim();
        if nd == 0 {
            return Ok(self.alias_with_grad());
        }
        let (a, b) = (wrap_dim(a, nd, "transpose")?, wrap_dim(b, nd, "transpose")?);
        let l = self.layout().transpose(a, b);
        Ok(self.make_view(l, "TransposeBackward0", move |g| {
            g.transpose(a as i64, b as i64)
        }))
    }

    /// Tensor.t(): 2-D transpose (0-D and 1-D unchanged).
    pub fn t(&self) -> Result<Tensor> {
        if self.ndim() > 2 {
            bail!(
                "t() expects a tensor with <= 2 dimensions, but self is {}D",
                self.ndim()
            );
        }
        if self.ndim() < 2 {
            return Ok(self.alias_with_grad());
        }
        self.transpose(0, 1)
    }

    pub fn unsqueeze(&self, dim: usize) -> Result<Tensor> {
        if dim > self.ndim() {
            return Err(idx_err!(
                "Dimension out of range (expected to be in range of [{}, {}], but got {})",
                -(self.ndim() as i64) - 1,
                self.ndim(),
                dim
            ));
        }
        let l = self.layout().unsqueeze(dim);
        let in_shape = self.shape().to_vec();
        Ok(self.make_view(l, "UnsqueezeBackward0", move |g| g.reshape(&in_shape)))
    }

    pub fn unsqueeze_i(&self, dim: i64) -> Result<Tensor> {
        let d = wrap_dim(dim, self.ndim() + 1, "unsqueeze")?;
        self.unsqueeze(d)
    }

    pub fn squeeze_dims(&self, dims: &[usize]) -> Result<Tensor> {
        let l = self.layout().squeeze_dims(dims);
        let in_shape = self.shape().to_vec();
        Ok(self.make_view(l, "SqueezeBackward0", move |g| g.reshape(&in_shape)))
    }

    pub fn squeeze(&self, dims: Option<&[i64]>) -> Result<Tensor> {
        let d: Vec<usize> = match dims {
            None => (0..self.ndim()).collect(),
            Some(ds) => ds
                .iter()
                .map(|&x| wrap_dim(x, self.ndim(), "squeeze"))
                .collect::<Result<_>>()?,
        };
        self.squeeze_dims(&d)
    }

    pub fn narrow(&self, dim: i64, start: usize, len: usize) -> Result<Tensor> {
        if self.ndim() == 0 {
            bail!("narrow() cannot be applied to a 0-dim tensor.");
        }
        let d = wrap_dim(dim, self.ndim(), "narrow")?;
        if start + len > self.shape()[d] {
            return Err(crate::rt_err!(
                "start ({}) + length ({}) exceeds dimension size ({}).",
                start,
                len,
                self.shape()[d]
            ));
        }
        self.slice(d, start, start + len, 1)
    }

    /// Basic slicing along one dim (bounds already clamped, step > 0).
    pub fn slice(&self, dim: usize, start: usize, end: usize, step: usize) -> Result<Tensor> {
        let l = self.layout().slice(dim, start, end, step);
        let in_shape = self.shape().to_vec();
        let f: ViewFn = Arc::new(move |t: &Tensor| t.slice(dim, start, end, step));
        Ok(self.make_view(l, "SliceBackward0", move |g| {
            view_scatter(g, &in_shape, f.clone())
        }))
    }

    pub fn select(&self, dim: i64, index: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            return Err(idx_err!("select() cannot be applied to a 0-dim tensor."));
        }
        let d = wrap_dim(dim, self.ndim(), "select")?;
        let n = self.shape()[d] as i64;
        if index < -n || index >= n {
            return Err(idx_err!(
                "index {} is out of bounds for dimension {} with size {}",
                index,
                d,
                n
            ));
        }
        let i = if index < 0 { index + n } else { index } as usize;
        let l = self.layout().select(d, i);
        let in_shape = self.shape().to_vec();
        let f: ViewFn = Arc::new(move |t: &Tensor| t.select(d as i64, i as i64));
        Ok(self.make_view(l, "SelectBackward0", move |g| {
            view_scatter(g, &in_shape, f.clone())
        }))
    }

    pub fn diagonal(&self, offset: i64, d1: i64, d2: i64) -> Result<Tensor> {
        let nd = self.ndim();
        let (a, b) = (wrap_dim(d1, nd, "diagonal")?, wrap_dim(d2, nd, "diagonal")?);
        if a == b {
            bail!("diagonal dimensions cannot be identical {d1}, {d2}");
        }
        let l = self.layout().diagonal(offset, a, b);
        let in_shape = self.shape().to_vec();
        let f: ViewFn = Arc::new(move |t: &Tensor| t.diagonal(offset, a as i64, b as i64));
        Ok(self.make_view(l, "DiagonalBackward0", move |g| {
            view_scatter(g, &in_shape, f.clone())
        }))
    }

    /// as_strided view relative to the storage (used by unfold-style ops).
    pub fn as_strided(&self, shape: &[usize], strides: &[usize], offset: usize) -> Result<Tensor> {
        let l = Layout {
            shape: shape.to_vec(),
            strides: strides.to_vec(),
            offset,
        };
        let need = l.extent();
        let have = match &*self.storage().read() {
            crate::storage::Storage::Cpu(d) => d.len(),
            crate::storage::Storage::Gpu(d) => d.len,
        };
        if need > have {
            bail!("setStorage: sizes {:?}, strides {:?}, storage offset {} require {} elements but the storage has {}", shape, strides, offset, need, have);
        }
        let out = self.view_of(l);
        if any_requires_grad(&[self]) {
            // Gradient via an accumulating scatter over the storage positions of self.
            if !self.is_contiguous() || self.layout().offset != 0 {
                bail!("as_strided: autograd supported only on contiguous inputs");
            }
            let in_shape = self.shape().to_vec();
            let (sh, st) = (shape.to_vec(), strides.to_vec());
            record(
                "AsStridedBackward0",
                &[&out],
                &[self],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    let z = Tensor::zeros_on(&in_shape, g.dtype(), g.device())?;
                    let v = z.view_of(Layout {
                        shape: sh.clone(),
                        strides: st.clone(),
                        offset,
                    });
                    v.copy_raw_from(&g.contiguous()?, true)?;
                    Ok(vec![Some(z)])
                },
            );
        }
        Ok(out)
    }

    pub fn flatten(&self, start: i64, end: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            return self.reshape(&[1]);
        }
        let (s, e) = (
            wrap_dim(start, self.ndim(), "flatten")?,
            wrap_dim(end, self.ndim(), "flatten")?,
        );
        if s > e {
            bail!("flatten() has invalid args: start_dim cannot come after end_dim");
        }
        let mut shape: Vec<usize> = self.shape()[..s].to_vec();
        shape.push(self.shape()[s..=e].iter().product());
        shape.extend_from_slice(&self.shape()[e + 1..]);
        self.reshape(&shape)
    }

    pub fn unflatten(&self, dim: i64, sizes: &[i64]) -> Result<Tensor> {
        if self.ndim() == 0 {
            bail!("unflatten: Dimension specified as {dim} but tensor has no dimensions");
        }
        let d = wrap_dim(dim, self.ndim(), "unflatten")?;
        let inner = infer_shape(sizes, self.shape()[d], "unflatten").map_err(|_| {
            rt_err!("unflatten: Provided sizes {:?} don't multiply up to the size of dim {} ({}) in the input tensor", sizes, dim, self.shape()[d])
        })?;
        let mut shape: Vec<usize> = self.shape()[..d].to_vec();
        shape.extend(inner);
        shape.extend_from_slice(&self.shape()[d + 1..]);
        self.reshape(&shape)
    }

    pub fn movedim(&self, src: &[i64], dst: &[i64]) -> Result<Tensor> {
        if self.ndim() == 0 {
            for &d in src.iter().chain(dst) {
                crate::layout::wrap_dim(d, 0, "movedim")?;
            }
            return Ok(self.alias_with_grad());
        }
        let nd = self.ndim();
        if src.len() != dst.len() {
            bail!("movedim: Invalid source or destination dims: source ({:?} dims) should contain the same number of dims as destination ({:?} dims)", src, dst);
        }
        let s: Vec<usize> = src
            .iter()
            .map(|&x| wrap_dim(x, nd, "movedim"))
            .collect::<Result<_>>()?;
        let d: Vec<usize> = dst
            .iter()
            .map(|&x| wrap_dim(x, nd, "movedim"))
            .collect::<Result<_>>()?;
        let mut perm = vec![usize::MAX; nd];
        for (&a, &b) in s.iter().zip(&d) {
            perm[b] = a;
        }
        let mut rest = (0..nd).filter(|x| !s.contains(x));
        for p in perm.iter_mut() {
            if *p == usize::MAX {
                *p = rest.next().unwrap_or(0);
            }
        }
        self.permute(&perm.iter().map(|&x| x as i64).collect::<Vec<_>>())
    }

    // ---------- data movement ----------

    pub fn cat(ts: &[&Tensor], dim: i64) -> Result<Tensor> {
        if ts.is_empty() {
            bail!("torch.cat(): expected a non-empty list of Tensors");
        }
        // Legacy: 1-D empty tensors are skipped.
        let parts: Vec<&Tensor> = ts
            .iter()
            .copied()
            .filter(|t| !(t.ndim() == 1 && t.numel() == 0))
            .collect();
        let dt = ts.iter().skip(1).fold(ts[0].dtype(), |a, t| {
            crate::dtype::promote_types(a, t.dtype())
        });
        if parts.is_empty() {
            return Tensor::zeros(&[0], dt);
        }
        let r = parts[0];
        if r.ndim() == 0 {
            bail!("zero-dimensional tensor (at position 0) cannot be concatenated");
        }
        let d = wrap_dim(dim, r.ndim(), "cat")?;
        let mut total = 0;
        for (i, t) in parts.iter().enumerate() {
            if t.device() != r.device() {
                bail!("Expected all tensors to be on the same device, but found at least two devices, {} and {}!", r.device(), t.device());
            }
            if t.ndim() != r.ndim() {
                bail!(
                    "Tensors must have same number of dimensions: got {} and {}",
                    r.ndim(),
                    t.ndim()
                );
            }
            for k in 0..r.ndim() {
                if k != d && t.shape()[k] != r.shape()[k] {
                    bail!(
                        "Sizes of tensors must match except in dimension {}. Expected size {} but got size {} for tensor number {} in the list.",
                        d,
                        r.shape()[k],
                        t.shape()[k],
                        i
                    );
                }
            }
            total += t.shape()[d];
        }
        let mut shape = r.shape().to_vec();
        shape[d] = total;
        crate::layout::checked_numel(&shape, dt.size(), "cat")?;
        let out = Tensor::zeros_on(&shape, dt, r.device())?;
        let mut start = 0;
        let mut sizes = vec![];
        for t in &parts {
            let n = t.shape()[d];
            out.view_of(out.layout().slice(d, start, start + n, 1))
                .copy_raw_from(t, false)?;
            sizes.push((start, n, t.dtype()));
            start += n;
        }
        if dt.is_float() && any_requires_grad(ts) {
            // Skipped legacy empty inputs still get (empty) gradients.
            let mut k = 0;
            let all: Vec<Option<(usize, usize, DType)>> = ts
                .iter()
                .map(|t| {
                    if t.ndim() == 1 && t.numel() == 0 {
                        None
                    } else {
                        k += 1;
                        Some(sizes[k - 1])
                    }
                })
                .collect();
            let dts: Vec<DType> = ts.iter().map(|t| t.dtype()).collect();
            record("CatBackward0", &[&out], ts, vec![], move |c: &BackCtx| {
                let g = c.grad(0)?;
                all.iter()
                    .zip(c.needs)
                    .zip(&dts)
                    .map(|((part, &need), &edt)| {
                        if !need {
                            return Ok(None);
                        }
                        let (s, n, odt) = match part {
                            Some(p) => *p,
                            None => return Ok(Some(Tensor::zeros(&[0], edt)?)),
                        };
                        let p = g.narrow(d as i64, s, n)?;
                        Ok(Some(if odt.is_float() { p.to_dtype(odt)? } else { p }))
                    })
                    .collect()
            });
        }
        Ok(out)
    }

    pub fn stack(ts: &[&Tensor], dim: i64) -> Result<Tensor> {
        if ts.is_empty() {
            bail!("stack expects a non-empty TensorList");
        }
        let d = wrap_dim(dim, ts[0].ndim() + 1, "stack")?;
        for (i, t) in ts.iter().enumerate() {
            if t.shape() != ts[0].shape() {
                bail!("stack expects each tensor to be equal size, but got {:?} at entry 0 and {:?} at entry {}", ts[0].shape(), t.shape(), i);
            }
        }
        let us: Vec<Tensor> = ts.iter().map(|t| t.unsqueeze(d)).collect::<Result<_>>()?;
        let refs: Vec<&Tensor> = us.iter().collect();
        Tensor::cat(&refs, d as i64)
    }

    pub fn split_sizes(&self, sizes: &[usize], dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            bail!("split expects at least a 1-dimensional tensor");
        }
        let d = wrap_dim(dim, self.ndim(), "split")?;
        let total: usize = sizes.iter().sum();
        if total != self.shape()[d] {
            bail!("split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at dimension {}), but got split_sizes={:?}", self.shape()[d], d, sizes);
        }
        let mut out = vec![];
        let mut s = 0;
        for &n in sizes {
            out.push(self.slice(d, s, s + n, 1)?);
            s += n;
        }
        Ok(out)
    }

    pub fn split(&self, size: usize, dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            bail!("split expects at least a 1-dimensional tensor");
        }
        let d = wrap_dim(dim, self.ndim(), "split")?;
        let n = self.shape()[d];
        if size == 0 && n != 0 {
            bail!("split_size can only be 0 if dimension size is 0, but got dimension size of {n}");
        }
        let mut sizes = vec![];
        let mut left = n;
        while left > 0 {
            let k = size.min(left);
            sizes.push(k);
            left -= k;
        }
        if sizes.is_empty() {
            sizes.push(0);
        }
        self.split_sizes(&sizes, d as i64)
    }

    pub fn chunk(&self, chunks: usize, dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            bail!("chunk expects at least a 1-dimensional tensor");
        }
        if chunks == 0 {
            bail!("chunk expects `chunks` to be greater than 0, got: 0");
        }
        let d = wrap_dim(dim, self.ndim(), "chunk")?;
        let n = self.shape()[d];
        let size = n.div_ceil(chunks).max(if n == 0 { 0 } else { 1 });
        if size == 0 {
            // PyTorch: an empty dim splits into `chunks` empty pieces.
            return self.split_sizes(&vec![0; chunks], d as i64);
        }
        self.split(size, d as i64)
    }

    pub fn unbind(&self, dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            return Err(crate::idx_err!(
                "unbind: Dimension specified as {dim} but tensor has no dimensions"
            ));
        }
        let d = wrap_dim(dim, self.ndim(), "unbind")?;
        (0..self.shape()[d])
            .map(|i| self.select(d as i64, i as i64))
            .collect()
    }

    pub fn flip(&self, dims: &[i64]) -> Result<Tensor> {
        if self.ndim() == 0 {
            for &d in dims {
                wrap_dim(d, 0, "flip")?;
            }
            return self.clone_t();
        }
        let nd = self.ndim();
        let ds: Vec<usize> = dims
            .iter()
            .map(|&x| wrap_dim(x, nd, "flip"))
            .collect::<Result<_>>()?;
        // Gather with reversed offsets (strides are never negative).
        let l = self.layout();
        let mut offs = crate::layout::try_vec(self.numel(), "flip")?;
        let mut rl = l.clone();
        for &d in &ds {
            if rl.shape[d] > 0 {
                rl.offset += (rl.shape[d] - 1) * rl.strides[d];
            }
        }
        // Walk the flipped order with signed arithmetic.
        let shape = l.shape.clone();
        let mut idx = vec![0usize; nd];
        let n = self.numel();
        for _ in 0..n {
            let mut o = l.offset as isize;
            for k in 0..nd {
                let i = if ds.contains(&k) {
                    shape[k] - 1 - idx[k]
                } else {
                    idx[k]
                };
                o += (i * l.strides[k]) as isize;
            }
            offs.push(o as usize);
            for k in (0..nd).rev() {
                idx[k] += 1;
                if idx[k] < shape[k] {
                    break;
                }
                idx[k] = 0;
            }
        }
        let out = self.gather_offsets(&offs, &shape)?;
        let dims_v = dims.to_vec();
        Ok(unary_record(
            "FlipBackward0",
            out,
            self,
            vec![],
            move |c: &BackCtx| Ok(vec![Some(c.grad(0)?.flip(&dims_v)?)]),
        ))
    }

    /// Copy the elements at the given storage offsets into a new contiguous tensor.
    pub fn gather_offsets(&self, offs: &[usize], shape: &[usize]) -> Result<Tensor> {
        if self.is_complex() {
            // A complex element is the (re, im) pair at 2o, 2o + 1 of the real
            // storage: gather the pairs as reals and view them as complex
            // (flip, index_select, x[idx], masked_select, ... for complex).
            let n = offs
                .iter()
                .copied()
                .max()
                .map_or(0, |m| m + 1)
                .max(self.layout().extent());
            let real = Tensor::from_parts(
                self.storage().clone(),
                Layout::contiguous(&[2 * n]),
                self.dtype().to_real(),
            );
            let roffs: Vec<usize> = offs.iter().flat_map(|&o| [2 * o, 2 * o + 1]).collect();
            let mut rshape = shape.to_vec();
            rshape.push(2);
            return real.gather_offsets(&roffs, &rshape)?.view_as_complex();
        }
        if self.is_gpu() {
            let whole = Tensor::from_parts(
                self.storage().clone(),
                Layout::contiguous(&[self
                    .layout()
                    .extent()
                    .max(offs.iter().copied().max().map_or(0, |m| m + 1))]),
                self.dtype(),
            );
            return whole
                .host()?
                .gather_offsets(offs, shape)?
                .to_device_raw(self.device());
        }
        let data = self.with_cpu(|d, _| {
            crate::dispatch!(self.dtype(), T => {
                let s = <T as crate::storage::CpuElement>::slice(d);
                <T as crate::storage::CpuElement>::wrap(offs.iter().map(|&o| s[o]).collect())
            })
        })?;
        Ok(Tensor::from_cpu(data, shape))
    }

    pub fn roll(&self, shifts: &[i64], dims: &[i64]) -> Result<Tensor> {
        if self.ndim() == 0 {
            for &d in dims {
                wrap_dim(d, 0, "roll")?;
            }
            return self.clone_t();
        }
        if dims.is_empty() {
            let flat = self.reshape(&[self.numel()])?;
            return flat.roll(shifts, &[0])?.reshape(self.shape());
        }
        if shifts.len() != dims.len() {
            bail!(
                "shifts and dimensions must align. shifts: {}, dims:{}",
                shifts.len(),
                dims.len()
            );
        }
        let mut t = self.clone();
        for (&s, &d) in shifts.iter().zip(dims) {
            let dd = wrap_dim(d, t.ndim(), "roll")?;
            let n = t.shape()[dd] as i64;
            if n == 0 {
                continue;
            }
            let k = ((s % n) + n) % n;
            if k == 0 {
                continue;
            }
            let a = t.narrow(dd as i64, (n - k) as usize, k as usize)?;
            let b = t.narrow(dd as i64, 0, (n - k) as usize)?;
            t = Tensor::cat(&[&a, &b], dd as i64)?;
        }
        Ok(t)
    }

    pub fn repeat(&self, reps: &[usize]) -> Result<Tensor> {
        if reps.len() < self.ndim() {
            bail!("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor");
        }
        let lead = reps.len() - self.ndim();
        let mut src_shape = vec![1usize; lead];
        src_shape.extend_from_slice(self.shape());
        let x = self.reshape(&src_shape)?;
        // (s0, s1, ...) -> (1, s0, 1, s1, ...) -> expand (r0, s0, r1, s1, ...) -> reshape
        let mut inter = vec![];
        let mut exp = vec![];
        let mut fin = vec![];
        for (i, &s) in src_shape.iter().enumerate() {
            inter.push(1);
            inter.push(s);
            exp.push(reps[i]);
            exp.push(s);
            fin.push(reps[i] * s);
        }
        let y = x.reshape(&inter)?.expand(&exp)?;
        y.contiguous()?.reshape(&fin)
    }

    /// tril (lower) / triu (upper) on the last two dims.
    pub fn tri(&self, diagonal: i64, upper: bool) -> Result<Tensor> {
        if self.ndim() < 2 {
            bail!(
                "{}: input tensor must have at least 2 dimensions",
                if upper { "triu" } else { "tril" }
            );
        }
        let nd = self.ndim();
        let (r, c) = (self.shape()[nd - 2], self.shape()[nd - 1]);
        let mut m = crate::layout::try_vec(r * c, if upper { "triu" } else { "tril" })?;
        for i in 0..r as i64 {
            for j in 0..c as i64 {
                m.push(if upper {
                    j - i >= diagonal
                } else {
                    j - i <= diagonal
                });
            }
        }
        let mask = Tensor::from_vec(m, &[r, c]).to_device_raw(self.device())?;
        let z = Tensor::zeros(&[], self.dtype())?;
        Tensor::where_(&mask, self, &z)
    }

    pub fn fill_scalar_raw(&self, v: Scalar) -> Result<()> {
        if self.dtype().is_complex() {
            let r = self.view_as_real()?.detach();
            r.select(-1, 0)?.fill_scalar_raw(v)?;
            return r.select(-1, 1)?.fill_scalar_raw(Scalar::Int(0));
        }
        backend::of(self).fill(self, v)?;
        self.storage().bump_version();
        Ok(())
    }
}
