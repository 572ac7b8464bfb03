//! The Tensor handle: storage + layout + dtype + autograd metadata.

use crate::autograd::{Hook, Node};
use crate::dtype::{DType, Element, Scalar};
use crate::error::Result;
use crate::layout::Layout;
use crate::storage::{CpuData, CpuElement, Device, StorageCell};
use crate::{bail, dispatch};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
pub struct AutogradMeta {
    pub requires_grad: bool,
    pub grad: Option<Tensor>,
    pub grad_fn: Option<Arc<Node>>,
    pub output_nr: usize,
    pub retains_grad: bool,
    /// Hooks of a leaf tensor (non-leaf hooks live on their grad_fn node).
    pub hooks: Vec<Hook>,
    /// Set on views: in-place ops on them must not silently break autograd.
    pub is_view: bool,
    /// For views: the tensor that owns the memory (in-place ops on the view
    /// are replayed on it so autograd sees them).
    pub base: Option<Tensor>,
    /// A Python number turned into a 0-dim tensor (promotes as a scalar).
    pub wrapped_number: bool,
}

pub struct TensorImpl {
    pub storage: Arc<StorageCell>,
    pub layout: Layout,
    pub dtype: DType,
    pub meta: Arc<Mutex<AutogradMeta>>,
}

impl Drop for TensorImpl {
    fn drop(&mut self) {
        // Hand the graph to the node's iterative drop so long chains never recurse.
        let node = self.meta.lock().ok().and_then(|mut m| m.grad_fn.take());
        if let Some(n) = node {
            crate::autograd::defer_drop(n);
        }
    }
}

#[derive(Clone)]
pub struct Tensor(pub Arc<TensorImpl>);

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(shape={:?}, dtype={})",
            self.shape(),
            self.dtype()
        )
    }
}

impl Tensor {
    pub fn from_parts(storage: Arc<StorageCell>, layout: Layout, dtype: DType) -> Tensor {
        Tensor(Arc::new(TensorImpl {
            storage,
            layout,
            dtype,
            meta: Arc::new(Mutex::new(AutogradMeta::default())),
        }))
    }
    pub fn from_cpu(data: CpuData, shape: &[usize]) -> Tensor {
        let dtype = data.dtype();
        debug_assert_eq!(data.len(), crate::layout::numel(shape));
        Tensor::from_parts(
            Arc::new(StorageCell::new_cpu(data)),
            Layout::contiguous(shape),
            dtype,
        )
    }
    pub fn from_vec<T: CpuElement>(v: Vec<T>, shape: &[usize]) -> Tensor {
        Tensor::from_cpu(T::wrap(v), shape)
    }
    pub fn scalar_tensor(v: Scalar, dtype: DType) -> Tensor {
        Tensor::from_cpu(CpuData::filled(dtype, 1, v), &[])
    }
    /// A new tensor viewing the same storage with another layout (no autograd).
    pub fn view_of(&self, layout: Layout) -> Tensor {
        let mut layout = layout;
        if layout.numel() == 0 {
            // An empty view reads nothing; an offset past the end of an empty
            // storage (`zeros(3, 0)[2]`) would only make kernels slice out of
            // range. (PyTorch keeps the offset; `storage_offset()` differs.)
            layout.offset = 0;
        }
        let t = Tensor::from_parts(self.0.storage.clone(), layout, self.0.dtype);
        t.meta().is_view = true;
        t
    }
    /// Same storage, same layout, fresh autograd metadata (like `.detach()`).
    pub fn alias(&self) -> Tensor {
        Tensor::from_parts(self.0.storage.clone(), self.0.layout.clone(), self.0.dtype)
    }
    /// Same storage/layout, shared autograd metadata (for `.data = x` style swaps).
    pub fn with_meta_of(data: &Tensor, meta_src: &Tensor) -> Tensor {
        Tensor(Arc::new(TensorImpl {
            storage: data.0.storage.clone(),
            layout: data.0.layout.clone(),
            dtype: data.0.dtype,
            meta: meta_src.0.meta.clone(),
        }))
    }

    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }
    pub fn strides(&self) -> &[usize] {
        &self.0.layout.strides
    }
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    pub fn device(&self) -> Device {
        self.0.storage.device
    }
    pub fn ndim(&self) -> usize {
        self.0.layout.ndim()
    }
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    pub fn storage(&self) -> &Arc<StorageCell> {
        &self.0.storage
    }
    pub fn same_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }
    pub fn ptr_eq(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    pub fn version(&self) -> u64 {
        self.0.storage.version()
    }
    pub fn size(&self, dim: i64) -> Result<usize> {
        let d = crate::layout::wrap_dim(dim, self.ndim(), "size")?;
        if self.ndim() == 0 {
            bail!("size(): dimension specified as {dim} but tensor has no dimensions");
        }
        Ok(self.shape()[d])
    }

    // ---- autograd metadata ----
    pub fn meta(&self) -> MutexGuard<'_, AutogradMeta> {
        self.0.meta.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn meta_arc(&self) -> &Arc<Mutex<AutogradMeta>> {
        &self.0.meta
    }
    pub fn requires_grad(&self) -> bool {
        self.meta().requires_grad
    }
    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        self.meta().grad_fn.clone()
    }
    pub fn is_leaf(&self) -> bool {
        self.meta().grad_fn.is_none()
    }
    pub fn grad(&self) -> Option<Tensor> {
        self.meta().grad.clone()
    }
    pub fn set_grad(&self, g: Option<Tensor>) -> Result<()> {
        if let Some(g) = &g {
            if g.shape() != self.shape() {
                bail!(
                    "assigned grad has data of a different size: grad {:?}, tensor {:?}",
                    g.shape(),
                    self.shape()
                );
            }
            if g.dtype() != self.dtype() {
                bail!(
                    "assigned grad has data of a different type: grad {}, tensor {}",
                    g.dtype(),
                    self.dtype()
                );
            }
            if g.device() != self.device() {
                bail!(
                    "assigned grad has data located on a different device: grad {}, tensor {}",
                    g.device(),
                    self.device()
                );
            }
        }
        self.meta().grad = g;
        Ok(())
    }
    pub fn set_requires_grad(&self, r: bool) -> Result<()> {
        if r && !self.dtype().is_float() && !self.dtype().is_complex() {
            bail!(
                "only Tensors of floating point dtype can require gradients (got {})",
                self.dtype()
            );
        }
        let mut m = self.meta();
        if !r && m.grad_fn.is_some() {
            bail!("you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().");
        }
        m.requires_grad = r;
        Ok(())
    }
    /// A tensor sharing storage with no autograd history.
    pub fn detach(&self) -> Tensor {
        let t = self.alias();
        t.meta().is_view = self.meta().is_view;
        t
    }

    // ---- host access ----
    /// Run `f` on the CPU data and layout (read lock held).
    /// A GPU tensor is first copied to the host (this waits for the GPU).
    pub fn with_cpu<R>(&self, f: impl FnOnce(&CpuData, &Layout) -> R) -> Result<R> {
        if self.dtype().is_complex() {
            // The storage holds reals in pairs: host kernels read the real view.
            return Err(crate::ops::complex::not_implemented(
                "cpu kernel",
                self.dtype(),
            ));
        }
        if self.device().is_gpu() {
            let h = self.host()?;
            return h.with_cpu(f);
        }
        let g = self.0.storage.read();
        Ok(f(g.cpu(), &self.0.layout))
    }
    /// Contiguous copy of the elements as T (T must match the dtype).
    pub fn to_vec<T: CpuElement>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            bail!("to_vec: dtype mismatch ({} vs {})", T::DTYPE, self.dtype());
        }
        // Every contiguous copy of a (possibly expanded) view passes here.
        crate::layout::check_alloc(
            self.numel().saturating_mul(std::mem::size_of::<T>()),
            "contiguous",
        )?;
        self.with_cpu(|d, l| {
            let s = T::slice(d);
            if l.is_contiguous() {
                s[l.offset..l.offset + l.numel()].to_vec()
            } else {
                let mut v = Vec::with_capacity(l.numel());
                crate::layout::for_each_offset(l, |o| v.push(s[o]));
                v
            }
        })
    }
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        crate::layout::check_alloc(self.numel().saturating_mul(8), "contiguous")?;
        let c = self.contiguous()?;
        dispatch!(self.dtype(), T => Ok(c.to_vec::<T>()?.into_iter().map(|x| crate::dtype::Element::to_f64(x)).collect()))
    }
    pub fn item(&self) -> Result<Scalar> {
        if self.numel() != 1 {
            bail!(
                "a Tensor with {} elements cannot be converted to Scalar",
                self.numel()
            );
        }
        self.with_cpu(|d, l| {
            dispatch!(self.dtype(), T => {
                let v = T::slice(d)[l.offset];
                if T::DTYPE.is_float() {
                    Scalar::Float(crate::dtype::Element::to_f64(v))
                } else if T::DTYPE == DType::Bool {
                    Scalar::Bool(crate::dtype::Element::to_i64(v) != 0)
                } else {
                    Scalar::Int(crate::dtype::Element::to_i64(v))
                }
            })
        })
    }
}

pub fn mark_wrapped(t: &Tensor) {
    t.meta().wrapped_number = true;
}
pub fn is_wrapped(t: &Tensor) -> bool {
    t.ndim() == 0 && t.meta().wrapped_number
}
