//! `Backend` for wgpu buffers: glue from the kernel contracts of
//! `crate::backend` to the shader dispatches of `kernels`, and the places where
//! this device differs (32-bit shader words, kernels it lacks and runs on the
//! host instead).

use super::kernels as gpu;
use crate::backend::{Backend, Red};
use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::layout::Layout;
use crate::ops::{Binary, Unary};
use crate::storage::Device;
use crate::tensor::Tensor;

pub struct Wgpu;

pub static WGPU: Wgpu = Wgpu;

impl Backend for Wgpu {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn note_fallback(&self, op: &str) {
        super::note_fallback(op);
    }

    fn cast(&self, x: &Tensor, dtype: DType) -> Result<Tensor> {
        gpu::cast(x, dtype)
    }

    fn copy_into(&self, dst: &Tensor, src: &Tensor, accumulate: bool) -> Result<()> {
        if accumulate {
            // Overlapping views add up element by element on the host.
            return crate::ops::device::gpu_write_back(dst, |h| {
                crate::cpu::backend::CPU.copy_into(h, &src.host()?, true)
            });
        }
        gpu::copy_into(dst, src)
    }

    fn fill(&self, dst: &Tensor, v: Scalar) -> Result<()> {
        gpu::fill(dst, v)
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

    fn matmul(
        &self,
        a: &Tensor,
        la: &Layout,
        b: &Tensor,
        lb: &Layout,
        nb: usize,
        out_shape: &[usize],
    ) -> Result<Tensor> {
        match a.dtype() {
            DType::F32 => matmul_f32(a, la, b, lb, nb, out_shape),
            dt @ (DType::F16 | DType::BF16) => {
                // Through f32 (accumulated in f32, rounded once at the end).
                let (a32, b32) = (a.cast_raw(DType::F32)?, b.cast_raw(DType::F32)?);
                let la32 = a32.layout().broadcast_to(&la.shape)?;
                let lb32 = b32.layout().broadcast_to(&lb.shape)?;
                matmul_f32(&a32, &la32, &b32, &lb32, nb, out_shape)?.cast_raw(dt)
            }
            _ => {
                // Integer words: the host GEMM.
                super::note_fallback("matmul");
                let ha = a.view_of(la.clone()).host()?;
                let hb = b.view_of(lb.clone()).host()?;
                let (lha, lhb) = (ha.layout().clone(), hb.layout().clone());
                crate::cpu::backend::CPU
                    .matmul(&ha, &lha, &hb, &lhb, nb, out_shape)?
                    .to_device_raw(a.device())
            }
        }
    }

    fn where_(&self, cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        gpu::where_(cond, a, b, shape)
    }

    fn clamp(&self, x: &Tensor, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        let dt = x.dtype();
        let mut y = x.detach();
        let ws = |v: f64| Tensor::wrapped_scalar(Scalar::Float(v), DType::F64);
        if let Some(lo) = min {
            y = gpu::binary(&y, &ws(lo), y.shape(), Binary::Maximum as u32, false, dt)?;
        }
        if let Some(hi) = max {
            y = gpu::binary(&y, &ws(hi), y.shape(), Binary::Minimum as u32, false, dt)?;
        }
        Ok(y)
    }

    fn threshold_backward(&self, g: &Tensor, x: &Tensor) -> Result<Tensor> {
        // Zero where x <= 0; a NaN input passes its gradient (PyTorch).
        let zero = Tensor::zeros_on(&[], g.dtype(), g.device())?;
        Tensor::where_(&x.le_s(0.0)?, &zero, g)
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

    fn sort(&self, x: &Tensor, dim: usize, descending: bool, k: usize) -> Result<(Tensor, Tensor)> {
        gpu::sort(x, dim, descending, k)
    }

    fn kthvalue(&self, x: &Tensor, d: usize, k0: usize) -> Result<(Tensor, Tensor)> {
        // The k smallest in order (ties by position); the last is the k-th.
        let (v, i) = gpu::sort(x, d, false, k0 + 1)?;
        let pick = |t: &Tensor| t.narrow(d as i64, k0, 1)?.contiguous();
        Ok((pick(&v)?, pick(&i)?))
    }

    fn median(&self, x: &Tensor, d: usize, ignore_nan: bool) -> Result<(Tensor, Tensor)> {
        median(x, d, ignore_nan)
    }

    fn softmax(&self, x: &Tensor, d: usize, log: bool) -> Result<Tensor> {
        // Composed from reduction and elementwise kernels; an empty tensor
        // has an empty result (amax refuses an empty dim).
        if x.numel() == 0 {
            return crate::autograd::no_grad(|| x.detach().mul_s(0.0));
        }
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

/// median_dim of a GPU tensor (dim `d` kept, size 1): the lines sorted
/// ascending (NaNs last, ties by position) and the pick of `median_idx` made
/// with tensor ops: with c non-NaN values of n, position (c - 1) / 2 when no
/// NaN counts (ignore_nan, or c == n), else c (the first NaN); 0 when c == 0.
fn median(x: &Tensor, d: usize, ignore_nan: bool) -> Result<(Tensor, Tensor)> {
    let n = x.shape()[d];
    let (v, i) = gpu::sort(x, d, false, n)?;
    let int = |k: i64| Tensor::wrapped_scalar(Scalar::Int(k), crate::dtype::DType::I64);
    let c = x
        .binary(x, Binary::Eq)?
        .sum_dims(&[d as i64], true, Some(crate::dtype::DType::I64))?;
    let mid = c
        .binary(&int(1), Binary::Sub)?
        .binary(&int(2), Binary::FloorDiv)?
        .binary(&int(0), Binary::Maximum)?;
    let pos = if ignore_nan {
        mid
    } else {
        let full = c.binary(&int(n as i64), Binary::Eq)?;
        Tensor::where_(&full, &mid, &c)?
    };
    Ok((v.gather(d as i64, &pos)?, i.gather(d as i64, &pos)?))
}

/// GPU matmul of broadcast (batch..., m, k) x (batch..., k, n) layouts.
fn matmul_f32(
    a: &Tensor,
    la: &Layout,
    b: &Tensor,
    lb: &Layout,
    nb: usize,
    out_shape: &[usize],
) -> Result<Tensor> {
    // Collapse the batch dims into one strided dim (copying an operand whose
    // batch dims do not merge).
    fn batch3(t: &Tensor, l: &Layout, nb: usize) -> Result<(Tensor, Layout)> {
        let bshape = &l.shape[..nb];
        let bt: usize = bshape.iter().product();
        let mut stride = None;
        let mut ok = true;
        // Mergeable when each batch stride equals the next one times its size.
        let dims: Vec<usize> = (0..nb).filter(|&d| bshape[d] != 1).collect();
        for w in dims.windows(2) {
            if l.strides[w[0]] != l.strides[w[1]] * bshape[w[1]] {
                ok = false;
            }
        }
        if let Some(&last) = dims.last() {
            stride = Some(l.strides[last]);
        }
        if ok {
            let lay = Layout {
                shape: vec![bt, l.shape[nb], l.shape[nb + 1]],
                strides: vec![stride.unwrap_or(0), l.strides[nb], l.strides[nb + 1]],
                offset: l.offset,
            };
            return Ok((t.clone(), lay));
        }
        let c = t.view_of(l.clone()).clone_data()?;
        let lay = Layout::contiguous(&[bt, l.shape[nb], l.shape[nb + 1]]);
        Ok((c, lay))
    }
    let (a3, la3) = batch3(a, la, nb)?;
    let (b3, lb3) = batch3(b, lb, nb)?;
    let out = gpu::matmul3(&a3, &la3, &b3, &lb3)?;
    Ok(out.view_of(Layout::contiguous(out_shape)))
}
