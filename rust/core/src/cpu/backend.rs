//! `Backend` for host memory: glue from the kernel contracts of
//! `crate::backend` to the kernels of this folder.

use crate::backend::{Backend, Red};
use crate::dtype::{DType, Element, Scalar};
use crate::error::Result;
use crate::layout::Layout;
use crate::ops::{Binary, Unary};
use crate::storage::{CpuData, CpuElement};
use crate::tensor::Tensor;
use crate::{dispatch, dispatch_float};

pub struct Cpu;

pub static CPU: Cpu = Cpu;

impl Backend for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn cast(&self, x: &Tensor, dtype: DType) -> Result<Tensor> {
        let data = x.with_cpu(|d, l| super::cast(d, l, dtype))?;
        Ok(Tensor::from_cpu(data, x.shape()))
    }

    fn copy_into(&self, dst: &Tensor, src: &Tensor, accumulate: bool) -> Result<()> {
        let src = if src.is_gpu() {
            src.host()?
        } else {
            src.clone()
        };
        let src = if dst.same_storage(&src) {
            src.clone_data()?
        } else {
            src
        };
        let l = src.layout().broadcast_to(dst.shape())?;
        let sg = src.storage().read();
        let mut dg = dst.storage().write();
        if accumulate {
            let dl = dst.layout().clone();
            let dt = dst.dtype();
            crate::dispatch!(dt, T => {
                let tmp = super::cast(sg.cpu(), &l, dt);
                let t = <T as crate::storage::CpuElement>::slice(&tmp);
                let d = <T as crate::storage::CpuElement>::slice_mut(dg.cpu_mut());
                let mut k = 0;
                crate::layout::for_each_offset(&dl, |o| {
                    d[o] = add_any(d[o], t[k]);
                    k += 1;
                });
            });
        } else {
            super::copy_into(dg.cpu_mut(), dst.layout(), sg.cpu(), &l);
        }
        Ok(())
    }

    fn binary_into(&self, dst: &Tensor, src: &Tensor, op: Binary, alpha: f64) -> Result<bool> {
        if !dst.is_contiguous() || src.is_gpu() {
            return Ok(false);
        }
        match dst.dtype() {
            DType::F32 => super::binary::float_binary_into::<f32>(dst, src, op, alpha),
            DType::F64 => super::binary::float_binary_into::<f64>(dst, src, op, alpha),
            _ => Ok(false),
        }
    }

    fn fill(&self, dst: &Tensor, v: Scalar) -> Result<()> {
        let mut g = dst.storage().write();
        super::fill(g.cpu_mut(), dst.layout(), v);
        Ok(())
    }

    fn unary(&self, x: &Tensor, op: Unary) -> Result<Tensor> {
        let dt = x.dtype();
        if op == Unary::LogicalNot {
            let v = dispatch!(dt, T => x.with_cpu(|d, l| super::map1::<T, bool>(d, l, |v| v == T::zero_v()))?);
            return Ok(Tensor::from_vec(v, x.shape()));
        }
        let data = match dt {
            DType::Bool => {
                CpuData::from(x.with_cpu(|d, l| super::map1::<bool, bool>(d, l, |v| !v))?)
            }
            DType::U8 => {
                CpuData::from(x.with_cpu(|d, l| super::unary::int_unary::<u8>(op, d, l))??)
            }
            DType::I8 => {
                CpuData::from(x.with_cpu(|d, l| super::unary::int_unary::<i8>(op, d, l))??)
            }
            DType::I16 => {
                CpuData::from(x.with_cpu(|d, l| super::unary::int_unary::<i16>(op, d, l))??)
            }
            DType::I32 => {
                CpuData::from(x.with_cpu(|d, l| super::unary::int_unary::<i32>(op, d, l))??)
            }
            DType::I64 => {
                CpuData::from(x.with_cpu(|d, l| super::unary::int_unary::<i64>(op, d, l))??)
            }
            _ => {
                dispatch_float!(dt, T => T::wrap(x.with_cpu(|d, l| super::unary::float_unary::<T>(op, d, l))??), unreachable!())
            }
        };
        Ok(Tensor::from_cpu(data, x.shape()))
    }

    fn binary(
        &self,
        a: &Tensor,
        b: &Tensor,
        shape: &[usize],
        op: Binary,
        ct: DType,
    ) -> Result<Tensor> {
        let la = a.layout().broadcast_to(shape)?;
        let lb = b.layout().broadcast_to(shape)?;
        let ga = a.storage().read();
        let gb = b.storage().read();
        let (da, db) = (ga.cpu(), gb.cpu());
        let data = match ct {
            DType::Bool => super::binary::bool_binary(op, da, &la, db, &lb)?,
            DType::U8 => super::binary::int_binary::<u8>(op, da, &la, db, &lb)?,
            DType::I8 => super::binary::int_binary::<i8>(op, da, &la, db, &lb)?,
            DType::I16 => super::binary::int_binary::<i16>(op, da, &la, db, &lb)?,
            DType::I32 => super::binary::int_binary::<i32>(op, da, &la, db, &lb)?,
            DType::I64 => super::binary::int_binary::<i64>(op, da, &la, db, &lb)?,
            DType::F16 | DType::BF16 => {
                // Compute in float32, round once to the half type.
                let a32 = super::cast(da, &la, DType::F32);
                let b32 = super::cast(db, &lb, DType::F32);
                let l = Layout::contiguous(shape);
                let r = super::binary::float_binary::<f32>(op, &a32, &l, &b32, &l)?;
                if r.dtype() == DType::Bool {
                    r
                } else {
                    super::cast(&r, &l, ct)
                }
            }
            DType::F32 => super::binary::float_binary::<f32>(op, da, &la, db, &lb)?,
            DType::F64 => super::binary::float_binary::<f64>(op, da, &la, db, &lb)?,
            DType::C64 | DType::C128 => {
                return Err(crate::ops::complex::not_implemented(op.name(), ct))
            }
        };
        Ok(Tensor::from_cpu(data, shape))
    }

    fn matmul(
        &self,
        a: &Tensor,
        la: &Layout,
        b: &Tensor,
        lb: &Layout,
        nb: usize,
        out_shape: &[usize],
    ) -> Result<Tensor> {
        super::gemm::matmul(a, la, b, lb, nb, out_shape)
    }

    fn where_(&self, cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        let lc = cond.layout().broadcast_to(shape)?;
        let la = a.layout().broadcast_to(shape)?;
        let lb = b.layout().broadcast_to(shape)?;
        let (gc, ga, gb) = (
            cond.storage().read(),
            a.storage().read(),
            b.storage().read(),
        );
        let data = dispatch!(a.dtype(), T => T::wrap(super::map3::<bool, T, T>(gc.cpu(), &lc, ga.cpu(), &la, gb.cpu(), &lb, |c, x, y| if c { x } else { y })));
        Ok(Tensor::from_cpu(data, shape))
    }

    fn clamp(&self, x: &Tensor, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        let dt = x.dtype();
        let data = if dt.is_float() {
            dispatch_float!(dt, T => {
                let lo = min.map(|v| T::from_f64(v));
                let hi = max.map(|v| T::from_f64(v));
                T::wrap(x.with_cpu(|d, l| super::map1::<T, T>(d, l, |x| {
                    if x.is_nan() { return x; }
                    let mut y = x;
                    if let Some(lo) = lo { if y < lo { y = lo; } }
                    if let Some(hi) = hi { if y > hi { y = hi; } }
                    y
                }))?)
            }, unreachable!())
        } else {
            dispatch!(dt, T => {
                let lo = min.map(|v| T::from_f64(v));
                let hi = max.map(|v| T::from_f64(v));
                T::wrap(x.with_cpu(|d, l| super::map1::<T, T>(d, l, |x| {
                    let mut y = x;
                    if let Some(lo) = lo { if y < lo { y = lo; } }
                    if let Some(hi) = hi { if y > hi { y = hi; } }
                    y
                }))?)
            })
        };
        Ok(Tensor::from_cpu(data, x.shape()))
    }

    fn threshold_backward(&self, g: &Tensor, x: &Tensor) -> Result<Tensor> {
        let (gg, gx) = (g.storage().read(), x.storage().read());
        let data = dispatch_float!(g.dtype(), T => T::wrap(super::map2::<T, T>(
        gg.cpu(),
        g.layout(),
        gx.cpu(),
        x.layout(),
        // Zero where x <= 0; a NaN input passes its gradient (PyTorch).
        |g, x| if x <= T::zero_v() { T::zero_v() } else { g },
    )), unreachable!());
        Ok(Tensor::from_cpu(data, g.shape()))
    }

    fn reduce(
        &self,
        x: &Tensor,
        dims: &[usize],
        shape: &[usize],
        op: Red,
        out_dt: DType,
    ) -> Result<(Tensor, Option<Tensor>)> {
        super::reduce::reduce(x, dims, shape, op, out_dt)
    }

    fn var(&self, x: &Tensor, dims: &[usize], shape: &[usize], correction: f64) -> Result<Tensor> {
        super::reduce::var(x, dims, shape, correction)
    }

    fn sort(&self, x: &Tensor, dim: usize, descending: bool, k: usize) -> Result<(Tensor, Tensor)> {
        super::sort::sort(x, dim, descending, k)
    }

    fn kthvalue(&self, x: &Tensor, dim: usize, k0: usize) -> Result<(Tensor, Tensor)> {
        super::sort::kthvalue(x, dim, k0)
    }

    fn median(&self, x: &Tensor, dim: usize, ignore_nan: bool) -> Result<(Tensor, Tensor)> {
        super::sort::median(x, dim, ignore_nan)
    }

    fn softmax(&self, x: &Tensor, dim: usize, log: bool) -> Result<Tensor> {
        super::softmax::softmax(x, dim, log)
    }

    fn scan(&self, x: &Tensor, dim: usize, prod: bool) -> Result<Tensor> {
        super::reduce::scan(x, dim, prod)
    }

    fn index_select(&self, x: &Tensor, dim: usize, idx: &[usize]) -> Result<Option<Tensor>> {
        if !x.is_contiguous() {
            return Ok(None);
        }
        super::index::index_select(x, dim, idx).map(Some)
    }

    fn index_add(
        &self,
        x: &Tensor,
        dim: usize,
        idx: &[usize],
        src: &Tensor,
    ) -> Result<Option<Tensor>> {
        let fits = matches!(x.dtype(), DType::F32 | DType::F64)
            && src.dtype() == x.dtype()
            && !src.is_gpu()
            && src.ndim() == x.ndim()
            && (0..x.ndim()).all(|q| q == dim || src.shape()[q] == x.shape()[q]);
        if !fits {
            return Ok(None);
        }
        // The row kernel reads src contiguous; a gradient often arrives
        // expanded (the backward of `sum`), so materialise it first.
        let src = if src.is_contiguous() {
            src.clone()
        } else {
            src.contiguous()?
        };
        super::index::index_add(x, dim, idx, &src).map(Some)
    }
}

#[inline(always)]
fn add_any<T: crate::dtype::Element>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() + b.to_f64())
    } else if T::DTYPE == DType::Bool {
        T::from_i64(((a.to_i64() != 0) || (b.to_i64() != 0)) as i64)
    } else {
        T::from_i64(a.to_i64().wrapping_add(b.to_i64()))
    }
}
