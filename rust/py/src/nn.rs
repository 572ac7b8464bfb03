//! Bindings of the NN kernels (conv2d, conv_transpose2d, pooling) and of the
//! fused optimizer steps. Arguments are converted here; the GIL is released
//! around every kernel.

use crate::errors::Py as _;
use crate::tensor::PyTensor;
use ember_core::ops::optim;
use ember_core::Tensor;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;

type R = PyResult<PyTensor>;

/// An int or a 2-sequence of ints.
fn pair_i64(name: &str, o: &Bound<'_, PyAny>) -> PyResult<(i64, i64)> {
    if let Ok(v) = o.extract::<i64>() {
        return Ok((v, v));
    }
    match o.extract::<Vec<i64>>() {
        Ok(v) if v.len() == 2 => Ok((v[0], v[1])),
        Ok(v) if v.len() == 1 => Ok((v[0], v[0])),
        _ => Err(PyTypeError::new_err(format!(
            "{name} must be an int or a tuple of two ints"
        ))),
    }
}

/// A pair that must be >= `min`, else a RuntimeError with PyTorch's message.
fn pair(name: &str, o: &Bound<'_, PyAny>, min: i64, msg: &str) -> PyResult<(usize, usize)> {
    let (a, b) = pair_i64(name, o)?;
    if a < min || b < min {
        return Err(PyRuntimeError::new_err(msg.to_string()));
    }
    Ok((a as usize, b as usize))
}

fn tensors(v: &[PyRef<'_, PyTensor>]) -> Vec<Tensor> {
    v.iter().map(|t| t.t.clone()).collect()
}

/// Fused layer_norm over the trailing `n` elements (CPU float32/float64).
#[pyfunction]
#[pyo3(signature = (input, n, weight, bias, eps))]
fn _layer_norm(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    n: usize,
    weight: Option<PyRef<'_, PyTensor>>,
    bias: Option<PyRef<'_, PyTensor>>,
    eps: f64,
) -> R {
    let (x, w, b) = (
        input.t.clone(),
        weight.map(|w| w.t.clone()),
        bias.map(|b| b.t.clone()),
    );
    py.detach(|| x.layer_norm_fused(n, w.as_ref(), b.as_ref(), eps))
        .py()
        .map(PyTensor::wrap)
}

#[pyfunction]
#[pyo3(signature = (input, weight, bias, stride, padding, dilation, groups))]
#[allow(clippy::too_many_arguments)]
fn conv2d(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    weight: PyRef<'_, PyTensor>,
    bias: Option<PyRef<'_, PyTensor>>,
    stride: &Bound<'_, PyAny>,
    padding: &Bound<'_, PyAny>,
    dilation: &Bound<'_, PyAny>,
    groups: i64,
) -> R {
    let s = pair("stride", stride, 1, "non-positive stride is not supported")?;
    let p = pair("padding", padding, 0, "negative padding is not supported")?;
    let d = pair(
        "dilation",
        dilation,
        1,
        "dilation should be greater than zero",
    )?;
    if groups <= 0 {
        return Err(PyRuntimeError::new_err(
            "non-positive groups is not supported",
        ));
    }
    let (x, w, b) = (input.t.clone(), weight.t.clone(), bias.map(|b| b.t.clone()));
    py.detach(|| x.conv2d(&w, b.as_ref(), s, p, d, groups as usize))
        .py()
        .map(PyTensor::wrap)
}

#[pyfunction]
#[pyo3(signature = (input, weight, bias, stride, padding, output_padding, groups, dilation))]
#[allow(clippy::too_many_arguments)]
fn conv_transpose2d(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    weight: PyRef<'_, PyTensor>,
    bias: Option<PyRef<'_, PyTensor>>,
    stride: &Bound<'_, PyAny>,
    padding: &Bound<'_, PyAny>,
    output_padding: &Bound<'_, PyAny>,
    groups: i64,
    dilation: &Bound<'_, PyAny>,
) -> R {
    let s = pair("stride", stride, 1, "non-positive stride is not supported")?;
    let p = pair("padding", padding, 0, "negative padding is not supported")?;
    let op = pair(
        "output_padding",
        output_padding,
        0,
        "negative output_padding is not supported",
    )?;
    let d = pair(
        "dilation",
        dilation,
        1,
        "dilation should be greater than zero",
    )?;
    if groups <= 0 {
        return Err(PyRuntimeError::new_err(
            "non-positive groups is not supported",
        ));
    }
    let (x, w, b) = (input.t.clone(), weight.t.clone(), bias.map(|b| b.t.clone()));
    py.detach(|| x.conv_transpose2d(&w, b.as_ref(), s, p, op, groups as usize, d))
        .py()
        .map(PyTensor::wrap)
}

fn pool_args(
    kernel: &Bound<'_, PyAny>,
    stride: &Bound<'_, PyAny>,
    padding: &Bound<'_, PyAny>,
) -> PyResult<[(usize, usize); 3]> {
    let (kh, kw) = pair_i64("kernel_size", kernel)?;
    if kh <= 0 || kw <= 0 {
        return Err(PyRuntimeError::new_err(format!(
            "kernel size should be greater than zero, but got kH: {kh} kW: {kw}"
        )));
    }
    let (sh, sw) = pair_i64("stride", stride)?;
    if sh <= 0 || sw <= 0 {
        return Err(PyRuntimeError::new_err(format!(
            "stride should be greater than zero, but got dH: {sh} dW: {sw}"
        )));
    }
    let p = pair("padding", padding, 0, "pad must be non-negative")?;
    Ok([(kh as usize, kw as usize), (sh as usize, sw as usize), p])
}

#[pyfunction]
#[pyo3(signature = (input, kernel, stride, padding, dilation, ceil_mode))]
fn max_pool2d(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    kernel: &Bound<'_, PyAny>,
    stride: &Bound<'_, PyAny>,
    padding: &Bound<'_, PyAny>,
    dilation: &Bound<'_, PyAny>,
    ceil_mode: bool,
) -> PyResult<(PyTensor, PyTensor)> {
    let [k, s, p] = pool_args(kernel, stride, padding)?;
    let (dh, dw) = pair_i64("dilation", dilation)?;
    if dh <= 0 || dw <= 0 {
        return Err(PyRuntimeError::new_err(format!(
            "dilation should be greater than zero, but got dilationH: {dh} dilationW: {dw}"
        )));
    }
    let x = input.t.clone();
    let (o, i) = py
        .detach(|| x.max_pool2d(k, s, p, (dh as usize, dw as usize), ceil_mode))
        .py()?;
    Ok((PyTensor::wrap(o), PyTensor::wrap(i)))
}

#[pyfunction]
#[pyo3(signature = (input, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override))]
#[allow(clippy::too_many_arguments)]
fn avg_pool2d(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    kernel: &Bound<'_, PyAny>,
    stride: &Bound<'_, PyAny>,
    padding: &Bound<'_, PyAny>,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<i64>,
) -> R {
    let [k, s, p] = pool_args(kernel, stride, padding)?;
    let x = input.t.clone();
    py.detach(|| x.avg_pool2d(k, s, p, ceil_mode, count_include_pad, divisor_override))
        .py()
        .map(PyTensor::wrap)
}

fn output_size(name: &str, o: &Bound<'_, PyAny>) -> PyResult<(usize, usize)> {
    let (h, w) = pair_i64("output_size", o)?;
    if h < 0 || w < 0 {
        return Err(PyRuntimeError::new_err(format!(
            "{name}: elements of output_size must be greater than or equal to 0 but received {{{h}, {w}}}"
        )));
    }
    Ok((h as usize, w as usize))
}

#[pyfunction]
fn adaptive_avg_pool2d(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    output_size: &Bound<'_, PyAny>,
) -> R {
    let os = self::output_size("adaptive_avg_pool2d", output_size)?;
    let x = input.t.clone();
    py.detach(|| x.adaptive_avg_pool2d(os))
        .py()
        .map(PyTensor::wrap)
}

#[pyfunction]
fn adaptive_max_pool2d(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    output_size: &Bound<'_, PyAny>,
) -> PyResult<(PyTensor, PyTensor)> {
    let os = self::output_size("adaptive_max_pool2d", output_size)?;
    let x = input.t.clone();
    let (o, i) = py.detach(|| x.adaptive_max_pool2d(os)).py()?;
    Ok((PyTensor::wrap(o), PyTensor::wrap(i)))
}

/// Returns the momentum buffers: the same objects where they existed, new
/// tensors where this step created them (momentum != 0), else None.
#[pyfunction]
#[pyo3(signature = (params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov, maximize))]
#[allow(clippy::too_many_arguments)]
fn sgd_step(
    py: Python<'_>,
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    momentum_buffers: Vec<Option<Py<PyTensor>>>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> PyResult<Vec<Option<Py<PyTensor>>>> {
    let (ps, gs) = (tensors(&params), tensors(&grads));
    let mut bufs: Vec<Option<Tensor>> = momentum_buffers
        .iter()
        .map(|b| b.as_ref().map(|b| b.borrow(py).t.clone()))
        .collect();
    py.detach(|| {
        optim::sgd_step(
            &ps,
            &gs,
            &mut bufs,
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            maximize,
        )
    })
    .py()?;
    momentum_buffers
        .into_iter()
        .zip(bufs)
        .map(|(old, new)| match (old, new) {
            (Some(o), _) => Ok(Some(o)),
            (None, Some(t)) => Py::new(py, PyTensor::wrap(t)).map(Some),
            (None, None) => Ok(None),
        })
        .collect()
}

#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay))]
#[allow(clippy::too_many_arguments)]
fn adam_step(
    py: Python<'_>,
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    exp_avgs: Vec<PyRef<'_, PyTensor>>,
    exp_avg_sqs: Vec<PyRef<'_, PyTensor>>,
    max_exp_avg_sqs: Vec<PyRef<'_, PyTensor>>,
    steps: Vec<i64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> PyResult<()> {
    let (ps, gs) = (tensors(&params), tensors(&grads));
    let (m, v, mx) = (
        tensors(&exp_avgs),
        tensors(&exp_avg_sqs),
        tensors(&max_exp_avg_sqs),
    );
    py.detach(|| {
        optim::adam_step(
            &ps,
            &gs,
            &m,
            &v,
            &mx,
            &steps,
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            decoupled_weight_decay,
        )
    })
    .py()
}

#[pyfunction]
#[pyo3(signature = (params, grads, square_avgs, momentum_buffers, grad_avgs, lr, alpha, eps, weight_decay, momentum, centered, maximize))]
#[allow(clippy::too_many_arguments)]
fn rmsprop_step(
    py: Python<'_>,
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    square_avgs: Vec<PyRef<'_, PyTensor>>,
    momentum_buffers: Vec<PyRef<'_, PyTensor>>,
    grad_avgs: Vec<PyRef<'_, PyTensor>>,
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
) -> PyResult<()> {
    let (ps, gs) = (tensors(&params), tensors(&grads));
    let (sq, buf, ga) = (
        tensors(&square_avgs),
        tensors(&momentum_buffers),
        tensors(&grad_avgs),
    );
    py.detach(|| {
        optim::rmsprop_step(
            &ps,
            &gs,
            &sq,
            &buf,
            &ga,
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        )
    })
    .py()
}

#[pyfunction]
#[pyo3(signature = (params, grads, state_sums, steps, lr, lr_decay, weight_decay, eps, maximize))]
#[allow(clippy::too_many_arguments)]
fn adagrad_step(
    py: Python<'_>,
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    state_sums: Vec<PyRef<'_, PyTensor>>,
    steps: Vec<i64>,
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    maximize: bool,
) -> PyResult<()> {
    let (ps, gs, sums) = (tensors(&params), tensors(&grads), tensors(&state_sums));
    py.detach(|| {
        optim::adagrad_step(
            &ps,
            &gs,
            &sums,
            &steps,
            lr,
            lr_decay,
            weight_decay,
            eps,
            maximize,
        )
    })
    .py()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(_layer_norm, m)?)?;
    m.add_function(wrap_pyfunction!(conv_transpose2d, m)?)?;
    m.add_function(wrap_pyfunction!(max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(adaptive_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(adaptive_max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(adam_step, m)?)?;
    m.add_function(wrap_pyfunction!(rmsprop_step, m)?)?;
    m.add_function(wrap_pyfunction!(adagrad_step, m)?)?;
    Ok(())
}
