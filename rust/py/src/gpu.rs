//! Bindings of the GPU backend: adapter info, transfers, synchronisation
//! and the pool/submit counters (ember.gpu, ember.cuda, Tensor.to).

use crate::errors::Py as _;
use crate::tensor::PyTensor;
use ember_core::wgpu as gpu;
use ember_core::Device;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Adapter name, backend and limits; {"available": False, "reason": ...}
/// when no adapter can be used.
#[pyfunction]
fn gpu_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    let avail = py.detach(gpu::available);
    d.set_item("available", avail)?;
    if !avail {
        d.set_item("reason", gpu::unavailable_reason().unwrap_or_default())?;
        return Ok(d);
    }
    for (k, v) in gpu::info().py()? {
        match v.parse::<u64>() {
            Ok(n) => d.set_item(k, n)?,
            Err(_) if v == "true" || v == "false" => d.set_item(k, v == "true")?,
            Err(_) => d.set_item(k, v)?,
        }
    }
    Ok(d)
}

/// Buffer pool, submit and dispatch counters.
#[pyfunction]
fn gpu_stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in gpu::stats().py()? {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// Ops that ran on host copies for want of a GPU kernel, with counts.
#[pyfunction]
fn gpu_fallbacks(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in gpu::fallbacks().py()? {
        d.set_item(k, v)?;
    }
    Ok(d)
}

#[pyfunction]
fn gpu_synchronize(py: Python<'_>) -> PyResult<()> {
    py.detach(|| gpu::ctx()?.synchronize()).py()
}

#[pyfunction]
fn gpu_empty_cache() -> PyResult<()> {
    if let Ok(c) = gpu::ctx() {
        c.empty_cache();
    }
    Ok(())
}

#[pyfunction]
fn to_gpu(py: Python<'_>, t: &PyTensor) -> PyResult<PyTensor> {
    let t = t.t.clone();
    let r = py.detach(move || t.to_device(Device::Gpu(0)));
    Ok(PyTensor::wrap(r.py()?))
}

#[pyfunction]
fn to_cpu(py: Python<'_>, t: &PyTensor) -> PyResult<PyTensor> {
    let t = t.t.clone();
    let r = py.detach(move || t.to_device(Device::Cpu));
    Ok(PyTensor::wrap(r.py()?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gpu_info, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_stats, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_fallbacks, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_empty_cache, m)?)?;
    m.add_function(wrap_pyfunction!(to_gpu, m)?)?;
    m.add_function(wrap_pyfunction!(to_cpu, m)?)?;
    Ok(())
}
