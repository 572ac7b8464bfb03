//! `Backend` for wgpu buffers: glue from the kernel contracts of
//! `crate::backend` to the shader dispatches of `kernels`, and the places where
//! this device differs (32-bit shader words, kernels it lacks and runs on the
//! host instead).

use super::kernels as gpu;
use crate::backend::{Backend, Red};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::{Binary, Unary};
use crate::storage::Device;
use crate::tensor::Tensor;

pub struct Wgpu;

pub static WGPU: Wgpu = Wgpu;

impl Backend for Wgpu {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn cast(&self, x: &Tensor, dtype: DType) -> Result<Tensor> {
        gpu::cast(x, dtype)
    }

    fn unary(&self, x: &Tensor, op: Unary) -> Result<Tensor> {
        let dt = x.dtype();
        if op == Unary::LogicalNot || (dt == DType::Bool && op == Unary::BitNot) {
            // The logical-not shader works on 32-bit integers.
            let b = x.cast_raw_if_raw(DType::Bool)?;
            let out = gpu::unary(&b.cast_raw(DType::I32)?, Unary::LogicalNot as u32)?;
            return out.cast_raw(DType::Bool);
        }
        gpu::unary(x, op as u32)
    }

    fn binary(
        &self,
        a: &Tensor,
        b: &Tensor,
        shape: &[usize],
        op: Binary,
        ct: DType,
    ) -> Result<Tensor> {
        use Binary::*;
        // Operands: GPU tensors, or a 0-dim host tensor passed as a scalar,
        // which the shader takes as its second operand: swap when the op allows.
        let (a, b, op) = if !a.is_gpu() {
            match op {
                Add | Mul | Maximum | Minimum | Fmax | Fmin | Eq | Ne | BitAnd | BitOr | BitXor
                | LogicalAnd | LogicalOr | LogicalXor => (b.clone(), a.clone(), op),
                Lt => (b.clone(), a.clone(), Gt),
                Gt => (b.clone(), a.clone(), Lt),
                Le => (b.clone(), a.clone(), Ge),
                Ge => (b.clone(), a.clone(), Le),
                _ => (a.to_device_raw(Device::Gpu(0))?, b.clone(), op),
            }
        } else {
            (a.clone(), b.clone(), op)
        };
        let compare = op.is_compare() || op.is_logical();
        let native = if compare {
            true
        } else if ct.is_float() {
            !op.is_bitwise()
        } else if ct == DType::Bool {
            matches!(
                op,
                BitAnd | BitOr | BitXor | Maximum | Minimum | Fmax | Fmin
            )
        } else {
            matches!(
                op,
                Add | Sub
                    | Mul
                    | FloorDiv
                    | Remainder
                    | Fmod
                    | Maximum
                    | Minimum
                    | Fmax
                    | Fmin
                    | BitAnd
                    | BitOr
                    | BitXor
            )
        };
        if !native {
            // No shader for this op and dtype: the host kernel, counted as a fallback.
            super::note_fallback(op.name());
            let (ha, hb) = (a.host()?, b.host()?);
            let out = crate::cpu::backend::CPU.binary(&ha, &hb, shape, op, ct)?;
            return out.to_device_raw(Device::Gpu(0));
        }
        gpu::binary(&a, &b, shape, op as u32, compare, ct)
    }

    fn where_(&self, cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        gpu::where_(cond, a, b, shape)
    }

    fn reduce(
        &self,
        x: &Tensor,
        dims: &[usize],
        shape: &[usize],
        op: Red,
        out_dt: DType,
    ) -> Result<(Tensor, Option<Tensor>)> {
        // Integer sums and products accumulate in the output's (int64) words.
        let x = if matches!(op, Red::Sum | Red::Prod) {
            x.cast_raw_if_raw(out_dt)?
        } else {
            x.clone()
        };
        gpu::reduce(&x, dims, shape, op, out_dt)
    }

    fn var(&self, x: &Tensor, dims: &[usize], shape: &[usize], correction: f64) -> Result<Tensor> {
        // Two reductions and elementwise kernels: mean, squared deviations, sum.
        let n: usize = dims.iter().map(|&d| x.shape()[d]).product();
        let di: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
        let keepdim = shape.len() == x.ndim();
        crate::autograd::no_grad(|| -> Result<Tensor> {
            let x = x.detach();
            let m = x.sum_dims(&di, true, None)?.div_s(n as f64)?;
            let d = x.sub(&m)?;
            d.mul(&d)?
                .sum_dims(&di, keepdim, None)?
                .div_s((n as f64 - correction).max(0.0))
        })
    }

    fn softmax(&self, x: &Tensor, d: usize, log: bool) -> Result<Tensor> {
        // Composed from reduction and elementwise kernels.
        crate::autograd::no_grad(|| -> Result<Tensor> {
            let xd = x.detach();
            let m = xd.amax_dims(&[d as i64], true, true, "AmaxBackward0")?;
            // Rows that are all -inf (or hold +inf) keep PyTorch's NaN/inf results.
            let z = xd.sub(&m)?;
            let e = z.unary(Unary::Exp)?;
            let s = e.sum_dims(&[d as i64], true, None)?;
            if log {
                z.sub(&s.unary(Unary::Log)?)
            } else {
                e.div(&s)
            }
        })
    }

    fn scan(&self, x: &Tensor, dim: usize, prod: bool) -> Result<Tensor> {
        if super::wgsl_type(x.dtype()) != "u32" {
            return gpu::scan(x, dim, prod);
        }
        // Small integer and bool words have no scan shader: the host loop.
        super::note_fallback(if prod { "cumprod" } else { "cumsum" });
        crate::cpu::backend::CPU
            .scan(&x.host()?, dim, prod)?
            .to_device_raw(x.device())
    }
}
