//! Binding of the DFT primitives (ember-core ops/fft.rs, ops/fft_real.rs) that
//! python/ember/fft composes.

use crate::errors::Py as _;
use crate::tensor::PyTensor;
use pyo3::prelude::*;

/// Unnormalized complex-to-complex DFT along `dim` (forward, or inverse), with
/// autograd; the work runs with the GIL released.
#[pyfunction]
fn _fft_c2c(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    dim: i64,
    inverse: bool,
) -> PyResult<PyTensor> {
    let x = input.t.clone();
    let out = py.detach(|| x.fft_c2c(dim, inverse)).py()?;
    Ok(PyTensor::wrap(out))
}

/// Unnormalized real-to-complex DFT along `dim` (the n // 2 + 1 bins), with autograd.
#[pyfunction]
fn _fft_r2c(py: Python<'_>, input: PyRef<'_, PyTensor>, dim: i64) -> PyResult<PyTensor> {
    let x = input.t.clone();
    let out = py.detach(|| x.fft_r2c(dim)).py()?;
    Ok(PyTensor::wrap(out))
}

/// Unnormalized complex-to-real DFT of a half spectrum along `dim` to `n` points.
#[pyfunction]
fn _fft_c2r(py: Python<'_>, input: PyRef<'_, PyTensor>, dim: i64, n: usize) -> PyResult<PyTensor> {
    let x = input.t.clone();
    let out = py.detach(|| x.fft_c2r(dim, n)).py()?;
    Ok(PyTensor::wrap(out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_fft_c2c, m)?)?;
    m.add_function(wrap_pyfunction!(_fft_r2c, m)?)?;
    m.add_function(wrap_pyfunction!(_fft_c2r, m)?)?;
    Ok(())
}
