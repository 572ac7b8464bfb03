//! Elementwise ops: casts, unary math, binary arithmetic, comparisons, where, clamp.

use crate::autograd::{any_requires_grad, record, unary_record, BackCtx};
use crate::backend;

use crate::dtype::{result_type, DType, Operand, Scalar};
use crate::error::Result;
use crate::layout::broadcast_shapes;
use crate::storage::CpuData;
use crate::tensor::Tensor;

use crate::{bail, rt_err};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    Neg,
    Abs,
    Exp,
    Exp2,
    Log,
    Log2,
    Log10,
    Log1p,
    Expm1,
    Sqrt,
    Rsqrt,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Sigmoid,
    LogSigmoid,
    Relu,
    Relu6,
    Gelu,
    GeluTanh,
    Silu,
    Mish,
    Hardswish,
    Hardsigmoid,
    Erf,
    Erfc,
    Floor,
    Ceil,
    Round,
    Trunc,
    Frac,
    Sign,
    Reciprocal,
    Square,
    BitNot,
    LogicalNot,
}

impl Unary {
    pub fn name(self) -> &'static str {
        use Unary::*;
        match self {
            Neg => "neg",
            Abs => "abs",
            Exp => "exp",
            Exp2 => "exp2",
            Log => "log",
            Log2 => "log2",
            Log10 => "log10",
            Log1p => "log1p",
            Expm1 => "expm1",
            Sqrt => "sqrt",
            Rsqrt => "rsqrt",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Asin => "asin",
            Acos => "acos",
            Atan => "atan",
            Sinh => "sinh",
            Cosh => "cosh",
            Tanh => "tanh",
            Asinh => "asinh",
            Acosh => "acosh",
            Atanh => "atanh",
            Sigmoid => "sigmoid",
            LogSigmoid => "log_sigmoid",
            Relu => "relu",
            Relu6 => "relu6",
            Gelu => "gelu",
            GeluTanh => "gelu",
            Silu => "silu",
            Mish => "mish",
            Hardswish => "hardswish",
            Hardsigmoid => "hardsigmoid",
            Erf => "erf",
            Erfc => "erfc",
            Floor => "floor",
            Ceil => "ceil",
            Round => "round",
            Trunc => "trunc",
            Frac => "frac",
            Sign => "sign",
            Reciprocal => "reciprocal",
            Square => "square",
            BitNot => "bitwise_not",
            LogicalNot => "logical_not",
        }
    }
    /// Ops whose result keeps an integer input's dtype.
    fn int_ok(self) -> bool {
        use Unary::*;
        matches!(
            self,
            Neg | Abs | Floor | Ceil | Round | Trunc | Sign | Square | Relu | BitNot | LogicalNot
        )
    }
}

const SQRT_2_OVER_PI: f64 = 0.7978845608028654;
const FRAC_1_SQRT_2PI: f64 = 0.3989422804014327;

impl Tensor {
    // ---------- creation helpers ----------
    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        if dtype.is_complex() {
            return crate::ops::complex::full_on(shape, Scalar::Int(0), dtype, crate::Device::Cpu);
        }
        Ok(Tensor::from_cpu(
            CpuData::zeros(
                dtype,
                crate::layout::checked_numel(shape, dtype.size(), "zeros")?,
            ),
            shape,
        ))
    }
    pub fn full(shape: &[usize], v: Scalar, dtype: DType) -> Result<Tensor> {
        if dtype.is_complex() {
            return crate::ops::complex::full_on(shape, v, dtype, crate::Device::Cpu);
        }
        Ok(Tensor::from_cpu(
            CpuData::filled(
                dtype,
                crate::layout::checked_numel(shape, dtype.size(), "full")?,
                v,
            ),
            shape,
        ))
    }
    pub fn zeros_like(&self) -> Result<Tensor> {
        Tensor::zeros_on(self.shape(), self.dtype(), self.device())
    }
    pub fn ones_like(&self) -> Result<Tensor> {
        Tensor::full_on(self.shape(), Scalar::Int(1), self.dtype(), self.device())
    }
    /// A 0-dim tensor holding a Python number; promotes as a "wrapped number".
    pub fn wrapped_scalar(v: Scalar, dtype: DType) -> Tensor {
        let t = Tensor::scalar_tensor(v, dtype);
        t.meta().is_view = false;
        crate::tensor::mark_wrapped(&t);
        t
    }

    /// Contiguous copy without autograd.
    pub fn clone_data(&self) -> Result<Tensor> {
        if self.dtype().is_complex() {
            return crate::ops::complex::clone_data(self);
        }
        crate::layout::checked_numel(self.shape(), self.dtype().size(), "clone")?;
        backend::of(self).cast(self, self.dtype())
    }
    /// Cast without autograd.
    pub fn cast_raw(&self, dtype: DType) -> Result<Tensor> {
        if (self.dtype().is_complex() || dtype.is_complex()) && dtype != self.dtype() {
            return crate::autograd::with_grad_mode(false, || {
                crate::ops::complex::cast(self, dtype)
            });
        }
        crate::layout::checked_numel(self.shape(), dtype.size(), "to")?;
        backend::of(self).cast(self, dtype)
    }
    /// `self` if contiguous, else a contiguous copy (gradient passes through).
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        let out = self.clone_data()?;
        Ok(unary_record(
            "CloneBackward0",
            out,
            self,
            vec![],
            |c: &BackCtx| Ok(vec![Some(c.grad(0)?.clone())]),
        ))
    }
    /// torch.clone: always copies, differentiable.
    pub fn clone_t(&self) -> Result<Tensor> {
        let out = self.clone_data()?;
        Ok(unary_record(
            "CloneBackward0",
            out,
            self,
            vec![],
            |c: &BackCtx| Ok(vec![Some(c.grad(0)?.clone())]),
        ))
    }
    /// A cast the user asked for (`.to(dtype)`, `.float()`): complex -> real keeps the
    /// real part (bool: nonzero), as PyTorch (its warning is the Python layer's).
    pub fn to_dtype_explicit(&self, dtype: DType) -> Result<Tensor> {
        if self.dtype().is_complex() && !dtype.is_complex() {
            return crate::ops::complex::cast(self, dtype);
        }
        self.to_dtype(dtype)
    }
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        if self.dtype().is_complex() && !dtype.is_complex() {
            // An op casting its input to a real dtype has no complex rule: the
            // imaginary part must not vanish silently (explicit casts use to_dtype_explicit).
            return Err(crate::ops::complex::not_implemented(
                &format!("{}_cast", dtype.name()),
                self.dtype(),
            ));
        }
        if self.dtype().is_complex() || dtype.is_complex() {
            return crate::ops::complex::cast(self, dtype);
        }
        let out = self.cast_raw(dtype)?;
        if self.dtype().is_float() && dtype.is_float() {
            let src = self.dtype();
            return Ok(unary_record(
                "ToCopyBackward0",
                out,
                self,
                vec![],
                move |c: &BackCtx| Ok(vec![Some(c.grad(0)?.to_dtype(src)?)]),
            ));
        }
        Ok(out)
    }

    // ---------- unary ----------
    pub fn unary(&self, op: Unary) -> Result<Tensor> {
        let dt = self.dtype();
        if dt.is_complex() {
            return crate::ops::complex::unary(self, op);
        }
        crate::layout::checked_numel(self.shape(), dt.size(), op.name())?;
        if dt == DType::Bool {
            return match op {
                Unary::LogicalNot | Unary::BitNot => backend::of(self).unary(self, op),
                Unary::Neg => bail!("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."),
                Unary::Abs | Unary::Relu => Ok(self.clone_data()?),
                // PyTorch squares a bool as pow(x, 2): an int64 result.
                Unary::Square => self.cast_raw(DType::I64)?.unary(op),
                _ if op.int_ok() => self.cast_raw(DType::U8)?.unary(op)?.cast_raw(DType::Bool),
                _ => self.cast_raw(DType::F32)?.unary(op),
            };
        }
        if op == Unary::LogicalNot {
            return backend::of(self).unary(self, op);
        }
        if !dt.is_float() && !op.int_ok() {
            return self.cast_raw(DType::F32)?.unary(op);
        }
        let out = backend::of(self).unary(self, op)?;
        if !dt.is_float() {
            return Ok(out);
        }
        self.unary_finish(op, out)
    }

    fn unary_finish(&self, op: Unary, out: Tensor) -> Result<Tensor> {
        if !any_requires_grad(&[self]) {
            return Ok(out);
        }
        let saved = match op {
            Unary::Exp
            | Unary::Sqrt
            | Unary::Rsqrt
            | Unary::Tanh
            | Unary::Sigmoid
            | Unary::Reciprocal
            | Unary::Expm1
            | Unary::Exp2 => {
                vec![self.clone(), out.detach()]
            }
            _ => vec![self.clone()],
        };
        record(
            backward_name(op.name()),
            &[&out],
            &[self],
            saved,
            move |c: &BackCtx| {
                let g = c.grad(0)?;
                let x = &c.saved[0];
                // Results saved detached; recompute when building a higher-order graph.
                let y = || -> Result<Tensor> {
                    if crate::autograd::grad_enabled() || c.saved.len() < 2 {
                        x.unary(op)
                    } else {
                        Ok(c.saved[1].clone())
                    }
                };
                Ok(vec![Some(unary_backward(op, g, x, y)?)])
            },
        );
        Ok(out)
    }
}

/// "add" -> "AddBackward0", interned once per op name.
fn backward_name(op: &'static str) -> &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let mut m = NAMES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    m.entry(op)
        .or_insert_with(|| Box::leak(format!("{}Backward0", camel(op)).into_boxed_str()))
}

fn camel(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// ReLU's backward through the device's threshold_backward kernel (one
/// pass: 0 where x <= 0, g elsewhere) when no graph of the backward is built.
fn relu_grad_fusable(g: &Tensor, x: &Tensor) -> bool {
    !crate::autograd::grad_enabled()
        && g.device() == x.device()
        && g.dtype() == x.dtype()
        && g.dtype().is_float()
        && g.shape() == x.shape()
}

fn unary_backward(
    op: Unary,
    g: &Tensor,
    x: &Tensor,
    y: impl Fn() -> Result<Tensor>,
) -> Result<Tensor> {
    use Unary::*;
    Ok(match op {
        Neg => g.neg()?,
        Abs => g.mul(&x.unary(Sign)?)?,
        Exp => g.mul(&y()?)?,
        Exp2 => g.mul(&y()?)?.mul_s(std::f64::consts::LN_2)?,
        Log => g.div(x)?,
        Log2 => g.div(&x.mul_s(std::f64::consts::LN_2)?)?,
        Log10 => g.div(&x.mul_s(std::f64::consts::LN_10)?)?,
        Log1p => g.div(&x.add_s(1.0)?)?,
        Expm1 => g.mul(&y()?.add_s(1.0)?)?,
        Sqrt => g.div(&y()?.mul_s(2.0)?)?,
        Rsqrt => {
            let y = y()?;
            g.mul(&y.mul(&y)?.mul(&y)?)?.mul_s(-0.5)?
        }
        Sin => g.mul(&x.unary(Cos)?)?,
        Cos => g.mul(&x.unary(Sin)?)?.neg()?,
        Tan => {
            let y = y()?;
            g.mul(&y.mul(&y)?.add_s(1.0)?)?
        }
        Asin => g.div(&x.mul(x)?.neg()?.add_s(1.0)?.unary(Sqrt)?)?,
        Acos => g.div(&x.mul(x)?.neg()?.add_s(1.0)?.unary(Sqrt)?)?.neg()?,
        Atan => g.div(&x.mul(x)?.add_s(1.0)?)?,
        Sinh => g.mul(&x.unary(Cosh)?)?,
        Cosh => g.mul(&x.unary(Sinh)?)?,
        Tanh => {
            let y = y()?;
            g.mul(&y.mul(&y)?.neg()?.add_s(1.0)?)?
        }
        Asinh => g.div(&x.mul(x)?.add_s(1.0)?.unary(Sqrt)?)?,
        Acosh => g.div(&x.mul(x)?.add_s(-1.0)?.unary(Sqrt)?)?,
        Atanh => g.div(&x.mul(x)?.neg()?.add_s(1.0)?)?,
        Sigmoid => {
            let y = y()?;
            g.mul(&y.mul(&y.neg()?.add_s(1.0)?)?)?
        }
        LogSigmoid => g.mul(&x.neg()?.unary(Sigmoid)?)?,
        Relu if relu_grad_fusable(g, x) => backend::of(x).threshold_backward(g, x)?,
        // `!(x <= 0)`, not `x > 0`: a NaN input passes its gradient, as PyTorch's.
        Relu => g.mul(&x.le_s(0.0)?.logical_not_t()?.to_dtype(g.dtype())?)?,
        Relu6 => g.mul(
            &x.gt_s(0.0)?
                .logical_and(&x.lt_s(6.0)?)?
                .to_dtype(g.dtype())?,
        )?,
        Gelu => {
            // d/dx x*Phi(x) = Phi(x) + x*phi(x)
            let cdf = x
                .mul_s(std::f64::consts::FRAC_1_SQRT_2)?
                .unary(Erf)?
                .add_s(1.0)?
                .mul_s(0.5)?;
            let pdf = x.mul(x)?.mul_s(-0.5)?.unary(Exp)?.mul_s(FRAC_1_SQRT_2PI)?;
            g.mul(&cdf.add(&x.mul(&pdf)?)?)?
        }
        GeluTanh => {
            let x3 = x.mul(x)?.mul(x)?;
            let inner = x.add(&x3.mul_s(0.044715)?)?.mul_s(SQRT_2_OVER_PI)?;
            let t = inner.unary(Tanh)?;
            let dinner = x
                .mul(x)?
                .mul_s(3.0 * 0.044715)?
                .add_s(1.0)?
                .mul_s(SQRT_2_OVER_PI)?;
            let left = t.add_s(1.0)?.mul_s(0.5)?;
            let right = x
                .mul_s(0.5)?
                .mul(&t.mul(&t)?.neg()?.add_s(1.0)?)?
                .mul(&dinner)?;
            g.mul(&left.add(&right)?)?
        }
        Silu => {
            let s = x.unary(Sigmoid)?;
            g.mul(&s.mul(&x.mul(&s.neg()?.add_s(1.0)?)?.add_s(1.0)?)?)?
        }
        Mish => {
            let sp = x.softplus(1.0, 20.0)?;
            let t = sp.unary(Tanh)?;
            let s = x.unary(Sigmoid)?;
            g.mul(&t.add(&x.mul(&s)?.mul(&t.mul(&t)?.neg()?.add_s(1.0)?)?)?)?
        }
        Hardswish => {
            let mid = x.div_s(3.0)?.add_s(0.5)?;
            let lo = x.lt_s(-3.0)?;
            let hi = x.gt_s(3.0)?;
            let d = Tensor::where_(
                &lo,
                &x.zeros_like()?,
                &Tensor::where_(&hi, &x.ones_like()?, &mid)?,
            )?;
            g.mul(&d)?
        }
        Hardsigmoid => g
            .mul(
                &x.gt_s(-3.0)?
                    .logical_and(&x.lt_s(3.0)?)?
                    .to_dtype(g.dtype())?,
            )?
            .div_s(6.0)?,
        Erf => g.mul(
            &x.mul(x)?
                .neg()?
                .unary(Exp)?
                .mul_s(std::f64::consts::FRAC_2_SQRT_PI)?,
        )?,
        Erfc => g.mul(
            &x.mul(x)?
                .neg()?
                .unary(Exp)?
                .mul_s(-std::f64::consts::FRAC_2_SQRT_PI)?,
        )?,
        Floor | Ceil | Round | Trunc | Sign => g.zeros_like()?,
        Frac => g.clone(),
        Reciprocal => {
            let y = y()?;
            g.mul(&y.mul(&y)?)?.neg()?
        }
        Square => g.mul(&x.mul_s(2.0)?)?,
        BitNot | LogicalNot => g.zeros_like()?,
    })
}

// ---------- binary ----------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Remainder,
    Fmod,
    Pow,
    Atan2,
    Maximum,
    Minimum,
    Fmax,
    Fmin,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    LogicalAnd,
    LogicalOr,
    LogicalXor,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Binary {
    pub fn name(self) -> &'static str {
        use Binary::*;
        match self {
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Div => "div",
            FloorDiv => "floor_divide",
            Remainder => "remainder",
            Fmod => "fmod",
            Pow => "pow",
            Atan2 => "atan2",
            Maximum => "maximum",
            Minimum => "minimum",
            Fmax => "fmax",
            Fmin => "fmin",
            BitAnd => "bitwise_and",
            BitOr => "bitwise_or",
            BitXor => "bitwise_xor",
            Shl => "bitwise_left_shift",
            Shr => "bitwise_right_shift",
            LogicalAnd => "logical_and",
            LogicalOr => "logical_or",
            LogicalXor => "logical_xor",
            Eq => "eq",
            Ne => "ne",
            Lt => "lt",
            Le => "le",
            Gt => "gt",
            Ge => "ge",
        }
    }
    pub(crate) fn is_compare(self) -> bool {
        use Binary::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge)
    }
    pub(crate) fn is_logical(self) -> bool {
        matches!(
            self,
            Binary::LogicalAnd | Binary::LogicalOr | Binary::LogicalXor
        )
    }
    pub(crate) fn is_bitwise(self) -> bool {
        use Binary::*;
        matches!(self, BitAnd | BitOr | BitXor | Shl | Shr)
    }
}

fn operand(t: &Tensor) -> Operand {
    if crate::tensor::is_wrapped(t) {
        // Wrapped numbers keep full precision (f64/i64) but promote as Python scalars.
        Operand::Scalar(if t.dtype().is_float() {
            DType::F32
        } else if t.dtype().is_complex() {
            DType::C64
        } else {
            t.dtype()
        })
    } else if t.ndim() == 0 {
        Operand::ZeroDim(t.dtype())
    } else {
        Operand::Dim(t.dtype())
    }
}

pub fn result_type2(a: &Tensor, b: &Tensor) -> DType {
    result_type(&[operand(a), operand(b)])
}

impl Tensor {
    /// Elementwise binary op with broadcasting and PyTorch's type promotion.
    pub fn binary(&self, other: &Tensor, op: Binary) -> Result<Tensor> {
        let dev = crate::ops::device::common_device(&[self, other], op.name())?;
        let shape = broadcast_shapes(self.shape(), other.shape()).ok_or_else(|| {
            rt_err!(
                "{}: The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {}",
                op.name(),
                mismatch(self.shape(), other.shape()).0,
                mismatch(self.shape(), other.shape()).1,
                mismatch(self.shape(), other.shape()).2
            )
        })?;
        let mut ct = result_type2(self, other);
        if self.dtype().is_complex() || other.dtype().is_complex() {
            return crate::ops::complex::binary(self, other, op, ct);
        }
        if matches!(op, Binary::Div | Binary::Atan2) && !ct.is_float() {
            ct = DType::F32;
        }
        if op.is_bitwise() && ct.is_float() {
            bail!("\"{}_cpu\" not implemented for '{}'", op.name(), ct);
        }
        if op == Binary::Sub && (self.dtype() == DType::Bool) != (other.dtype() == DType::Bool) {
            // Also through the `-` operator with a Python bool (the two-bool case is the kernel's).
            bail!("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.");
        }
        // The output (and any broadcast temporaries) must be allocatable: a
        // refused allocation is a RuntimeError, never an abort.
        crate::layout::checked_numel(&shape, ct.size().max(8), op.name())?;
        let a = if self.dtype() == ct {
            self.clone()
        } else {
            self.cast_raw(ct)?
        };
        let b = if other.dtype() == ct {
            other.clone()
        } else {
            other.cast_raw(ct)?
        };
        let out = backend::for_device(dev).binary(&a, &b, &shape, op, ct)?;
        if op.is_compare() || op.is_logical() || op.is_bitwise() || !out.dtype().is_float() {
            return Ok(out);
        }
        if any_requires_grad(&[self, other]) {
            binary_record(op, &out, self, other)?;
        }
        Ok(out)
    }

    pub fn add(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, Binary::Add)
    }
    pub fn sub(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, Binary::Sub)
    }
    pub fn mul(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, Binary::Mul)
    }
    pub fn div(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, Binary::Div)
    }
    pub fn neg(&self) -> Result<Tensor> {
        self.unary(Unary::Neg)
    }
    fn scalar_op(&self, v: f64, op: Binary) -> Result<Tensor> {
        self.binary(&Tensor::wrapped_scalar(Scalar::Float(v), DType::F64), op)
    }
    pub fn add_s(&self, v: f64) -> Result<Tensor> {
        self.scalar_op(v, Binary::Add)
    }
    pub fn mul_s(&self, v: f64) -> Result<Tensor> {
        self.scalar_op(v, Binary::Mul)
    }
    pub fn div_s(&self, v: f64) -> Result<Tensor> {
        self.scalar_op(v, Binary::Div)
    }
    pub fn pow_s(&self, v: f64) -> Result<Tensor> {
        self.scalar_op(v, Binary::Pow)
    }
    pub fn gt_s(&self, v: f64) -> Result<Tensor> {
        self.scalar_op(v, Binary::Gt)
    }
    pub fn lt_s(&self, v: f64) -> Result<Tensor> {
        self.scalar_op(v, Binary::Lt)
    }
    pub fn ge_s(&self, v: f64) -> Result<Tensor> {
        self.scalar_op(v, Binary::Ge)
    }
    pub fn le_s(&self, v: f64) -> Result<Tensor> {
        self.scalar_op(v, Binary::Le)
    }
    pub fn eq_t(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, Binary::Eq)
    }
    pub fn logical_and(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, Binary::LogicalAnd)
    }

    pub fn softplus(&self, beta: f64, threshold: f64) -> Result<Tensor> {
        // where(x*beta > threshold, x, log1p(exp(x*beta))/beta)
        let xb = self.mul_s(beta)?;
        let soft = xb
            .clamp_s(None, Some(threshold))?
            .unary(Unary::Exp)?
            .unary(Unary::Log1p)?
            .div_s(beta)?;
        Tensor::where_(&xb.gt_s(threshold)?, self, &soft)
    }

    /// torch.where(cond, a, b) with broadcasting and promotion.
    pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        if a.is_complex() || b.is_complex() {
            return crate::ops::complex::where_(cond, a, b);
        }
        let shape = broadcast_shapes(cond.shape(), a.shape())
            .and_then(|s| broadcast_shapes(&s, b.shape()))
            .ok_or_else(|| {
                rt_err!(
                    "where: shapes {:?}, {:?} and {:?} cannot be broadcast together",
                    cond.shape(),
                    a.shape(),
                    b.shape()
                )
            })?;
        crate::layout::checked_numel(&shape, 8, "where")?;
        let cond = if cond.dtype() == DType::Bool {
            cond.clone()
        } else if cond.dtype() == DType::U8 {
            cond.cast_raw(DType::Bool)?
        } else {
            bail!(
                "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
                cond.dtype()
            );
        };
        let ct = result_type2(a, b);
        let dev = crate::ops::device::common_device(&[&cond, a, b], "where")?;
        let a2 = a.cast_raw_if(ct)?.to_device_raw(dev)?;
        let b2 = b.cast_raw_if(ct)?.to_device_raw(dev)?;
        let cond = cond.to_device_raw(dev)?;
        let out = backend::for_device(dev).where_(&cond, &a2, &b2, &shape)?;
        if out.dtype().is_float() && any_requires_grad(&[a, b]) {
            let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
            let (da, db) = (a.dtype(), b.dtype());
            record(
                "WhereBackward0",
                &[&out],
                &[a, b],
                vec![],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    let z = g.zeros_like()?;
                    let ga = if c.needs[0] {
                        Some(Tensor::where_(&cond, g, &z)?.sum_to(&sa)?.to_dtype(da)?)
                    } else {
                        None
                    };
                    let gb = if c.needs[1] {
                        Some(Tensor::where_(&cond, &z, g)?.sum_to(&sb)?.to_dtype(db)?)
                    } else {
                        None
                    };
                    Ok(vec![ga, gb])
                },
            );
        }
        Ok(out)
    }

    /// Cast without autograd unless already `dt`.
    pub fn cast_raw_if_raw(&self, dt: DType) -> Result<Tensor> {
        if self.dtype() == dt {
            Ok(self.clone())
        } else {
            self.cast_raw(dt)
        }
    }

    pub fn cast_raw_if(&self, dt: DType) -> Result<Tensor> {
        if self.dtype() == dt {
            Ok(self.clone())
        } else {
            self.to_dtype(dt)
        }
    }

    /// clamp with optional scalar bounds (NaN propagates, as PyTorch).
    pub fn clamp_s(&self, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        if min.is_none() && max.is_none() {
            bail!("torch.clamp: At least one of 'min' or 'max' must not be None");
        }
        let dt = self.dtype();
        if dt == DType::Bool {
            bail!("\"clamp_cpu\" not implemented for 'Bool'");
        }
        crate::layout::checked_numel(self.shape(), dt.size(), "clamp")?;
        let out = backend::of(self).clamp(self, min, max)?;
        self.clamp_finish(out, min, max)
    }

    fn clamp_finish(&self, out: Tensor, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        Ok(unary_record(
            "ClampBackward1",
            out,
            self,
            vec![self.clone()],
            move |c: &BackCtx| {
                let g = c.grad(0)?;
                let x = &c.saved[0];
                let mut mask = x.ones_like()?.cast_raw(DType::Bool)?;
                if let Some(lo) = min {
                    mask = mask.logical_and(&x.ge_s(lo)?)?;
                }
                if let Some(hi) = max {
                    mask = mask.logical_and(&x.le_s(hi)?)?;
                }
                Ok(vec![Some(g.mul(&mask.to_dtype(g.dtype())?)?)])
            },
        ))
    }
}

fn mismatch(a: &[usize], b: &[usize]) -> (usize, usize, usize) {
    let n = a.len().max(b.len());
    for i in (0..n).rev() {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        if da != db && da != 1 && db != 1 {
            return (da, db, i);
        }
    }
    (0, 0, 0)
}

fn binary_record(op: Binary, out: &Tensor, a: &Tensor, b: &Tensor) -> Result<()> {
    use Binary::*;
    let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
    let (da, db) = (a.dtype(), b.dtype());
    let saved = match op {
        Add | Sub => vec![],
        _ => vec![a.clone(), b.clone()],
    };
    let name = backward_name(op.name());
    let fix = Arc::new(
        move |g: Tensor, shape: &[usize], dt: DType| -> Result<Option<Tensor>> {
            let g = g.sum_to(shape)?;
            Ok(Some(if dt.is_float() && g.dtype() != dt {
                g.to_dtype(dt)?
            } else {
                g
            }))
        },
    );
    record(name, &[out], &[a, b], saved, move |c: &BackCtx| {
        let g = c.grad(0)?;
        let (na, nb) = (c.needs[0], c.needs[1]);
        let f = &fix;
        let (ga, gb): (Option<Tensor>, Option<Tensor>) = match op {
            Add => (Some(g.clone()), Some(g.clone())),
            Sub => (Some(g.clone()), if nb { Some(g.neg()?) } else { None }),
            Mul => {
                let (x, y) = (&c.saved[0], &c.saved[1]);
                (
                    if na { Some(g.mul(y)?) } else { None },
                    if nb { Some(g.mul(x)?) } else { None },
                )
            }
            Div => {
                let (x, y) = (&c.saved[0], &c.saved[1]);
                (
                    if na { Some(g.div(y)?) } else { None },
                    if nb {
                        Some(g.neg()?.mul(&x.div(y)?.div(y)?)?)
                    } else {
                        None
                    },
                )
            }
            Pow => {
                let (x, y) = (&c.saved[0], &c.saved[1]);
                let ga = if na {
                    // exponent == 0 -> 0, else g * y * x^(y-1). A wrapped float
                    // exponent stays a float64 wrapped number: wrapped + wrapped
                    // would compute y - 1 in float32 (x ** (1/3) lost 1e-7).
                    let ym1 = if crate::tensor::is_wrapped(y) && y.dtype().is_float() {
                        let v = y.to_f64_vec()?.first().copied().unwrap_or(0.0);
                        Tensor::wrapped_scalar(Scalar::Float(v - 1.0), DType::F64)
                    } else {
                        y.add_s(-1.0)?
                    };
                    let d = y.mul(&x.binary(&ym1, Pow)?)?;
                    let z = d.zeros_like()?;
                    // y may be a wrapped float64 scalar on the host: compare it
                    // there and move only the mask (no float64 on the gpu).
                    let y0 = y.scalar_op(0.0, Eq)?.to_device_raw(d.device())?;
                    Some(g.mul(&Tensor::where_(&y0, &z, &d)?)?)
                } else {
                    None
                };
                let gb = if nb {
                    let r = x.binary(y, Pow)?;
                    let d = r.mul(&x.unary(Unary::Log)?)?;
                    let zx = x.zeros_like()?;
                    let cond = x.eq_t(&zx)?.logical_and(&y.ge_s(0.0)?)?;
                    Some(g.mul(&Tensor::where_(&cond, &d.zeros_like()?, &d)?)?)
                } else {
                    None
                };
                (ga, gb)
            }
            Atan2 => {
                let (x, y) = (&c.saved[0], &c.saved[1]);
                let den = x.mul(x)?.add(&y.mul(y)?)?;
                (
                    if na {
                        Some(g.mul(&y.div(&den)?)?)
                    } else {
                        None
                    },
                    if nb {
                        Some(g.mul(&x.neg()?.div(&den)?)?)
                    } else {
                        None
                    },
                )
            }
            Maximum | Minimum | Fmax | Fmin => {
                let (x, y) = (&c.saved[0], &c.saved[1]);
                let sel = if matches!(op, Maximum | Fmax) {
                    x.binary(y, Gt)?
                } else {
                    x.binary(y, Lt)?
                };
                let eq = x.eq_t(y)?;
                let w = sel
                    .to_dtype(g.dtype())?
                    .add(&eq.to_dtype(g.dtype())?.mul_s(0.5)?)?;
                let wa = if matches!(op, Fmax | Fmin) {
                    // fmax/fmin: the non-NaN side takes the gradient.
                    let xn = x.binary(x, Ne)?;
                    let yn = y.binary(y, Ne)?;
                    let w1 = Tensor::where_(&yn, &w.ones_like()?, &w)?;
                    Tensor::where_(&xn, &w.zeros_like()?, &w1)?
                } else {
                    w
                };
                (
                    if na { Some(g.mul(&wa)?) } else { None },
                    if nb {
                        Some(g.mul(&wa.neg()?.add_s(1.0)?)?)
                    } else {
                        None
                    },
                )
            }
            Remainder | Fmod | FloorDiv => {
                let (x, y) = (&c.saved[0], &c.saved[1]);
                if op == FloorDiv {
                    (
                        if na { Some(g.zeros_like()?) } else { None },
                        if nb { Some(g.zeros_like()?) } else { None },
                    )
                } else {
                    let q = x.div(y)?;
                    let q = if op == Remainder {
                        q.unary(Unary::Floor)?
                    } else {
                        q.unary(Unary::Trunc)?
                    };
                    (
                        if na { Some(g.clone()) } else { None },
                        if nb { Some(g.neg()?.mul(&q)?) } else { None },
                    )
                }
            }
            _ => (None, None),
        };
        let ga = match ga {
            Some(t) if na => f(t, &sa, da)?,
            _ => None,
        };
        let gb = match gb {
            Some(t) if nb => f(t, &sb, db)?,
            _ => None,
        };
        Ok(vec![ga, gb])
    });
    Ok(())
}
