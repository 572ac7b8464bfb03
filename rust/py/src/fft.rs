//! Binding of the DFT primitive (ember-core ops/fft.rs) that python/ember/fft composes.

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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_fft_c2c, m)?)?;
    Ok(())
}
