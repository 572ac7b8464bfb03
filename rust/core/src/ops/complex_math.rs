//! Complex transcendental math (sqrt, log, trig, hyperbolic, pow, sgn, var,
//! norms) as compositions of real ops on the (re, im) parts.
//!
//! Like the rest of ops/complex.rs, each function here is written with real
//! tensor ops, so it runs on every device and its gradient is the real ops'
//! one: PyTorch's convention grad = dL/dRe + i dL/dIm. Branch cuts are
//! PyTorch's (and numpy's) principal values: arg z = atan2(im, re) in
//! (-pi, pi], so a -0.0 imaginary part on the negative real axis selects the
//! lower side (sqrt(-4 - 0j) = -2j, log(-1 - 0j) = -i pi).
//!
//! Where a formula would divide by zero or overflow on a point its result
//! does not use, the input is made safe first (`where` on the input, not only
//! on the output), so the unused branch cannot feed NaN into a gradient.

use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::ops::{Binary, Unary};
use crate::tensor::Tensor;

type Parts = (Tensor, Tensor);

fn s(v: f64) -> Tensor {
    Tensor::wrapped_scalar(Scalar::Float(v), DType::F64)
}

fn eq0(t: &Tensor) -> Result<Tensor> {
    t.binary(&s(0.0), Binary::Eq)
}

fn un(t: &Tensor, op: Unary) -> Result<Tensor> {
    t.unary(op)
}

/// (a == 0) & (b == 0): the points where z is zero.
fn is_zero(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    eq0(a)?.logical_and(&eq0(b)?)
}

/// |z| with gradient 0 at z = 0 (PyTorch's abs backward is sgn(z) * grad,
/// and sgn(0) = 0); the square root never sees a zero, so no inf * 0.
pub(crate) fn abs_parts(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let sq = a.mul(a)?.add(&b.mul(b)?)?;
    let z = eq0(&sq)?;
    let safe = Tensor::where_(&z, &sq.ones_like()?, &sq)?;
    Tensor::where_(&z, &sq.zeros_like()?, &un(&safe, Unary::Sqrt)?)
}

/// sgn(z) = z / |z|, 0 at 0 (torch.sgn), with gradient 0 at 0 as PyTorch's.
fn sgn(a: &Tensor, b: &Tensor) -> Result<Parts> {
    let sq = a.mul(a)?.add(&b.mul(b)?)?;
    let z = eq0(&sq)?;
    let safe = Tensor::where_(&z, &sq.ones_like()?, &sq)?;
    let m = un(&safe, Unary::Sqrt)?;
    let zero = sq.zeros_like()?;
    Ok((
        Tensor::where_(&z, &zero, &a.div(&m)?)?,
        Tensor::where_(&z, &zero, &b.div(&m)?)?,
    ))
}

/// Principal log: log|z| + i atan2(im, re); log(0) = -inf + 0i.
fn log(a: &Tensor, b: &Tensor) -> Result<Parts> {
    let m = abs_parts(a, b)?;
    Ok((un(&m, Unary::Log)?, b.binary(a, Binary::Atan2)?))
}

/// sqrt with a non-negative real part: |z|^(1/2) e^(i arg(z)/2).
fn sqrt(a: &Tensor, b: &Tensor) -> Result<Parts> {
    let r = un(&abs_parts(a, b)?, Unary::Sqrt)?;
    let h = b.binary(a, Binary::Atan2)?.mul_s(0.5)?;
    Ok((r.mul(&un(&h, Unary::Cos)?)?, r.mul(&un(&h, Unary::Sin)?)?))
}

/// 1/sqrt(z) = |z|^(-1/2) e^(-i arg(z)/2); rsqrt(0) = inf + nan i, as PyTorch.
fn rsqrt(a: &Tensor, b: &Tensor) -> Result<Parts> {
    let r = un(&abs_parts(a, b)?, Unary::Rsqrt)?;
    let h = b.binary(a, Binary::Atan2)?.mul_s(0.5)?;
    Ok((
        r.mul(&un(&h, Unary::Cos)?)?,
        r.mul(&un(&h, Unary::Sin)?)?.neg()?,
    ))
}

fn exp(a: &Tensor, b: &Tensor) -> Result<Parts> {
    let m = un(a, Unary::Exp)?;
    Ok((m.mul(&un(b, Unary::Cos)?)?, m.mul(&un(b, Unary::Sin)?)?))
}

fn mul(x: &Parts, y: &Parts) -> Result<Parts> {
    Ok((
        x.0.mul(&y.0)?.sub(&x.1.mul(&y.1)?)?,
        x.0.mul(&y.1)?.add(&x.1.mul(&y.0)?)?,
    ))
}

fn recip(a: &Tensor, b: &Tensor) -> Result<Parts> {
    let d = a.mul(a)?.add(&b.mul(b)?)?;
    Ok((a.div(&d)?, b.neg()?.div(&d)?))
}

/// tanh(x + iy) in Kahan's form: with t = tan y, beta = 1 + t^2, s = sinh x,
/// rho = cosh x: (beta rho s + i t) / (1 + beta s^2). |x| is clamped to 20,
/// where tanh is 1 in float64 already: sinh^2 would overflow float32 near 44
/// and turn the quotient into inf/inf.
fn tanh(x: &Tensor, y: &Tensor) -> Result<Parts> {
    let xc = x.clamp_s(Some(-20.0), Some(20.0))?;
    let t = un(y, Unary::Tan)?;
    let beta = t.mul(&t)?.add_s(1.0)?;
    let sh = un(&xc, Unary::Sinh)?;
    let rho = un(&xc, Unary::Cosh)?;
    let den = beta.mul(&sh)?.mul(&sh)?.add_s(1.0)?;
    Ok((beta.mul(&rho)?.mul(&sh)?.div(&den)?, t.div(&den)?))
}

/// One complex unary op on the parts; None when it has no complex rule here.
pub(crate) fn unary(a: &Tensor, b: &Tensor, op: Unary) -> Result<Option<Parts>> {
    use Unary::*;
    let ln2 = std::f64::consts::LN_2;
    let ln10 = std::f64::consts::LN_10;
    Ok(Some(match op {
        Sqrt => sqrt(a, b)?,
        Rsqrt => rsqrt(a, b)?,
        Log => log(a, b)?,
        Log2 | Log10 => {
            let (r, i) = log(a, b)?;
            let k = 1.0 / if op == Log2 { ln2 } else { ln10 };
            (r.mul_s(k)?, i.mul_s(k)?)
        }
        // log|1 + z| = log1p(a (2 + a) + b^2) / 2 keeps small z accurate.
        Log1p => (
            un(&a.mul(&a.add_s(2.0)?)?.add(&b.mul(b)?)?, Log1p)?.mul_s(0.5)?,
            b.binary(&a.add_s(1.0)?, Binary::Atan2)?,
        ),
        // Re(e^z - 1) = expm1(a) cos b - 2 sin^2(b/2), no cancellation near 0.
        Expm1 => {
            let h = un(&b.mul_s(0.5)?, Sin)?;
            (
                un(a, Expm1)?
                    .mul(&un(b, Cos)?)?
                    .sub(&h.mul(&h)?.mul_s(2.0)?)?,
                un(a, Exp)?.mul(&un(b, Sin)?)?,
            )
        }
        Sin => (
            un(a, Sin)?.mul(&un(b, Cosh)?)?,
            un(a, Cos)?.mul(&un(b, Sinh)?)?,
        ),
        Cos => (
            un(a, Cos)?.mul(&un(b, Cosh)?)?,
            un(a, Sin)?.mul(&un(b, Sinh)?)?.neg()?,
        ),
        Sinh => (
            un(a, Sinh)?.mul(&un(b, Cos)?)?,
            un(a, Cosh)?.mul(&un(b, Sin)?)?,
        ),
        Cosh => (
            un(a, Cosh)?.mul(&un(b, Cos)?)?,
            un(a, Sinh)?.mul(&un(b, Sin)?)?,
        ),
        Tanh => tanh(a, b)?,
        // tan z = -i tanh(iz), iz = -b + ia.
        Tan => {
            let (p, q) = tanh(&b.neg()?, a)?;
            (q, p.neg()?)
        }
        // 1 / (1 + e^-z), as PyTorch's complex sigmoid.
        Sigmoid => {
            let (er, ei) = exp(&a.neg()?, &b.neg()?)?;
            recip(&er.add_s(1.0)?, &ei)?
        }
        Sign => sgn(a, b)?,
        _ => return Ok(None),
    }))
}

/// The real value of a wrapped Python number exponent (the 2 of z ** 2), if
/// it is one and has no imaginary part.
fn wrapped_real(orig: &Tensor, re: &Tensor, im: Option<&Tensor>) -> Result<Option<f64>> {
    if !crate::tensor::is_wrapped(orig) {
        return Ok(None);
    }
    if let Some(i) = im {
        if i.to_f64_vec()?.first().copied() != Some(0.0) {
            return Ok(None);
        }
    }
    Ok(re.to_f64_vec()?.first().copied())
}

/// z ** w for complex operands, as PyTorch: the exponents 0.5, -0.5, -1, 2,
/// 3, -2 and 1 of a Python number take sqrt, rsqrt, reciprocal and products
/// (exact, PyTorch's fast paths); everything else is exp(w log z), with
/// 0 ** w = 1 for w = 0 and 0 otherwise.
pub(crate) fn pow(
    base: &Parts,
    exp_re: &Tensor,
    exp_im: Option<&Tensor>,
    exp_orig: &Tensor,
) -> Result<Parts> {
    let (a, b) = (&base.0, &base.1);
    if let Some(e) = wrapped_real(exp_orig, exp_re, exp_im)? {
        if e == 0.5 {
            return sqrt(a, b);
        } else if e == -0.5 {
            return rsqrt(a, b);
        } else if e == -1.0 {
            return recip(a, b);
        } else if e == 1.0 {
            return Ok((a.mul_s(1.0)?, b.mul_s(1.0)?));
        } else if e == 2.0 {
            return mul(base, base);
        } else if e == 3.0 {
            return mul(&mul(base, base)?, base);
        } else if e == -2.0 {
            let sq = mul(base, base)?;
            return recip(&sq.0, &sq.1);
        }
    }
    let zero = is_zero(a, b)?;
    let one = a.ones_like()?;
    let a_safe = Tensor::where_(&zero, &one, a)?;
    let b_safe = Tensor::where_(&zero, &one.zeros_like()?, b)?;
    let lz = log(&a_safe, &b_safe)?;
    let w_im = match exp_im {
        Some(t) => t.clone(),
        None => exp_re.zeros_like()?,
    };
    let wl = mul(&(exp_re.clone(), w_im.clone()), &lz)?;
    let (r, i) = exp(&wl.0, &wl.1)?;
    // 0 ** w: 1 where w == 0, else 0 (not differentiated: a constant).
    let w0 = crate::autograd::no_grad(|| is_zero(exp_re, &w_im)?.to_dtype(r.dtype()))?;
    Ok((
        Tensor::where_(&zero, &w0, &r)?,
        Tensor::where_(&zero, &w0.zeros_like()?, &i)?,
    ))
}

/// var of a complex tensor: mean |z - mean|^2 with PyTorch's correction, a
/// real tensor; it is var(re) + var(im).
pub fn var(x: &Tensor, dims: &[i64], correction: f64, keepdim: bool) -> Result<Tensor> {
    let (re, im) = x.complex_parts()?;
    re.var_dims(dims, correction, keepdim)?
        .add(&im.var_dims(dims, correction, keepdim)?)
}

/// linalg.vector_norm of a complex tensor (a real result). The 2-norm is the
/// 2-norm of the real view over the same dims plus the (re, im) dim, so its
/// gradient is z / ||z|| with 0 at a zero norm, as PyTorch's; other orders
/// take the norm of |z|.
pub fn vector_norm(x: &Tensor, p: f64, dims: &[i64], keepdim: bool) -> Result<Tensor> {
    if p == 2.0 {
        let nd = x.ndim();
        let r = x.view_as_real()?;
        if dims.is_empty() {
            let out = r.vector_norm(2.0, &[], keepdim, None)?;
            return if keepdim {
                out.squeeze_dims(&[nd])
            } else {
                Ok(out)
            };
        }
        let mut dn = crate::ops::reduce::norm_dims(dims, nd, "linalg.vector_norm")?;
        dn.push(nd);
        let di: Vec<i64> = dn.iter().map(|&d| d as i64).collect();
        let out = r.vector_norm(2.0, &di, keepdim, None)?;
        return if keepdim {
            out.squeeze_dims(&[nd])
        } else {
            Ok(out)
        };
    }
    let (re, im) = x.complex_parts()?;
    abs_parts(&re, &im)?.vector_norm(p, dims, keepdim, None)
}
