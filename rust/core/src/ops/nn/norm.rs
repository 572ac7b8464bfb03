//! layer_norm as one op: a fused CPU forward (cpu::norm) and a backward
//! written with tensor ops (so create_graph works), saving only the input
//! and the per-row mean and 1/std.

use crate::autograd::{any_requires_grad, record, BackCtx};
use crate::bail;
use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::tensor::Tensor;

impl Tensor {
    /// Normalise over the last dims holding `n` elements (CPU, float32/64).
    pub fn layer_norm_fused(
        &self,
        n: usize,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<Tensor> {
        let dt = self.dtype();
        if self.is_gpu() || !matches!(dt, DType::F32 | DType::F64) {
            bail!(
                "layer_norm_fused: expected a float32/float64 CPU tensor, got {dt} on {}",
                self.device()
            );
        }
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let Some(t) = t {
                if t.numel() != n || t.dtype() != dt || t.is_gpu() {
                    bail!(
                        "layer_norm: {name} of shape {:?} and dtype {} does not match the normalized size {n} and dtype {dt}",
                        t.shape(),
                        t.dtype()
                    );
                }
            }
        }
        let x = self.contiguous()?;
        let rows = x.numel().checked_div(n).unwrap_or(0);
        let wc = weight.map(|w| w.contiguous()).transpose()?;
        let bc = bias.map(|b| b.contiguous()).transpose()?;
        let (out, mean, rstd) = crate::dispatch_float!(dt, T => {
            let wv = wc.as_ref().map(|w| w.to_vec::<T>()).transpose()?;
            let bv = bc.as_ref().map(|b| b.to_vec::<T>()).transpose()?;
            let numel = x.numel();
            let mut o = vec![T::zero_v(); numel];
            let (m, r) = x.with_cpu(|d, l| {
                let xs = &<T as crate::storage::CpuElement>::slice(d)[l.offset..l.offset + numel];
                crate::cpu::norm::layer_norm(xs, n, wv.as_deref(), bv.as_deref(), eps, &mut o)
            })?;
            (
                Tensor::from_vec(o, x.shape()),
                Tensor::from_vec(m, &[rows, 1]),
                Tensor::from_vec(r, &[rows, 1]),
            )
        }, unreachable!());
        let mut inputs = vec![self];
        if let Some(w) = weight {
            inputs.push(w);
        }
        if let Some(b) = bias {
            inputs.push(b);
        }
        if !any_requires_grad(&inputs) {
            return Ok(out);
        }
        let (has_w, has_b) = (weight.is_some(), bias.is_some());
        let shape = self.shape().to_vec();
        let bshape = bias.map(|b| b.shape().to_vec()).unwrap_or_default();
        // The input itself (not a detached copy): with create_graph the
        // backward recomputes mean and 1/std from it so they carry gradients.
        let mut saved = vec![self.clone(), mean, rstd];
        if let Some(w) = weight {
            saved.push(w.clone());
        }
        record(
            "NativeLayerNormBackward0",
            &[&out],
            &inputs,
            saved,
            move |c: &BackCtx| {
                let g = c.grad(0)?.reshape(&[rows, n])?;
                let xr = c.saved[0].reshape(&[rows, n])?;
                let (mean, rstd) = if crate::autograd::grad_enabled() {
                    let m = xr.mean_dims(&[1], true, None)?;
                    let d = xr.sub(&m)?;
                    let v = d.mul(&d)?.mean_dims(&[1], true, None)?;
                    (m, v.add_s(eps)?.unary(crate::ops::Unary::Rsqrt)?)
                } else {
                    (c.saved[1].clone(), c.saved[2].clone())
                };
                let rstd = &rstd;
                let xhat = xr.sub(&mean)?.mul(rstd)?;
                let wt = if has_w {
                    Some(c.saved[3].reshape(&[n])?)
                } else {
                    None
                };
                let mut res = Vec::with_capacity(3);
                if c.needs[0] {
                    let gy = match &wt {
                        Some(w) => g.mul(w)?,
                        None => g.clone(),
                    };
                    let m1 = gy.mean_dims(&[1], true, None)?;
                    let m2 = gy.mul(&xhat)?.mean_dims(&[1], true, None)?;
                    let dx = gy.sub(&m1)?.sub(&xhat.mul(&m2)?)?.mul(rstd)?;
                    res.push(Some(dx.reshape(&shape)?));
                } else {
                    res.push(None);
                }
                let mut k = 1;
                if has_w {
                    res.push(if c.needs[k] {
                        let ws = c.saved[3].shape().to_vec();
                        Some(g.mul(&xhat)?.sum_dims(&[0], false, None)?.reshape(&ws)?)
                    } else {
                        None
                    });
                    k += 1;
                }
                if has_b {
                    res.push(if c.needs[k] {
                        Some(g.sum_dims(&[0], false, None)?.reshape(&bshape)?)
                    } else {
                        None
                    });
                }
                Ok(res)
            },
        );
        Ok(out)
    }
}
