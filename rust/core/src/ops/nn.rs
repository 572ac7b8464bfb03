//! Neural-network kernels on NCHW tensors: convolution (im2col + packed GEMM),
//! transposed convolution, max/avg pooling and their adaptive forms, each with
//! an autograd rule written with differentiable ops so higher derivatives work.

pub mod conv;
pub mod im2col;
pub mod norm;
pub mod pool;
pub mod pool_kernels;

use crate::bail;
use crate::dtype::DType;
use crate::error::Result;
use crate::storage::{CpuData, CpuElement};
use crate::tensor::Tensor;

/// Float element types the kernels compute in (half types are upcast to f32).
pub trait Real:
    CpuElement + num_traits::Float + std::ops::AddAssign + Send + Sync + 'static
{
}
impl Real for f32 {}
impl Real for f64 {}

/// PyTorch's C++ scalar-type name, as used in "not implemented for 'Long'".
pub(crate) fn scalar_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "Float",
        DType::F64 => "Double",
        DType::F16 => "Half",
        DType::BF16 => "BFloat16",
        DType::I64 => "Long",
        DType::I32 => "Int",
        DType::I16 => "Short",
        DType::I8 => "Char",
        DType::U8 => "Byte",
        DType::Bool => "Bool",
        DType::C64 | DType::C128 => d.scalar_type_name(),
    }
}

/// `[2, 3, 4]`, PyTorch's way of printing sizes in messages.
pub(crate) fn sizes(s: &[usize]) -> String {
    format!("{s:?}")
}

/// Contiguous tensors of `dtype` whose storages are pairwise distinct, so the
/// kernels can hold one read lock per operand without re-entering a lock.
pub(crate) fn prepare(ts: &[&Tensor], dtype: DType) -> Result<Vec<Tensor>> {
    let mut out: Vec<Tensor> = Vec::with_capacity(ts.len());
    for t in ts {
        // Kernels without a GPU version run on host copies.
        let t: Tensor = t.host()?;
        let shares = out.iter().any(|o| o.same_storage(&t));
        let t = if t.dtype() != dtype {
            t.cast_raw(dtype)?
        } else if !t.is_contiguous() || shares {
            t.clone_data()?
        } else {
            t
        };
        out.push(t);
    }
    Ok(out)
}

/// Run `f` on the contiguous elements of `t` (which `prepare` made contiguous).
pub(crate) fn read<T: CpuElement, R>(t: &Tensor, f: impl FnOnce(&[T]) -> R) -> R {
    let g = t.storage().read();
    let off = t.layout().offset;
    f(&T::slice(g.cpu())[off..off + t.numel()])
}

/// Like `read` for an optional operand.
pub(crate) fn read_opt<T: CpuElement, R>(
    t: Option<&Tensor>,
    f: impl FnOnce(Option<&[T]>) -> R,
) -> R {
    match t {
        Some(t) => read(t, |s| f(Some(s))),
        None => f(None),
    }
}

/// The dtype kernels compute in for a float dtype (half types run in f32).
pub(crate) fn compute_dtype(d: DType) -> DType {
    match d {
        DType::F16 | DType::BF16 => DType::F32,
        d => d,
    }
}

/// Run a float kernel on prepared operands, upcasting half types to f32.
pub(crate) fn run_kernel(
    dt: DType,
    kernel_name: &str,
    ops: &[&Tensor],
    shape: &[usize],
    f32k: impl FnOnce(&[Tensor]) -> Vec<f32>,
    f64k: impl FnOnce(&[Tensor]) -> Vec<f64>,
) -> Result<Tensor> {
    let cd = compute_dtype(dt);
    let data = match cd {
        DType::F32 => CpuData::from(f32k(&prepare(ops, cd)?)),
        DType::F64 => CpuData::from(f64k(&prepare(ops, cd)?)),
        other => bail!(
            "\"{kernel_name}\" not implemented for '{}'",
            scalar_name(other)
        ),
    };
    let dev = crate::ops::device::common_device(ops, kernel_name)?;
    let out = Tensor::from_cpu_on(data, shape, dev)?;
    if cd != dt {
        out.cast_raw(dt)
    } else {
        Ok(out)
    }
}
