//! Random number generation: a global generator seeded by manual_seed, and
//! explicit generators (torch.Generator).

use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use crate::{bail, dispatch, dispatch_float};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone)]
pub struct Generator {
    rng: Arc<Mutex<StdRng>>,
    seed: Arc<Mutex<u64>>,
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(seed))),
            seed: Arc::new(Mutex::new(seed)),
        }
    }
    pub fn manual_seed(&self, seed: u64) {
        *self.rng.lock().unwrap() = StdRng::seed_from_u64(seed);
        *self.seed.lock().unwrap() = seed;
    }
    pub fn initial_seed(&self) -> u64 {
        *self.seed.lock().unwrap()
    }
    pub fn with<R>(&self, f: impl FnOnce(&mut StdRng) -> R) -> R {
        let mut g = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }
    /// The full state (seed + number of draws is not tracked; we snapshot the RNG).
    pub fn get_state(&self) -> StdRng {
        self.rng.lock().unwrap().clone()
    }
    pub fn set_state(&self, s: StdRng) {
        *self.rng.lock().unwrap() = s;
    }
}

pub fn default_generator() -> &'static Generator {
    static G: OnceLock<Generator> = OnceLock::new();
    G.get_or_init(|| Generator::new(67280421310721))
}

pub fn manual_seed(seed: u64) {
    default_generator().manual_seed(seed);
}

fn gen(g: Option<&Generator>) -> &Generator {
    match g {
        Some(g) => g,
        None => default_generator(),
    }
}

fn float_check(dtype: DType, op: &str) -> Result<()> {
    if !dtype.is_float() {
        // PyTorch's kernel names (a NotImplementedError, see the bindings).
        let kernel = match op {
            "uniform_" => "check_uniform_bounds",
            "normal_" => "normal_kernel_cpu",
            _ => op,
        };
        bail!(
            "\"{kernel}\" not implemented for '{}'",
            crate::ops::nn::scalar_name(dtype)
        );
    }
    Ok(())
}

/// Uniform [low, high) values.
pub fn uniform(
    shape: &[usize],
    low: f64,
    high: f64,
    dtype: DType,
    g: Option<&Generator>,
) -> Result<Tensor> {
    float_check(dtype, "uniform_")?;
    let n = crate::layout::checked_numel(shape, dtype.size(), "random")?;
    let data = dispatch_float!(dtype, T => T::wrap(gen(g).with(|r| (0..n).map(|_| {
        let u: f64 = r.gen::<f64>();
        T::from_f64(low + (high - low) * u)
    }).collect())), unreachable!());
    Ok(Tensor::from_cpu(data, shape))
}

pub fn normal(
    shape: &[usize],
    mean: f64,
    std: f64,
    dtype: DType,
    g: Option<&Generator>,
) -> Result<Tensor> {
    float_check(dtype, "normal_")?;
    if std < 0.0 {
        bail!("normal expects std >= 0.0, but found std {std}");
    }
    let n = crate::layout::checked_numel(shape, dtype.size(), "random")?;
    let data = dispatch_float!(dtype, T => T::wrap(gen(g).with(|r| (0..n).map(|_| {
        let z: f64 = StandardNormal.sample(r);
        T::from_f64(mean + std * z)
    }).collect())), unreachable!());
    Ok(Tensor::from_cpu(data, shape))
}

pub fn randint(
    shape: &[usize],
    low: i64,
    high: i64,
    dtype: DType,
    g: Option<&Generator>,
) -> Result<Tensor> {
    if high <= low {
        bail!("random_ expects 'from' to be less than 'to', but got from={low} >= to={high}");
    }
    let n = crate::layout::checked_numel(shape, dtype.size(), "random")?;
    let data = dispatch!(dtype, T => T::wrap(gen(g).with(|r| (0..n).map(|_| T::from_i64(r.gen_range(low..high))).collect())));
    Ok(Tensor::from_cpu(data, shape))
}

pub fn randperm(n: usize, dtype: DType, g: Option<&Generator>) -> Result<Tensor> {
    crate::layout::checked_numel(&[n], 8, "randperm")?;
    let mut v: Vec<i64> = (0..n as i64).collect();
    gen(g).with(|r| {
        // Fisher-Yates
        for i in (1..n).rev() {
            let j = r.gen_range(0..=i);
            v.swap(i, j);
        }
    });
    Tensor::from_vec(v, &[n]).cast_raw(dtype)
}

/// Bernoulli draws with probability `p` per element (same shape as p).
pub fn bernoulli(p: &Tensor, g: Option<&Generator>) -> Result<Tensor> {
    let pv = p.to_f64_vec()?;
    if pv.iter().any(|&x| !(0.0..=1.0).contains(&x)) {
        bail!("bernoulli_ expects p to be in [0, 1]");
    }
    let v: Vec<f64> = gen(g).with(|r| {
        pv.iter()
            .map(|&q| if r.gen::<f64>() < q { 1.0 } else { 0.0 })
            .collect()
    });
    Tensor::from_vec(v, p.shape()).cast_raw(p.dtype())
}

pub fn bernoulli_scalar(
    shape: &[usize],
    p: f64,
    dtype: DType,
    g: Option<&Generator>,
) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&p) {
        bail!("bernoulli_ expects p to be in [0, 1], but got p={p}");
    }
    let n = crate::layout::checked_numel(shape, dtype.size(), "random")?;
    let data = dispatch!(dtype, T => T::wrap(gen(g).with(|r| (0..n).map(|_| T::from_i64((r.gen::<f64>() < p) as i64)).collect())));
    Ok(Tensor::from_cpu(data, shape))
}

pub fn multinomial(
    probs: &Tensor,
    num_samples: usize,
    replacement: bool,
    g: Option<&Generator>,
) -> Result<Tensor> {
    if probs.ndim() == 0 || probs.ndim() > 2 {
        bail!("prob_dist must be 1 or 2 dim");
    }
    let rows = if probs.ndim() == 1 {
        1
    } else {
        probs.shape()[0]
    };
    let k = *probs.shape().last().unwrap();
    if !replacement && num_samples > k {
        bail!("cannot sample n_sample > prob_dist.size(-1) samples without replacement");
    }
    let pv = probs.to_f64_vec()?;
    let mut out = crate::layout::try_vec(rows.saturating_mul(num_samples), "multinomial")?;
    gen(g).with(|r| {
        for row in 0..rows {
            let mut w: Vec<f64> = pv[row * k..(row + 1) * k].to_vec();
            for _ in 0..num_samples {
                let total: f64 = w.iter().sum();
                let mut u = r.gen::<f64>() * total;
                let mut pick = k - 1;
                for (i, &x) in w.iter().enumerate() {
                    if u < x {
                        pick = i;
                        break;
                    }
                    u -= x;
                }
                out.push(pick as i64);
                if !replacement {
                    w[pick] = 0.0;
                }
            }
        }
    });
    let shape = if probs.ndim() == 1 {
        vec![num_samples]
    } else {
        vec![rows, num_samples]
    };
    Ok(Tensor::from_vec(out, &shape))
}
