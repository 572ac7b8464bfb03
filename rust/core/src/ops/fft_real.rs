//! The real-input DFT primitives of ember.fft: r2c (rfft's last step) and
//! c2r (irfft's), on realfft (kernels in cpu/fft.rs).
//!
//! Both are unnormalized and act along one dim; python/ember/fft resizes the
//! input and applies the norm mode. Gradients follow PyTorch's
//! fft_r2c_backward / fft_c2r_backward:
//! - r2c keeps bins 0..=n/2 of the full spectrum; its adjoint is
//!   Re(sum over the kept bins of g_k e^{+2 pi i jk/n}), which is c2r of g
//!   with the bins c2r counts twice (1..=n-m, m = n/2 + 1) halved;
//! - c2r reads the half spectrum as the Hermitian full one, so each of those
//!   bins enters twice: its gradient is r2c of g with them doubled (DC and,
//!   for even n, Nyquist once; their imaginary parts get 0, as they are not read).
//!
//! The gpu has no FFT kernel yet: it runs on the host, counted as a fallback.

use crate::autograd::{any_requires_grad, no_grad, record, BackCtx};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::fft::fft_dim;
use crate::tensor::Tensor;
use crate::Device;

/// A real tensor broadcasting along `d` of an `nd`-dim tensor: 1 at each bin
/// of a half spectrum of n points, `k` at the bins 1..=n-m that stand for
/// two bins of the full spectrum.
fn twice_bins(n: usize, k: f64, nd: usize, d: usize, dt: DType, dev: Device) -> Result<Tensor> {
    let m = n / 2 + 1;
    let w: Vec<f64> = (0..m)
        .map(|j| if j >= 1 && j <= n - m { k } else { 1.0 })
        .collect();
    let mut shape = vec![1usize; nd];
    shape[d] = m;
    Tensor::from_vec(w, &shape).to_dtype(dt)?.to_device_raw(dev)
}

/// `x` with dim `d` moved last, contiguous, as a vector of its elements.
fn lines<T: crate::storage::CpuElement>(x: &Tensor, d: usize) -> Result<(Vec<T>, Vec<usize>)> {
    let moved = x.transpose(d as i64, x.ndim() as i64 - 1)?.contiguous()?;
    let shape = moved.shape().to_vec();
    Ok((moved.to_vec::<T>()?, shape))
}

impl Tensor {
    /// Unnormalized forward DFT of a float32/float64 tensor along `dim`: the
    /// n/2 + 1 bins of non-negative frequency (complex64/complex128).
    pub fn fft_r2c(&self, dim: i64) -> Result<Tensor> {
        if !matches!(self.dtype(), DType::F32 | DType::F64) {
            return Err(Error::Runtime(format!(
                "fft_r2c: expected a float32 or float64 tensor, got {}",
                self.dtype()
            )));
        }
        let d = fft_dim(self, dim)?;
        let n = self.shape()[d];
        if n == 0 {
            return Err(Error::Runtime(
                "Invalid number of data points (0) specified".into(),
            ));
        }
        let out = no_grad(|| -> Result<Tensor> {
            if self.device().is_host() {
                return self.detach().fft_r2c_host(d);
            }
            crate::ops::device::host_fallback("fft", &[&self.detach()], |h| h[0].fft_r2c_host(d))
        })?;
        if any_requires_grad(&[self]) {
            let nd = self.ndim();
            record(
                "FftR2CBackward0",
                &[&out],
                &[self],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    let w = twice_bins(n, 0.5, nd, d, g.dtype().to_real(), g.device())?;
                    Ok(vec![Some(g.mul(&w)?.fft_c2r(d as i64, n)?)])
                },
            );
        }
        Ok(out)
    }

    /// Unnormalized inverse DFT of a Hermitian half spectrum (n/2 + 1 bins
    /// along `dim`) to `n` real points (float32/float64).
    pub fn fft_c2r(&self, dim: i64, n: usize) -> Result<Tensor> {
        if !self.is_complex() {
            return Err(Error::Runtime(format!(
                "fft_c2r: expected a complex tensor, got {}",
                self.dtype()
            )));
        }
        let d = fft_dim(self, dim)?;
        if n == 0 {
            return Err(Error::Runtime(
                "Invalid number of data points (0) specified".into(),
            ));
        }
        let m = n / 2 + 1;
        if self.shape()[d] != m {
            return Err(Error::Runtime(format!(
                "fft_c2r: a signal of {n} points needs n // 2 + 1 = {m} bins along dim {d}, got shape {:?}",
                self.shape()
            )));
        }
        let out = no_grad(|| -> Result<Tensor> {
            if self.device().is_host() {
                return self.detach().fft_c2r_host(d, n);
            }
            crate::ops::device::host_fallback("fft", &[&self.detach()], |h| h[0].fft_c2r_host(d, n))
        })?;
        if any_requires_grad(&[self]) {
            let nd = self.ndim();
            record(
                "FftC2RBackward0",
                &[&out],
                &[self],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    let w = twice_bins(n, 2.0, nd, d, g.dtype(), g.device())?;
                    Ok(vec![Some(g.fft_r2c(d as i64)?.mul(&w)?)])
                },
            );
        }
        Ok(out)
    }

    fn fft_r2c_host(&self, d: usize) -> Result<Tensor> {
        let n = self.shape()[d];
        let m = n / 2 + 1;
        let last = self.ndim() as i64 - 1;
        let out = match self.dtype() {
            DType::F32 => {
                let (mut v, mut shape) = lines::<f32>(self, d)?;
                let mut o = vec![0f32; v.len() / n * 2 * m];
                crate::cpu::fft::r2c(&mut v, n, &mut o).map_err(Error::Runtime)?;
                if let Some(l) = shape.last_mut() {
                    *l = m;
                }
                shape.push(2);
                Tensor::from_vec(o, &shape)
            }
            DType::F64 => {
                let (mut v, mut shape) = lines::<f64>(self, d)?;
                let mut o = vec![0f64; v.len() / n * 2 * m];
                crate::cpu::fft::r2c(&mut v, n, &mut o).map_err(Error::Runtime)?;
                if let Some(l) = shape.last_mut() {
                    *l = m;
                }
                shape.push(2);
                Tensor::from_vec(o, &shape)
            }
            other => return Err(Error::Runtime(format!("fft: unsupported dtype {other}"))),
        };
        out.view_as_complex()?.transpose(d as i64, last)
    }

    fn fft_c2r_host(&self, d: usize, n: usize) -> Result<Tensor> {
        let m = n / 2 + 1;
        let last = self.ndim() as i64 - 1;
        let moved = self.transpose(d as i64, last)?.contiguous()?;
        let mut shape = moved.shape().to_vec();
        let r = moved.view_as_real()?;
        if let Some(l) = shape.last_mut() {
            *l = n;
        }
        let out = match r.dtype() {
            DType::F32 => {
                let v = r.to_vec::<f32>()?;
                let mut o = vec![0f32; v.len() / (2 * m) * n];
                crate::cpu::fft::c2r(&v, n, &mut o).map_err(Error::Runtime)?;
                Tensor::from_vec(o, &shape)
            }
            DType::F64 => {
                let v = r.to_vec::<f64>()?;
                let mut o = vec![0f64; v.len() / (2 * m) * n];
                crate::cpu::fft::c2r(&v, n, &mut o).map_err(Error::Runtime)?;
                Tensor::from_vec(o, &shape)
            }
            other => return Err(Error::Runtime(format!("fft: unsupported dtype {other}"))),
        };
        out.transpose(d as i64, last)
    }
}
