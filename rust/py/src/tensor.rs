//! The Python Tensor class (ember.Tensor), dtype objects and indexing.

use crate::convert::{dims_arg, scalar_of, sizes_arg, tensor_or_scalar, usize_sizes};
use crate::errors::{to_py, Py as _};
use ember_core::autograd::{grad_enabled, Hook};
use ember_core::ops::shape::ViewFn;
use ember_core::ops::{Binary, Unary};
use ember_core::{DType, Scalar, Tensor};
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyByteArray, PyEllipsis, PyList, PySlice, PyTuple};
use std::sync::Arc;

#[pyclass(name = "dtype", module = "ember", frozen, eq, hash, from_py_object)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyDType(pub DType);

#[pymethods]
impl PyDType {
    #[new]
    fn new(name: &str) -> PyResult<Self> {
        DType::from_name(name)
            .map(PyDType)
            .ok_or_else(|| PyValueError::new_err(format!("unknown dtype {name:?}")))
    }
    fn __repr__(&self) -> String {
        format!("ember.{}", self.0.name())
    }
    fn __str__(&self) -> String {
        self.__repr__()
    }
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.0.is_float()
    }
    #[getter]
    fn is_signed(&self) -> bool {
        self.0.is_signed()
    }
    #[getter]
    fn is_complex(&self) -> bool {
        self.0.is_complex()
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.0.size()
    }
    #[getter]
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn __reduce__(&self) -> (String, (String,)) {
        (
            "ember._dtype_from_name".into(),
            (self.0.name().to_string(),),
        )
    }
}

#[pyclass(name = "Tensor", module = "ember", subclass, dict, weakref)]
pub struct PyTensor {
    pub t: Tensor,
}

impl PyTensor {
    pub fn wrap(t: Tensor) -> PyTensor {
        PyTensor { t }
    }
}

pub type R = PyResult<PyTensor>;

pub fn w(r: ember_core::Result<Tensor>) -> R {
    r.map(PyTensor::wrap).map_err(to_py)
}

fn bin(a: &Tensor, o: &Bound<'_, PyAny>, op: Binary) -> R {
    let b = tensor_or_scalar(o)?;
    w(a.binary(&b, op))
}
fn rbin(a: &Tensor, o: &Bound<'_, PyAny>, op: Binary) -> R {
    let b = tensor_or_scalar(o)?;
    w(b.binary(a, op))
}

/// matmul with the GIL released when the product is large enough to matter.
pub fn matmul_py(py: Python<'_>, a: &Tensor, b: &Tensor) -> R {
    if a.numel().saturating_mul(b.numel()) > 1 << 16 {
        return w(py.detach(|| a.matmul(b)));
    }
    w(a.matmul(b))
}

/// `a op= o`: the out-of-place op stored back into `a` (with autograd history).
fn inplace_bin(a: &Tensor, o: &Bound<'_, PyAny>, name: &str, op: Binary) -> PyResult<()> {
    let b = tensor_or_scalar(o)?;
    match op {
        Binary::Add | Binary::Sub | Binary::Mul | Binary::Div => a.binary_(&b, op, None, name).py(),
        _ => a.apply_inplace(name, |s| s.binary(&b, op)).py(),
    }
}

/// add_/sub_ with `alpha` (a Python number; anything else is scaled as a tensor).
fn inplace_alpha(
    a: &Tensor,
    o: &Bound<'_, PyAny>,
    alpha: Option<&Bound<'_, PyAny>>,
    name: &str,
    op: Binary,
) -> PyResult<()> {
    let alpha = match alpha {
        Some(x) if !x.is_none() => match crate::convert::scalar_of(x)? {
            Some(v) => Some(v),
            None => {
                let b = crate::ops::scaled(o, Some(x))?;
                return a.apply_inplace(name, |s| s.binary(&b, op)).py();
            }
        },
        _ => None,
    };
    a.binary_(&tensor_or_scalar(o)?, op, alpha, name).py()
}

/// Run a Python callable as a gradient hook.
pub fn py_hook(f: Py<PyAny>) -> Hook {
    Arc::new(move |g: &Tensor| {
        Python::attach(|py| {
            let r = f
                .call1(py, (PyTensor::wrap(g.clone()),))
                .map_err(|e| ember_core::Error::Runtime(format!("error in tensor hook: {e}")))?;
            if r.is_none(py) {
                return Ok(None);
            }
            let t = r.extract::<PyRef<PyTensor>>(py).map_err(|_| {
                ember_core::Error::Runtime("a tensor hook must return None or a Tensor".into())
            })?;
            Ok(Some(t.t.clone()))
        })
    })
}

// ---------- indexing ----------

enum Item {
    Int(i64),
    Slice(Option<i64>, Option<i64>, i64),
    NewAxis,
    Ellipsis,
    Adv(Tensor),
}

fn list_to_tensor(py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let ember = py.import("ember")?;
    let t = ember.getattr("tensor")?.call1((o,))?;
    Ok(t.cast::<PyTensor>()?.borrow().t.clone())
}

fn parse_items(py: Python<'_>, idx: &Bound<'_, PyAny>) -> PyResult<Vec<Item>> {
    let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = idx.cast::<PyTuple>() {
        t.iter().collect()
    } else {
        vec![idx.clone()]
    };
    let mut out = vec![];
    for it in items {
        if it.is_none() {
            out.push(Item::NewAxis);
        } else if it.is_instance_of::<PyEllipsis>() {
            out.push(Item::Ellipsis);
        } else if let Ok(s) = it.cast::<PySlice>() {
            let start: Option<i64> = s.getattr("start")?.extract()?;
            let stop: Option<i64> = s.getattr("stop")?.extract()?;
            let step: Option<i64> = s.getattr("step")?.extract()?;
            let step = step.unwrap_or(1);
            if step <= 0 {
                return Err(PyValueError::new_err("step must be greater than zero"));
            }
            out.push(Item::Slice(start, stop, step));
        } else if let Ok(t) = it.cast::<PyTensor>() {
            let t = t.borrow().t.clone();
            out.push(Item::Adv(t));
        } else if it.is_instance_of::<pyo3::types::PyBool>() {
            let b: bool = it.extract()?;
            out.push(Item::Adv(Tensor::from_vec(vec![b], &[])));
        } else if let Ok(i) = it.extract::<i64>() {
            out.push(Item::Int(i));
        } else if it.is_instance_of::<PyList>() || it.hasattr("__array__")? {
            out.push(Item::Adv(list_to_tensor(py, &it)?));
        } else {
            return Err(PyIndexError::new_err(format!(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices (got {})",
                it.get_type().name()?
            )));
        }
    }
    Ok(out)
}

/// Apply the basic part of an index; returns the view and the advanced indices.
fn apply_basic(x: &Tensor, items: &[Item]) -> ember_core::Result<(Tensor, Vec<Option<Tensor>>)> {
    let consumed: usize = items
        .iter()
        .map(|i| match i {
            Item::Int(_) | Item::Slice(..) => 1,
            Item::Adv(t) => {
                if t.dtype() == DType::Bool || t.dtype() == DType::U8 {
                    t.ndim()
                } else {
                    1
                }
            }
            _ => 0,
        })
        .sum();
    if consumed > x.ndim() {
        return Err(ember_core::Error::Index(format!(
            "too many indices for tensor of dimension {}",
            x.ndim()
        )));
    }
    if items.iter().filter(|i| matches!(i, Item::Ellipsis)).count() > 1 {
        return Err(ember_core::Error::Index(
            "an index can only have a single ellipsis ('...')".into(),
        ));
    }
    let mut r = x.clone();
    let mut d = 0usize;
    let mut adv: Vec<Option<Tensor>> = vec![];
    let mut any_adv = false;
    for it in items {
        match it {
            Item::Int(i) => {
                let n = r.shape()[d] as i64;
                if *i < -n || *i >= n {
                    return Err(ember_core::Error::Index(format!(
                        "index {} is out of bounds for dimension {} with size {}",
                        i, d, n
                    )));
                }
                r = r.select(d as i64, *i)?;
            }
            Item::Slice(a, b, s) => {
                let n = r.shape()[d] as i64;
                let clamp = |v: i64| -> i64 {
                    let v = if v < 0 { v + n } else { v };
                    v.clamp(0, n)
                };
                let start = a.map(clamp).unwrap_or(0);
                let stop = b.map(clamp).unwrap_or(n).max(start);
                r = r.slice(d, start as usize, stop as usize, *s as usize)?;
                adv.push(None);
                d += 1;
            }
            Item::NewAxis => {
                r = r.unsqueeze(d)?;
                adv.push(None);
                d += 1;
            }
            Item::Ellipsis => {
                let skip = x.ndim() - consumed;
                for _ in 0..skip {
                    adv.push(None);
                }
                d += skip;
            }
            Item::Adv(t) => {
                any_adv = true;
                let k = if t.dtype() == DType::Bool || t.dtype() == DType::U8 {
                    t.ndim()
                } else {
                    1
                };
                if t.dtype() == DType::Bool && t.ndim() == 0 {
                    // x[True] / x[tensor(False)]: new axis of size 1 or 0
                    r = r.unsqueeze(d)?;
                    adv.push(Some(t.reshape(&[1])?));
                    d += 1;
                    continue;
                }
                adv.push(Some(t.clone()));
                d += k;
            }
        }
    }
    if !any_adv {
        adv.clear();
    }
    Ok((r, adv))
}

fn getitem(x: &Tensor, items: &[Item]) -> ember_core::Result<Tensor> {
    let (r, adv) = apply_basic(x, items)?;
    if adv.is_empty() {
        return Ok(r);
    }
    r.index(&adv)
}

fn is_identity_basic(items: &[Item]) -> bool {
    items.iter().all(|i| match i {
        Item::Slice(a, b, s) => a.is_none() && b.is_none() && *s == 1,
        Item::Ellipsis | Item::Adv(_) => true,
        _ => false,
    }) && items.iter().filter(|i| matches!(i, Item::Adv(_))).count() > 0
}

fn setitem(x: &Tensor, items: Vec<Item>, value: Tensor) -> ember_core::Result<()> {
    let has_adv = items.iter().any(|i| matches!(i, Item::Adv(_)));
    let items = Arc::new(items);
    if !has_adv {
        let it = items.clone();
        let view: ViewFn = Arc::new(move |t: &Tensor| Ok(apply_basic(t, &it)?.0));
        return x.setitem_view(view, &value);
    }
    if is_identity_basic(&items) {
        let (_, adv) = apply_basic(x, &items)?;
        return x.setitem_index(&adv, &value, false);
    }
    // x[basic][adv] = v  ==  x[basic] = x[basic].index_put(adv, v)
    let it = items.clone();
    let view: ViewFn = Arc::new(move |t: &Tensor| Ok(apply_basic(t, &it)?.0));
    let (base, adv) = apply_basic(x, &items)?;
    let newv = base.index_put(&adv, &value, false)?;
    x.setitem_view(view, &newv)
}

#[pymethods]
impl PyTensor {
    /// Tensor(data) / Tensor(*sizes) / Tensor(other) (alias, used by subclasses such as Parameter).
    #[new]
    #[pyo3(signature = (*args))]
    fn new(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Self> {
        if args.is_empty() {
            return Ok(PyTensor::wrap(Tensor::zeros(&[0], DType::F32).py()?));
        }
        if args.len() == 1 {
            let a = args.get_item(0)?;
            if let Ok(t) = a.cast::<PyTensor>() {
                return Ok(PyTensor::wrap(t.borrow().t.detach()));
            }
            if a.extract::<i64>().is_err() {
                let ember = py.import("ember")?;
                let t = ember.getattr("tensor")?.call(
                    (a,),
                    Some(&[("dtype", ember.getattr("float32")?)].into_py_dict(py)?),
                )?;
                return Ok(PyTensor::wrap(t.cast::<PyTensor>()?.borrow().t.clone()));
            }
        }
        let sizes = usize_sizes(&sizes_arg(args)?, "Tensor")?;
        Ok(PyTensor::wrap(Tensor::zeros(&sizes, DType::F32).py()?))
    }

    // ----- metadata -----
    #[getter]
    fn _shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.t.shape())
    }
    fn _stride<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.t.strides())
    }
    #[getter]
    fn dtype(&self) -> PyDType {
        PyDType(self.t.dtype())
    }
    #[getter]
    fn _device(&self) -> String {
        self.t.device().name()
    }
    fn dim(&self) -> usize {
        self.t.ndim()
    }
    fn ndimension(&self) -> usize {
        self.t.ndim()
    }
    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }
    fn numel(&self) -> usize {
        self.t.numel()
    }
    fn nelement(&self) -> usize {
        self.t.numel()
    }
    fn element_size(&self) -> usize {
        self.t.dtype().size()
    }
    fn is_contiguous(&self) -> bool {
        self.t.is_contiguous()
    }
    fn is_floating_point(&self) -> bool {
        self.t.dtype().is_float()
    }
    fn storage_offset(&self) -> usize {
        self.t.layout().offset
    }
    fn data_ptr(&self) -> usize {
        // CPU: the real address of the first element (numpy and DLPack see the same one).
        // GPU buffers have no host address: a per-storage identity stands in for it.
        let base = match &*self.t.storage().read() {
            ember_core::storage::Storage::Cpu(d) => d.as_ptr() as usize,
            ember_core::storage::Storage::Gpu(_) => Arc::as_ptr(self.t.storage()) as usize,
        };
        base + self.t.layout().offset * self.t.dtype().size()
    }
    fn _storage_id(&self) -> usize {
        Arc::as_ptr(self.t.storage()) as usize
    }
    #[getter]
    fn _version(&self) -> u64 {
        self.t.version()
    }
    fn __len__(&self) -> PyResult<usize> {
        if self.t.ndim() == 0 {
            return Err(PyTypeError::new_err("len() of a 0-d tensor"));
        }
        Ok(self.t.shape()[0])
    }
    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }

    // ----- autograd -----
    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.t.requires_grad()
    }
    #[setter]
    fn set_requires_grad(&self, v: bool) -> PyResult<()> {
        self.t.set_requires_grad(v).py()
    }
    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_<'py>(
        slf: Bound<'py, Self>,
        requires_grad: bool,
    ) -> PyResult<Bound<'py, Self>> {
        slf.borrow().t.set_requires_grad(requires_grad).py()?;
        Ok(slf)
    }
    #[getter]
    fn get_grad(&self) -> Option<PyTensor> {
        self.t.grad().map(PyTensor::wrap)
    }
    #[setter]
    fn set_grad(&self, g: Option<PyRef<'_, PyTensor>>) -> PyResult<()> {
        self.t.set_grad(g.map(|g| g.t.clone())).py()
    }
    #[getter]
    fn is_leaf(&self) -> bool {
        self.t.is_leaf() || !self.t.requires_grad()
    }
    #[getter]
    fn grad_fn(&self) -> Option<crate::autograd_py::PyNode> {
        self.t
            .grad_fn()
            .map(|n| crate::autograd_py::PyNode { node: n })
    }
    #[getter]
    fn get_data(&self) -> PyTensor {
        PyTensor::wrap(self.t.detach())
    }
    #[setter]
    fn set_data(&mut self, d: PyRef<'_, PyTensor>) {
        self.t = Tensor::with_meta_of(&d.t, &self.t);
    }
    fn detach(&self) -> PyTensor {
        PyTensor::wrap(self.t.detach())
    }
    fn detach_<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        {
            let s = slf.borrow();
            let mut m = s.t.meta();
            m.grad_fn = None;
            m.requires_grad = false;
        }
        Ok(slf)
    }
    fn retain_grad(&self) -> PyResult<()> {
        if !self.t.requires_grad() {
            return Err(PyRuntimeError::new_err(
                "can't retain_grad on Tensor that has requires_grad=False",
            ));
        }
        let (gf, nr) = {
            let m = self.t.meta();
            (m.grad_fn.clone(), m.output_nr)
        };
        if let Some(n) = gf {
            self.t.meta().retains_grad = true;
            let mut r = n.retained.lock().unwrap();
            if !r.iter().any(|(k, w)| {
                *k == nr
                    && w.upgrade()
                        .map(|m| Arc::ptr_eq(&m, self.t.meta_arc()))
                        .unwrap_or(false)
            }) {
                r.push((nr, Arc::downgrade(self.t.meta_arc())));
            }
        }
        Ok(())
    }
    #[getter]
    fn retains_grad(&self) -> bool {
        self.t.meta().retains_grad
    }
    /// Register a gradient hook; returns an integer handle id.
    fn _register_hook(&self, f: Py<PyAny>) -> PyResult<usize> {
        if !self.t.requires_grad() {
            return Err(PyRuntimeError::new_err(
                "cannot register a hook on a tensor that doesn't require gradient",
            ));
        }
        let h = py_hook(f);
        let (gf, nr) = {
            let m = self.t.meta();
            (m.grad_fn.clone(), m.output_nr)
        };
        match gf {
            Some(n) => {
                let mut hs = n.pre_hooks.lock().unwrap();
                hs.push((nr, h));
                Ok(hs.len() - 1)
            }
            None => {
                let mut m = self.t.meta();
                m.hooks.push(h);
                Ok(m.hooks.len() - 1)
            }
        }
    }

    // ----- conversion -----
    fn item(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        // The core names the element count; a GPU read error passes through.
        let s = self.t.item().map_err(to_py)?;
        Ok(match s {
            Scalar::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
            Scalar::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
            Scalar::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
        })
    }
    /// Raw little-endian bytes of the (contiguous) data.
    fn _to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyByteArray>> {
        let c = self.t.host().py()?.contiguous().py()?;
        let off = c.layout().offset * c.dtype().size();
        let n = c.numel() * c.dtype().size();
        if n == 0 {
            // An empty view may carry an offset past the end of its storage.
            return Ok(PyByteArray::new(py, &[]));
        }
        c.with_cpu(|d, _| PyByteArray::new(py, &d.as_bytes()[off..off + n]))
            .py()
    }
    fn _to(&self, dtype: PyDType) -> R {
        w(self.t.to_dtype_explicit(dtype.0))
    }
    fn contiguous(&self) -> R {
        w(self.t.contiguous())
    }
    fn clone(&self) -> R {
        w(self.t.clone_t())
    }

    // ----- operators -----
    fn __add__(&self, o: &Bound<'_, PyAny>) -> R {
        bin(&self.t, o, Binary::Add)
    }
    fn __radd__(&self, o: &Bound<'_, PyAny>) -> R {
        rbin(&self.t, o, Binary::Add)
    }
    fn __sub__(&self, o: &Bound<'_, PyAny>) -> R {
        bin(&self.t, o, Binary::Sub)
    }
    fn __rsub__(&self, o: &Bound<'_, PyAny>) -> R {
        rbin(&self.t, o, Binary::Sub)
    }
    fn __mul__(&self, o: &Bound<'_, PyAny>) -> R {
        bin(&self.t, o, Binary::Mul)
    }
    fn __rmul__(&self, o: &Bound<'_, PyAny>) -> R {
        rbin(&self.t, o, Binary::Mul)
    }
    fn __truediv__(&self, o: &Bound<'_, PyAny>) -> R {
        bin(&self.t, o, Binary::Div)
    }
    fn __rtruediv__(&self, o: &Bound<'_, PyAny>) -> R {
        rbin(&self.t, o, Binary::Div)
    }
    fn __floordiv__(&self, o: &Bound<'_, PyAny>) -> R {
        bin(&self.t, o, Binary::FloorDiv)
    }
    fn __rfloordiv__(&self, o: &Bound<'_, PyAny>) -> R {
        rbin(&self.t, o, Binary::FloorDiv)
    }
    fn __mod__(&self, o: &Bound<'_, PyAny>) -> R {
        bin(&self.t, o, Binary::Remainder)
    }
    fn __rmod__(&self, o: &Bound<'_, PyAny>) -> R {
        rbin(&self.t, o, Binary::Remainder)
    }
    fn __pow__(&self, o: &Bound<'_, PyAny>, _m: Option<&Bound<'_, PyAny>>) -> R {
        crate::ops::pow_impl(&self.t, o)
    }
    fn __rpow__(&self, o: &Bound<'_, PyAny>, _m: Option<&Bound<'_, PyAny>>) -> R {
        rbin(&self.t, o, Binary::Pow)
    }
    fn __matmul__(&self, py: Python<'_>, o: PyRef<'_, PyTensor>) -> R {
        matmul_py(py, &self.t, &o.t)
    }
    fn __rmatmul__(&self, py: Python<'_>, o: PyRef<'_, PyTensor>) -> R {
        matmul_py(py, &o.t, &self.t)
    }
    fn __neg__(&self) -> R {
        w(self.t.neg())
    }
    fn __pos__(&self) -> PyTensor {
        PyTensor::wrap(self.t.clone())
    }
    fn __abs__(&self) -> R {
        w(self.t.unary(Unary::Abs))
    }
    fn __invert__(&self) -> R {
        if self.t.dtype() == DType::Bool {
            w(self.t.unary(Unary::LogicalNot))
        } else if self.t.dtype().is_float() {
            Err(PyTypeError::new_err(
                "~ (bitwise_not) is only supported for integer and boolean tensors",
            ))
        } else {
            w(self.t.unary(Unary::BitNot))
        }
    }
    fn __and__(&self, o: &Bound<'_, PyAny>) -> R {
        bin(&self.t, o, Binary::BitAnd)
    }
    fn __rand__(&self, o: &Bound<'_, PyAny>) -> R {
        rbin(&self.t, o, Binary::BitAnd)
    }
    fn __or__(&self, o: &Bound<'_, PyAny>) -> R {
        bin(&self.t, o, Binary::BitOr)
    }
    fn __ror__(&self, o: &Bound<'_, PyAny>) -> R {
        rbin(&self.t, o, Binary::BitOr)
    }
    fn __xor__(&self, o: &Bound<'_, PyAny>) -> R {
        bin(&self.t, o, Binary::BitXor)
    }
    fn __rxor__(&self, o: &Bound<'_, PyAny>) -> R {
        rbin(&self.t, o, Binary::BitXor)
    }
    fn __lshift__(&self, o: &Bound<'_, PyAny>) -> R {
        bin(&self.t, o, Binary::Shl)
    }
    fn __rshift__(&self, o: &Bound<'_, PyAny>) -> R {
        bin(&self.t, o, Binary::Shr)
    }
    fn __richcmp__(&self, o: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = o.py();
        let b = match tensor_or_scalar(o) {
            Ok(b) => b,
            Err(_) => {
                // Comparisons with non-numbers (e.g. `t == None`) follow Python's rules.
                return Ok(match op {
                    CompareOp::Eq => false.into_pyobject(py)?.to_owned().into_any().unbind(),
                    CompareOp::Ne => true.into_pyobject(py)?.to_owned().into_any().unbind(),
                    _ => {
                        return Err(PyTypeError::new_err(
                            "comparison between Tensor and an unsupported type",
                        ))
                    }
                });
            }
        };
        let bop = match op {
            CompareOp::Eq => Binary::Eq,
            CompareOp::Ne => Binary::Ne,
            CompareOp::Lt => Binary::Lt,
            CompareOp::Le => Binary::Le,
            CompareOp::Gt => Binary::Gt,
            CompareOp::Ge => Binary::Ge,
        };
        Ok(PyTensor::wrap(self.t.binary(&b, bop).py()?)
            .into_pyobject(py)?
            .into_any()
            .unbind())
    }
    fn __bool__(&self) -> PyResult<bool> {
        if self.t.numel() != 1 {
            return Err(PyRuntimeError::new_err(format!(
                "Boolean value of Tensor with {} values is ambiguous",
                if self.t.numel() == 0 {
                    "no".to_string()
                } else {
                    "more than one".to_string()
                }
            )));
        }
        Ok(self.t.item().py()?.to_f64() != 0.0)
    }
    fn __float__(&self) -> PyResult<f64> {
        if self.t.numel() != 1 {
            return Err(PyTypeError::new_err(
                "only one element tensors can be converted to Python scalars",
            ));
        }
        Ok(self.t.item().py()?.to_f64())
    }
    fn __int__(&self) -> PyResult<i64> {
        if self.t.numel() != 1 {
            return Err(PyTypeError::new_err(
                "only one element tensors can be converted to Python scalars",
            ));
        }
        let s = self.t.item().py()?;
        Ok(match s {
            Scalar::Float(f) => f.trunc() as i64,
            other => other.to_i64(),
        })
    }
    fn __index__(&self) -> PyResult<i64> {
        if self.t.numel() != 1 || self.t.dtype().is_float() {
            return Err(PyTypeError::new_err(
                "only integer tensors of a single element can be converted to an index",
            ));
        }
        Ok(self.t.item().py()?.to_i64())
    }

    // ----- in-place arithmetic (methods return self, for chaining) -----
    #[pyo3(signature = (other, alpha=None))]
    fn add_<'py>(
        slf: Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        alpha: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        inplace_alpha(&slf.borrow().t, other, alpha, "add_", Binary::Add)?;
        Ok(slf)
    }
    #[pyo3(signature = (other, alpha=None))]
    fn sub_<'py>(
        slf: Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        alpha: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        inplace_alpha(&slf.borrow().t, other, alpha, "sub_", Binary::Sub)?;
        Ok(slf)
    }
    fn mul_<'py>(slf: Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        inplace_bin(&slf.borrow().t, other, "mul_", Binary::Mul)?;
        Ok(slf)
    }
    #[pyo3(signature = (other, *, rounding_mode=None))]
    fn div_<'py>(
        slf: Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
        rounding_mode: Option<&str>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        match rounding_mode {
            None => inplace_bin(&t, other, "div_", Binary::Div)?,
            Some(m) => {
                let b = tensor_or_scalar(other)?;
                t.apply_inplace("div_", |s| crate::ops::div_mode(s, &b, Some(m)))
                    .py()?
            }
        }
        Ok(slf)
    }

    // ----- in-place operators -----
    fn __iadd__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace_bin(&self.t, o, "add_", Binary::Add)
    }
    fn __isub__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace_bin(&self.t, o, "sub_", Binary::Sub)
    }
    fn __imul__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace_bin(&self.t, o, "mul_", Binary::Mul)
    }
    fn __itruediv__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace_bin(&self.t, o, "div_", Binary::Div)
    }
    fn __ifloordiv__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace_bin(&self.t, o, "floor_divide_", Binary::FloorDiv)
    }
    fn __imod__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace_bin(&self.t, o, "remainder_", Binary::Remainder)
    }
    fn __ipow__(&self, o: &Bound<'_, PyAny>, _m: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        inplace_bin(&self.t, o, "pow_", Binary::Pow)
    }
    fn __iand__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace_bin(&self.t, o, "bitwise_and_", Binary::BitAnd)
    }
    fn __ior__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace_bin(&self.t, o, "bitwise_or_", Binary::BitOr)
    }
    fn __ixor__(&self, o: &Bound<'_, PyAny>) -> PyResult<()> {
        inplace_bin(&self.t, o, "bitwise_xor_", Binary::BitXor)
    }

    // ----- indexing -----
    fn __getitem__(&self, py: Python<'_>, idx: &Bound<'_, PyAny>) -> R {
        // Fast path: a single integer.
        if let Ok(i) = idx.extract::<i64>() {
            if !idx.is_instance_of::<pyo3::types::PyBool>() && !idx.is_instance_of::<PyTensor>() {
                if self.t.ndim() == 0 {
                    return Err(PyIndexError::new_err("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"));
                }
                return w(self.t.select(0, i));
            }
        }
        let items = parse_items(py, idx)?;
        w(getitem(&self.t, &items))
    }
    fn __setitem__(
        &self,
        py: Python<'_>,
        idx: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let items = parse_items(py, idx)?;
        let v = if let Ok(t) = value.cast::<PyTensor>() {
            t.borrow().t.clone()
        } else if let Some(s) = scalar_of(value)? {
            if self.t.dtype().is_complex() {
                // A real number into a complex tensor: the write casts it (no
                // complex scalar storage is made by a real kernel).
                crate::convert::tensor_or_scalar(value)?
            } else {
                Tensor::scalar_tensor(s, self.t.dtype())
                    .cast_raw(self.t.dtype())
                    .py()?
            }
        } else {
            list_to_tensor(py, value)?
        };
        setitem(&self.t, items, v).py()
    }

    // ----- core methods used everywhere -----
    #[pyo3(signature = (*shape))]
    fn view(&self, shape: &Bound<'_, PyTuple>) -> R {
        if shape.len() == 1 {
            if let Ok(d) = shape.get_item(0)?.cast::<PyDType>() {
                let d = d.borrow().0;
                if d.size() != self.t.dtype().size() {
                    return Err(PyRuntimeError::new_err(
                        "view(dtype): only same-size dtypes are supported",
                    ));
                }
                return w(self.t.cast_raw(d)); // bit reinterpretation differs; same-size casts only
            }
        }
        w(self.t.view(&sizes_arg(shape)?))
    }
    #[pyo3(signature = (*shape))]
    fn reshape(&self, shape: &Bound<'_, PyTuple>) -> R {
        w(self.t.reshape_i(&sizes_arg(shape)?))
    }
    #[pyo3(signature = (*sizes))]
    fn expand(&self, sizes: &Bound<'_, PyTuple>) -> R {
        w(self.t.expand_i(&sizes_arg(sizes)?))
    }
    #[pyo3(signature = (*dims))]
    fn permute(&self, dims: &Bound<'_, PyTuple>) -> R {
        w(self.t.permute(&sizes_arg(dims)?))
    }
    fn transpose(&self, dim0: i64, dim1: i64) -> R {
        w(self.t.transpose(dim0, dim1))
    }
    fn t(&self) -> R {
        w(self.t.t())
    }
    fn unsqueeze(&self, dim: i64) -> R {
        w(self.t.unsqueeze_i(dim))
    }
    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, dim: Option<&Bound<'_, PyAny>>) -> R {
        let d = dims_arg(dim)?;
        w(self.t.squeeze(d.as_deref()))
    }
    #[pyo3(signature = (start_dim=0, end_dim=-1))]
    fn flatten(&self, start_dim: i64, end_dim: i64) -> R {
        w(self.t.flatten(start_dim, end_dim))
    }
    #[pyo3(signature = (dim=None, keepdim=false, dtype=None))]
    fn sum(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> R {
        let d = dims_arg(dim)?;
        let dt = crate::convert::dtype_arg(dtype)?;
        w(self.t.sum_dims(&d.unwrap_or_default(), keepdim, dt))
    }
    #[pyo3(signature = (dim=None, keepdim=false, dtype=None))]
    fn mean(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> R {
        let d = dims_arg(dim)?;
        let dt = crate::convert::dtype_arg(dtype)?;
        w(self.t.mean_dims(&d.unwrap_or_default(), keepdim, dt))
    }
    fn matmul(&self, py: Python<'_>, o: PyRef<'_, PyTensor>) -> R {
        self.__matmul__(py, o)
    }
    fn exp(&self) -> R {
        w(self.t.unary(Unary::Exp))
    }
    fn log(&self) -> R {
        w(self.t.unary(Unary::Log))
    }
    fn relu(&self) -> R {
        w(self.t.unary(Unary::Relu))
    }
    fn sigmoid(&self) -> R {
        w(self.t.unary(Unary::Sigmoid))
    }
    fn tanh(&self) -> R {
        w(self.t.unary(Unary::Tanh))
    }
    fn sqrt(&self) -> R {
        w(self.t.unary(Unary::Sqrt))
    }
    fn abs(&self) -> R {
        w(self.t.unary(Unary::Abs))
    }
    fn neg(&self) -> R {
        w(self.t.neg())
    }
    #[pyo3(signature = (other, alpha=None))]
    fn add(&self, other: &Bound<'_, PyAny>, alpha: Option<&Bound<'_, PyAny>>) -> R {
        let b = crate::ops::scaled(other, alpha)?;
        w(self.t.add(&b))
    }
    #[pyo3(signature = (other, alpha=None))]
    fn sub(&self, other: &Bound<'_, PyAny>, alpha: Option<&Bound<'_, PyAny>>) -> R {
        let b = crate::ops::scaled(other, alpha)?;
        w(self.t.sub(&b))
    }
    fn mul(&self, other: &Bound<'_, PyAny>) -> R {
        bin(&self.t, other, Binary::Mul)
    }
    #[pyo3(signature = (other, rounding_mode=None))]
    fn div(&self, other: &Bound<'_, PyAny>, rounding_mode: Option<&str>) -> R {
        let b = tensor_or_scalar(other)?;
        w(crate::ops::div_mode(&self.t, &b, rounding_mode))
    }
    fn zero_<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        {
            let s = slf.borrow();
            if grad_enabled() && s.t.requires_grad() {
                s.t.apply_inplace("zero_", |x| x.filled_recorded(Scalar::Int(0)))
                    .py()?;
            } else {
                s.t.check_inplace("zero_").py()?;
                s.t.fill_scalar_raw(Scalar::Int(0)).py()?;
            }
        }
        Ok(slf)
    }
    fn fill_<'py>(slf: Bound<'py, Self>, value: &Bound<'_, PyAny>) -> PyResult<Bound<'py, Self>> {
        {
            let s = slf.borrow();
            if let Some(v) = scalar_of(value)? {
                if grad_enabled() && s.t.requires_grad() {
                    s.t.apply_inplace("fill_", |x| x.filled_recorded(v)).py()?;
                } else {
                    s.t.check_inplace("fill_").py()?;
                    s.t.fill_scalar_raw(v).py()?;
                }
            } else {
                let v = crate::convert::tensor_arg(value, "fill_")?;
                s.t.apply_inplace("fill_", |x| x.mul_s(0.0)?.add(&v)).py()?;
            }
        }
        Ok(slf)
    }
    #[pyo3(signature = (src, non_blocking=false))]
    fn copy_<'py>(
        slf: Bound<'py, Self>,
        src: &Bound<'_, PyAny>,
        non_blocking: bool,
    ) -> PyResult<Bound<'py, Self>> {
        let _ = non_blocking;
        let s = crate::convert::tensor_arg(src, "copy_")?;
        slf.borrow().t.copy_(&s).py()?;
        Ok(slf)
    }
    /// Generic in-place op: `f(src)` (Python) computes the new value from a
    /// snapshot of self; the result is stored into self with autograd history.
    fn _inplace<'py>(
        slf: Bound<'py, Self>,
        name: &str,
        f: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        let mut pyerr: Option<PyErr> = None;
        let r = t.apply_inplace(name, |src| {
            let out = f
                .call1((PyTensor::wrap(src.clone()),))
                .and_then(|o| Ok(o.cast::<PyTensor>()?.borrow().t.clone()));
            match out {
                Ok(o) => Ok(o),
                Err(e) => {
                    pyerr = Some(e);
                    Err(ember_core::Error::Runtime("python error".into()))
                }
            }
        });
        if let Some(e) = pyerr {
            return Err(e);
        }
        r.py()?;
        Ok(slf)
    }
    /// Raw write without autograd bookkeeping (used under no_grad by init/optim code).
    fn _set_raw(&self, value: PyRef<'_, PyTensor>) -> PyResult<()> {
        self.t.copy_raw_from(&value.t, false).py()
    }
}

use pyo3::types::IntoPyDict;
