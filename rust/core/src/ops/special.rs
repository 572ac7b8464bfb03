//! Special functions and float-only binary ops that the elementwise family
//! lacks: lgamma, digamma, polygamma, erfinv; hypot, logaddexp, logaddexp2,
//! xlogy, copysign. Kernels compute in f64 and round once to the output dtype
//! (integer inputs give float32, as PyTorch); backward rules use tensor ops.

use crate::autograd::{any_requires_grad, record, BackCtx};
use crate::cpu;
use crate::dtype::{DType, Element, Scalar};
use crate::error::Result;
use crate::layout::broadcast_shapes;
use crate::ops::elementwise::result_type2;
use crate::ops::Unary;
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use crate::{dispatch, dispatch_float};
use std::f64::consts::PI;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    Lgamma,
    Digamma,
    /// polygamma(n, x) for n >= 1 (n = 0 is digamma).
    Polygamma(u32),
    Erfinv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecialBinary {
    Hypot,
    LogAddExp,
    LogAddExp2,
    Xlogy,
    Copysign,
}

impl SpecialBinary {
    pub fn name(self) -> &'static str {
        match self {
            SpecialBinary::Hypot => "hypot",
            SpecialBinary::LogAddExp => "logaddexp",
            SpecialBinary::LogAddExp2 => "logaddexp2",
            SpecialBinary::Xlogy => "xlogy",
            SpecialBinary::Copysign => "copysign",
        }
    }
}

pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x == 0.0 {
        // PyTorch: -inf at +0, +inf at -0.
        return if x.is_sign_negative() {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
    }
    if x < 0.0 {
        if x == x.floor() {
            return f64::NAN;
        }
        // Reflection: psi(1 - x) - psi(x) = pi / tan(pi x).
        return digamma(1.0 - x) - PI / (PI * x).tan();
    }
    let (mut x, mut acc) = (x, 0.0);
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let z = 1.0 / (x * x);
    // Asymptotic series with Bernoulli numbers B2..B14.
    let tail = z
        * (1.0 / 12.0
            - z * (1.0 / 120.0
                - z * (1.0 / 252.0
                    - z * (1.0 / 240.0 - z * (1.0 / 132.0 - z * (691.0 / 32760.0 - z / 12.0))))));
    acc + x.ln() - 0.5 / x - tail
}

/// Hurwitz zeta(s, q) (Cephes' algorithm, used by PyTorch's polygamma).
pub fn zeta(s: f64, q: f64) -> f64 {
    const MACHEP: f64 = 1.110_223_024_625_156_5e-16;
    const A: [f64; 12] = [
        12.0,
        -720.0,
        30240.0,
        -1209600.0,
        47900160.0,
        -1.892_437_580_318_379_2e9,
        7.47242496e10,
        -2.950_130_727_918_164e12,
        1.164_678_281_435_006_7e14,
        -4.597_978_722_407_473e15,
        1.815_210_540_194_354_6e17,
        -7.166_165_256_175_667e18,
    ];
    if s == 1.0 {
        return f64::INFINITY;
    }
    if s < 1.0 {
        return f64::NAN;
    }
    if q <= 0.0 {
        if q == q.floor() {
            return f64::INFINITY;
        }
        if s != s.floor() {
            return f64::NAN;
        }
    }
    let mut sum = q.powf(-s);
    let mut a = q;
    let mut b = 0.0;
    let mut i = 0;
    while i < 9 || a <= 9.0 {
        i += 1;
        a += 1.0;
        b = a.powf(-s);
        sum += b;
        if (b / sum).abs() < MACHEP {
            return sum;
        }
    }
    let w = a;
    sum += b * w / (s - 1.0);
    sum -= 0.5 * b;
    let mut fac = 1.0;
    let mut k = 0.0;
    for a_i in A {
        fac *= s + k;
        b /= w;
        let t = fac * b / a_i;
        sum += t;
        if (t / sum).abs() < MACHEP {
            return sum;
        }
        k += 1.0;
        fac *= s + k;
        b /= w;
        k += 1.0;
    }
    sum
}

pub fn polygamma(n: u32, x: f64) -> f64 {
    match n {
        0 => digamma(x),
        // Every order goes through zeta: PyTorch's short trigamma series is
        // only good to ~1e-9 relative.
        _ => {
            let sign = if n % 2 == 1 { 1.0 } else { -1.0 };
            sign * libm::lgamma(n as f64 + 1.0).exp() * zeta(n as f64 + 1.0, x)
        }
    }
}

/// Inverse error function: Giles' approximation refined by Newton steps
/// (on erfc near +-1, where erf(x) - y would cancel).
pub fn erfinv(y: f64) -> f64 {
    if y.is_nan() || !(-1.0..=1.0).contains(&y) {
        return f64::NAN;
    }
    if y.abs() == 1.0 {
        return y * f64::INFINITY;
    }
    let a = y.abs();
    let w = -((1.0 - a) * (1.0 + a)).ln();
    let mut x = if w < 5.0 {
        let w = w - 2.5;
        let mut p = 2.810_226_36e-08;
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
        p * a
    } else {
        let w = w.sqrt() - 3.0;
        let mut p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
            p = c + p * w;
        }
        p * a
    };
    let k = 2.0 / PI.sqrt();
    for _ in 0..3 {
        let err = if a > 0.5 {
            (1.0 - a) - libm::erfc(x)
        } else {
            libm::erf(x) - a
        };
        let dx = err / (k * (-x * x).exp());
        if !dx.is_finite() {
            break;
        }
        x -= dx;
    }
    x.copysign(y)
}

fn special_fn(op: Special) -> fn(f64) -> f64 {
    match op {
        Special::Lgamma => libm::lgamma,
        Special::Digamma | Special::Polygamma(0) => digamma,
        Special::Polygamma(_) => |_| f64::NAN,
        Special::Erfinv => erfinv,
    }
}

fn binary_fn(op: SpecialBinary) -> fn(f64, f64) -> f64 {
    match op {
        SpecialBinary::Hypot => f64::hypot,
        SpecialBinary::LogAddExp => |a, b| {
            if a.is_infinite() && a == b {
                a
            } else {
                a.max(b) + (-(a - b).abs()).exp().ln_1p()
            }
        },
        SpecialBinary::LogAddExp2 => |a, b| {
            if a.is_infinite() && a == b {
                a
            } else {
                a.max(b) + (-(a - b).abs()).exp2().ln_1p() / std::f64::consts::LN_2
            }
        },
        SpecialBinary::Xlogy => |x, y| {
            if y.is_nan() {
                f64::NAN
            } else if x == 0.0 {
                0.0
            } else {
                x * y.ln()
            }
        },
        SpecialBinary::Copysign => f64::copysign,
    }
}

/// Map a float kernel over `x` (any dtype) into a new tensor of dtype `out`.
fn map_f64(x: &Tensor, out: DType, f: impl Fn(f64) -> f64 + Sync + Send) -> Result<Tensor> {
    crate::ops::complex::refuse("special", &[x])?;
    let data = dispatch!(x.dtype(), T => dispatch_float!(out, U => {
        let v = x.with_cpu(|d, l| cpu::map1::<T, U>(d, l, |v| U::from_f64(f(v.to_f64()))))?;
        U::wrap(v)
    }, unreachable!()));
    Ok(Tensor::from_cpu(data, x.shape()))
}

impl Tensor {
    pub fn special(&self, op: Special) -> Result<Tensor> {
        if !self.device().is_host() {
            return crate::ops::device::host_fallback("special", &[self], |h| h[0].special(op));
        }
        let out_dt = if self.dtype().is_float() {
            self.dtype()
        } else {
            DType::F32
        };
        let out = match op {
            Special::Polygamma(n) if n >= 1 => map_f64(self, out_dt, move |x| polygamma(n, x))?,
            _ => map_f64(self, out_dt, special_fn(op))?,
        };
        if !out_dt.is_float() || !self.dtype().is_float() || !any_requires_grad(&[self]) {
            return Ok(out);
        }
        let name = match op {
            Special::Lgamma => "LgammaBackward0",
            Special::Digamma | Special::Polygamma(0) => "DigammaBackward0",
            Special::Polygamma(_) => "PolygammaBackward0",
            Special::Erfinv => "ErfinvBackward0",
        };
        record(
            name,
            &[&out],
            &[self],
            vec![self.clone()],
            move |c: &BackCtx| {
                let (g, x) = (c.grad(0)?, &c.saved[0]);
                let d = match op {
                    Special::Lgamma => x.special(Special::Digamma)?,
                    Special::Digamma => x.special(Special::Polygamma(1))?,
                    Special::Polygamma(n) => x.special(Special::Polygamma(n + 1))?,
                    Special::Erfinv => x
                        .special(Special::Erfinv)?
                        .unary(Unary::Square)?
                        .unary(Unary::Exp)?
                        .mul_s(PI.sqrt() / 2.0)?,
                };
                Ok(vec![Some(g.mul(&d)?)])
            },
        );
        Ok(out)
    }

    /// Broadcasting float binary op (integer inputs give float32).
    pub fn special_binary(&self, other: &Tensor, op: SpecialBinary) -> Result<Tensor> {
        if crate::ops::device::any_gpu(&[self, other]) {
            return crate::ops::device::host_fallback("special", &[self, other], |h| {
                h[0].special_binary(&h[1], op)
            });
        }
        let shape = broadcast_shapes(self.shape(), other.shape()).ok_or_else(|| {
            crate::rt_err!(
                "{}: The size of tensor a {:?} must match the size of tensor b {:?} (they are not broadcastable)",
                op.name(),
                self.shape(),
                other.shape()
            )
        })?;
        let mut ct = result_type2(self, other);
        if !ct.is_float() {
            ct = DType::F32;
        }
        let a = self.cast_raw(DType::F64)?;
        let b = other.cast_raw(DType::F64)?;
        let la = a.layout().broadcast_to(&shape)?;
        let lb = b.layout().broadcast_to(&shape)?;
        let f = binary_fn(op);
        let v = {
            let (ga, gb) = (a.storage().read(), b.storage().read());
            cpu::map2::<f64, f64>(ga.cpu(), &la, gb.cpu(), &lb, f)
        };
        let out = Tensor::from_vec(v, &shape);
        let out = if ct == DType::F64 {
            out
        } else {
            out.cast_raw(ct)?
        };
        if !any_requires_grad(&[self, other]) {
            return Ok(out);
        }
        let name = match op {
            SpecialBinary::Hypot => "HypotBackward0",
            SpecialBinary::LogAddExp => "LogaddexpBackward0",
            SpecialBinary::LogAddExp2 => "Logaddexp2Backward0",
            SpecialBinary::Xlogy => "XlogyBackward0",
            SpecialBinary::Copysign => "CopysignBackward0",
        };
        record(
            name,
            &[&out],
            &[self, other],
            vec![self.clone(), other.clone(), out.detach()],
            move |c: &BackCtx| {
                let g = c.grad(0)?;
                let (a, b, y) = (&c.saved[0], &c.saved[1], &c.saved[2]);
                let one = |t: &Tensor| t.add_s(1.0);
                let (ga, gb) = match op {
                    SpecialBinary::Hypot => {
                        // With create_graph the output must be a function of
                        // the inputs again, or second derivatives miss it.
                        let again;
                        let y = if crate::autograd::grad_enabled() {
                            again = a.special_binary(b, SpecialBinary::Hypot)?;
                            &again
                        } else {
                            y
                        };
                        (g.mul(a)?.div(y)?, g.mul(b)?.div(y)?)
                    }
                    SpecialBinary::LogAddExp => (
                        g.div(&one(&b.sub(a)?.unary(Unary::Exp)?)?)?,
                        g.div(&one(&a.sub(b)?.unary(Unary::Exp)?)?)?,
                    ),
                    SpecialBinary::LogAddExp2 => (
                        g.div(&one(&b.sub(a)?.unary(Unary::Exp2)?)?)?,
                        g.div(&one(&a.sub(b)?.unary(Unary::Exp2)?)?)?,
                    ),
                    SpecialBinary::Xlogy => {
                        let zero = Tensor::full(&[], Scalar::Int(0), g.dtype())?;
                        let gx = g.special_binary(b, SpecialBinary::Xlogy)?;
                        let m = a.eq_t(&a.zeros_like()?)?.logical_and(&b.le_s(0.0)?)?;
                        (Tensor::where_(&m, &zero, &gx)?, g.mul(a)?.div(b)?)
                    }
                    SpecialBinary::Copysign => {
                        // sign(a) * sign(b): piecewise constant, so it has no
                        // derivative of its own (create_graph), as PyTorch's.
                        let ratio = y.div(a)?.detach();
                        let z = a.eq_t(&a.zeros_like()?)?;
                        let ratio = Tensor::where_(&z, &ratio.zeros_like()?, &ratio)?;
                        (g.mul(&ratio)?, g.mul_s(0.0)?)
                    }
                };
                let fit = |gr: Tensor, t: &Tensor, need: bool| -> Result<Option<Tensor>> {
                    if !need || !t.dtype().is_float() {
                        return Ok(None);
                    }
                    Ok(Some(gr.sum_to(t.shape())?.to_dtype(t.dtype())?))
                };
                Ok(vec![fit(ga, a, c.needs[0])?, fit(gb, b, c.needs[1])?])
            },
        );
        Ok(out)
    }
}
