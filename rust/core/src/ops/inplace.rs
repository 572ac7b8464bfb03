//! In-place ops: compute out of place, write back into self's storage, bump
//! the version counter and move self's autograd history onto the result.

use crate::autograd::grad_enabled;
use crate::bail;
use crate::dtype::{promote_types, DType, Scalar};
use crate::error::Result;
use crate::ops::Binary;
use crate::tensor::Tensor;

fn can_cast(from: DType, to: DType) -> bool {
    // PyTorch: no float -> integral, no non-bool -> bool in in-place results.
    let float_to_int = from.is_float() && !to.is_float();
    let to_bool = from != DType::Bool && to == DType::Bool;
    !float_to_int && !to_bool
}

impl Tensor {
    pub fn check_inplace(&self, op: &str) -> Result<()> {
        if grad_enabled() && self.requires_grad() && self.is_leaf() {
            bail!(
                "a leaf Variable that requires grad is being used in an in-place operation. ({op})"
            );
        }
        Ok(())
    }

    /// Run `f` on self (out of place), then store the result into self.
    pub fn apply_inplace(&self, op: &str, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<()> {
        self.check_inplace(op)?;
        let recording = grad_enabled();
        // Saved tensors of the new node must not alias the storage we overwrite.
        let src = if recording && self.requires_grad() {
            self.clone_t()?
        } else {
            self.clone()
        };
        let result = f(&src)?;
        if result.dtype() != self.dtype() && !can_cast(result.dtype(), self.dtype()) {
            bail!(
                "result type {} can't be cast to the desired output type {}",
                cap(result.dtype()),
                cap(self.dtype())
            );
        }
        if result.shape() != self.shape()
            && crate::layout::broadcast_shapes(result.shape(), self.shape()).as_deref()
                != Some(self.shape())
        {
            {
                bail!(
                    "output with shape {:?} doesn't match the broadcast shape {:?}",
                    self.shape(),
                    crate::layout::broadcast_shapes(result.shape(), self.shape())
                        .unwrap_or_default()
                );
            }
        }
        let needs_history = recording && result.requires_grad();
        if needs_history && self.meta().is_view {
            // Replay the write on the view's base so autograd records it there.
            let base = self.meta().base.clone();
            match base {
                // (a complex view of a real base, view_as_complex, cannot replay there)
                Some(root)
                    if root.is_contiguous()
                        && root.layout().offset == 0
                        && root.dtype() == self.dtype() =>
                {
                    let lv = self.layout().clone();
                    let vf: crate::ops::shape::ViewFn =
                        std::sync::Arc::new(move |t: &Tensor| t.contiguous()?.as_strided(&lv.shape, &lv.strides, lv.offset));
                    let value = if result.dtype() != self.dtype() { result.to_dtype(self.dtype())? } else { result };
                    let value = value.expand(self.shape())?;
                    root.setitem_view(vf.clone(), &value)?;
                    let nv = vf(&root)?;
                    let (gf, nr) = {
                        let m = nv.meta();
                        (m.grad_fn.clone(), m.output_nr)
                    };
                    let mut m = self.meta();
                    m.requires_grad = true;
                    m.grad_fn = gf;
                    m.output_nr = nr;
                    return Ok(());
                }
                _ => bail!(
                    "{op}: in-place operation on a view whose base is not a plain contiguous tensor, with autograd recording, is not supported by ember; use the out-of-place form"
                ),
            }
        }
        self.copy_raw_from(&result.detach(), false)?;
        if needs_history && (self.dtype().is_float() || self.dtype().is_complex()) {
            let result = if result.dtype() != self.dtype() {
                result.to_dtype(self.dtype())?
            } else {
                result
            };
            let result = if result.shape() != self.shape() {
                result.expand(self.shape())?
            } else {
                result
            };
            let (gf, nr) = {
                let m = result.meta();
                (m.grad_fn.clone(), m.output_nr)
            };
            let mut m = self.meta();
            m.requires_grad = true;
            m.grad_fn = gf;
            m.output_nr = nr;
        }
        Ok(())
    }

    /// `self op= alpha * other` for add_/sub_ (with `alpha`), mul_, div_ and
    /// the `+=` family. Where nothing is recorded for autograd and the dtypes
    /// agree, the backend writes into self's memory in one pass (the
    /// optimizer and normalisation updates of every training step);
    /// otherwise the result is computed out of place and stored back.
    pub fn binary_(
        &self,
        other: &Tensor,
        op: Binary,
        alpha: Option<Scalar>,
        name: &str,
    ) -> Result<()> {
        let a = alpha.map_or(1.0, |a| a.to_f64());
        let (kop, ka) = if op == Binary::Sub {
            (Binary::Add, -a)
        } else {
            (op, a)
        };
        let scalar_ok =
            crate::tensor::is_wrapped(other) && matches!(other.dtype(), DType::F64 | DType::I64);
        let fast = matches!(kop, Binary::Add | Binary::Mul | Binary::Div)
            && (ka == 1.0 || kop == Binary::Add)
            && matches!(self.dtype(), DType::F32 | DType::F64)
            && (other.dtype() == self.dtype() || scalar_ok)
            && (other.device() == self.device() || scalar_ok)
            && !(grad_enabled() && (self.requires_grad() || other.requires_grad()))
            && !self.same_storage(other)
            && crate::layout::broadcast_shapes(other.shape(), self.shape()).as_deref()
                == Some(self.shape());
        if fast && crate::backend::of(self).binary_into(self, other, kop, ka)? {
            self.storage().bump_version();
            return Ok(());
        }
        let b = match alpha {
            Some(al) if a != 1.0 => {
                let dt = match al {
                    Scalar::Float(_) => DType::F64,
                    Scalar::Int(_) => DType::I64,
                    Scalar::Bool(_) => DType::Bool,
                };
                other.binary(&Tensor::wrapped_scalar(al, dt), Binary::Mul)?
            }
            _ => other.clone(),
        };
        self.apply_inplace(name, |s| s.binary(&b, op))
    }

    /// `self += other` without autograd (gradient accumulation, optimizers).
    pub fn add_inplace_raw(&self, other: &Tensor) -> Result<()> {
        let r = crate::autograd::no_grad(|| self.add(other))?;
        self.copy_raw_from(&r, false)
    }

    /// copy_(src): broadcast + cast into self; gradient flows to src.
    pub fn copy_(&self, src: &Tensor) -> Result<()> {
        if crate::layout::broadcast_shapes(src.shape(), self.shape()).as_deref()
            != Some(self.shape())
        {
            bail!(
                "copy_: the size of src {:?} must be broadcastable to the size of self {:?}",
                src.shape(),
                self.shape()
            );
        }
        if !(grad_enabled() && (self.requires_grad() || src.requires_grad()))
            && !self.dtype().is_complex()
            && !src.dtype().is_complex()
        {
            // Nothing to record: one write through self's layout (a parameter
            // update, a buffer refresh), no out-of-place copy first.
            return self.copy_raw_from(src, false);
        }
        let dt = self.dtype();
        let shape = self.shape().to_vec();
        self.apply_inplace("copy_", |old| {
            let s = if src.dtype() != dt {
                src.to_dtype(dt)?
            } else {
                src.clone()
            };
            let s = s.expand(&shape)?;
            let out = s.clone_data()?;
            if crate::autograd::any_requires_grad(&[old, &s]) {
                crate::autograd::record(
                    "CopyBackwards",
                    &[&out],
                    &[old, &s],
                    vec![],
                    |c: &crate::autograd::BackCtx| {
                        let g = c.grad(0)?;
                        Ok(vec![Some(g.zeros_like()?), Some(g.clone())])
                    },
                );
            }
            Ok(out)
        })
    }
}

fn cap(d: DType) -> String {
    let n = match d {
        DType::F32 => "Float",
        DType::F64 => "Double",
        DType::F16 => "Half",
        DType::BF16 => "BFloat16",
        DType::I64 => "Long",
        DType::I32 => "Int",
        DType::I16 => "Short",
        DType::I8 => "Char",
        DType::U8 => "Byte",
        DType::Bool => "Bool",
        DType::C64 | DType::C128 => d.scalar_type_name(),
    };
    let _ = promote_types;
    n.to_string()
}
