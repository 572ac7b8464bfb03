//! Bindings of the complex-tensor ops (ember-core ops/complex.rs): the real/complex
//! views, construction from parts, and Python complex numbers as wrapped scalars.

use crate::errors::Py as _;
use crate::tensor::PyTensor;
use ember_core::Tensor;
use pyo3::prelude::*;
use pyo3::types::PyComplex;

type R = PyResult<PyTensor>;

fn w(r: ember_core::Result<Tensor>) -> R {
    r.py().map(PyTensor::wrap)
}

/// A Python complex number as a 0-dim complex128 "wrapped number" (promotes as
/// a Python scalar: float32 tensor * 1j is complex64).
pub fn wrapped_complex(obj: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let c = obj.cast::<PyComplex>()?;
    let parts = Tensor::from_vec(vec![c.real(), c.imag()], &[2]);
    let t = parts.view_as_complex().py()?.detach();
    t.meta().is_view = false;
    ember_core::tensor::mark_wrapped(&t);
    Ok(t)
}

#[pyfunction]
fn view_as_real(input: PyRef<'_, PyTensor>) -> R {
    w(input.t.view_as_real())
}

#[pyfunction]
fn view_as_complex(input: PyRef<'_, PyTensor>) -> R {
    w(input.t.view_as_complex())
}

#[pyfunction]
fn complex(real: PyRef<'_, PyTensor>, imag: PyRef<'_, PyTensor>) -> R {
    w(Tensor::complex_from(&real.t, &imag.t))
}

#[pyfunction]
fn polar(abs: PyRef<'_, PyTensor>, angle: PyRef<'_, PyTensor>) -> R {
    w(Tensor::polar(&abs.t, &angle.t))
}

#[pyfunction]
fn real(input: PyRef<'_, PyTensor>) -> R {
    w(input.t.real_part())
}

#[pyfunction]
fn imag(input: PyRef<'_, PyTensor>) -> R {
    w(input.t.imag_part())
}

#[pyfunction]
fn conj_physical(input: PyRef<'_, PyTensor>) -> R {
    w(input.t.conj_t())
}

#[pyfunction]
fn angle(input: PyRef<'_, PyTensor>) -> R {
    w(input.t.angle())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! add {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add!(
        view_as_real,
        view_as_complex,
        complex,
        polar,
        real,
        imag,
        conj_physical,
        angle
    );
    Ok(())
}
