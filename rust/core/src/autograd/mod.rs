//! Define-by-run autograd: ops record Nodes; backward walks them iteratively.

use crate::error::{Error, Result};
use crate::tensor::{AutogradMeta, Tensor};
use crate::{bail, rt_err};
use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static DROP_QUEUE: RefCell<Vec<Arc<Node>>> = const { RefCell::new(Vec::new()) };
    static DRAINING: Cell<bool> = const { Cell::new(false) };
}

pub fn grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}
pub fn set_grad_enabled(on: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(on))
}

/// Runs `f` with grad mode set to `on`, restoring the previous mode after.
pub fn with_grad_mode<R>(on: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_grad_enabled(self.0);
        }
    }
    let _r = Restore(set_grad_enabled(on));
    f()
}

pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(false, f)
}

/// A gradient hook: may return a replacement gradient.
pub type Hook = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

pub struct BackCtx<'a> {
    /// Gradient of each output of the node (None where no gradient arrived).
    pub grads: &'a [Option<Tensor>],
    /// Tensors saved at forward time, checked against in-place modification.
    pub saved: &'a [Tensor],
    /// Whether each input needs a gradient.
    pub needs: &'a [bool],
}

impl BackCtx<'_> {
    /// The gradient of output `i`; errors if it is absent (single-output nodes always get one).
    pub fn grad(&self, i: usize) -> Result<&Tensor> {
        self.grads
            .get(i)
            .and_then(|g| g.as_ref())
            .ok_or_else(|| rt_err!("internal: missing gradient for output {i}"))
    }
}

pub type BackwardFn = Box<dyn Fn(&BackCtx) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

pub enum Edge {
    None,
    Node(Arc<Node>, usize),
    Leaf(Tensor),
}

struct Saved {
    tensors: Vec<Tensor>,
    versions: Vec<u64>,
}

pub struct Node {
    pub name: std::borrow::Cow<'static, str>,
    pub next: Mutex<Vec<Edge>>,
    saved: Mutex<Option<Saved>>,
    had_saved: bool,
    backward: BackwardFn,
    pub n_outputs: usize,
    /// Tensor hooks of this node's outputs: (output_nr, hook).
    pub pre_hooks: Mutex<Vec<(usize, Hook)>>,
    /// retain_grad() targets: (output_nr, the tensor's metadata).
    pub retained: Mutex<Vec<(usize, Weak<Mutex<AutogradMeta>>)>>,
    pub seq: u64,
    /// Output shapes, to materialise zero gradients for outputs that got none.
    pub out_meta: Vec<(Vec<usize>, crate::dtype::DType)>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Node {
    pub fn next_functions(&self) -> Vec<Option<(Option<Arc<Node>>, usize)>> {
        self.next
            .lock()
            .unwrap()
            .iter()
            .map(|e| match e {
                Edge::None => None,
                Edge::Node(n, i) => Some((Some(n.clone()), *i)),
                Edge::Leaf(_) => Some((None, 0)),
            })
            .collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Move children into a thread-local queue instead of dropping them
        // recursively: a 100k-node chain must not overflow the stack.
        let edges = std::mem::take(self.next.get_mut().unwrap_or_else(|e| e.into_inner()));
        let saved = self
            .saved
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        DROP_QUEUE.with(|q| {
            let mut q = q.borrow_mut();
            for e in edges {
                if let Edge::Node(n, _) = e {
                    q.push(n);
                }
            }
        });
        drop(saved);
        drain_drop_queue();
    }
}

fn drain_drop_queue() {
    if DRAINING.with(|d| d.replace(true)) {
        return;
    }
    loop {
        let next = DROP_QUEUE.with(|q| q.borrow_mut().pop());
        match next {
            Some(n) => drop(n),
            None => break,
        }
    }
    DRAINING.with(|d| d.set(false));
}

pub(crate) fn defer_drop(n: Arc<Node>) {
    DROP_QUEUE.with(|q| q.borrow_mut().push(n));
    drain_drop_queue();
}

/// Whether an op over these inputs must record a node.
pub fn any_requires_grad(inputs: &[&Tensor]) -> bool {
    grad_enabled() && inputs.iter().any(|t| t.requires_grad())
}

fn edge_of(t: &Tensor) -> Edge {
    let m = t.meta();
    if !m.requires_grad {
        return Edge::None;
    }
    match &m.grad_fn {
        Some(n) => Edge::Node(n.clone(), m.output_nr),
        None => {
            drop(m);
            Edge::Leaf(t.clone())
        }
    }
}

/// Record a node for `outputs` computed from `inputs`. Call only when
/// `any_requires_grad(inputs)`; non-float outputs are left without history.
// Node is Send + Sync (checked at compile time in wgpu/mod.rs); clippy's lint
// cannot see it through wgpu's platform-dependent Send/Sync bounds.
#[allow(clippy::arc_with_non_send_sync)]
pub fn record(
    name: impl Into<std::borrow::Cow<'static, str>>,
    outputs: &[&Tensor],
    inputs: &[&Tensor],
    saved: Vec<Tensor>,
    backward: impl Fn(&BackCtx) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
) {
    let next: Vec<Edge> = inputs.iter().map(|t| edge_of(t)).collect();
    let versions = saved.iter().map(|t| t.version()).collect();
    let node = Arc::new(Node {
        name: name.into(),
        next: Mutex::new(next),
        had_saved: !saved.is_empty(),
        saved: Mutex::new(Some(Saved {
            tensors: saved,
            versions,
        })),
        backward: Box::new(backward),
        n_outputs: outputs.len(),
        pre_hooks: Mutex::new(vec![]),
        retained: Mutex::new(vec![]),
        seq: SEQ.fetch_add(1, Ordering::Relaxed),
        // Only multi-output nodes need output shapes (to zero-fill missing grads).
        out_meta: if outputs.len() > 1 {
            outputs
                .iter()
                .map(|o| (o.shape().to_vec(), o.dtype()))
                .collect()
        } else {
            vec![]
        },
    });
    for (i, o) in outputs.iter().enumerate() {
        if o.dtype().is_float() || o.dtype().is_complex() {
            let mut m = o.meta();
            m.requires_grad = true;
            m.grad_fn = Some(node.clone());
            m.output_nr = i;
        }
    }
}

/// Wrap `f`'s single output with a node when needed.
pub fn unary_record(
    name: &'static str,
    out: Tensor,
    input: &Tensor,
    saved: Vec<Tensor>,
    backward: impl Fn(&BackCtx) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
) -> Tensor {
    if any_requires_grad(&[input]) {
        record(name, &[&out], &[input], saved, backward);
    }
    out
}

struct Ready(u64, Arc<Node>);
impl PartialEq for Ready {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for Ready {}
impl PartialOrd for Ready {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ready {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp(&o.0)
    }
}

fn node_key(n: &Arc<Node>) -> usize {
    Arc::as_ptr(n) as usize
}

fn add_grad(slot: &mut Option<Tensor>, g: Tensor) -> Result<()> {
    *slot = Some(match slot.take() {
        None => g,
        Some(old) => old.add(&g)?,
    });
    Ok(())
}

pub const FREED_MSG: &str = "Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward.";

/// Run backward from `roots` with their gradients. With `inputs` given, the
/// gradients of those tensors are returned instead of accumulated into `.grad`.
pub fn run_backward(
    roots: &[Tensor],
    grads: &[Tensor],
    retain_graph: bool,
    create_graph: bool,
    inputs: Option<&[Tensor]>,
    allow_unused: bool,
) -> Result<Vec<Option<Tensor>>> {
    with_grad_mode(create_graph, || {
        run_backward_inner(
            roots,
            grads,
            retain_graph,
            create_graph,
            inputs,
            allow_unused,
        )
    })
}

fn run_backward_inner(
    roots: &[Tensor],
    grads: &[Tensor],
    retain_graph: bool,
    create_graph: bool,
    inputs: Option<&[Tensor]>,
    allow_unused: bool,
) -> Result<Vec<Option<Tensor>>> {
    // Gradient buffers per node and output number.
    let mut buffers: HashMap<usize, Vec<Option<Tensor>>> = HashMap::new();
    let mut leaf_grads: Vec<(Tensor, Option<Tensor>)> = vec![];
    let mut leaf_index: HashMap<usize, usize> = HashMap::new();
    let mut root_nodes: Vec<Arc<Node>> = vec![];

    // What autograd.grad captures: non-leaf inputs by (node, output_nr), leaves by identity.
    let mut capture_nodes: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    let mut capture_leaves: HashMap<usize, Vec<usize>> = HashMap::new();
    let n_inputs = inputs.map(|i| i.len()).unwrap_or(0);
    let mut captured: Vec<Option<Tensor>> = vec![None; n_inputs];
    if let Some(inp) = inputs {
        for (k, t) in inp.iter().enumerate() {
            if !t.requires_grad() {
                bail!("One of the differentiated Tensors does not require grad");
            }
            let m = t.meta();
            match &m.grad_fn {
                Some(n) => {
                    capture_nodes
                        .entry((node_key(n), m.output_nr))
                        .or_default()
                        .push(k);
                }
                None => {
                    capture_leaves
                        .entry(Arc::as_ptr(&t.0.meta) as usize)
                        .or_default()
                        .push(k);
                }
            }
        }
    }

    let mut add_leaf =
        |t: &Tensor, g: Tensor, leaf_grads: &mut Vec<(Tensor, Option<Tensor>)>| -> Result<()> {
            let key = Arc::as_ptr(&t.0.meta) as usize;
            let idx = *leaf_index.entry(key).or_insert_with(|| {
                leaf_grads.push((t.clone(), None));
                leaf_grads.len() - 1
            });
            add_grad(&mut leaf_grads[idx].1, g)
        };

    for (r, g) in roots.iter().zip(grads) {
        if !r.requires_grad() {
            bail!("element 0 of tensors does not require grad and does not have a grad_fn");
        }
        let (gf, nr) = {
            let m = r.meta();
            (m.grad_fn.clone(), m.output_nr)
        };
        match gf {
            Some(n) => {
                let b = buffers
                    .entry(node_key(&n))
                    .or_insert_with(|| vec![None; n.n_outputs]);
                add_grad(&mut b[nr], g.clone())?;
                root_nodes.push(n);
            }
            None => add_leaf(r, g.clone(), &mut leaf_grads)?,
        }
    }

    // Dependency counts over the reachable graph (iterative DFS).
    let mut deps: HashMap<usize, usize> = HashMap::new();
    let mut seen: HashMap<usize, Arc<Node>> = HashMap::new();
    let mut stack: Vec<Arc<Node>> = vec![];
    for n in &root_nodes {
        if seen.insert(node_key(n), n.clone()).is_none() {
            stack.push(n.clone());
        }
    }
    while let Some(n) = stack.pop() {
        for e in n.next.lock().unwrap().iter() {
            if let Edge::Node(c, _) = e {
                *deps.entry(node_key(c)).or_insert(0) += 1;
                if seen.insert(node_key(c), c.clone()).is_none() {
                    stack.push(c.clone());
                }
            }
        }
    }

    let mut heap = BinaryHeap::new();
    let mut queued: HashMap<usize, bool> = HashMap::new();
    for n in &root_nodes {
        let k = node_key(n);
        if deps.get(&k).copied().unwrap_or(0) == 0 && queued.insert(k, true).is_none() {
            heap.push(Ready(n.seq, n.clone()));
        }
    }
    let mut executed: Vec<Arc<Node>> = vec![];

    while let Some(Ready(_, node)) = heap.pop() {
        let key = node_key(&node);
        let mut gs = buffers
            .remove(&key)
            .unwrap_or_else(|| vec![None; node.n_outputs]);
        // Tensor hooks and retain_grad on this node's outputs.
        {
            let hooks = node.pre_hooks.lock().unwrap().clone();
            for (nr, h) in hooks {
                if let Some(g) = &gs[nr] {
                    if let Some(new) = h(g)? {
                        gs[nr] = Some(new);
                    }
                }
            }
            for (nr, w) in node.retained.lock().unwrap().iter() {
                if let (Some(g), Some(meta)) = (&gs[*nr], w.upgrade()) {
                    let mut m = meta.lock().unwrap();
                    let g = if create_graph { g.clone() } else { g.detach() };
                    m.grad = Some(match m.grad.take() {
                        None => g.contiguous()?.clone_data()?,
                        Some(old) => old.add(&g)?,
                    });
                }
            }
        }
        for (nr, g) in gs.iter().enumerate() {
            if let (Some(g), Some(ks)) = (g, capture_nodes.get(&(key, nr))) {
                for &k in ks {
                    captured[k] = Some(g.clone());
                }
            }
        }
        if gs.iter().all(|g| g.is_none()) {
            // Nothing flows through this node; still release its dependents.
        }
        let (saved_tensors, ok) = {
            let s = node.saved.lock().unwrap();
            match &*s {
                Some(s) => {
                    for (t, v) in s.tensors.iter().zip(&s.versions) {
                        if t.version() != *v {
                            return Err(Error::Runtime(format!(
                                "one of the variables needed for gradient computation has been modified by an inplace operation: [torch.{} {:?}] is at version {}; expected version {} instead. Hint: the operation that failed was {}.",
                                t.dtype().legacy_name(),
                                t.shape(),
                                t.version(),
                                v,
                                node.name
                            )));
                        }
                    }
                    (s.tensors.clone(), true)
                }
                None => (vec![], !node.had_saved),
            }
        };
        if !ok {
            bail!("{}", FREED_MSG);
        }
        let next_info: Vec<bool> = node
            .next
            .lock()
            .unwrap()
            .iter()
            .map(|e| !matches!(e, Edge::None))
            .collect();
        let in_grads = if gs.iter().any(|g| g.is_some()) {
            // Fill absent output gradients with zeros when some are present.
            let gs: Vec<Option<Tensor>> = if node.n_outputs > 1 {
                let dev = gs
                    .iter()
                    .flatten()
                    .next()
                    .map(|g| g.device())
                    .unwrap_or(crate::Device::Cpu);
                gs.into_iter()
                    .enumerate()
                    .map(|(i, g)| match g {
                        Some(g) => Ok(Some(g)),
                        None => {
                            let (shape, dt) = &node.out_meta[i];
                            if dt.is_float() || dt.is_complex() {
                                Tensor::zeros_on(shape, *dt, dev).map(Some)
                            } else {
                                Ok(None)
                            }
                        }
                    })
                    .collect::<Result<_>>()?
            } else {
                gs
            };
            let ctx = BackCtx {
                grads: &gs,
                saved: &saved_tensors,
                needs: &next_info,
            };
            (node.backward)(&ctx)?
        } else {
            vec![None; next_info.len()]
        };
        drop(saved_tensors);
        executed.push(node.clone());
        let edges = node.next.lock().unwrap();
        for (i, e) in edges.iter().enumerate() {
            match e {
                Edge::None => {}
                Edge::Node(c, nr) => {
                    let ck = node_key(c);
                    if let Some(Some(g)) = in_grads.get(i) {
                        let b = buffers.entry(ck).or_insert_with(|| vec![None; c.n_outputs]);
                        add_grad(&mut b[*nr], g.clone())?;
                    }
                    let d = deps.get_mut(&ck).expect("dependency counted");
                    *d -= 1;
                    if *d == 0 && queued.insert(ck, true).is_none() {
                        heap.push(Ready(c.seq, c.clone()));
                    }
                }
                Edge::Leaf(t) => {
                    if let Some(Some(g)) = in_grads.get(i) {
                        add_leaf(t, g.clone(), &mut leaf_grads)?;
                    }
                }
            }
        }
    }

    // Leaves: hooks, then capture or accumulate into .grad.
    for (t, g) in leaf_grads {
        let mut g = match g {
            Some(g) => g,
            None => continue,
        };
        let hooks = t.meta().hooks.clone();
        for h in hooks {
            if let Some(new) = h(&g)? {
                g = new;
            }
        }
        let key = Arc::as_ptr(&t.0.meta) as usize;
        if inputs.is_some() {
            if let Some(ks) = capture_leaves.get(&key) {
                for &k in ks {
                    captured[k] = Some(g.clone());
                }
            }
            continue;
        }
        accumulate_grad(&t, g, create_graph)?;
    }

    if !retain_graph {
        for n in executed {
            *n.saved.lock().unwrap() = None;
        }
    }

    if let Some(inp) = inputs {
        for (k, c) in captured.iter().enumerate() {
            if c.is_none() && !allow_unused {
                let _ = &inp[k];
                bail!("One of the differentiated Tensors appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior.");
            }
        }
    }
    Ok(captured)
}

fn accumulate_grad(t: &Tensor, g: Tensor, create_graph: bool) -> Result<()> {
    let g = if g.shape() != t.shape() {
        g.sum_to(t.shape())?
    } else {
        g
    };
    let g = if g.dtype() != t.dtype() {
        g.to_dtype(t.dtype())?
    } else {
        g
    };
    // Threads running backward through one model accumulate into the same
    // leaves: the read of .grad, the add and the write back are one step, or
    // two threads that both see no gradient (or the same old one) lose one.
    static ACCUMULATE: Mutex<()> = Mutex::new(());
    let _serial = ACCUMULATE.lock().unwrap_or_else(|e| e.into_inner());
    let old = t.meta().grad.clone();
    let new = match old {
        None => {
            if create_graph {
                g
            } else {
                // Steal the buffer when nothing else can see it; copy otherwise.
                let unique = Arc::strong_count(&g.0) == 1
                    && Arc::strong_count(g.storage()) == 1
                    && g.is_contiguous();
                if unique {
                    g.detach()
                } else {
                    g.detach().clone_data()?
                }
            }
        }
        Some(old) => {
            if create_graph || old.requires_grad() {
                old.add(&g)?
            } else {
                no_grad(|| old.add_inplace_raw(&g))?;
                old
            }
        }
    };
    t.meta().grad = Some(new);
    Ok(())
}
