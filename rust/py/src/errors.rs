//! Engine errors -> Python exceptions of PyTorch's types.

use ember_core::Error;
use pyo3::exceptions::{
    PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::PyErr;

pyo3::create_exception!(
    _C,
    OutOfMemoryError,
    PyRuntimeError,
    "The gpu device could not allocate a tensor (PyTorch's torch.OutOfMemoryError, a RuntimeError)."
);

pub fn to_py(e: Error) -> PyErr {
    match e {
        // The gpu's allocation failures (wgpu's out-of-memory errors and
        // buffers past the adapter's limit) are PyTorch's OutOfMemoryError,
        // which scripts catch to shrink the batch.
        Error::Runtime(m) if m.contains("GPU out of memory") => OutOfMemoryError::new_err(m),
        // PyTorch's dispatch errors ("\"kernel\" not implemented for 'Bool'") are
        // NotImplementedError; the core raises them from many kernels as Runtime.
        Error::Runtime(m) if is_not_implemented(&m) => PyNotImplementedError::new_err(m),
        Error::Runtime(m) => PyRuntimeError::new_err(m),
        Error::Index(m) => PyIndexError::new_err(m),
        Error::Value(m) => PyValueError::new_err(m),
        Error::Type(m) => PyTypeError::new_err(m),
        Error::NotImplemented(m) => PyNotImplementedError::new_err(m),
    }
}

/// Messages PyTorch raises as NotImplementedError: its dispatch errors and the
/// bool `-` operator ones.
fn is_not_implemented(m: &str) -> bool {
    (m.starts_with('"') && m.contains("\" not implemented for '"))
        || m.starts_with("Subtraction, the `-` operator")
        || m.starts_with("Negation, the `-` operator")
}

/// `?`-friendly conversion: `core_call().py()?`
pub trait Py<T> {
    fn py(self) -> pyo3::PyResult<T>;
}

impl<T> Py<T> for Result<T, Error> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
