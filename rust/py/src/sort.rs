//! Bindings of the sorting/selection ops, unique, cummax/cummin,
//! logcumsumexp and the special functions (ember-core ops/sort.rs, unique.rs,
//! scan.rs, special.rs). Big inputs without autograd run with the GIL released.

use crate::convert::tensor_or_scalar;
use crate::errors::Py as _;
use crate::tensor::PyTensor;
use ember_core::ops::special::{Special, SpecialBinary};
use ember_core::Tensor;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

type Pair = PyResult<(PyTensor, PyTensor)>;

/// Run `f` with the GIL released when the input is big and no graph is recorded.
fn run<R: Send>(py: Python<'_>, t: &Tensor, f: impl FnOnce() -> R + Send) -> R {
    if t.numel() > 1 << 16 && !ember_core::autograd::grad_enabled() {
        py.detach(f)
    } else {
        f()
    }
}

fn pair(r: ember_core::Result<(Tensor, Tensor)>) -> Pair {
    let (a, b) = r.py()?;
    Ok((PyTensor::wrap(a), PyTensor::wrap(b)))
}

#[pyfunction]
#[pyo3(signature = (t, dim=-1, descending=false, stable=false))]
fn sort(py: Python<'_>, t: PyRef<'_, PyTensor>, dim: i64, descending: bool, stable: bool) -> Pair {
    let x = t.t.clone();
    pair(run(py, &x, || x.sort(dim, descending, stable)))
}

#[pyfunction]
#[pyo3(signature = (t, dim=-1, descending=false, stable=false))]
fn argsort(
    py: Python<'_>,
    t: PyRef<'_, PyTensor>,
    dim: i64,
    descending: bool,
    stable: bool,
) -> PyResult<PyTensor> {
    let x = t.t.clone();
    run(py, &x, || x.argsort(dim, descending, stable))
        .py()
        .map(PyTensor::wrap)
}

#[pyfunction]
#[pyo3(signature = (t, k, dim=-1, largest=true, sorted=true))]
fn topk(
    py: Python<'_>,
    t: PyRef<'_, PyTensor>,
    k: i64,
    dim: i64,
    largest: bool,
    sorted: bool,
) -> Pair {
    let x = t.t.clone();
    pair(run(py, &x, || x.topk(k, dim, largest, sorted)))
}

#[pyfunction]
#[pyo3(signature = (t, k, dim=-1, keepdim=false))]
fn kthvalue(py: Python<'_>, t: PyRef<'_, PyTensor>, k: i64, dim: i64, keepdim: bool) -> Pair {
    let x = t.t.clone();
    pair(run(py, &x, || x.kthvalue(k, dim, keepdim)))
}

#[pyfunction]
#[pyo3(signature = (t, ignore_nan=false))]
fn median_all(t: PyRef<'_, PyTensor>, ignore_nan: bool) -> PyResult<PyTensor> {
    t.t.median_all(ignore_nan).py().map(PyTensor::wrap)
}

#[pyfunction]
#[pyo3(signature = (t, dim, keepdim=false, ignore_nan=false))]
fn median_dim(
    py: Python<'_>,
    t: PyRef<'_, PyTensor>,
    dim: i64,
    keepdim: bool,
    ignore_nan: bool,
) -> Pair {
    let x = t.t.clone();
    pair(run(py, &x, || x.median_dim(dim, keepdim, ignore_nan)))
}

#[pyfunction]
#[pyo3(signature = (t, dim=-1, keepdim=false))]
fn mode(py: Python<'_>, t: PyRef<'_, PyTensor>, dim: i64, keepdim: bool) -> Pair {
    let x = t.t.clone();
    pair(run(py, &x, || x.mode(dim, keepdim)))
}

/// (values, inverse, counts) of torch.unique (`consecutive`: unique_consecutive).
#[pyfunction]
#[pyo3(signature = (t, dim=None, consecutive=false))]
fn unique(
    py: Python<'_>,
    t: PyRef<'_, PyTensor>,
    dim: Option<i64>,
    consecutive: bool,
) -> PyResult<(PyTensor, PyTensor, PyTensor)> {
    let x = t.t.clone();
    let (v, i, c) = py.detach(|| x.unique_t(dim, consecutive)).py()?;
    Ok((PyTensor::wrap(v), PyTensor::wrap(i), PyTensor::wrap(c)))
}

#[pyfunction]
#[pyo3(signature = (t, dim, is_max=true))]
fn cummax(py: Python<'_>, t: PyRef<'_, PyTensor>, dim: i64, is_max: bool) -> Pair {
    let x = t.t.clone();
    pair(run(py, &x, || x.cummax(dim, is_max)))
}

#[pyfunction]
fn logcumsumexp(t: PyRef<'_, PyTensor>, dim: i64) -> PyResult<PyTensor> {
    t.t.logcumsumexp(dim).py().map(PyTensor::wrap)
}

/// lgamma / digamma / polygamma(n) / erfinv.
#[pyfunction]
#[pyo3(signature = (t, name, n=0))]
fn special(t: PyRef<'_, PyTensor>, name: &str, n: i64) -> PyResult<PyTensor> {
    let op = match name {
        "lgamma" => Special::Lgamma,
        "digamma" | "psi" => Special::Digamma,
        "erfinv" => Special::Erfinv,
        "polygamma" if n >= 0 => Special::Polygamma(n as u32),
        "polygamma" => {
            return Err(PyValueError::new_err(format!(
                "polygamma(n, x) does not support negative n (got {n})"
            )))
        }
        _ => {
            return Err(PyValueError::new_err(format!(
                "unknown special function {name}"
            )))
        }
    };
    t.t.special(op).py().map(PyTensor::wrap)
}

/// hypot / logaddexp / logaddexp2 / xlogy / copysign (numbers are accepted).
#[pyfunction]
fn special_binary(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>, name: &str) -> PyResult<PyTensor> {
    let op = match name {
        "hypot" => SpecialBinary::Hypot,
        "logaddexp" => SpecialBinary::LogAddExp,
        "logaddexp2" => SpecialBinary::LogAddExp2,
        "xlogy" => SpecialBinary::Xlogy,
        "copysign" => SpecialBinary::Copysign,
        _ => return Err(PyValueError::new_err(format!("unknown binary op {name}"))),
    };
    let (x, y) = (tensor_or_scalar(a)?, tensor_or_scalar(b)?);
    x.special_binary(&y, op).py().map(PyTensor::wrap)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! add {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add!(
        sort,
        argsort,
        topk,
        kthvalue,
        median_all,
        median_dim,
        mode,
        unique,
        cummax,
        logcumsumexp,
        special,
        special_binary
    );
    Ok(())
}
