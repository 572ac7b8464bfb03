//! Bindings of the dense factorizations (ember-core ops/linalg_decomp.rs):
//! `_C._linalg_*`, used by python/ember/linalg.py, which adds the autograd
//! formulas and the LinAlgError checks. The work runs with the GIL released.

use crate::errors::Py as _;
use crate::tensor::PyTensor;
use ember_core::ops::linalg_decomp as ld;
use ember_core::Tensor;
use pyo3::prelude::*;

type T2 = PyResult<(PyTensor, PyTensor)>;
type T3 = PyResult<(PyTensor, PyTensor, PyTensor)>;

fn w(t: Tensor) -> PyTensor {
    PyTensor::wrap(t)
}

#[pyfunction]
fn _linalg_lu_factor_ex(
    py: Python<'_>,
    a: PyRef<'_, PyTensor>,
) -> PyResult<(PyTensor, PyTensor, PyTensor, PyTensor)> {
    let a = a.t.clone();
    let (lu, piv, perm, info) = py.detach(|| ld::lu_factor_ex(&a)).py()?;
    Ok((w(lu), w(piv), w(perm), w(info)))
}

#[pyfunction]
fn _linalg_inv_ex(py: Python<'_>, a: PyRef<'_, PyTensor>) -> T2 {
    let a = a.t.clone();
    let (x, info) = py.detach(|| ld::inv_ex(&a)).py()?;
    Ok((w(x), w(info)))
}

/// (sign, logabsdet, det); `op` names the caller in error messages.
#[pyfunction]
#[pyo3(signature = (a, op="linalg.det"))]
fn _linalg_slogdet_det(py: Python<'_>, a: PyRef<'_, PyTensor>, op: &str) -> T3 {
    let a = a.t.clone();
    let (s, l, d) = py.detach(|| ld::slogdet_det(&a, op)).py()?;
    Ok((w(s), w(l), w(d)))
}

#[pyfunction]
fn _linalg_solve_ex(py: Python<'_>, a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> T2 {
    let (a, b) = (a.t.clone(), b.t.clone());
    let (x, info) = py.detach(|| ld::solve_ex(&a, &b)).py()?;
    Ok((w(x), w(info)))
}

#[pyfunction]
#[pyo3(signature = (a, b, upper, unitriangular=false))]
fn _linalg_solve_triangular(
    py: Python<'_>,
    a: PyRef<'_, PyTensor>,
    b: PyRef<'_, PyTensor>,
    upper: bool,
    unitriangular: bool,
) -> PyResult<PyTensor> {
    let (a, b) = (a.t.clone(), b.t.clone());
    py.detach(|| ld::solve_triangular(&a, &b, upper, unitriangular))
        .py()
        .map(w)
}

#[pyfunction]
#[pyo3(signature = (a, upper=false))]
fn _linalg_cholesky_ex(py: Python<'_>, a: PyRef<'_, PyTensor>, upper: bool) -> T2 {
    let a = a.t.clone();
    let (l, info) = py.detach(|| ld::cholesky_ex(&a, upper)).py()?;
    Ok((w(l), w(info)))
}

#[pyfunction]
#[pyo3(signature = (a, mode="reduced"))]
fn _linalg_qr(py: Python<'_>, a: PyRef<'_, PyTensor>, mode: &str) -> T2 {
    let a = a.t.clone();
    let (q, r) = py.detach(|| ld::qr(&a, mode)).py()?;
    Ok((w(q), w(r)))
}

#[pyfunction]
#[pyo3(signature = (a, full_matrices=true, compute_uv=true))]
fn _linalg_svd(
    py: Python<'_>,
    a: PyRef<'_, PyTensor>,
    full_matrices: bool,
    compute_uv: bool,
) -> T3 {
    let a = a.t.clone();
    let (u, s, vh) = py.detach(|| ld::svd(&a, full_matrices, compute_uv)).py()?;
    Ok((w(u), w(s), w(vh)))
}

#[pyfunction]
#[pyo3(signature = (a, uplo="L", compute_v=true))]
fn _linalg_eigh(py: Python<'_>, a: PyRef<'_, PyTensor>, uplo: &str, compute_v: bool) -> T2 {
    let a = a.t.clone();
    let (l, v) = py.detach(|| ld::eigh(&a, uplo, compute_v)).py()?;
    Ok((w(l), w(v)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! add {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add!(
        _linalg_lu_factor_ex,
        _linalg_inv_ex,
        _linalg_slogdet_det,
        _linalg_solve_ex,
        _linalg_solve_triangular,
        _linalg_cholesky_ex,
        _linalg_qr,
        _linalg_svd,
        _linalg_eigh,
    );
    Ok(())
}
