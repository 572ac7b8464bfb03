//! Devices: transfers between "cpu" and "gpu", the same-device rule, and the
//! host fallback for ops that have no GPU kernel yet.
//!
//! An op without a GPU kernel runs on host copies of its GPU operands and
//! its result is uploaded back (`gpu_fallback`). The copies are
//! differentiable device moves, so autograd works unchanged through it; the
//! cost is a host round trip, which the hot training ops avoid by having
//! kernels in shaders/.

use crate::autograd::{any_requires_grad, unary_record, BackCtx};
use crate::error::Result;
use crate::layout::Layout;
use crate::storage::{CpuData, Device, Storage, StorageCell};
use crate::tensor::Tensor;
use crate::wgpu::{self as gpu, kernels};
use crate::{bail, dtype::DType};
use std::sync::Arc;

/// The device an op on `ts` runs on: they must agree, except that 0-dim CPU
/// tensors (Python scalars, `torch.tensor(2.0)`) may join GPU operands.
pub fn common_device(ts: &[&Tensor], op: &str) -> Result<Device> {
    let mut dev: Option<Device> = None;
    for t in ts {
        let d = t.device();
        if d == Device::Cpu && t.ndim() == 0 {
            continue;
        }
        match dev {
            None => dev = Some(d),
            Some(e) if e != d => bail!(
                "Expected all tensors to be on the same device, but found at least two devices, {} and {}! ({})",
                e,
                d,
                op
            ),
            _ => {}
        }
    }
    Ok(dev.unwrap_or_else(|| ts.first().map(|t| t.device()).unwrap_or(Device::Cpu)))
}

impl Tensor {
    pub fn is_gpu(&self) -> bool {
        self.device().is_gpu()
    }

    /// A host (CPU) tensor with the same values, without autograd: `self`
    /// when already on the CPU. Waits for the GPU.
    pub fn host(&self) -> Result<Tensor> {
        if !self.is_gpu() {
            return Ok(self.clone());
        }
        if self.dtype().is_complex() {
            let r = self.view_as_real()?.detach().host()?;
            return crate::ops::complex::fresh(r.view_as_complex()?);
        }
        let whole = {
            let g = self.storage().read();
            match &*g {
                Storage::Gpu(d) => {
                    self.is_contiguous() && self.layout().offset == 0 && d.len == self.numel()
                }
                Storage::Cpu(_) => unreachable!(),
            }
        };
        let src = if whole {
            self.clone()
        } else {
            kernels::cast(self, self.dtype())?
        };
        let data = {
            let g = src.storage().read();
            match &*g {
                Storage::Gpu(d) => gpu::download(d)?,
                Storage::Cpu(_) => unreachable!(),
            }
        };
        Ok(Tensor::from_cpu(data, self.shape()))
    }

    /// Copy to `dev` without autograd (contiguous result; `self` if already there).
    pub fn to_device_raw(&self, dev: Device) -> Result<Tensor> {
        if dev == self.device() {
            return Ok(self.clone());
        }
        if self.dtype().is_complex() {
            let r = self.view_as_real()?.detach();
            return crate::ops::complex::fresh(r.to_device_raw(dev)?.view_as_complex()?);
        }
        match dev {
            Device::Cpu => self.host(),
            Device::Gpu(_) => {
                gpu::check_dtype(self.dtype(), "to(gpu)")?;
                if self.numel() == 1 {
                    // One value (a Python scalar, a loss constant): a fill
                    // dispatch, so the batch is not submitted for an upload.
                    let v = self.item()?;
                    if let crate::Scalar::Int(i) = v {
                        if i32::try_from(i).is_err() {
                            gpu::to_words(&CpuData::I64(vec![i].into()), "to(gpu)")?;
                        }
                    }
                    return kernels::full(self.shape(), v, self.dtype());
                }
                let c = if self.is_contiguous() && self.layout().offset == 0 {
                    self.clone()
                } else {
                    self.clone_data()?
                };
                let n = c.numel();
                let d = c.with_cpu(|d, _| -> Result<crate::wgpu::GpuData> {
                    if d.len() == n {
                        gpu::upload(d, "to(gpu)")
                    } else {
                        let sub = crate::dispatch!(d.dtype(), T => <T as crate::storage::CpuElement>::wrap(<T as crate::storage::CpuElement>::slice(d)[..n].to_vec()));
                        gpu::upload(&sub, "to(gpu)")
                    }
                })??;
                Ok(Tensor::from_parts(
                    Arc::new(StorageCell::new_gpu(d)),
                    Layout::contiguous(self.shape()),
                    self.dtype(),
                ))
            }
        }
    }

    /// `tensor.to(device)`: differentiable (ToCopyBackward0).
    pub fn to_device(&self, dev: Device) -> Result<Tensor> {
        if dev == self.device() {
            return Ok(self.clone());
        }
        let out = self.to_device_raw(dev)?;
        // complex moves are differentiable too (grad moves back the same way)
        let dt = self.dtype();
        if !(dt.is_float() || dt.is_complex()) || !any_requires_grad(&[self]) {
            return Ok(out);
        }
        let src = self.device();
        Ok(unary_record(
            "ToCopyBackward0",
            out,
            self,
            vec![],
            move |c: &BackCtx| Ok(vec![Some(c.grad(0)?.to_device(src)?)]),
        ))
    }

    /// A new tensor from host data, placed on `dev`.
    pub fn from_cpu_on(data: CpuData, shape: &[usize], dev: Device) -> Result<Tensor> {
        let t = Tensor::from_cpu(data, shape);
        if dev.is_gpu() {
            t.to_device_raw(dev)
        } else {
            Ok(t)
        }
    }

    /// Zeros on `dev`.
    pub fn zeros_on(shape: &[usize], dtype: DType, dev: Device) -> Result<Tensor> {
        if dtype.is_complex() {
            return crate::ops::complex::full_on(shape, crate::Scalar::Int(0), dtype, dev);
        }
        if dev.is_gpu() {
            return kernels::full(shape, crate::Scalar::Int(0), dtype);
        }
        Tensor::zeros(shape, dtype)
    }

    /// Filled with `v` on `dev`.
    pub fn full_on(shape: &[usize], v: crate::Scalar, dtype: DType, dev: Device) -> Result<Tensor> {
        if dtype.is_complex() {
            return crate::ops::complex::full_on(shape, v, dtype, dev);
        }
        if dev.is_gpu() {
            return kernels::full(shape, v, dtype);
        }
        Tensor::full(shape, v, dtype)
    }
}

/// Run `f` (the host implementation of an op that has no kernel on the
/// operands' device) on host copies of the operands and move its results
/// back; autograd flows through the moves. Counted per device as a fallback.
pub fn host_fallback_n(
    op: &str,
    inputs: &[&Tensor],
    f: impl FnOnce(&[Tensor]) -> Result<Vec<Tensor>>,
) -> Result<Vec<Tensor>> {
    let dev = common_device(inputs, op)?;
    crate::backend::for_device(dev).note_fallback(op);
    let host: Vec<Tensor> = inputs
        .iter()
        .map(|t| {
            if !t.device().is_host() {
                t.to_device(Device::Cpu)
            } else {
                Ok((*t).clone())
            }
        })
        .collect::<Result<_>>()?;
    let outs = f(&host)?;
    outs.into_iter()
        .map(|o| {
            if o.device() == dev {
                Ok(o)
            } else {
                o.to_device(dev)
            }
        })
        .collect()
}

pub fn host_fallback(
    op: &str,
    inputs: &[&Tensor],
    f: impl FnOnce(&[Tensor]) -> Result<Tensor>,
) -> Result<Tensor> {
    Ok(host_fallback_n(op, inputs, |h| Ok(vec![f(h)?]))?.remove(0))
}

/// Whether any operand lives off the host (0-dim CPU scalars do not count).
pub fn any_gpu(ts: &[&Tensor]) -> bool {
    ts.iter().any(|t| !t.device().is_host())
}

/// In-place write of host-computed `new` values into a GPU tensor's
/// storage: `f` gets a host copy of the whole storage and mutates it.
pub fn gpu_write_back(t: &Tensor, f: impl FnOnce(&Tensor) -> Result<()>) -> Result<()> {
    let whole = Tensor::from_parts(
        t.storage().clone(),
        Layout::contiguous(&[storage_len(t)]),
        t.dtype(),
    );
    let host = whole.host()?;
    let view = host.view_of(t.layout().clone());
    f(&view)?;
    let words = host.with_cpu(|d, _| gpu::to_words(d, "in-place write"))??;
    let g = t.storage().read();
    match &*g {
        Storage::Gpu(d) => gpu::ctx()?.write_words(&d.buf, &words),
        Storage::Cpu(_) => unreachable!(),
    }
}

fn storage_len(t: &Tensor) -> usize {
    match &*t.storage().read() {
        Storage::Gpu(d) => d.len,
        Storage::Cpu(c) => c.len(),
    }
}
