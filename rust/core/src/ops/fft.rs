//! The discrete Fourier transform primitive of ember.fft.
//!
//! One op: the unnormalized complex-to-complex transform of a complex tensor
//! along one dim, forward or inverse (kernel: cpu/fft.rs on rustfft). rfft,
//! irfft, the n-dimensional transforms, the norm modes and stft compose it in
//! python/ember/fft. Its gradient is the transform in the other direction:
//! the adjoint of an unnormalized DFT matrix is the opposite-direction one,
//! which is PyTorch's convention for complex gradients (grad = dL/dRe + i dL/dIm).
//! The gpu has no FFT kernel yet: it runs on the host, counted as a fallback.

use crate::autograd::{any_requires_grad, no_grad, record, BackCtx};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The transform dim of `x`, wrapped; a 0-dim tensor has none (PyTorch's
/// IndexError text, without the op prefix of `layout::wrap_dim`).
pub(crate) fn fft_dim(x: &Tensor, dim: i64) -> Result<usize> {
    let nd = x.ndim() as i64;
    if nd == 0 || dim < -nd || dim >= nd {
        return Err(Error::Index(format!(
            "Dimension out of range (expected to be in range of [{}, {}], but got {})",
            -nd.max(1),
            nd.max(1) - 1,
            dim
        )));
    }
    Ok(if dim < 0 { dim + nd } else { dim } as usize)
}

impl Tensor {
    /// Unnormalized DFT of a complex tensor along `dim` (forward: e^{-2 pi i jk/n}).
    pub fn fft_c2c(&self, dim: i64, inverse: bool) -> Result<Tensor> {
        if !self.is_complex() {
            return Err(Error::Runtime(format!(
                "fft_c2c: expected a complex tensor, got {}",
                self.dtype()
            )));
        }
        let d = fft_dim(self, dim)?;
        let out = no_grad(|| -> Result<Tensor> {
            if self.device().is_host() {
                return self.detach().fft_c2c_host(d, inverse);
            }
            // No gpu FFT kernel yet: the host runs it (counted as a fallback).
            crate::ops::device::host_fallback("fft", &[&self.detach()], |h| {
                h[0].fft_c2c_host(d, inverse)
            })
        })?;
        if any_requires_grad(&[self]) {
            record(
                "FftC2CBackward0",
                &[&out],
                &[self],
                vec![],
                move |c: &BackCtx| Ok(vec![Some(c.grad(0)?.fft_c2c(dim, !inverse)?)]),
            );
        }
        Ok(out)
    }

    /// The transform of a host tensor, without autograd.
    fn fft_c2c_host(&self, d: usize, inverse: bool) -> Result<Tensor> {
        let n = self.shape()[d];
        let last = self.ndim() - 1;
        {
            // The transformed dim last and contiguous: its real view is then
            // lines of n (re, im) pairs.
            let moved = self.transpose(d as i64, last as i64)?.contiguous()?;
            let r = moved.view_as_real()?;
            let shape = r.shape().to_vec();
            let done = match r.dtype() {
                DType::F32 => {
                    let mut v = r.to_vec::<f32>()?;
                    crate::cpu::fft::c2c(&mut v, n, inverse);
                    Tensor::from_vec(v, &shape)
                }
                DType::F64 => {
                    let mut v = r.to_vec::<f64>()?;
                    crate::cpu::fft::c2c(&mut v, n, inverse);
                    Tensor::from_vec(v, &shape)
                }
                other => return Err(Error::Runtime(format!("fft: unsupported dtype {other}"))),
            };
            done.view_as_complex()?.transpose(d as i64, last as i64)
        }
    }
}
