//! Fused optimizer steps (SGD, Adam/AdamW, RMSprop, Adagrad). One call updates
//! every parameter and its state tensors in place, outside autograd, with the
//! arithmetic of PyTorch's single-tensor (foreach=False) implementations in
//! the same order: Python scalars are rounded to the tensor's dtype, and each
//! tensor op's result is rounded before the next.
//!
//! Contiguous tensors with distinct storages are updated under their locks;
//! anything else (views, shared storage, half types) runs on contiguous
//! copies that are written back. Work is spread over parameters and over
//! chunks of large parameters with rayon.

use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use crate::{bail, rt_err};
use num_traits::Float;
use rayon::prelude::*;
use std::sync::Arc;

/// Element types the update math runs in (half types are updated through f32).
pub trait OptFloat: CpuElement + Float + Send + Sync {}
impl OptFloat for f32 {}
impl OptFloat for f64 {}

/// One optimizer's element-wise update of parameter `i`: `p` and the states
/// are written, `g` is read. Called on whole tensors or on chunks of them.
trait Rule: Sync {
    fn apply<T: OptFloat>(&self, i: usize, p: &mut [T], g: &[T], s: &mut [&mut [T]]);
    /// The fused GPU kernel's op and slots (shaders/optim.wgsl), if it has one.
    fn gpu(&self, _i: usize) -> Option<(u32, Vec<(usize, u32)>)> {
        None
    }
    /// The states bound to the kernel's buf1..buf3 (None: a placeholder).
    fn gpu_states<'a>(&self, s: &'a [Tensor]) -> [Option<&'a Tensor>; 3] {
        [s.first(), s.get(1), None]
    }
}

#[inline(always)]
fn c<T: OptFloat>(v: f64) -> T {
    <T as Element>::from_f64(v)
}

/// PyTorch's CPU lerp: exact at both ends, weight rounded to the dtype.
#[inline(always)]
fn lerp<T: OptFloat>(a: T, b: T, w: T) -> T {
    if w.abs() < c(0.5) {
        a + w * (b - a)
    } else {
        b - (b - a) * (T::one() - w)
    }
}

/// torch.maximum: NaN propagates.
#[inline(always)]
fn maximum<T: OptFloat>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::nan()
    } else if a > b {
        a
    } else {
        b
    }
}

const PAR_ELEMS: usize = 1 << 15;
const CHUNK: usize = 1 << 13;

#[inline(always)]
fn apply_rule_body<T: OptFloat, R: Rule>(
    rule: &R,
    i: usize,
    p: &mut [T],
    g: &[T],
    s: &mut [&mut [T]],
) {
    rule.apply(i, p, g, s)
}

crate::cpu::simd::multiversion! {
    /// One rule over one chunk, compiled for the CPU's widest vectors (the
    /// update loops are plain Rust that LLVM vectorises per feature level).
    fn apply_rule<T: OptFloat, R: Rule>(rule: &R, i: usize, p: &mut [T], g: &[T], s: &mut [&mut [T]]) via apply_rule_body
}

fn apply_chunked<T: OptFloat, R: Rule>(rule: &R, i: usize, p: &mut [T], g: &[T], s: Vec<&mut [T]>) {
    if p.len() < PAR_ELEMS || crate::cpu::num_threads() < 2 {
        let mut s = s;
        apply_rule(rule, i, p, g, &mut s);
        return;
    }
    let mut iters: Vec<_> = s.into_iter().map(|x| x.chunks_mut(CHUNK)).collect();
    let mut work = Vec::with_capacity(p.len().div_ceil(CHUNK));
    for (pc, gc) in p.chunks_mut(CHUNK).zip(g.chunks(CHUNK)) {
        let sc: Vec<&mut [T]> = iters.iter_mut().filter_map(|it| it.next()).collect();
        work.push((pc, gc, sc));
    }
    work.into_par_iter()
        .for_each(|(pc, gc, mut sc)| apply_rule(rule, i, pc, gc, &mut sc));
}

/// Update one parameter whose tensors are contiguous, of dtype T and in
/// pairwise distinct storages, under their locks; bumps the written versions.
fn locked<T: OptFloat, R: Rule>(rule: &R, i: usize, p: &Tensor, g: &Tensor, s: &[Tensor]) {
    let n = p.numel();
    {
        let gg = g.storage().read();
        let gs = &T::slice(gg.cpu())[g.layout().offset..][..n];
        let mut pg = p.storage().write();
        let mut sg: Vec<_> = s.iter().map(|t| t.storage().write()).collect();
        let ps = &mut T::slice_mut(pg.cpu_mut())[p.layout().offset..][..n];
        let ss: Vec<&mut [T]> = sg
            .iter_mut()
            .zip(s)
            .map(|(guard, t)| &mut T::slice_mut(guard.cpu_mut())[t.layout().offset..][..n])
            .collect();
        apply_chunked(rule, i, ps, gs, ss);
    }
    p.storage().bump_version();
    for t in s {
        t.storage().bump_version();
    }
}

/// Whether `p`, `g` and `s` can be updated in place under their own locks.
fn direct(p: &Tensor, g: &Tensor, s: &[Tensor]) -> bool {
    let all: Vec<&Tensor> = [p, g].into_iter().chain(s).collect();
    all.iter().all(|t| {
        t.is_contiguous() && t.dtype() == p.dtype() && matches!(t.dtype(), DType::F32 | DType::F64)
    }) && (0..all.len()).all(|a| (a + 1..all.len()).all(|b| !all[a].same_storage(all[b])))
}

fn step_one<R: Rule>(rule: &R, i: usize, p: &Tensor, g: &Tensor, s: &[Tensor]) -> Result<()> {
    if p.is_gpu() {
        crate::ops::device::common_device(&[p, g], "optimizer step")?;
        if let Some((op, slots)) = rule.gpu(i) {
            if direct(p, g, s) && p.dtype() == DType::F32 && s.iter().all(|t| t.is_gpu()) {
                let b = rule.gpu_states(s);
                crate::wgpu::kernels::optim_step(op, p, b, g, &slots)?;
                p.storage().bump_version();
                for t in s {
                    t.storage().bump_version();
                }
                return Ok(());
            }
        }
        // No GPU kernel for this rule: update host copies, then write back.
        let cd = if p.dtype() == DType::F64 {
            DType::F64
        } else {
            DType::F32
        };
        let pc = p.host()?.cast_raw(cd)?;
        let gc = g.host()?.cast_raw(cd)?;
        let sc: Vec<Tensor> = s
            .iter()
            .map(|t| t.host()?.cast_raw(cd))
            .collect::<Result<_>>()?;
        match cd {
            DType::F32 => locked::<f32, R>(rule, i, &pc, &gc, &sc),
            _ => locked::<f64, R>(rule, i, &pc, &gc, &sc),
        }
        p.copy_raw_from(&pc, false)?;
        for (t, u) in s.iter().zip(&sc) {
            t.copy_raw_from(u, false)?;
        }
        return Ok(());
    }
    if direct(p, g, s) {
        match p.dtype() {
            DType::F32 => locked::<f32, R>(rule, i, p, g, s),
            _ => locked::<f64, R>(rule, i, p, g, s),
        }
        return Ok(());
    }
    // Contiguous copies in the compute dtype, updated, then written back.
    let cd = if p.dtype() == DType::F64 {
        DType::F64
    } else {
        DType::F32
    };
    let pc = p.cast_raw(cd)?;
    let gc = g.cast_raw(cd)?;
    let sc: Vec<Tensor> = s.iter().map(|t| t.cast_raw(cd)).collect::<Result<_>>()?;
    match cd {
        DType::F32 => locked::<f32, R>(rule, i, &pc, &gc, &sc),
        _ => locked::<f64, R>(rule, i, &pc, &gc, &sc),
    }
    p.copy_raw_from(&pc, false)?;
    for (t, u) in s.iter().zip(&sc) {
        t.copy_raw_from(u, false)?;
    }
    Ok(())
}

/// Check the lists and run `rule` over every parameter.
fn run<R: Rule>(
    op: &str,
    params: &[Tensor],
    grads: &[Tensor],
    states: &[(&str, &[Tensor])],
    rule: &R,
) -> Result<()> {
    let n = params.len();
    if grads.len() != n {
        bail!(
            "{op}: expected {n} gradients for {n} parameters, but got {}",
            grads.len()
        );
    }
    for (name, list) in states {
        if list.len() != n {
            bail!(
                "{op}: expected {n} {name} for {n} parameters, but got {}",
                list.len()
            );
        }
    }
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        if !p.dtype().is_float() {
            bail!(
                "{op}: parameter {i} has dtype {}, but optimizers need floating point parameters",
                p.dtype()
            );
        }
        if g.shape() != p.shape() || g.dtype() != p.dtype() {
            bail!(
                "{op}: gradient {i} of shape {:?} and dtype {} does not match its parameter of shape {:?} and dtype {}",
                g.shape(),
                g.dtype(),
                p.shape(),
                p.dtype()
            );
        }
        for (name, list) in states {
            let t = &list[i];
            if t.shape() != p.shape() || t.dtype() != p.dtype() {
                bail!(
                    "{op}: state '{name}' {i} of shape {:?} and dtype {} does not match its parameter of shape {:?} and dtype {}",
                    t.shape(),
                    t.dtype(),
                    p.shape(),
                    p.dtype()
                );
            }
        }
    }
    let slot = |i: usize| -> Vec<Tensor> { states.iter().map(|(_, l)| l[i].clone()).collect() };
    // Parallel over parameters only when no written storage is shared between
    // parameters: every task then locks a disjoint set of storages.
    let mut written: Vec<usize> = params
        .iter()
        .chain(states.iter().flat_map(|(_, l)| l.iter()))
        .map(|t| Arc::as_ptr(t.storage()) as usize)
        .collect();
    written.sort_unstable();
    let disjoint = written.windows(2).all(|w| w[0] != w[1]);
    let total: usize = params.iter().map(|p| p.numel()).sum();
    if disjoint && n > 1 && total >= PAR_ELEMS && crate::cpu::num_threads() > 1 {
        (0..n)
            .into_par_iter()
            .try_for_each(|i| step_one(rule, i, &params[i], &grads[i], &slot(i)))
    } else {
        (0..n).try_for_each(|i| step_one(rule, i, &params[i], &grads[i], &slot(i)))
    }
}

struct Sgd {
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
    first: Vec<bool>,
}

impl Rule for Sgd {
    fn gpu(&self, i: usize) -> Option<(u32, Vec<(usize, u32)>)> {
        let f = |v: f64| (v as f32).to_bits();
        let flags =
            (self.nesterov as u32) | ((self.maximize as u32) << 1) | ((self.first[i] as u32) << 2);
        // Momentum 0 has no buffer: the kernel then never touches buf1.
        Some((
            0,
            vec![
                (48, f(self.lr)),
                (49, f(self.momentum)),
                (50, f(self.dampening)),
                (51, f(self.weight_decay)),
                (52, f(1.0 - self.dampening)),
                (53, flags),
            ],
        ))
    }
    #[inline(always)]
    fn apply<T: OptFloat>(&self, i: usize, p: &mut [T], g: &[T], s: &mut [&mut [T]]) {
        let (neg_lr, m, keep, wd) = (
            c::<T>(-self.lr),
            c::<T>(self.momentum),
            c::<T>(1.0 - self.dampening),
            c::<T>(self.weight_decay),
        );
        let first = self.first[i];
        let (maximize, decay, nesterov) = (self.maximize, self.weight_decay != 0.0, self.nesterov);
        // The buffer's presence is decided once, outside the loop, so each
        // loop is straight-line code LLVM vectorises.
        let dir = |k: usize, pk: T| {
            let d = if maximize { -g[k] } else { g[k] };
            if decay {
                d + wd * pk
            } else {
                d
            }
        };
        match s.first_mut() {
            Some(buf) => {
                let buf = &mut buf[..p.len()];
                for k in 0..p.len() {
                    let d = dir(k, p[k]);
                    let b = if first { d } else { buf[k] * m + keep * d };
                    buf[k] = b;
                    let d = if nesterov { d + m * b } else { b };
                    p[k] = p[k] + neg_lr * d;
                }
            }
            None => {
                for (k, pk) in p.iter_mut().enumerate() {
                    let d = dir(k, *pk);
                    *pk = *pk + neg_lr * d;
                }
            }
        }
    }
}

/// SGD with momentum, dampening, Nesterov, weight decay and maximize. A `None`
/// momentum buffer (with momentum != 0) is created as a copy of the first
/// step's direction, as PyTorch does.
#[allow(clippy::too_many_arguments)]
pub fn sgd_step(
    params: &[Tensor],
    grads: &[Tensor],
    momentum_buffers: &mut [Option<Tensor>],
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> Result<()> {
    let n = params.len();
    if momentum_buffers.len() != n {
        bail!(
            "sgd_step: expected {n} momentum buffers for {n} parameters, but got {}",
            momentum_buffers.len()
        );
    }
    let mut first = vec![false; n];
    let bufs: Vec<Tensor> = if momentum != 0.0 {
        let mut v = Vec::with_capacity(n);
        for (i, (b, p)) in momentum_buffers.iter().zip(params).enumerate() {
            v.push(match b {
                Some(b) => b.clone(),
                None => {
                    first[i] = true;
                    Tensor::zeros_on(p.shape(), p.dtype(), p.device())?
                }
            });
        }
        v
    } else {
        vec![]
    };
    let rule = Sgd {
        lr,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize,
        first,
    };
    let states: Vec<(&str, &[Tensor])> = if momentum != 0.0 {
        vec![("momentum_buffers", &bufs)]
    } else {
        vec![]
    };
    run("sgd_step", params, grads, &states, &rule)?;
    if momentum != 0.0 {
        for (slot, b) in momentum_buffers.iter_mut().zip(bufs) {
            if slot.is_none() {
                *slot = Some(b);
            }
        }
    }
    Ok(())
}

struct Adam {
    steps: Vec<i64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
    decoupled: bool,
}

impl Rule for Adam {
    /// [exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad)].
    fn gpu_states<'a>(&self, s: &'a [Tensor]) -> [Option<&'a Tensor>; 3] {
        [s.first(), s.get(1), s.get(2)]
    }
    fn gpu(&self, i: usize) -> Option<(u32, Vec<(usize, u32)>)> {
        let f = |v: f64| (v as f32).to_bits();
        let step = self.steps[i] as f64;
        let bc1 = 1.0 - self.beta1.powf(step);
        let bc2 = 1.0 - self.beta2.powf(step);
        let flags = ((self.maximize as u32) << 1) | ((self.decoupled as u32) << 2);
        Some((
            1,
            vec![
                (48, f(self.lr)),
                (49, f(self.beta1)),
                (50, f(self.beta2)),
                (51, f(self.eps)),
                (52, f(self.weight_decay)),
                (53, flags),
                (54, f(bc1)),
                (55, f(bc2.sqrt())),
                (56, f(1.0 - self.beta1)),
                (57, f(1.0 - self.beta2)),
                (58, f(1.0 - self.lr * self.weight_decay)),
                (59, f(-(self.lr / bc1))),
            ],
        ))
    }
    #[inline(always)]
    fn apply<T: OptFloat>(&self, i: usize, p: &mut [T], g: &[T], s: &mut [&mut [T]]) {
        let step = self.steps[i] as f64;
        let bc1 = 1.0 - self.beta1.powf(step);
        let bc2 = 1.0 - self.beta2.powf(step);
        let neg_step_size = c::<T>(-(self.lr / bc1));
        let bc2_sqrt = c::<T>(bc2.sqrt());
        let (w1, b2, w2, eps) = (
            c::<T>(1.0 - self.beta1),
            c::<T>(self.beta2),
            c::<T>(1.0 - self.beta2),
            c::<T>(self.eps),
        );
        let (wd, decay) = (
            c::<T>(self.weight_decay),
            c::<T>(1.0 - self.lr * self.weight_decay),
        );
        let (m, rest) = s.split_at_mut(1);
        let (v, mx) = rest.split_at_mut(1);
        let (m, v) = (&mut *m[0], &mut *v[0]);
        let mut mx = mx.first_mut();
        for k in 0..p.len() {
            let mut d = if self.maximize { -g[k] } else { g[k] };
            if self.weight_decay != 0.0 {
                if self.decoupled {
                    p[k] = p[k] * decay;
                } else {
                    d = d + wd * p[k];
                }
            }
            m[k] = lerp(m[k], d, w1);
            v[k] = v[k] * b2 + w2 * d * d;
            let denom = match mx.as_deref_mut() {
                Some(mx) => {
                    mx[k] = maximum(mx[k], v[k]);
                    mx[k].sqrt() / bc2_sqrt + eps
                }
                None => v[k].sqrt() / bc2_sqrt + eps,
            };
            p[k] = p[k] + neg_step_size * m[k] / denom;
        }
    }
}

/// Adam, and AdamW with `decoupled_weight_decay` (param *= 1 - lr * wd first).
/// `steps` are the step counts after this step's increment.
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
    max_exp_avg_sqs: &[Tensor],
    steps: &[i64],
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> Result<()> {
    check_steps("adam_step", params, steps)?;
    let mut states: Vec<(&str, &[Tensor])> =
        vec![("exp_avgs", exp_avgs), ("exp_avg_sqs", exp_avg_sqs)];
    if amsgrad {
        states.push(("max_exp_avg_sqs", max_exp_avg_sqs));
    }
    let rule = Adam {
        steps: steps.to_vec(),
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        maximize,
        decoupled: decoupled_weight_decay,
    };
    run("adam_step", params, grads, &states, &rule)
}

struct RmsProp {
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
}

impl Rule for RmsProp {
    fn gpu(&self, _i: usize) -> Option<(u32, Vec<(usize, u32)>)> {
        let f = |v: f64| (v as f32).to_bits();
        let flags = (self.centered as u32)
            | ((self.maximize as u32) << 1)
            | (((self.momentum > 0.0) as u32) << 2);
        Some((
            2,
            vec![
                (48, f(self.lr)),
                (49, f(self.alpha)),
                (50, f(self.eps)),
                (51, f(self.weight_decay)),
                (52, f(1.0 - self.alpha)),
                (53, flags),
                (54, f(self.momentum)),
            ],
        ))
    }
    /// States come as [square_avg, momentum_buffer?, grad_avg?]; the kernel
    /// takes square_avg, momentum_buffer, grad_avg at buf1..buf3.
    fn gpu_states<'a>(&self, s: &'a [Tensor]) -> [Option<&'a Tensor>; 3] {
        let m = self.momentum > 0.0;
        [
            s.first(),
            if m { s.get(1) } else { None },
            if self.centered {
                s.get(if m { 2 } else { 1 })
            } else {
                None
            },
        ]
    }
    #[inline(always)]
    fn apply<T: OptFloat>(&self, _i: usize, p: &mut [T], g: &[T], s: &mut [&mut [T]]) {
        let (alpha, w, eps, wd) = (
            c::<T>(self.alpha),
            c::<T>(1.0 - self.alpha),
            c::<T>(self.eps),
            c::<T>(self.weight_decay),
        );
        let (neg_lr, mom) = (c::<T>(-self.lr), c::<T>(self.momentum));
        let (sq, rest) = s.split_at_mut(1);
        let sq = &mut *sq[0];
        let (buf, rest) = if self.momentum > 0.0 {
            rest.split_at_mut(1)
        } else {
            rest.split_at_mut(0)
        };
        let mut buf = buf.first_mut();
        let mut ga = rest.first_mut();
        for k in 0..p.len() {
            let mut d = if self.maximize { -g[k] } else { g[k] };
            if self.weight_decay != 0.0 {
                d = d + wd * p[k];
            }
            sq[k] = sq[k] * alpha + w * d * d;
            let avg = match ga.as_deref_mut() {
                Some(ga) if self.centered => {
                    ga[k] = lerp(ga[k], d, w);
                    (sq[k] + -T::one() * ga[k] * ga[k]).sqrt()
                }
                _ => sq[k].sqrt(),
            } + eps;
            match buf.as_deref_mut() {
                Some(b) => {
                    b[k] = b[k] * mom + d / avg;
                    p[k] = p[k] + neg_lr * b[k];
                }
                None => p[k] = p[k] + neg_lr * d / avg,
            }
        }
    }
}

/// RMSprop; `momentum_buffers` is empty unless momentum > 0, `grad_avgs` unless centered.
#[allow(clippy::too_many_arguments)]
pub fn rmsprop_step(
    params: &[Tensor],
    grads: &[Tensor],
    square_avgs: &[Tensor],
    momentum_buffers: &[Tensor],
    grad_avgs: &[Tensor],
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
) -> Result<()> {
    let mut states: Vec<(&str, &[Tensor])> = vec![("square_avgs", square_avgs)];
    if momentum > 0.0 {
        states.push(("momentum_buffers", momentum_buffers));
    }
    if centered {
        states.push(("grad_avgs", grad_avgs));
    }
    let rule = RmsProp {
        lr,
        alpha,
        eps,
        weight_decay,
        momentum,
        centered,
        maximize,
    };
    run("rmsprop_step", params, grads, &states, &rule)
}

struct Adagrad {
    steps: Vec<i64>,
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    maximize: bool,
}

impl Rule for Adagrad {
    fn gpu(&self, i: usize) -> Option<(u32, Vec<(usize, u32)>)> {
        let f = |v: f64| (v as f32).to_bits();
        let step = self.steps[i] as f64;
        let clr = self.lr / (1.0 + (step - 1.0) * self.lr_decay);
        Some((
            3,
            vec![
                (48, f(clr)),
                (50, f(self.eps)),
                (51, f(self.weight_decay)),
                (53, (self.maximize as u32) << 1),
            ],
        ))
    }
    #[inline(always)]
    fn apply<T: OptFloat>(&self, i: usize, p: &mut [T], g: &[T], s: &mut [&mut [T]]) {
        let step = self.steps[i] as f64;
        let clr = self.lr / (1.0 + (step - 1.0) * self.lr_decay);
        let (neg_clr, eps, wd) = (c::<T>(-clr), c::<T>(self.eps), c::<T>(self.weight_decay));
        let sum = &mut *s[0];
        for k in 0..p.len() {
            let mut d = if self.maximize { -g[k] } else { g[k] };
            if self.weight_decay != 0.0 {
                d = d + wd * p[k];
            }
            sum[k] = sum[k] + T::one() * d * d;
            let std = sum[k].sqrt() + eps;
            p[k] = p[k] + neg_clr * d / std;
        }
    }
}

/// Adagrad (dense gradients). `steps` are the counts after this step's increment.
#[allow(clippy::too_many_arguments)]
pub fn adagrad_step(
    params: &[Tensor],
    grads: &[Tensor],
    state_sums: &[Tensor],
    steps: &[i64],
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    maximize: bool,
) -> Result<()> {
    check_steps("adagrad_step", params, steps)?;
    let rule = Adagrad {
        steps: steps.to_vec(),
        lr,
        lr_decay,
        weight_decay,
        eps,
        maximize,
    };
    run(
        "adagrad_step",
        params,
        grads,
        &[("state_sums", state_sums)],
        &rule,
    )
}

fn check_steps(op: &str, params: &[Tensor], steps: &[i64]) -> Result<()> {
    if steps.len() != params.len() {
        return Err(rt_err!(
            "{op}: expected {} step counts for {} parameters, but got {}",
            params.len(),
            params.len(),
            steps.len()
        ));
    }
    Ok(())
}
