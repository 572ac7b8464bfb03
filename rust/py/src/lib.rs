//! ember._C: PyO3 bindings of ember-core.
#![allow(non_snake_case)]
// pyfunctions mirror PyTorch signatures, which can be long.
#![allow(clippy::too_many_arguments)]

use pyo3::prelude::*;

mod autograd_py;
mod convert;
mod errors;
mod gpu;
mod nn;
mod ops;
mod sort;
mod tensor;

#[pymodule]
fn _C(m: &Bound<'_, PyModule>) -> PyResult<()> {
    ember_core::cpu::init_process();
    ember_core::cpu::init_pool_from_env();
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<tensor::PyDType>()?;
    ops::register(m)?;
    sort::register(m)?;
    autograd_py::register(m)?;
    nn::register(m)?;
    gpu::register(m)?;
    Ok(())
}
