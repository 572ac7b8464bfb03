//! Creation ops: arange, linspace, logspace, eye.

use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use crate::{bail, dispatch};

impl Tensor {
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
        crate::ops::complex::refuse_dtype("arange", dtype)?;
        if step == 0.0 {
            bail!("arange: step must be nonzero");
        }
        if !start.is_finite() || !end.is_finite() {
            bail!("arange: unsupported range: {start} -> {end}");
        }
        if (step > 0.0 && end < start) || (step < 0.0 && end > start) {
            bail!("arange: upper bound and larger bound inconsistent with step sign");
        }
        let nf = ((end - start) / step).ceil().max(0.0);
        if nf > (1u64 << 48) as f64 {
            bail!("arange: the resulting tensor of {nf} elements is too large");
        }
        let n = nf as usize;
        crate::layout::checked_numel(&[n], dtype.size(), "arange")?;
        let data = dispatch!(dtype, T => T::wrap((0..n).map(|i| T::from_f64(start + i as f64 * step)).collect()));
        Ok(Tensor::from_cpu(data, &[n]))
    }

    pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Result<Tensor> {
        crate::ops::complex::refuse_dtype("linspace", dtype)?;
        crate::layout::checked_numel(&[steps], dtype.size(), "linspace")?;
        let step = if steps > 1 {
            (end - start) / (steps - 1) as f64
        } else {
            0.0
        };
        let half = steps / 2;
        let data = dispatch!(dtype, T => T::wrap((0..steps).map(|i| {
            let v = if steps == 1 {
                start
            } else if i < half { start + step * i as f64 } else { end - step * (steps - 1 - i) as f64 };
            T::from_f64(v)
        }).collect()));
        Ok(Tensor::from_cpu(data, &[steps]))
    }

    pub fn eye(n: usize, m: usize, dtype: DType) -> Result<Tensor> {
        crate::ops::complex::refuse_dtype("eye", dtype)?;
        crate::layout::checked_numel(&[n, m], dtype.size(), "eye")?;
        let data = dispatch!(dtype, T => {
            let mut v = vec![T::zero_v(); n * m];
            for i in 0..n.min(m) {
                v[i * m + i] = T::one_v();
            }
            T::wrap(v)
        });
        Ok(Tensor::from_cpu(data, &[n, m]))
    }
}
