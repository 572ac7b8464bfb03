//! Shared helpers for the engine tests: seeded random data and finite-difference
//! gradient checks (first and second order) in float64.
#![allow(dead_code)]

use ember_core::autograd::{no_grad, run_backward, with_grad_mode};
use ember_core::{DType, Tensor};

/// xorshift64* in [-1, 1): deterministic test data without extra crates.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (v >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_f64() + 1.0) * 0.5 * n as f64) as usize % n.max(1)
    }
    pub fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next_f64()).collect()
    }
    pub fn tensor(&mut self, shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_vec(self.vec(n), shape)
    }
    pub fn tensor_f32(&mut self, shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_vec(
            self.vec(n)
                .into_iter()
                .map(|v| v as f32)
                .collect::<Vec<f32>>(),
            shape,
        )
    }
}

pub fn leaf(t: &Tensor) -> Tensor {
    let l = t.detach();
    l.set_requires_grad(true).unwrap();
    l
}

pub fn vals(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec().unwrap()
}

pub fn assert_close(got: &[f64], want: &[f64], atol: f64, rtol: f64, what: &str) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs {}",
        got.len(),
        want.len()
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= atol + rtol * w.abs() || (g.is_nan() && w.is_nan()) || (g == w);
        assert!(ok, "{what}: element {i}: got {g}, want {w}");
    }
}

/// sum(f(inputs) * seed) without autograd.
fn loss(f: &dyn Fn(&[Tensor]) -> Tensor, inputs: &[Tensor], seed: &Tensor) -> f64 {
    no_grad(|| vals(&f(inputs).mul(seed).unwrap().sum_all().unwrap())[0])
}

/// Compare the autograd gradient of sum(f(inputs) * seed) with central differences.
/// Inputs are float64 leaves; at most `max_elems` elements per input are probed.
pub fn grad_check(
    inputs: &[Tensor],
    f: &dyn Fn(&[Tensor]) -> Tensor,
    max_elems: usize,
    rng: &mut Rng,
) {
    let leaves: Vec<Tensor> = inputs.iter().map(leaf).collect();
    let out = f(&leaves);
    let seed = Tensor::from_vec(rng.vec(out.numel()), out.shape());
    let grads = run_backward(
        &[out],
        std::slice::from_ref(&seed),
        false,
        false,
        Some(&leaves),
        true,
    )
    .unwrap();
    let eps = 1e-6;
    for (k, x) in inputs.iter().enumerate() {
        let base = vals(x);
        let analytic = match &grads[k] {
            Some(g) => vals(g),
            None => vec![0.0; base.len()],
        };
        let n = base.len();
        let step = (n / max_elems).max(1);
        for j in (0..n).step_by(step) {
            let probe = |delta: f64| {
                let mut v = base.clone();
                v[j] += delta;
                let mut ins: Vec<Tensor> = inputs.to_vec();
                ins[k] = Tensor::from_vec(v, x.shape());
                loss(f, &ins, &seed)
            };
            let numeric = (probe(eps) - probe(-eps)) / (2.0 * eps);
            let a = analytic[j];
            assert!(
                (a - numeric).abs() <= 1e-5 + 1e-4 * numeric.abs(),
                "input {k} element {j}: autograd {a}, finite difference {numeric}"
            );
        }
    }
}

/// Second-order check: the gradient map x -> d/dx sum(f(x) * seed), contracted
/// with a random tensor, is itself checked by `grad_check`.
pub fn grad_grad_check(
    inputs: &[Tensor],
    f: &dyn Fn(&[Tensor]) -> Tensor,
    max_elems: usize,
    rng: &mut Rng,
) {
    let probe = no_grad(|| f(inputs));
    let seed = Tensor::from_vec(rng.vec(probe.numel()), probe.shape());
    let weights: Vec<Tensor> = inputs
        .iter()
        .map(|x| Tensor::from_vec(rng.vec(x.numel()), x.shape()))
        .collect();
    let g = move |xs: &[Tensor]| -> Tensor {
        with_grad_mode(true, || {
            let leaves: Vec<Tensor> = if xs[0].requires_grad() {
                xs.to_vec()
            } else {
                xs.iter().map(leaf).collect()
            };
            let out = f(&leaves);
            let gs = run_backward(
                &[out],
                std::slice::from_ref(&seed),
                true,
                true,
                Some(&leaves),
                true,
            )
            .unwrap();
            let mut total: Option<Tensor> = None;
            for (gi, w) in gs.iter().zip(&weights) {
                if let Some(gi) = gi {
                    let term = gi.mul(w).unwrap().sum_all().unwrap();
                    total = Some(match total {
                        None => term,
                        Some(t) => t.add(&term).unwrap(),
                    });
                }
            }
            total.unwrap_or_else(|| Tensor::zeros(&[], DType::F64).unwrap())
        })
    };
    grad_check(inputs, &g, max_elems, rng);
}
