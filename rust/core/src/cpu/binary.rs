//! CPU kernels of the binary elementwise ops: arithmetic, comparisons,
//! logical and bitwise, with Python's floor/remainder semantics.

use crate::bail;
use crate::cpu;
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::Layout;
use crate::ops::Binary;
use crate::storage::{CpuData, CpuElement};
use crate::tensor::Tensor;
use num_traits::Float;

#[inline(always)]
fn f<T: Float>(v: f64) -> T {
    T::from(v).unwrap_or_else(T::nan)
}

pub fn float_binary<T: CpuElement + Float>(
    op: Binary,
    a: &CpuData,
    la: &Layout,
    b: &CpuData,
    lb: &Layout,
) -> Result<CpuData> {
    use Binary::*;
    macro_rules! m {
        ($x:ident, $y:ident => $e:expr) => {
            Ok(T::wrap(cpu::map2::<T, T>(a, la, b, lb, |$x: T, $y: T| $e)))
        };
    }
    macro_rules! c {
        ($x:ident, $y:ident => $e:expr) => {
            Ok(CpuData::from(cpu::map2::<T, bool>(
                a,
                la,
                b,
                lb,
                |$x: T, $y: T| $e,
            )))
        };
    }
    match op {
        Add => m!(x, y => x + y),
        Sub => m!(x, y => x - y),
        Mul => m!(x, y => x * y),
        Div => m!(x, y => x / y),
        FloorDiv => m!(x, y => {
            // Python semantics (as PyTorch's div(rounding_mode='floor')).
            if y == T::zero_v() {
                x / y
            } else {
                let r = x % y;
                let mut q = (x - r) / y;
                if r != T::zero_v() && ((r < T::zero_v()) != (y < T::zero_v())) {
                    q = q - T::one_v();
                }
                let fq = q.floor();
                if q - fq > f(0.5) { fq + T::one_v() } else { fq }
            }
        }),
        Remainder => m!(x, y => {
            let r = x % y;
            if r != T::zero_v() && ((r < T::zero_v()) != (y < T::zero_v())) { r + y } else { r }
        }),
        Fmod => m!(x, y => x % y),
        Pow => m!(x, y => x.powf(y)),
        Atan2 => m!(x, y => x.atan2(y)),
        Maximum => {
            m!(x, y => if x.is_nan() || y.is_nan() { T::nan() } else if x > y { x } else { y })
        }
        Minimum => {
            m!(x, y => if x.is_nan() || y.is_nan() { T::nan() } else if x < y { x } else { y })
        }
        Fmax => m!(x, y => x.max(y)),
        Fmin => m!(x, y => x.min(y)),
        Eq => c!(x, y => x == y),
        Ne => c!(x, y => x != y),
        Lt => c!(x, y => x < y),
        Le => c!(x, y => x <= y),
        Gt => c!(x, y => x > y),
        Ge => c!(x, y => x >= y),
        LogicalAnd => c!(x, y => x != T::zero_v() && y != T::zero_v()),
        LogicalOr => c!(x, y => x != T::zero_v() || y != T::zero_v()),
        LogicalXor => c!(x, y => (x != T::zero_v()) != (y != T::zero_v())),
        BitAnd | BitOr | BitXor | Shl | Shr => {
            bail!("\"{}_cpu\" not implemented for '{}'", op.name(), T::DTYPE)
        }
    }
}

/// `dst = dst op alpha * src` in place (see `Backend::binary_into`): `dst`
/// contiguous of dtype T; `src` of dtype T broadcast to dst's shape, or a
/// 0-dim scalar of any dtype (its value converted to T, as the out-of-place
/// op converts a wrapped Python number).
pub fn float_binary_into<T: CpuElement + Float>(
    dst: &Tensor,
    src: &Tensor,
    op: Binary,
    alpha: f64,
) -> Result<bool> {
    let n = dst.numel();
    let al: T = f(alpha);
    match op {
        Binary::Add if alpha == 1.0 => into_with(dst, src, n, move |x: T, y: T| x + y),
        // PyTorch's vectorised add computes fmadd(other, alpha, self).
        Binary::Add => into_with(dst, src, n, move |x: T, y: T| y.mul_add(al, x)),
        Binary::Mul => into_with(dst, src, n, |x: T, y: T| x * y),
        Binary::Div => into_with(dst, src, n, |x: T, y: T| x / y),
        _ => Ok(false),
    }
}

const INTO_CHUNK: usize = 1 << 14;

fn into_with<T: CpuElement + Float>(
    dst: &Tensor,
    src: &Tensor,
    n: usize,
    g: impl Fn(T, T) -> T + Copy + Send + Sync,
) -> Result<bool> {
    use rayon::prelude::*;
    if n == 0 {
        return Ok(true);
    }
    let scalar_of = |d: &CpuData, off: usize| -> T {
        crate::dispatch!(d.dtype(), S => {
            crate::cpu::cast_elem::<S, T>(S::slice(d)[off])
        })
    };
    let ls = src.layout().broadcast_to(dst.shape())?;
    let sg = src.storage().read();
    let sd = sg.cpu();
    if src.dtype() != T::DTYPE {
        if src.numel() != 1 {
            return Ok(false);
        }
        let y = scalar_of(sd, ls.offset);
        drop(sg);
        return into_scalar(dst, n, move |x| g(x, y));
    }
    if ls.strides.iter().all(|&s| s == 0) {
        let y = T::slice(sd)[ls.offset];
        drop(sg);
        return into_scalar(dst, n, move |x| g(x, y));
    }
    let ss = T::slice(sd);
    let mut dg = dst.storage().write();
    let d = &mut T::slice_mut(dg.cpu_mut())[dst.layout().offset..][..n];
    if ls.is_contiguous() {
        let s = &ss[ls.offset..ls.offset + n];
        if cpu::use_par(n) {
            d.par_chunks_mut(INTO_CHUNK)
                .zip(s.par_chunks(INTO_CHUNK))
                .for_each(|(dc, sc)| cpu::simd::map2_inplace(dc, sc, g));
        } else {
            cpu::simd::map2_inplace(d, s, g);
        }
        return Ok(true);
    }
    // Broadcast rows (a bias over a batch, a per-channel scale): one run per
    // row of the last dim, contiguous or constant along it.
    let last = *dst.shape().last().unwrap_or(&1);
    let ls_last = *ls.strides.last().unwrap_or(&0);
    let rows = Layout {
        shape: ls.shape[..ls.shape.len().saturating_sub(1)].to_vec(),
        strides: ls.strides[..ls.strides.len().saturating_sub(1)].to_vec(),
        offset: ls.offset,
    };
    let offs = rows.offsets();
    let row = |(dr, &o): (&mut [T], &usize)| match ls_last {
        0 => {
            let y = ss[o];
            cpu::simd::map1_inplace(dr, move |x| g(x, y));
        }
        1 => cpu::simd::map2_inplace(dr, &ss[o..o + last], g),
        st => {
            for (j, x) in dr.iter_mut().enumerate() {
                *x = g(*x, ss[o + j * st]);
            }
        }
    };
    if cpu::use_par(n) && last > 0 {
        d.par_chunks_mut(last).zip(offs.par_iter()).for_each(row);
    } else if last > 0 {
        d.chunks_mut(last).zip(offs.iter()).for_each(row);
    }
    Ok(true)
}

fn into_scalar<T: CpuElement + Float>(
    dst: &Tensor,
    n: usize,
    g: impl Fn(T) -> T + Copy + Send + Sync,
) -> Result<bool> {
    use rayon::prelude::*;
    let mut dg = dst.storage().write();
    let d = &mut T::slice_mut(dg.cpu_mut())[dst.layout().offset..][..n];
    if cpu::use_par(n) {
        d.par_chunks_mut(INTO_CHUNK)
            .for_each(|dc| cpu::simd::map1_inplace(dc, g));
    } else {
        cpu::simd::map1_inplace(d, g);
    }
    Ok(true)
}

pub trait IntOps:
    CpuElement
    + num_traits::PrimInt
    + num_traits::WrappingAdd
    + num_traits::WrappingSub
    + num_traits::WrappingMul
{
}
impl<
        T: CpuElement
            + num_traits::PrimInt
            + num_traits::WrappingAdd
            + num_traits::WrappingSub
            + num_traits::WrappingMul,
    > IntOps for T
{
}

pub fn int_binary<T: IntOps>(
    op: Binary,
    a: &CpuData,
    la: &Layout,
    b: &CpuData,
    lb: &Layout,
) -> Result<CpuData> {
    use Binary::*;
    macro_rules! m {
        ($x:ident, $y:ident => $e:expr) => {
            Ok(T::wrap(cpu::map2::<T, T>(a, la, b, lb, |$x: T, $y: T| $e)))
        };
    }
    macro_rules! c {
        ($x:ident, $y:ident => $e:expr) => {
            Ok(CpuData::from(cpu::map2::<T, bool>(
                a,
                la,
                b,
                lb,
                |$x: T, $y: T| $e,
            )))
        };
    }
    let signed = T::DTYPE.is_signed();
    if matches!(op, FloorDiv | Remainder | Fmod) {
        let zero = cpu::map1::<T, bool>(b, lb, |y| y == T::zero_v())
            .into_iter()
            .any(|z| z);
        if zero {
            bail!("ZeroDivisionError");
        }
    }
    match op {
        Add => m!(x, y => x.wrapping_add(&y)),
        Sub => m!(x, y => x.wrapping_sub(&y)),
        Mul => m!(x, y => x.wrapping_mul(&y)),
        FloorDiv => m!(x, y => {
            // MIN / -1 wraps, as PyTorch's integer division does.
            let m1 = signed && y == T::zero_v().wrapping_sub(&T::one_v());
            let (q, r) = if m1 { (T::zero_v().wrapping_sub(&x), T::zero_v()) } else { (x / y, x % y) };
            if signed && (r != T::zero_v()) && ((x < T::zero_v()) != (y < T::zero_v())) { q - T::one_v() } else { q }
        }),
        Remainder => m!(x, y => {
            let m1 = signed && y == T::zero_v().wrapping_sub(&T::one_v());
            let r = if m1 { T::zero_v() } else { x % y };
            if signed && r != T::zero_v() && ((r < T::zero_v()) != (y < T::zero_v())) { r + y } else { r }
        }),
        Fmod => {
            m!(x, y => if signed && y == T::zero_v().wrapping_sub(&T::one_v()) { T::zero_v() } else { x % y })
        }
        Pow => {
            let neg = signed
                && cpu::map1::<T, bool>(b, lb, |y| y < T::zero_v())
                    .into_iter()
                    .any(|z| z);
            if neg {
                bail!("Integers to negative integer powers are not allowed.");
            }
            m!(x, y => {
                let mut r = T::one_v();
                let mut base = x;
                let mut e = y.to_u64().unwrap_or(0);
                while e > 0 {
                    if e & 1 == 1 { r = r.wrapping_mul(&base); }
                    base = base.wrapping_mul(&base);
                    e >>= 1;
                }
                r
            })
        }
        Maximum | Fmax => m!(x, y => if x > y { x } else { y }),
        Minimum | Fmin => m!(x, y => if x < y { x } else { y }),
        BitAnd => m!(x, y => x & y),
        BitOr => m!(x, y => x | y),
        BitXor => m!(x, y => x ^ y),
        // PyTorch's rule for a shift by a negative amount or by the bit width
        // or more: << gives 0, >> keeps only the sign (0, or -1 for a negative
        // value); never the shift modulo the width.
        Shl => {
            let bits = 8 * std::mem::size_of::<T>() as i64;
            m!(x, y => {
                let s = y.to_i64();
                if (0..bits).contains(&s) { x.unsigned_shl(s as u32) } else { T::zero_v() }
            })
        }
        Shr => {
            let bits = 8 * std::mem::size_of::<T>() as i64;
            m!(x, y => {
                let s = y.to_i64();
                if !(0..bits).contains(&s) {
                    if x < T::zero_v() { x.signed_shr(bits as u32 - 1) } else { T::zero_v() }
                } else if signed {
                    x.signed_shr(s as u32)
                } else {
                    // An unsigned value shifts in zeros (signed_shr would copy its top bit).
                    x.unsigned_shr(s as u32)
                }
            })
        }
        Eq => c!(x, y => x == y),
        Ne => c!(x, y => x != y),
        Lt => c!(x, y => x < y),
        Le => c!(x, y => x <= y),
        Gt => c!(x, y => x > y),
        Ge => c!(x, y => x >= y),
        LogicalAnd => c!(x, y => x != T::zero_v() && y != T::zero_v()),
        LogicalOr => c!(x, y => x != T::zero_v() || y != T::zero_v()),
        LogicalXor => c!(x, y => (x != T::zero_v()) != (y != T::zero_v())),
        Div | Atan2 => unreachable!(),
    }
}

pub fn bool_binary(
    op: Binary,
    a: &CpuData,
    la: &Layout,
    b: &CpuData,
    lb: &Layout,
) -> Result<CpuData> {
    use Binary::*;
    let r = |f: fn(bool, bool) -> bool| Ok(CpuData::from(cpu::map2::<bool, bool>(a, la, b, lb, f)));
    match op {
        Add | BitOr | LogicalOr | Maximum | Fmax => r(|x, y| x | y),
        Mul | BitAnd | LogicalAnd | Minimum | Fmin => r(|x, y| x & y),
        BitXor | LogicalXor | Ne => r(|x, y| x ^ y),
        Eq => r(|x, y| x == y),
        Lt => r(|x, y| !x & y),
        Le => r(|x, y| x <= y),
        Gt => r(|x, y| x & !y),
        Ge => r(|x, y| x >= y),
        Sub => bail!("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead."),
        _ => {
            // Integer semantics for the rest (pow, remainder, floor_divide, shifts).
            let a2 = cpu::cast(a, la, DType::U8);
            let b2 = cpu::cast(b, lb, DType::U8);
            let l = Layout::contiguous(&la.shape);
            int_binary::<u8>(op, &a2, &l, &b2, &l)
        }
    }
}
