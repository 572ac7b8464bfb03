//! ember._C: PyO3 bindings of ember-core.
#![allow(non_snake_case)]

use pyo3::prelude::*;

mod errors;

#[pymodule]
fn _C(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
