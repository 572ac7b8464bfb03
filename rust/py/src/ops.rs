//! Module-level functions of ember._C (the Python layer builds the API on them).

use crate::convert::{dims_arg, dtype_arg, scalar_of, tensor_arg, tensor_or_scalar, usize_sizes};
use crate::errors::{to_py, Py as _};
use crate::tensor::{PyDType, PyTensor};
use ember_core::ops::{Binary, Unary};
use ember_core::random::{self, Generator};
use ember_core::{DType, Scalar, Tensor};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::tensor::{w, R};

fn tl(v: ember_core::Result<Vec<Tensor>>) -> PyResult<Vec<PyTensor>> {
    v.map(|v| v.into_iter().map(PyTensor::wrap).collect())
        .map_err(to_py)
}

pub fn scaled(other: &Bound<'_, PyAny>, alpha: Option<&Bound<'_, PyAny>>) -> PyResult<Tensor> {
    let b = tensor_or_scalar(other)?;
    match alpha {
        None => Ok(b),
        Some(a) if a.is_none() => Ok(b),
        Some(a) => {
            let at = tensor_or_scalar(a)?;
            b.mul(&at).py()
        }
    }
}

pub fn div_mode(a: &Tensor, b: &Tensor, mode: Option<&str>) -> ember_core::Result<Tensor> {
    match mode {
        None => a.div(b),
        Some("floor") => a.binary(b, Binary::FloorDiv),
        Some("trunc") => {
            if a.dtype().is_float() || b.dtype().is_float() {
                a.div(b)?.unary(Unary::Trunc)
            } else {
                // integer truncating division
                let q = a.binary(b, Binary::FloorDiv)?;
                let r = a.binary(b, Binary::Remainder)?;
                let nz = r.binary(&Tensor::zeros(&[], r.dtype())?, Binary::Ne)?;
                let neg = a
                    .binary(&Tensor::zeros(&[], a.dtype())?, Binary::Lt)?
                    .binary(
                        &b.binary(&Tensor::zeros(&[], b.dtype())?, Binary::Lt)?,
                        Binary::LogicalXor,
                    )?;
                let fix = nz.logical_and(&neg)?.cast_raw(q.dtype())?;
                q.add(&fix)
            }
        }
        Some(m) => Err(ember_core::Error::Value(format!(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{m}'"
        ))),
    }
}

pub fn pow_impl(a: &Tensor, o: &Bound<'_, PyAny>) -> R {
    let b = tensor_or_scalar(o)?;
    w(a.binary(&b, Binary::Pow))
}

fn unary_of(name: &str) -> PyResult<Unary> {
    use Unary::*;
    Ok(match name {
        "neg" | "negative" => Neg,
        "abs" | "absolute" => Abs,
        "exp" => Exp,
        "exp2" => Exp2,
        "log" => Log,
        "log2" => Log2,
        "log10" => Log10,
        "log1p" => Log1p,
        "expm1" => Expm1,
        "sqrt" => Sqrt,
        "rsqrt" => Rsqrt,
        "sin" => Sin,
        "cos" => Cos,
        "tan" => Tan,
        "asin" | "arcsin" => Asin,
        "acos" | "arccos" => Acos,
        "atan" | "arctan" => Atan,
        "sinh" => Sinh,
        "cosh" => Cosh,
        "tanh" => Tanh,
        "asinh" | "arcsinh" => Asinh,
        "acosh" | "arccosh" => Acosh,
        "atanh" | "arctanh" => Atanh,
        "sigmoid" => Sigmoid,
        "logsigmoid" => LogSigmoid,
        "relu" => Relu,
        "relu6" => Relu6,
        "gelu" => Gelu,
        "gelu_tanh" => GeluTanh,
        "silu" => Silu,
        "mish" => Mish,
        "hardswish" => Hardswish,
        "hardsigmoid" => Hardsigmoid,
        "erf" => Erf,
        "erfc" => Erfc,
        "floor" => Floor,
        "ceil" => Ceil,
        "round" => Round,
        "trunc" | "fix" => Trunc,
        "frac" => Frac,
        "sign" => Sign,
        "reciprocal" => Reciprocal,
        "square" => Square,
        "bitwise_not" => BitNot,
        "logical_not" => LogicalNot,
        _ => return Err(PyValueError::new_err(format!("unknown unary op {name}"))),
    })
}

fn binary_of(name: &str) -> PyResult<Binary> {
    use Binary::*;
    Ok(match name {
        "add" => Add,
        "sub" | "subtract" => Sub,
        "mul" | "multiply" => Mul,
        "div" | "divide" | "true_divide" => Div,
        "floor_divide" => FloorDiv,
        "remainder" => Remainder,
        "fmod" => Fmod,
        "pow" => Pow,
        "atan2" | "arctan2" => Atan2,
        "maximum" => Maximum,
        "minimum" => Minimum,
        "fmax" => Fmax,
        "fmin" => Fmin,
        "bitwise_and" => BitAnd,
        "bitwise_or" => BitOr,
        "bitwise_xor" => BitXor,
        "bitwise_left_shift" => Shl,
        "bitwise_right_shift" => Shr,
        "logical_and" => LogicalAnd,
        "logical_or" => LogicalOr,
        "logical_xor" => LogicalXor,
        "eq" => Eq,
        "ne" | "not_equal" => Ne,
        "lt" | "less" => Lt,
        "le" | "less_equal" => Le,
        "gt" | "greater" => Gt,
        "ge" | "greater_equal" => Ge,
        _ => return Err(PyValueError::new_err(format!("unknown binary op {name}"))),
    })
}

#[pyfunction]
fn unary(t: PyRef<'_, PyTensor>, name: &str) -> R {
    let op = unary_of(name)?;
    w(t.t.unary(op))
}

#[pyfunction]
fn binary(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>, name: &str) -> R {
    let op = binary_of(name)?;
    let (x, y) = (tensor_or_scalar(a)?, tensor_or_scalar(b)?);
    if crate::convert::scalar_of(a)?.is_some() && crate::convert::scalar_of(b)?.is_some() {
        return Err(PyTypeError::new_err(format!(
            "{name}(): at least one argument must be a Tensor"
        )));
    }
    w(x.binary(&y, op))
}

#[pyfunction]
#[pyo3(signature = (a, b, rounding_mode=None))]
fn div(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>, rounding_mode: Option<&str>) -> R {
    let (x, y) = (tensor_or_scalar(a)?, tensor_or_scalar(b)?);
    w(div_mode(&x, &y, rounding_mode))
}

// ---------- creation ----------

#[pyfunction]
fn _from_bytes(data: &Bound<'_, PyBytes>, shape: Vec<usize>, dtype: PyDType) -> R {
    let bytes = data.as_bytes();
    let n: usize = shape.iter().product();
    if bytes.len() != n * dtype.0.size() {
        return Err(PyValueError::new_err(format!(
            "_from_bytes: {} bytes do not hold {} elements of {}",
            bytes.len(),
            n,
            dtype.0
        )));
    }
    let d = ember_core::storage::CpuData::from_bytes(dtype.0, bytes);
    let d = if dtype.0 == DType::Bool {
        // normalise any non-zero byte to true
        match d {
            ember_core::storage::CpuData::Bool(v) => {
                ember_core::storage::CpuData::Bool(v.into_iter().map(|b| b as u8 != 0).collect())
            }
            o => o,
        }
    } else {
        d
    };
    Ok(PyTensor::wrap(Tensor::from_cpu(d, &shape)))
}

#[pyfunction]
fn zeros(shape: Vec<i64>, dtype: PyDType) -> R {
    w(Tensor::zeros(&usize_sizes(&shape, "zeros")?, dtype.0))
}

#[pyfunction]
fn full(shape: Vec<i64>, value: &Bound<'_, PyAny>, dtype: PyDType) -> R {
    let v = scalar_of(value)?
        .ok_or_else(|| PyTypeError::new_err("full(): fill_value must be a number"))?;
    w(Tensor::full(&usize_sizes(&shape, "full")?, v, dtype.0))
}

#[pyfunction]
fn arange(start: f64, end: f64, step: f64, dtype: PyDType) -> R {
    w(Tensor::arange(start, end, step, dtype.0))
}

#[pyfunction]
fn linspace(start: f64, end: f64, steps: i64, dtype: PyDType) -> R {
    if steps < 0 {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "linspace: number of steps must be non-negative",
        ));
    }
    w(Tensor::linspace(start, end, steps as usize, dtype.0))
}

#[pyfunction]
fn eye(n: i64, m: i64, dtype: PyDType) -> R {
    if n < 0 || m < 0 {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "eye: n and m must be non-negative, got {n}, {m}"
        )));
    }
    w(Tensor::eye(n as usize, m as usize, dtype.0))
}

// ---------- random ----------

#[pyclass(name = "Generator", module = "ember", from_py_object)]
#[derive(Clone)]
pub struct PyGenerator {
    pub g: Generator,
}

#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (device=None))]
    fn new(device: Option<&Bound<'_, PyAny>>) -> Self {
        let _ = device;
        PyGenerator {
            g: Generator::new(67280421310721),
        }
    }
    fn manual_seed(slf: PyRef<'_, Self>, seed: i64) -> PyRef<'_, Self> {
        slf.g.manual_seed(seed as u64);
        slf
    }
    fn initial_seed(&self) -> u64 {
        self.g.initial_seed()
    }
    fn seed(&self) -> u64 {
        let s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        self.g.manual_seed(s);
        s
    }
}

fn gen_of(g: Option<PyRef<'_, PyGenerator>>) -> Option<Generator> {
    g.map(|g| g.g.clone())
}

#[pyfunction]
fn manual_seed(seed: i64) {
    random::manual_seed(seed as u64);
}

#[pyfunction]
fn initial_seed() -> u64 {
    random::default_generator().initial_seed()
}

#[pyfunction]
#[pyo3(signature = (shape, dtype, generator=None))]
fn rand(shape: Vec<i64>, dtype: PyDType, generator: Option<PyRef<'_, PyGenerator>>) -> R {
    let g = gen_of(generator);
    w(random::uniform(
        &usize_sizes(&shape, "rand")?,
        0.0,
        1.0,
        dtype.0,
        g.as_ref(),
    ))
}

#[pyfunction]
#[pyo3(signature = (shape, dtype, generator=None))]
fn randn(shape: Vec<i64>, dtype: PyDType, generator: Option<PyRef<'_, PyGenerator>>) -> R {
    let g = gen_of(generator);
    w(random::normal(
        &usize_sizes(&shape, "randn")?,
        0.0,
        1.0,
        dtype.0,
        g.as_ref(),
    ))
}

#[pyfunction]
#[pyo3(signature = (low, high, shape, dtype, generator=None))]
fn randint(
    low: i64,
    high: i64,
    shape: Vec<i64>,
    dtype: PyDType,
    generator: Option<PyRef<'_, PyGenerator>>,
) -> R {
    let g = gen_of(generator);
    w(random::randint(
        &usize_sizes(&shape, "randint")?,
        low,
        high,
        dtype.0,
        g.as_ref(),
    ))
}

#[pyfunction]
#[pyo3(signature = (n, dtype, generator=None))]
fn randperm(n: i64, dtype: PyDType, generator: Option<PyRef<'_, PyGenerator>>) -> R {
    if n < 0 {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "randperm: n must be non-negative, got {n}"
        )));
    }
    let g = gen_of(generator);
    w(random::randperm(n as usize, dtype.0, g.as_ref()))
}

/// In-place fills used by init functions: uniform_(t, a, b) / normal_(t, mean, std).
#[pyfunction]
#[pyo3(signature = (t, low, high, generator=None))]
fn uniform_(
    t: PyRef<'_, PyTensor>,
    low: f64,
    high: f64,
    generator: Option<PyRef<'_, PyGenerator>>,
) -> PyResult<()> {
    let g = gen_of(generator);
    t.t.check_inplace("uniform_").py()?;
    let r = random::uniform(t.t.shape(), low, high, t.t.dtype(), g.as_ref()).py()?;
    t.t.copy_raw_from(&r, false).py()
}

#[pyfunction]
#[pyo3(signature = (t, mean, std, generator=None))]
fn normal_(
    t: PyRef<'_, PyTensor>,
    mean: f64,
    std: f64,
    generator: Option<PyRef<'_, PyGenerator>>,
) -> PyResult<()> {
    let g = gen_of(generator);
    t.t.check_inplace("normal_").py()?;
    let r = random::normal(t.t.shape(), mean, std, t.t.dtype(), g.as_ref()).py()?;
    t.t.copy_raw_from(&r, false).py()
}

#[pyfunction]
#[pyo3(signature = (p, generator=None))]
fn bernoulli(p: PyRef<'_, PyTensor>, generator: Option<PyRef<'_, PyGenerator>>) -> R {
    let g = gen_of(generator);
    w(random::bernoulli(&p.t, g.as_ref()))
}

#[pyfunction]
#[pyo3(signature = (shape, p, dtype, generator=None))]
fn bernoulli_scalar(
    shape: Vec<i64>,
    p: f64,
    dtype: PyDType,
    generator: Option<PyRef<'_, PyGenerator>>,
) -> R {
    let g = gen_of(generator);
    w(random::bernoulli_scalar(
        &usize_sizes(&shape, "bernoulli")?,
        p,
        dtype.0,
        g.as_ref(),
    ))
}

#[pyfunction]
#[pyo3(signature = (probs, num_samples, replacement=false, generator=None))]
fn multinomial(
    probs: PyRef<'_, PyTensor>,
    num_samples: usize,
    replacement: bool,
    generator: Option<PyRef<'_, PyGenerator>>,
) -> R {
    let g = gen_of(generator);
    w(random::multinomial(
        &probs.t,
        num_samples,
        replacement,
        g.as_ref(),
    ))
}

// ---------- elementwise extras ----------

#[pyfunction]
fn where_(c: &Bound<'_, PyAny>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> R {
    let c = tensor_arg(c, "where")?;
    let (x, y) = (tensor_or_scalar(a)?, tensor_or_scalar(b)?);
    w(Tensor::where_(&c, &x, &y))
}

#[pyfunction]
#[pyo3(signature = (t, min=None, max=None))]
fn clamp(
    t: PyRef<'_, PyTensor>,
    min: Option<&Bound<'_, PyAny>>,
    max: Option<&Bound<'_, PyAny>>,
) -> R {
    let min = min.filter(|m| !m.is_none());
    let max = max.filter(|m| !m.is_none());
    let is_t =
        |o: &Option<&Bound<'_, PyAny>>| o.map(|o| o.is_instance_of::<PyTensor>()).unwrap_or(false);
    if is_t(&min) || is_t(&max) {
        let lo = match min {
            Some(m) => Some(tensor_or_scalar(m)?),
            None => None,
        };
        let hi = match max {
            Some(m) => Some(tensor_or_scalar(m)?),
            None => None,
        };
        return w(t.t.clamp_t(lo.as_ref(), hi.as_ref()));
    }
    let f = |o: Option<&Bound<'_, PyAny>>| -> PyResult<Option<f64>> {
        match o {
            None => Ok(None),
            Some(o) => Ok(Some(
                scalar_of(o)?
                    .ok_or_else(|| {
                        PyTypeError::new_err("clamp: bounds must be numbers or tensors")
                    })?
                    .to_f64(),
            )),
        }
    };
    let (lo, hi) = (f(min)?, f(max)?);
    // Result dtype follows promotion with the bounds (int tensor clamped by float -> float).
    let mut x = t.t.clone();
    let bound_float = [min, max].iter().flatten().any(|o| {
        scalar_of(o)
            .ok()
            .flatten()
            .map(|s| s.is_float())
            .unwrap_or(false)
    });
    if bound_float && !x.dtype().is_float() {
        x = x.to_dtype(DType::F32).py()?;
    }
    w(x.clamp_s(lo, hi))
}

#[pyfunction]
fn hardtanh(t: PyRef<'_, PyTensor>, min_val: f64, max_val: f64) -> R {
    w(t.t.hardtanh(min_val, max_val))
}

#[pyfunction]
fn softplus(t: PyRef<'_, PyTensor>, beta: f64, threshold: f64) -> R {
    w(t.t.softplus(beta, threshold))
}

// ---------- reductions ----------

#[pyfunction]
#[pyo3(signature = (t, dim=None, keepdim=false, dtype=None))]
fn prod(
    t: PyRef<'_, PyTensor>,
    dim: Option<i64>,
    keepdim: bool,
    dtype: Option<&Bound<'_, PyAny>>,
) -> R {
    w(t.t.prod_dim(dim, keepdim, dtype_arg(dtype)?))
}

#[pyfunction]
#[pyo3(signature = (t, dim=None, keepdim=false, is_max=true))]
fn amax(t: PyRef<'_, PyTensor>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, is_max: bool) -> R {
    let d = dims_arg(dim)?.unwrap_or_default();
    w(t.t.amax_dims(
        &d,
        keepdim,
        is_max,
        if is_max {
            "AmaxBackward0"
        } else {
            "AminBackward0"
        },
    ))
}

#[pyfunction]
fn max_all(t: PyRef<'_, PyTensor>, is_max: bool) -> R {
    w(t.t.max_all(is_max))
}

#[pyfunction]
fn max_dim(
    t: PyRef<'_, PyTensor>,
    dim: i64,
    keepdim: bool,
    is_max: bool,
) -> PyResult<(PyTensor, PyTensor)> {
    let (v, i) = t.t.max_dim(dim, keepdim, is_max).py()?;
    Ok((PyTensor::wrap(v), PyTensor::wrap(i)))
}

#[pyfunction]
#[pyo3(signature = (t, dim=None, keepdim=false, is_max=true))]
fn argmax(t: PyRef<'_, PyTensor>, dim: Option<i64>, keepdim: bool, is_max: bool) -> R {
    w(t.t.argmax(dim, keepdim, is_max))
}

#[pyfunction]
#[pyo3(signature = (t, dim=None, correction=1.0, keepdim=false, take_sqrt=false))]
fn var(
    t: PyRef<'_, PyTensor>,
    dim: Option<&Bound<'_, PyAny>>,
    correction: f64,
    keepdim: bool,
    take_sqrt: bool,
) -> R {
    let d = dims_arg(dim)?.unwrap_or_default();
    if take_sqrt {
        w(t.t.std_dims(&d, correction, keepdim))
    } else {
        w(t.t.var_dims(&d, correction, keepdim))
    }
}

#[pyfunction]
#[pyo3(signature = (t, dim, keepdim=false))]
fn logsumexp(t: PyRef<'_, PyTensor>, dim: &Bound<'_, PyAny>, keepdim: bool) -> R {
    let d = dims_arg(Some(dim))?.unwrap_or_default();
    w(t.t.logsumexp(&d, keepdim))
}

#[pyfunction]
#[pyo3(signature = (t, ord=2.0, dim=None, keepdim=false, dtype=None))]
fn vector_norm(
    t: PyRef<'_, PyTensor>,
    ord: f64,
    dim: Option<&Bound<'_, PyAny>>,
    keepdim: bool,
    dtype: Option<&Bound<'_, PyAny>>,
) -> R {
    let d = dims_arg(dim)?.unwrap_or_default();
    w(t.t.vector_norm(ord, &d, keepdim, dtype_arg(dtype)?))
}

#[pyfunction]
#[pyo3(signature = (t, dim=None, keepdim=false, all=true))]
fn all_any(t: PyRef<'_, PyTensor>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, all: bool) -> R {
    let d = dims_arg(dim)?.unwrap_or_default();
    w(t.t.all_any(&d, keepdim, all))
}

#[pyfunction]
#[pyo3(signature = (t, dim, prod=false, dtype=None))]
fn cumulative(t: PyRef<'_, PyTensor>, dim: i64, prod: bool, dtype: Option<&Bound<'_, PyAny>>) -> R {
    w(t.t.cumulative(dim, prod, dtype_arg(dtype)?))
}

#[pyfunction]
#[pyo3(signature = (t, dim, log=false))]
fn softmax(t: PyRef<'_, PyTensor>, dim: i64, log: bool) -> R {
    w(t.t.softmax(dim, log))
}

// ---------- shape ----------

fn tensors_of(v: &Bound<'_, PyAny>, op: &str) -> PyResult<Vec<Tensor>> {
    let mut out = vec![];
    for it in v.try_iter()? {
        out.push(tensor_arg(&it?, op)?);
    }
    Ok(out)
}

#[pyfunction]
#[pyo3(signature = (ts, dim=0))]
fn cat(ts: &Bound<'_, PyAny>, dim: i64) -> R {
    let v = tensors_of(ts, "cat")?;
    let r: Vec<&Tensor> = v.iter().collect();
    w(Tensor::cat(&r, dim))
}

#[pyfunction]
#[pyo3(signature = (ts, dim=0))]
fn stack(ts: &Bound<'_, PyAny>, dim: i64) -> R {
    let v = tensors_of(ts, "stack")?;
    let r: Vec<&Tensor> = v.iter().collect();
    w(Tensor::stack(&r, dim))
}

#[pyfunction]
fn split(t: PyRef<'_, PyTensor>, size: &Bound<'_, PyAny>, dim: i64) -> PyResult<Vec<PyTensor>> {
    if let Ok(s) = size.extract::<i64>() {
        if s < 0 {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "split expects split_size be non-negative, but got split_size={s}"
            )));
        }
        return tl(t.t.split(s as usize, dim));
    }
    let sizes: Vec<i64> = size.extract()?;
    tl(t.t.split_sizes(&usize_sizes(&sizes, "split")?, dim))
}

#[pyfunction]
fn chunk(t: PyRef<'_, PyTensor>, chunks: i64, dim: i64) -> PyResult<Vec<PyTensor>> {
    if chunks <= 0 {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "chunk expects `chunks` to be greater than 0, got: {chunks}"
        )));
    }
    tl(t.t.chunk(chunks as usize, dim))
}

#[pyfunction]
fn unbind(t: PyRef<'_, PyTensor>, dim: i64) -> PyResult<Vec<PyTensor>> {
    tl(t.t.unbind(dim))
}

#[pyfunction]
fn flip(t: PyRef<'_, PyTensor>, dims: Vec<i64>) -> R {
    w(t.t.flip(&dims))
}

#[pyfunction]
fn roll(t: PyRef<'_, PyTensor>, shifts: Vec<i64>, dims: Vec<i64>) -> R {
    w(t.t.roll(&shifts, &dims))
}

#[pyfunction]
fn repeat(t: PyRef<'_, PyTensor>, reps: Vec<i64>) -> R {
    w(t.t.repeat(&usize_sizes(&reps, "repeat")?))
}

#[pyfunction]
fn tri(t: PyRef<'_, PyTensor>, diagonal: i64, upper: bool) -> R {
    w(t.t.tri(diagonal, upper))
}

#[pyfunction]
fn narrow(t: PyRef<'_, PyTensor>, dim: i64, start: i64, length: i64) -> R {
    if t.t.ndim() == 0 {
        return w(t.t.narrow(dim, 0, 0));
    }
    // PyTorch's checks, in its order and with its exception types.
    if length < 0 {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "narrow(): length must be non-negative.",
        ));
    }
    let d = ember_core::layout::wrap_dim(dim, t.t.ndim(), "narrow").py()?;
    let n = t.t.shape().get(d).copied().unwrap_or(0) as i64;
    if start < -n || start > n {
        return Err(pyo3::exceptions::PyIndexError::new_err(format!(
            "start out of range (expected to be in range of [{}, {n}], but got {start})",
            -n
        )));
    }
    let s = if start < 0 { start + n } else { start };
    w(t.t.narrow(dim, s as usize, length as usize))
}

#[pyfunction]
fn select(t: PyRef<'_, PyTensor>, dim: i64, index: i64) -> R {
    w(t.t.select(dim, index))
}

#[pyfunction]
#[pyo3(signature = (t, offset=0, dim1=0, dim2=1))]
fn diagonal(t: PyRef<'_, PyTensor>, offset: i64, dim1: i64, dim2: i64) -> R {
    w(t.t.diagonal(offset, dim1, dim2))
}

#[pyfunction]
fn movedim(t: PyRef<'_, PyTensor>, src: Vec<i64>, dst: Vec<i64>) -> R {
    w(t.t.movedim(&src, &dst))
}

#[pyfunction]
fn unflatten(t: PyRef<'_, PyTensor>, dim: i64, sizes: Vec<i64>) -> R {
    w(t.t.unflatten(dim, &sizes))
}

#[pyfunction]
#[pyo3(signature = (t, size, stride, offset=None))]
fn as_strided(t: PyRef<'_, PyTensor>, size: Vec<i64>, stride: Vec<i64>, offset: Option<i64>) -> R {
    let off = offset.unwrap_or(t.t.layout().offset as i64);
    w(t.t.as_strided(
        &usize_sizes(&size, "as_strided")?,
        &usize_sizes(&stride, "as_strided")?,
        off.max(0) as usize,
    ))
}

// ---------- index ----------

fn index_list(py: Python<'_>, indices: &Bound<'_, PyAny>) -> PyResult<Vec<Option<Tensor>>> {
    let _ = py;
    let mut out = vec![];
    for it in indices.try_iter()? {
        let it = it?;
        if it.is_none() {
            out.push(None);
        } else {
            out.push(Some(tensor_arg(&it, "index")?));
        }
    }
    Ok(out)
}

#[pyfunction]
fn gather(t: PyRef<'_, PyTensor>, dim: i64, index: PyRef<'_, PyTensor>) -> R {
    w(t.t.gather(dim, &index.t))
}

/// gather of nll_loss: on the GPU a target out of range is reported as
/// "Target k is out of bounds." at the next read to the host.
#[pyfunction]
fn nll_gather(t: PyRef<'_, PyTensor>, dim: i64, target: PyRef<'_, PyTensor>) -> R {
    w(t.t.gather_reporting(dim, &target.t, ember_core::wgpu::ERR_NLL_TARGET))
}

#[pyfunction]
#[pyo3(signature = (t, dim, index, src, reduce=None))]
fn scatter(
    t: PyRef<'_, PyTensor>,
    dim: i64,
    index: PyRef<'_, PyTensor>,
    src: &Bound<'_, PyAny>,
    reduce: Option<&str>,
) -> R {
    if let Some(r) = reduce {
        let s = match src.cast::<PyTensor>() {
            Ok(s) => s.borrow().t.clone(),
            Err(_) => {
                let v = scalar_of(src)?.ok_or_else(|| {
                    PyTypeError::new_err("scatter: src must be a tensor or a number")
                })?;
                Tensor::full(index.t.shape(), v, t.t.dtype()).py()?
            }
        };
        let r = match r {
            "add" => "sum",
            "multiply" => "prod",
            o => o,
        };
        return w(t.t.scatter_reduce(dim, &index.t, &s, r, true));
    }
    match src.cast::<PyTensor>() {
        Ok(s) => w(t.t.scatter(dim, &index.t, &s.borrow().t)),
        // A complex number: scatter its value broadcast to the index's shape.
        Err(_) if src.is_instance_of::<pyo3::types::PyComplex>() => {
            let v = crate::complex::wrapped_complex(src)?
                .expand(index.t.shape())
                .and_then(|v| v.to_device_raw(t.t.device()))
                .py()?;
            w(t.t.scatter(dim, &index.t, &v))
        }
        Err(_) => {
            let v = scalar_of(src)?.ok_or_else(|| {
                PyTypeError::new_err("scatter: value must be a tensor or a number")
            })?;
            w(t.t.scatter_value(dim, &index.t, v))
        }
    }
}

#[pyfunction]
fn scatter_add(
    t: PyRef<'_, PyTensor>,
    dim: i64,
    index: PyRef<'_, PyTensor>,
    src: PyRef<'_, PyTensor>,
) -> R {
    w(t.t.scatter_add(dim, &index.t, &src.t))
}

#[pyfunction]
#[pyo3(signature = (t, dim, index, src, reduce, include_self=true))]
fn scatter_reduce(
    t: PyRef<'_, PyTensor>,
    dim: i64,
    index: PyRef<'_, PyTensor>,
    src: PyRef<'_, PyTensor>,
    reduce: &str,
    include_self: bool,
) -> R {
    w(t.t.scatter_reduce(dim, &index.t, &src.t, reduce, include_self))
}

#[pyfunction]
fn index_select(t: PyRef<'_, PyTensor>, dim: i64, index: PyRef<'_, PyTensor>) -> R {
    w(t.t.index_select(dim, &index.t))
}

#[pyfunction]
#[pyo3(signature = (t, dim, index, source, alpha=1.0))]
fn index_add(
    t: PyRef<'_, PyTensor>,
    dim: i64,
    index: PyRef<'_, PyTensor>,
    source: PyRef<'_, PyTensor>,
    alpha: f64,
) -> R {
    w(t.t.index_add(dim, &index.t, &source.t, alpha))
}

#[pyfunction]
fn masked_fill(t: PyRef<'_, PyTensor>, mask: PyRef<'_, PyTensor>, value: &Bound<'_, PyAny>) -> R {
    let v = match value.cast::<PyTensor>() {
        Ok(v) => v.borrow().t.clone(),
        Err(_) => {
            let s = scalar_of(value)?.ok_or_else(|| {
                PyTypeError::new_err("masked_fill: value must be a number or a 0-dim tensor")
            })?;
            Tensor::wrapped_scalar(
                s,
                if s.is_float() {
                    DType::F64
                } else {
                    s.default_dtype()
                },
            )
        }
    };
    w(t.t.masked_fill(&mask.t, &v))
}

#[pyfunction]
fn index(py: Python<'_>, t: PyRef<'_, PyTensor>, indices: &Bound<'_, PyAny>) -> R {
    let idx = index_list(py, indices)?;
    w(t.t.index(&idx))
}

#[pyfunction]
#[pyo3(signature = (t, indices, values, accumulate=false))]
fn index_put(
    py: Python<'_>,
    t: PyRef<'_, PyTensor>,
    indices: &Bound<'_, PyAny>,
    values: &Bound<'_, PyAny>,
    accumulate: bool,
) -> R {
    let idx = index_list(py, indices)?;
    let v = tensor_or_scalar(values)?;
    w(t.t.index_put(&idx, &v, accumulate))
}

#[pyfunction]
#[pyo3(signature = (t, indices, values, accumulate=false))]
fn index_put_(
    py: Python<'_>,
    t: PyRef<'_, PyTensor>,
    indices: &Bound<'_, PyAny>,
    values: &Bound<'_, PyAny>,
    accumulate: bool,
) -> PyResult<()> {
    let idx = index_list(py, indices)?;
    let v = tensor_or_scalar(values)?;
    t.t.setitem_index(&idx, &v, accumulate).py()
}

#[pyfunction]
fn nonzero(t: PyRef<'_, PyTensor>) -> R {
    w(t.t.nonzero())
}

#[pyfunction]
fn masked_select(t: PyRef<'_, PyTensor>, mask: PyRef<'_, PyTensor>) -> R {
    w(t.t.masked_select(&mask.t))
}

// ---------- linalg ----------

#[pyfunction]
fn matmul(py: Python<'_>, a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> R {
    crate::tensor::matmul_py(py, &a.t, &b.t)
}

#[pyfunction]
fn mm(a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> R {
    w(a.t.mm(&b.t))
}

#[pyfunction]
fn bmm(a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> R {
    w(a.t.bmm(&b.t))
}

#[pyfunction]
fn mv(a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> R {
    w(a.t.mv(&b.t))
}

#[pyfunction]
fn dot(a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> R {
    w(a.t.dot(&b.t))
}

#[pyfunction]
fn outer(a: PyRef<'_, PyTensor>, b: PyRef<'_, PyTensor>) -> R {
    w(a.t.outer(&b.t))
}

#[pyfunction]
#[pyo3(signature = (input, m1, m2, beta=1.0, alpha=1.0))]
fn addmm(
    input: PyRef<'_, PyTensor>,
    m1: PyRef<'_, PyTensor>,
    m2: PyRef<'_, PyTensor>,
    beta: f64,
    alpha: f64,
) -> R {
    if m1.t.ndim() != 2 || m2.t.ndim() != 2 {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "addmm: mat1 and mat2 must be matrices",
        ));
    }
    w(Tensor::addmm(&input.t, &m1.t, &m2.t, beta, alpha))
}

/// ember.set_num_threads: threads the CPU kernels use.
#[pyfunction]
fn set_num_threads(n: i64) -> PyResult<()> {
    if n < 1 {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "set_num_threads: number of threads must be positive, got {n}"
        )));
    }
    ember_core::cpu::set_num_threads(n as usize);
    Ok(())
}

#[pyfunction]
fn get_num_threads() -> usize {
    ember_core::cpu::num_threads()
}

/// Size of the kernel thread pool (PyTorch's inter-op pool has no separate
/// role in ember: ops run on the calling thread and split over this pool).
#[pyfunction]
fn get_num_interop_threads() -> usize {
    rayon::current_num_threads()
}

/// (bytes cached, allocations served from the cache, allocations from the OS)
/// of the CPU buffer cache.
#[pyfunction]
fn _cpu_cache_stats() -> (usize, usize, usize) {
    crate::ALLOC.stats()
}

/// Return the CPU buffer cache's blocks to the OS.
#[pyfunction]
fn _cpu_empty_cache() {
    crate::ALLOC.empty_cache()
}

/// The instruction set the CPU kernels were dispatched to ("avx512", ...).
#[pyfunction]
fn _cpu_capability() -> &'static str {
    ember_core::cpu::simd::level_name()
}

/// The kernel CPU bfloat16/float16 matmuls run: "avx512bf16" or
/// "f32-panels" (EMBER_DISABLE_AVX512BF16=1 forces the latter); for tests.
#[pyfunction]
fn _half_gemm_path(dtype: &str) -> PyResult<&'static str> {
    let dt = match dtype {
        "bfloat16" => ember_core::dtype::DType::BF16,
        "float16" => ember_core::dtype::DType::F16,
        _ => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "_half_gemm_path: expected 'bfloat16' or 'float16', got '{dtype}'"
            )))
        }
    };
    Ok(ember_core::cpu::gemm_half::half_gemm_path(dt))
}

/// Kernels detect a fork()ed child and run single-threaded there
/// (ember_core::cpu::parallel_ok), so DataLoader workers may use fork.
#[pyfunction]
fn _fork_safe() -> bool {
    true
}

#[pyfunction]
fn promote_types(a: PyDType, b: PyDType) -> PyDType {
    PyDType(ember_core::dtype::promote_types(a.0, b.0))
}

#[pyfunction]
fn result_type(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<PyDType> {
    let (x, y) = (tensor_or_scalar(a)?, tensor_or_scalar(b)?);
    Ok(PyDType(ember_core::ops::elementwise::result_type2(&x, &y)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGenerator>()?;
    macro_rules! add {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add!(
        unary,
        binary,
        div,
        _from_bytes,
        zeros,
        full,
        arange,
        linspace,
        eye,
        manual_seed,
        initial_seed,
        rand,
        randn,
        randint,
        randperm,
        uniform_,
        normal_,
        bernoulli,
        bernoulli_scalar,
        multinomial,
        where_,
        clamp,
        hardtanh,
        softplus,
        prod,
        amax,
        max_all,
        max_dim,
        argmax,
        var,
        logsumexp,
        vector_norm,
        all_any,
        cumulative,
        softmax,
        cat,
        stack,
        split,
        chunk,
        unbind,
        flip,
        roll,
        repeat,
        tri,
        narrow,
        select,
        diagonal,
        movedim,
        unflatten,
        as_strided,
        gather,
        nll_gather,
        scatter,
        scatter_add,
        scatter_reduce,
        index_select,
        index_add,
        masked_fill,
        index,
        index_put,
        index_put_,
        nonzero,
        masked_select,
        matmul,
        mm,
        bmm,
        mv,
        dot,
        outer,
        addmm,
        _fork_safe,
        set_num_threads,
        get_num_threads,
        get_num_interop_threads,
        _cpu_capability,
        _half_gemm_path,
        _cpu_cache_stats,
        _cpu_empty_cache,
        promote_types,
        result_type
    );
    let _ = Scalar::Int(0);
    Ok(())
}
