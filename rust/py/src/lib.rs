//! ember._C: PyO3 bindings of ember-core.
#![allow(non_snake_case)]
// pyfunctions mirror PyTorch signatures, which can be long.
#![allow(clippy::too_many_arguments)]

use pyo3::prelude::*;

/// Large buffers are cached between uses (see ember_core::cpu::alloc).
#[global_allocator]
pub(crate) static ALLOC: ember_core::cpu::alloc::CachingAlloc =
    ember_core::cpu::alloc::CachingAlloc::new();

mod autograd_py;
mod complex;
mod convert;
mod errors;
mod fft;
mod gpu;
mod interop;
mod linalg;
mod nn;
mod ops;
mod sort;
mod tensor;

#[pymodule]
fn _C(m: &Bound<'_, PyModule>) -> PyResult<()> {
    ember_core::cpu::init_process();
    ember_core::cpu::init_pool_from_env();
    if let Some(mb) = std::env::var("EMBER_CPU_CACHE_MB")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        ALLOC.set_cap(mb << 20);
    }
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<tensor::PyDType>()?;
    m.add(
        "OutOfMemoryError",
        m.py().get_type::<errors::OutOfMemoryError>(),
    )?;
    ops::register(m)?;
    sort::register(m)?;
    complex::register(m)?;
    fft::register(m)?;
    autograd_py::register(m)?;
    nn::register(m)?;
    gpu::register(m)?;
    interop::register(m)?;
    linalg::register(m)?;
    Ok(())
}
