//! The one interface between op semantics and device kernels.
//!
//! `ops/` decides everything a user can observe independently of the device:
//! shapes and broadcasting, dtype promotion, argument checks and their error
//! messages, autograd recording. It then calls the kernel of its operands'
//! device once, through [`Backend`]. Each device folder (`cpu/`, `wgpu/`)
//! implements the trait; a device's own restrictions (a kernel it lacks, a
//! dtype its shaders cannot hold, a host fallback) live in its implementation,
//! never in the op. Adding a device means adding a folder with one more
//! `impl Backend` and a line in [`for_device`].
//!
//! Kernel contracts: inputs are already promoted to the dtype the kernel works
//! in, outputs are new contiguous tensors on the same device, no autograd.

use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::layout::Layout;
use crate::ops::{Binary, Unary};
use crate::storage::Device;
use crate::tensor::Tensor;

/// Reductions a backend provides (the discriminants are the shader's op ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Red {
    Sum = 0,
    Prod = 1,
    Max = 2,
    Min = 3,
    ArgMax = 4,
    ArgMin = 5,
    Any = 7,
    All = 8,
}

pub trait Backend: Sync {
    /// Device name, for messages.
    fn name(&self) -> &'static str;

    /// Count one run of `op` through its host kernel on this device
    /// (`ember.gpu.fallbacks()`); nothing on the host itself.
    fn note_fallback(&self, _op: &str) {}

    /// A contiguous copy of `x` converted to `dtype` (a plain copy when equal).
    fn cast(&self, x: &Tensor, dtype: DType) -> Result<Tensor>;

    /// Write `src` (same device, broadcastable to `dst`'s shape, any dtype)
    /// into `dst`'s memory through its layout; with `accumulate`, add instead
    /// (overlapping views of one storage add up element by element). The
    /// caller bumps the version counter.
    fn copy_into(&self, dst: &Tensor, src: &Tensor, accumulate: bool) -> Result<()>;

    /// Set every element of `dst` (through its layout) to `v`.
    fn fill(&self, dst: &Tensor, v: Scalar) -> Result<()>;

    /// Elementwise `op` over `x`, keeping its dtype (`LogicalNot` gives bool).
    /// Called for float dtypes, for integer/bool dtypes with `op.int_ok()`,
    /// and for `LogicalNot` / bool `BitNot`.
    fn unary(&self, x: &Tensor, op: Unary) -> Result<Tensor>;

    /// Elementwise `op` of `a` and `b` (both of dtype `ct`) broadcast to
    /// `shape`. Comparisons and logical ops give bool. On an accelerator one
    /// operand may be a 0-dim host tensor (a wrapped Python scalar).
    fn binary(
        &self,
        a: &Tensor,
        b: &Tensor,
        shape: &[usize],
        op: Binary,
        ct: DType,
    ) -> Result<Tensor>;

    /// `dst = dst op alpha * src` written into `dst`'s memory, for `op` one of
    /// Add (alpha scales src, fused as PyTorch's `fmadd`), Mul, Div; `src`
    /// has `dst`'s float dtype and device (or is a 0-dim host scalar),
    /// broadcasts to `dst`'s shape and shares no storage with it; no autograd.
    /// Returns false, writing nothing, where the backend has no in-place
    /// kernel for this case: the op then computes out of place and copies.
    /// The caller bumps the version counter.
    fn binary_into(&self, _dst: &Tensor, _src: &Tensor, _op: Binary, _alpha: f64) -> Result<bool> {
        Ok(false)
    }

    /// Batched matrix product: `la` (batch..., m, k) and `lb` (batch..., k, n)
    /// are layouts over `a`'s and `b`'s storage with the `nb` batch dims
    /// already broadcast; the result is contiguous of `out_shape`.
    fn matmul(
        &self,
        a: &Tensor,
        la: &Layout,
        b: &Tensor,
        lb: &Layout,
        nb: usize,
        out_shape: &[usize],
    ) -> Result<Tensor>;

    /// `cond ? a : b` broadcast to `shape` (`a`, `b` of the same dtype).
    fn where_(&self, cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor>;

    /// Clamp to the optional bounds (integer or float `x`, not bool); NaN
    /// inputs stay NaN.
    fn clamp(&self, x: &Tensor, min: Option<f64>, max: Option<f64>) -> Result<Tensor>;

    /// ReLU's gradient: `g` where `x > 0`, else 0 (same shape and float dtype).
    fn threshold_backward(&self, g: &Tensor, x: &Tensor) -> Result<Tensor>;

    /// Reduce `x` over `dims` (sorted, distinct) into `shape` with dtype
    /// `out_dt`. Sum/Prod of integers give int64. Arg reductions also return
    /// int64 indices; Max/Min/ArgMax/ArgMin propagate NaN.
    fn reduce(
        &self,
        x: &Tensor,
        dims: &[usize],
        shape: &[usize],
        op: Red,
        out_dt: DType,
    ) -> Result<(Tensor, Option<Tensor>)>;

    /// Variance over `dims` (float dtypes) with Bessel-style `correction`.
    fn var(&self, x: &Tensor, dims: &[usize], shape: &[usize], correction: f64) -> Result<Tensor>;

    /// The `k` smallest (or largest when `descending`) of each line along
    /// `dim`, in order, ties by position (NaN above every number): values
    /// and int64 indices with `dim` of size `k`. `k == size` is a stable sort.
    fn sort(&self, x: &Tensor, dim: usize, descending: bool, k: usize) -> Result<(Tensor, Tensor)>;

    /// The `k0`-th smallest (0-based) of each line along `dim`, `dim` kept with size 1.
    fn kthvalue(&self, x: &Tensor, dim: usize, k0: usize) -> Result<(Tensor, Tensor)>;

    /// The lower median of each line along `dim` (NaN wins unless
    /// `ignore_nan`), `dim` kept with size 1.
    fn median(&self, x: &Tensor, dim: usize, ignore_nan: bool) -> Result<(Tensor, Tensor)>;

    /// softmax (or log_softmax when `log`) along `dim` of a float tensor.
    fn softmax(&self, x: &Tensor, dim: usize, log: bool) -> Result<Tensor>;

    /// Inclusive cumulative sum (or product) along `dim`, keeping the dtype.
    fn scan(&self, x: &Tensor, dim: usize, prod: bool) -> Result<Tensor>;

    /// `x.index_select(dim, idx)` with every index in range: the rows of
    /// `dim` picked in order. `Ok(None)` when the device has no kernel for
    /// this layout or dtype (the op then composes it).
    fn index_select(&self, _x: &Tensor, _dim: usize, _idx: &[usize]) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// `x.index_add(dim, idx, src)` with every index in range and `src` of
    /// x's dtype and shape except `dim` (of size `idx.len()`): a new tensor,
    /// repeated indices adding up. `Ok(None)` as for `index_select`.
    fn index_add(
        &self,
        _x: &Tensor,
        _dim: usize,
        _idx: &[usize],
        _src: &Tensor,
    ) -> Result<Option<Tensor>> {
        Ok(None)
    }
}

/// The backend that runs kernels for tensors on `dev`.
pub fn for_device(dev: Device) -> &'static dyn Backend {
    match dev {
        Device::Cpu => &crate::cpu::backend::CPU,
        Device::Gpu(_) => &crate::wgpu::backend::WGPU,
    }
}

/// The backend of `t`'s device.
#[inline]
pub fn of(t: &Tensor) -> &'static dyn Backend {
    if t.dtype().is_complex() {
        // Complex ops are compositions on the real view (ops::complex); a
        // kernel reached with a complex tensor refuses it.
        return &crate::ops::complex::GUARD;
    }
    for_device(t.device())
}
