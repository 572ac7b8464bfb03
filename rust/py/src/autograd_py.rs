//! Autograd bindings: grad_fn objects, backward/grad entry points, grad mode,
//! and Python-defined autograd.Function nodes.

use crate::errors::Py as _;
use crate::tensor::PyTensor;
use ember_core::autograd::{self, record, BackCtx, Edge, Node};
use ember_core::Tensor;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::Arc;

#[pyclass(name = "Node", module = "ember.autograd")]
pub struct PyNode {
    pub node: Arc<Node>,
}

#[pyclass(name = "AccumulateGrad", module = "ember.autograd")]
pub struct PyAccumulateGrad {
    #[pyo3(get)]
    variable: Py<PyAny>,
}

#[pymethods]
impl PyAccumulateGrad {
    fn name(&self) -> &'static str {
        "AccumulateGrad"
    }
    fn __repr__(&self) -> String {
        "<AccumulateGrad object>".into()
    }
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        Ok(PyTuple::empty(py))
    }
}

#[pymethods]
impl PyNode {
    fn name(&self) -> String {
        self.node.name.to_string()
    }
    fn __repr__(&self) -> String {
        format!(
            "<{} object at {:#x}>",
            self.node.name,
            Arc::as_ptr(&self.node) as usize
        )
    }
    fn __eq__(&self, other: PyRef<'_, PyNode>) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }
    fn __hash__(&self) -> isize {
        Arc::as_ptr(&self.node) as isize
    }
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let edges = self.node.next.lock().unwrap();
        let mut items: Vec<Bound<'py, PyTuple>> = vec![];
        for e in edges.iter() {
            let t = match e {
                Edge::None => PyTuple::new(
                    py,
                    [py.None(), 0usize.into_pyobject(py)?.into_any().unbind()],
                )?,
                Edge::Node(n, i) => {
                    let obj = Py::new(py, PyNode { node: n.clone() })?.into_any();
                    PyTuple::new(py, [obj, (*i).into_pyobject(py)?.into_any().unbind()])?
                }
                Edge::Leaf(t) => {
                    let v = Py::new(py, PyTensor::wrap(t.clone()))?.into_any();
                    let acc = Py::new(py, PyAccumulateGrad { variable: v })?.into_any();
                    PyTuple::new(py, [acc, 0usize.into_pyobject(py)?.into_any().unbind()])?
                }
            };
            items.push(t);
        }
        PyTuple::new(py, items)
    }
}

fn tensors(v: Vec<PyRef<'_, PyTensor>>) -> Vec<Tensor> {
    v.into_iter().map(|t| t.t.clone()).collect()
}

/// Run backward from `tensors` with `grads`; with `inputs`, return their gradients.
#[pyfunction]
#[pyo3(signature = (roots, grads, retain_graph, create_graph, inputs=None, allow_unused=false, accumulate=true))]
fn _backward(
    py: Python<'_>,
    roots: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    retain_graph: bool,
    create_graph: bool,
    inputs: Option<Vec<PyRef<'_, PyTensor>>>,
    allow_unused: bool,
    accumulate: bool,
) -> PyResult<Vec<Option<PyTensor>>> {
    let r = tensors(roots);
    let g = tensors(grads);
    let inp = inputs.map(tensors);
    let res = py.detach(|| {
        if accumulate {
            // backward(inputs=...): accumulate only into the given leaves.
            if let Some(i) = &inp {
                let got =
                    autograd::run_backward(&r, &g, retain_graph, create_graph, Some(i), true)?;
                for (t, gr) in i.iter().zip(got) {
                    if let Some(gr) = gr {
                        let old = t.grad();
                        let new = match old {
                            Some(o) => o.add(&gr)?,
                            None => gr.detach().clone_data()?,
                        };
                        t.set_grad(Some(if create_graph { new } else { new.detach() }))?;
                    }
                }
                return Ok(vec![]);
            }
            autograd::run_backward(&r, &g, retain_graph, create_graph, None, allow_unused)
        } else {
            autograd::run_backward(
                &r,
                &g,
                retain_graph,
                create_graph,
                inp.as_deref(),
                allow_unused,
            )
        }
    });
    let res = res.py()?;
    Ok(res.into_iter().map(|o| o.map(PyTensor::wrap)).collect())
}

#[pyfunction]
fn _set_grad_enabled(on: bool) -> bool {
    autograd::set_grad_enabled(on)
}

#[pyfunction]
fn is_grad_enabled() -> bool {
    autograd::grad_enabled()
}

/// Attach a node whose backward calls the Python callable `backward(grads)`,
/// which returns one gradient (or None) per tensor in `inputs`.
#[pyfunction]
fn _record_function(
    name: String,
    backward: Py<PyAny>,
    inputs: Vec<PyRef<'_, PyTensor>>,
    outputs: Vec<PyRef<'_, PyTensor>>,
) -> PyResult<()> {
    let ins = tensors(inputs);
    let outs = tensors(outputs);
    if !autograd::any_requires_grad(&ins.iter().collect::<Vec<_>>()) {
        return Ok(());
    }
    let n_in = ins.len();
    let in_refs: Vec<&Tensor> = ins.iter().collect();
    let out_refs: Vec<&Tensor> = outs.iter().collect();
    let fname = name.clone();
    record(
        name.clone(),
        &out_refs,
        &in_refs,
        vec![],
        move |c: &BackCtx| {
            Python::attach(|py| -> ember_core::Result<Vec<Option<Tensor>>> {
                let gs: Vec<Option<PyTensor>> = c
                    .grads
                    .iter()
                    .map(|g| g.clone().map(PyTensor::wrap))
                    .collect();
                let r = backward.call1(py, (gs,)).map_err(|e| {
                    let tb = e
                        .traceback(py)
                        .and_then(|t| t.format().ok())
                        .unwrap_or_default();
                    ember_core::Error::Runtime(format!("{fname}.backward raised: {}\n{tb}", e))
                })?;
                let r = r.bind(py);
                let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = r.cast::<PyTuple>() {
                    t.iter().collect()
                } else if let Ok(l) = r.cast::<pyo3::types::PyList>() {
                    l.iter().collect()
                } else {
                    vec![r.clone()]
                };
                if items.len() != n_in {
                    return Err(ember_core::Error::Runtime(format!(
                    "function {fname} returned an incorrect number of gradients (expected {n_in}, got {})",
                    items.len()
                )));
                }
                items
                    .iter()
                    .map(|o| {
                        if o.is_none() {
                            Ok(None)
                        } else {
                            o.cast::<PyTensor>()
                                .map(|t| Some(t.borrow().t.clone()))
                                .map_err(|_| {
                                    ember_core::Error::Runtime(format!(
                                        "function {fname}.backward must return Tensors or None"
                                    ))
                                })
                        }
                    })
                    .collect()
            })
        },
    );
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNode>()?;
    m.add_class::<PyAccumulateGrad>()?;
    m.add_function(wrap_pyfunction!(_backward, m)?)?;
    m.add_function(wrap_pyfunction!(_set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_record_function, m)?)?;
    let _ = PyRuntimeError::new_err("");
    Ok(())
}
