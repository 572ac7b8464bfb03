//! Complex tensors (complex64 / complex128) by composition on their real view.
//!
//! A complex tensor's storage holds its real dtype (f32 for complex64, f64 for
//! complex128), two reals (re, im) per element; its layout counts complex
//! elements. `view_as_real` / `view_as_complex` reinterpret the same storage,
//! so every complex op here is written with real ops on the parts: it runs on
//! every device with no new kernel, and its gradient comes from the real ops,
//! which is PyTorch's convention (for a real loss L of z = a + ib, the
//! gradient is dL/da + i dL/db).
//!
//! Ops with no complex rule must never read the storage as reals through the
//! complex layout: [`not_implemented`] is their error, raised by the hooks in
//! the op entry points and by the guard backend of `backend::of`.

use crate::autograd::{unary_record, BackCtx};
use crate::backend::{Backend, Red};
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::ops::{Binary, Unary};
use crate::tensor::Tensor;
use crate::{bail, rt_err};

/// PyTorch's dispatch error for an op with no complex kernel.
pub fn not_implemented(op: &str, dt: DType) -> Error {
    Error::NotImplemented(format!(
        "\"{op}\" not implemented for '{}'",
        dt.scalar_type_name()
    ))
}

impl Tensor {
    pub fn is_complex(&self) -> bool {
        self.dtype().is_complex()
    }

    /// torch.view_as_real: the same storage as reals, shape + [2] (differentiable view).
    pub fn view_as_real(&self) -> Result<Tensor> {
        if !self.is_complex() {
            return Err(Error::Type(
                "view_as_real is only supported for complex tensors".into(),
            ));
        }
        let l = self.layout();
        let mut shape = l.shape.clone();
        shape.push(2);
        let mut strides: Vec<usize> = l.strides.iter().map(|s| s * 2).collect();
        strides.push(1);
        let layout = Layout {
            shape,
            strides,
            offset: l.offset * 2,
        };
        let out = self.reinterpret(layout, self.dtype().to_real());
        Ok(unary_record(
            "ViewAsRealBackward0",
            out,
            self,
            vec![],
            |c: &BackCtx| Ok(vec![Some(c.grad(0)?.contiguous()?.view_as_complex()?)]),
        ))
    }

    /// torch.view_as_complex: a float tensor whose last dim is (re, im), as complex.
    pub fn view_as_complex(&self) -> Result<Tensor> {
        let dt = self.dtype();
        if !matches!(dt, DType::F32 | DType::F64) {
            return Err(Error::NotImplemented(format!(
                "view_as_complex is only supported for half, float and double tensors, but got a tensor of scalar type: {}",
                dt.scalar_type_name()
            )));
        }
        let l = self.layout();
        let n = l.shape.len();
        if n == 0 {
            bail!("Input tensor must have one or more dimensions");
        }
        if l.shape[n - 1] != 2 {
            bail!("Tensor must have a last dimension of size 2");
        }
        if l.strides[n - 1] != 1 {
            bail!("Tensor must have a last dimension with stride 1");
        }
        if l.strides[..n - 1].iter().any(|s| !s.is_multiple_of(2)) {
            bail!("Tensor must have a stride divisible by 2 for all but last dimension");
        }
        if !l.offset.is_multiple_of(2) {
            bail!("Tensor must have a storage_offset divisible by 2");
        }
        let layout = Layout {
            shape: l.shape[..n - 1].to_vec(),
            strides: l.strides[..n - 1].iter().map(|s| s / 2).collect(),
            offset: l.offset / 2,
        };
        let out = self.reinterpret(layout, dt.to_complex());
        Ok(unary_record(
            "ViewAsComplexBackward0",
            out,
            self,
            vec![],
            |c: &BackCtx| Ok(vec![Some(c.grad(0)?.view_as_real()?)]),
        ))
    }

    /// A view of the same storage with another dtype (view bookkeeping as make_view).
    fn reinterpret(&self, layout: Layout, dtype: DType) -> Tensor {
        let out = Tensor::from_parts(self.storage().clone(), layout, dtype);
        out.meta().is_view = true;
        if crate::autograd::grad_enabled() && self.requires_grad() {
            let root = self.meta().base.clone().unwrap_or_else(|| self.clone());
            out.meta().base = Some(root);
        }
        out
    }

    /// (real, imag) views of a complex tensor (differentiable, writable).
    pub fn complex_parts(&self) -> Result<(Tensor, Tensor)> {
        let r = self.view_as_real()?;
        Ok((r.select(-1, 0)?, r.select(-1, 1)?))
    }

    /// torch.real: a view (the tensor itself for real dtypes).
    pub fn real_part(&self) -> Result<Tensor> {
        if !self.is_complex() {
            return Ok(self.alias_with_grad());
        }
        self.view_as_real()?.select(-1, 0)
    }

    /// torch.imag: a view; real tensors have none.
    pub fn imag_part(&self) -> Result<Tensor> {
        if !self.is_complex() {
            return Err(Error::Type(
                "imag is not implemented for tensors with non-complex dtypes.".into(),
            ));
        }
        self.view_as_real()?.select(-1, 1)
    }

    /// torch.complex(real, imag): both float32 or both float64, broadcast.
    pub fn complex_from(re: &Tensor, im: &Tensor) -> Result<Tensor> {
        if re.dtype() != im.dtype() {
            bail!(
                "Expected object of scalar type {} but got scalar type {} for second argument",
                re.dtype().scalar_type_name(),
                im.dtype().scalar_type_name()
            );
        }
        if !matches!(re.dtype(), DType::F32 | DType::F64) {
            return Err(Error::NotImplemented(format!(
                "Expected both inputs to be Half, Float or Double tensors but got {} and {}",
                re.dtype().scalar_type_name(),
                im.dtype().scalar_type_name()
            )));
        }
        join(re, im)
    }

    /// torch.polar(abs, angle) = abs * (cos angle + i sin angle).
    pub fn polar(abs: &Tensor, angle: &Tensor) -> Result<Tensor> {
        let re = abs.mul(&angle.unary(Unary::Cos)?)?;
        let im = abs.mul(&angle.unary(Unary::Sin)?)?;
        Tensor::complex_from(&re, &im)
    }

    /// torch.angle: atan2(im, re) for complex; 0 or pi for reals (NaN stays).
    pub fn angle(&self) -> Result<Tensor> {
        if self.is_complex() {
            let (re, im) = self.complex_parts()?;
            return im.binary(&re, Binary::Atan2);
        }
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.to_dtype(DType::F32)?
        };
        // atan2(0, x) is pi for negative x and 0 otherwise, and keeps NaN.
        x.zeros_like()?.binary(&x, Binary::Atan2)
    }

    /// conj: materialized (ember has no lazy conjugate bit).
    pub fn conj_t(&self) -> Result<Tensor> {
        if !self.is_complex() {
            return Ok(self.alias_with_grad());
        }
        let (re, im) = self.complex_parts()?;
        join(&re, &im.neg()?)
    }
}

/// re + i im from two real tensors of one dtype (broadcast to a common shape).
pub(crate) fn join(re: &Tensor, im: &Tensor) -> Result<Tensor> {
    let shape = crate::layout::broadcast_shapes(re.shape(), im.shape()).ok_or_else(|| {
        rt_err!(
            "The size of tensor a ({:?}) must match the size of tensor b ({:?})",
            re.shape(),
            im.shape()
        )
    })?;
    let re = if re.shape() == shape.as_slice() {
        re.clone()
    } else {
        re.expand(&shape)?
    };
    let im = if im.shape() == shape.as_slice() {
        im.clone()
    } else {
        im.expand(&shape)?
    };
    fresh(Tensor::stack(&[&re, &im], -1)?.view_as_complex()?)
}

/// A complex result over new storage is no view (view_as_complex marks one):
/// in-place ops with autograd treat it as a plain tensor, as PyTorch does.
pub(crate) fn fresh(t: Tensor) -> Result<Tensor> {
    {
        let mut m = t.meta();
        m.is_view = false;
        m.base = None;
    }
    Ok(t)
}

/// The parts of `t` in real dtype `rt` (imag None for a real tensor).
fn parts_as(t: &Tensor, rt: DType) -> Result<(Tensor, Option<Tensor>)> {
    if t.is_complex() {
        let (re, im) = t.complex_parts()?;
        if re.dtype() == rt {
            return Ok((re, Some(im)));
        }
        return Ok((re.to_dtype(rt)?, Some(im.to_dtype(rt)?)));
    }
    Ok((t.to_dtype(rt)?, None))
}

/// Complex cast (complex source or target), differentiable.
pub fn cast(x: &Tensor, dtype: DType) -> Result<Tensor> {
    if x.is_complex() && dtype.is_complex() {
        let (re, im) = parts_as(x, dtype.to_real())?;
        return join(&re, &im.unwrap_or(re.zeros_like()?));
    }
    if dtype.is_complex() {
        let re = x.to_dtype(dtype.to_real())?;
        let im = re.detach().zeros_like()?;
        return join(&re, &im);
    }
    if dtype == DType::Bool {
        // nonzero when either part is (bool(1j) is True)
        let (re, im) = x.complex_parts()?;
        let z = Tensor::wrapped_scalar(Scalar::Int(0), re.dtype());
        return re
            .binary(&z, Binary::Ne)?
            .binary(&im.binary(&z, Binary::Ne)?, Binary::LogicalOr);
    }
    // complex -> real keeps the real part (PyTorch warns; the Python layer does).
    x.real_part()?.to_dtype(dtype)
}

/// A copy of a complex tensor (contiguous), through its real view.
pub fn clone_data(x: &Tensor) -> Result<Tensor> {
    fresh(x.view_as_real()?.detach().clone_data()?.view_as_complex()?)
}

pub fn unary(x: &Tensor, op: Unary) -> Result<Tensor> {
    let (re, im) = x.complex_parts()?;
    let (r, i) = match op {
        Unary::Neg => (re.neg()?, im.neg()?),
        Unary::Abs => return crate::ops::complex_math::abs_parts(&re, &im),
        Unary::Exp => {
            let m = re.unary(Unary::Exp)?;
            (
                m.mul(&im.unary(Unary::Cos)?)?,
                m.mul(&im.unary(Unary::Sin)?)?,
            )
        }
        Unary::Reciprocal => {
            let d = re.mul(&re)?.add(&im.mul(&im)?)?;
            (re.div(&d)?, im.neg()?.div(&d)?)
        }
        Unary::Square => {
            let t = re.mul(&im)?;
            (re.mul(&re)?.sub(&im.mul(&im)?)?, t.add(&t)?)
        }
        _ => match crate::ops::complex_math::unary(&re, &im, op)? {
            Some(p) => p,
            None => return Err(not_implemented(op.name(), x.dtype())),
        },
    };
    join(&r, &i)
}

pub fn binary(a: &Tensor, b: &Tensor, op: Binary, ct: DType) -> Result<Tensor> {
    if !ct.is_complex() {
        return Err(not_implemented(op.name(), DType::C64));
    }
    let rt = ct.to_real();
    let (ar, ai) = parts_as(a, rt)?;
    let (br, bi) = parts_as(b, rt)?;
    let both = |f: &dyn Fn(&Tensor, &Tensor) -> Result<Tensor>| -> Result<Tensor> {
        let re = f(&ar, &br)?;
        let im = match (&ai, &bi) {
            (Some(x), Some(y)) => f(x, y)?,
            (Some(x), None) => {
                if op == Binary::Sub || op == Binary::Add {
                    x.clone()
                } else {
                    f(x, &br)?
                }
            }
            (None, Some(y)) => {
                if op == Binary::Sub {
                    y.neg()?
                } else if op == Binary::Add {
                    y.clone()
                } else {
                    f(&ar, y)?
                }
            }
            (None, None) => re.zeros_like()?,
        };
        join(&re, &im)
    };
    match op {
        Binary::Add => both(&|x, y| x.add(y)),
        Binary::Sub => both(&|x, y| x.sub(y)),
        Binary::Mul => match (&ai, &bi) {
            (Some(ai), Some(bi)) => join(
                &ar.mul(&br)?.sub(&ai.mul(bi)?)?,
                &ar.mul(bi)?.add(&ai.mul(&br)?)?,
            ),
            _ => both(&|x, y| x.mul(y)),
        },
        Binary::Div => match &bi {
            None => both(&|x, y| x.div(y)),
            Some(bi) => {
                let d = br.mul(&br)?.add(&bi.mul(bi)?)?;
                let ai = ai.clone().unwrap_or(ar.zeros_like()?);
                join(
                    &ar.mul(&br)?.add(&ai.mul(bi)?)?.div(&d)?,
                    &ai.mul(&br)?.sub(&ar.mul(bi)?)?.div(&d)?,
                )
            }
        },
        Binary::Eq | Binary::Ne => {
            let zero = |t: &Option<Tensor>, like: &Tensor| -> Result<Tensor> {
                match t {
                    Some(t) => Ok(t.clone()),
                    None => like.zeros_like(),
                }
            };
            let same = ar
                .binary(&br, Binary::Eq)?
                .logical_and(&zero(&ai, &ar)?.binary(&zero(&bi, &br)?, Binary::Eq)?)?;
            if op == Binary::Eq {
                Ok(same)
            } else {
                same.unary(Unary::LogicalNot)
            }
        }
        Binary::Pow => {
            let ai = ai.clone().unwrap_or(ar.zeros_like()?);
            let (r, i) = crate::ops::complex_math::pow(&(ar.clone(), ai), &br, bi.as_ref(), b)?;
            join(&r, &i)
        }
        _ => Err(not_implemented(op.name(), ct)),
    }
}

pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let ct = crate::dtype::promote_types(a.dtype(), b.dtype());
    let rt = ct.to_real();
    let (ar, ai) = parts_as(a, rt)?;
    let (br, bi) = parts_as(b, rt)?;
    let re = ar.matmul(&br)?;
    let (re, im) = match (&ai, &bi) {
        (Some(ai), Some(bi)) => (
            re.sub(&ai.matmul(bi)?)?,
            ar.matmul(bi)?.add(&ai.matmul(&br)?)?,
        ),
        (Some(ai), None) => (re, ai.matmul(&br)?),
        (None, Some(bi)) => (re, ar.matmul(bi)?),
        (None, None) => {
            let z = re.zeros_like()?;
            (re, z)
        }
    };
    join(&re, &im)
}

pub fn sum_dims(x: &Tensor, dims: &[i64], keepdim: bool, mean: bool) -> Result<Tensor> {
    let (re, im) = x.complex_parts()?;
    let f = |t: &Tensor| {
        if mean {
            t.mean_dims(dims, keepdim, None)
        } else {
            t.sum_dims(dims, keepdim, None)
        }
    };
    join(&f(&re)?, &f(&im)?)
}

/// cumsum of the parts; cumprod has no complex rule here.
pub fn cumsum(x: &Tensor, dim: i64, prod: bool) -> Result<Tensor> {
    if prod {
        return Err(not_implemented("cumprod", x.dtype()));
    }
    let (re, im) = x.complex_parts()?;
    join(
        &re.cumulative(dim, false, None)?,
        &im.cumulative(dim, false, None)?,
    )
}

/// where(cond, a, b) part by part (a real operand has a zero imaginary part).
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let ct = crate::dtype::promote_types(a.dtype(), b.dtype());
    let rt = ct.to_real();
    let (ar, ai) = parts_as(a, rt)?;
    let (br, bi) = parts_as(b, rt)?;
    let ai = ai.unwrap_or(ar.zeros_like()?);
    let bi = bi.unwrap_or(br.zeros_like()?);
    join(
        &Tensor::where_(cond, &ar, &br)?,
        &Tensor::where_(cond, &ai, &bi)?,
    )
}

/// zeros/full of a complex dtype: (v, 0) pairs.
pub fn full_on(shape: &[usize], v: Scalar, dtype: DType, dev: crate::Device) -> Result<Tensor> {
    let mut s = shape.to_vec();
    s.push(2);
    let r = Tensor::zeros_on(&s, dtype.to_real(), dev)?;
    if v.to_f64() != 0.0 {
        r.select(-1, 0)?.fill_scalar_raw(v)?;
    }
    fresh(r.view_as_complex()?)
}

/// The backend `backend::of` hands out for complex tensors: every kernel
/// refuses them with PyTorch's dispatch error (no kernel reads complex storage
/// as reals through the complex layout).
pub struct ComplexGuard;

fn dt_of(x: &Tensor) -> DType {
    if x.is_complex() {
        x.dtype()
    } else {
        DType::C64
    }
}

fn red_name(op: Red) -> &'static str {
    match op {
        Red::Sum => "sum",
        Red::Prod => "prod",
        Red::Max => "max_all",
        Red::Min => "min_all",
        Red::ArgMax => "argmax",
        Red::ArgMin => "argmin",
        Red::Any => "any",
        Red::All => "all",
    }
}

impl Backend for ComplexGuard {
    fn name(&self) -> &'static str {
        "complex"
    }
    fn cast(&self, x: &Tensor, _dtype: DType) -> Result<Tensor> {
        Err(not_implemented("copy_", dt_of(x)))
    }
    fn copy_into(&self, dst: &Tensor, _src: &Tensor, _accumulate: bool) -> Result<()> {
        Err(not_implemented("copy_", dt_of(dst)))
    }
    fn fill(&self, dst: &Tensor, _v: Scalar) -> Result<()> {
        Err(not_implemented("fill_", dt_of(dst)))
    }
    fn unary(&self, x: &Tensor, op: Unary) -> Result<Tensor> {
        Err(not_implemented(op.name(), dt_of(x)))
    }
    fn binary(
        &self,
        a: &Tensor,
        _b: &Tensor,
        _s: &[usize],
        op: Binary,
        _ct: DType,
    ) -> Result<Tensor> {
        Err(not_implemented(op.name(), dt_of(a)))
    }
    fn matmul(
        &self,
        a: &Tensor,
        _la: &Layout,
        _b: &Tensor,
        _lb: &Layout,
        _nb: usize,
        _out: &[usize],
    ) -> Result<Tensor> {
        Err(not_implemented("matmul", dt_of(a)))
    }
    fn where_(&self, _c: &Tensor, a: &Tensor, _b: &Tensor, _s: &[usize]) -> Result<Tensor> {
        Err(not_implemented("where", dt_of(a)))
    }
    fn clamp(&self, x: &Tensor, _min: Option<f64>, _max: Option<f64>) -> Result<Tensor> {
        Err(not_implemented("clamp", dt_of(x)))
    }
    fn threshold_backward(&self, g: &Tensor, _x: &Tensor) -> Result<Tensor> {
        Err(not_implemented("threshold_backward", dt_of(g)))
    }
    fn reduce(
        &self,
        x: &Tensor,
        _dims: &[usize],
        _shape: &[usize],
        op: Red,
        _out_dt: DType,
    ) -> Result<(Tensor, Option<Tensor>)> {
        Err(not_implemented(red_name(op), dt_of(x)))
    }
    fn var(&self, x: &Tensor, _d: &[usize], _s: &[usize], _c: f64) -> Result<Tensor> {
        Err(not_implemented("var", dt_of(x)))
    }
    fn sort(&self, x: &Tensor, _d: usize, _desc: bool, _k: usize) -> Result<(Tensor, Tensor)> {
        Err(not_implemented("sort", dt_of(x)))
    }
    fn kthvalue(&self, x: &Tensor, _d: usize, _k0: usize) -> Result<(Tensor, Tensor)> {
        Err(not_implemented("kthvalue", dt_of(x)))
    }
    fn median(&self, x: &Tensor, _d: usize, _n: bool) -> Result<(Tensor, Tensor)> {
        Err(not_implemented("median", dt_of(x)))
    }
    fn softmax(&self, x: &Tensor, _d: usize, log: bool) -> Result<Tensor> {
        Err(not_implemented(
            if log { "log_softmax" } else { "softmax" },
            dt_of(x),
        ))
    }
    fn scan(&self, x: &Tensor, _d: usize, prod: bool) -> Result<Tensor> {
        Err(not_implemented(
            if prod { "cumprod" } else { "cumsum" },
            dt_of(x),
        ))
    }
}

pub static GUARD: ComplexGuard = ComplexGuard;

/// Refuse complex operands of an op with no complex rule, before a typed
/// kernel could read their storage.
pub fn refuse(op: &str, ts: &[&Tensor]) -> Result<()> {
    match ts.iter().find(|t| t.is_complex()) {
        Some(t) => Err(not_implemented(op, t.dtype())),
        None => Ok(()),
    }
}

/// Refuse a complex dtype requested from a creation op with no complex rule.
pub fn refuse_dtype(op: &str, dt: DType) -> Result<()> {
    if dt.is_complex() {
        return Err(not_implemented(op, dt));
    }
    Ok(())
}
