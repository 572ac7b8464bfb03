//! Argument conversion: Python objects -> core types.

use crate::errors::Py as _;
use crate::tensor::{PyDType, PyTensor};
use ember_core::{DType, Scalar, Tensor};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyTuple};

/// A Python number as a Scalar (bool, int, float, numpy scalars).
pub fn scalar_of(obj: &Bound<'_, PyAny>) -> PyResult<Option<Scalar>> {
    if obj.is_instance_of::<PyBool>() {
        return Ok(Some(Scalar::Bool(obj.extract::<bool>()?)));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(Some(Scalar::Int(obj.extract::<i64>()?)));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Some(Scalar::Float(obj.extract::<f64>()?)));
    }
    // numpy scalars and other number-likes
    if obj.hasattr("dtype")? && obj.hasattr("item")? && !obj.is_instance_of::<PyTensor>() {
        let shape = obj.getattr("shape").ok();
        let is_scalar = match shape {
            Some(s) => s.len().map(|n| n == 0).unwrap_or(false),
            None => true,
        };
        if is_scalar {
            let item = obj.call_method0("item")?;
            return scalar_of(&item);
        }
    }
    Ok(None)
}

/// A tensor argument, or a Python number wrapped as a 0-dim "wrapped number".
pub fn tensor_or_scalar(obj: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(t.borrow().t.clone());
    }
    match scalar_of(obj)? {
        Some(Scalar::Bool(b)) => Ok(Tensor::wrapped_scalar(Scalar::Bool(b), DType::Bool)),
        Some(Scalar::Int(i)) => Ok(Tensor::wrapped_scalar(Scalar::Int(i), DType::I64)),
        Some(Scalar::Float(f)) => Ok(Tensor::wrapped_scalar(Scalar::Float(f), DType::F64)),
        None if obj.is_instance_of::<pyo3::types::PyComplex>() => {
            crate::complex::wrapped_complex(obj)
        }
        None => Err(PyTypeError::new_err(format!(
            "expected Tensor or number as argument, but got {}",
            obj.get_type().name()?
        ))),
    }
}

pub fn tensor_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    match obj.cast::<PyTensor>() {
        Ok(t) => Ok(t.borrow().t.clone()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{what}: expected Tensor as argument, but got {}",
            obj.get_type().name()?
        ))),
    }
}

/// An optional dim argument: None, int, or a tuple/list of ints.
pub fn dims_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => {
            if let Ok(i) = o.extract::<i64>() {
                return Ok(Some(vec![i]));
            }
            if let Ok(v) = o.extract::<Vec<i64>>() {
                return Ok(Some(v));
            }
            Err(PyTypeError::new_err(format!(
                "dim must be an int or a tuple of ints, got {}",
                o.get_type().name()?
            )))
        }
    }
}

/// Sizes given as varargs (2, 3) or a single sequence ((2, 3) / [2, 3] / Size).
pub fn sizes_arg(args: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if let Ok(i) = a.extract::<i64>() {
            return Ok(vec![i]);
        }
        if a.is_instance_of::<PyTuple>() || a.is_instance_of::<PyList>() {
            return a
                .extract::<Vec<i64>>()
                .map_err(|_| PyTypeError::new_err("sizes must be a sequence of ints"));
        }
        if let Ok(t) = a.cast::<PyTensor>() {
            let t = t.borrow().t.clone();
            let v = t.to_dtype(DType::I64).py()?.to_vec::<i64>().py()?;
            return Ok(v);
        }
        return Err(PyTypeError::new_err(format!(
            "sizes must be ints or a sequence of ints, got {}",
            a.get_type().name()?
        )));
    }
    args.iter()
        .map(|a| {
            a.extract::<i64>()
                .map_err(|_| PyTypeError::new_err("sizes must be a sequence of ints"))
        })
        .collect()
}

pub fn usize_sizes(v: &[i64], op: &str) -> PyResult<Vec<usize>> {
    v.iter()
        .map(|&x| {
            if x < 0 {
                Err(PyValueError::new_err(format!(
                    "{op}: negative dimension {x} in size {v:?}"
                )))
            } else {
                Ok(x as usize)
            }
        })
        .collect()
}

pub fn dtype_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => {
            if let Ok(d) = o.cast::<PyDType>() {
                return Ok(Some(d.borrow().0));
            }
            if let Ok(s) = o.extract::<String>() {
                if let Some(d) = DType::from_name(&s) {
                    return Ok(Some(d));
                }
            }
            // Python builtins: float -> float32? PyTorch maps float->float64, int->int64, bool->bool.
            if let Ok(name) = o.getattr("__name__").and_then(|n| n.extract::<String>()) {
                match name.as_str() {
                    "float" => return Ok(Some(DType::F64)),
                    "int" => return Ok(Some(DType::I64)),
                    "bool" => return Ok(Some(DType::Bool)),
                    _ => {
                        if let Some(d) = DType::from_name(&name) {
                            return Ok(Some(d));
                        }
                    }
                }
            }
            Err(PyTypeError::new_err(format!(
                "expected a dtype, got {}",
                o.repr()?
            )))
        }
    }
}
