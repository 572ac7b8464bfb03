//! Op semantics of the dense factorizations behind `ember.linalg` (kernels in
//! cpu/linalg.rs on the `faer` crate): PyTorch's shape and dtype checks and
//! error wording, batching, and the GPU host fallback.
//!
//! These ops do not record autograd: the Python layer wraps them in
//! `ember.autograd.Function`s carrying PyTorch's backward formulas, written in
//! ember ops so they run on both devices. Singular / not positive-definite
//! inputs are reported through LAPACK-style `info` tensors (int32) and turned
//! into `LinAlgError`s by the Python layer, as PyTorch's `*_ex` functions do.
//! On the "gpu" device every op copies its operands to the host, factorizes
//! there and copies the results back (counted by `ember.gpu.fallbacks()`).

use crate::cpu::linalg as k;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::device::host_fallback_n;
use crate::tensor::Tensor;
use crate::{bail, rt_err};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// PyTorch's short dtype name in linalg error messages ("Long", "Half").
fn torch_type(dt: DType) -> &'static str {
    match dt {
        DType::Bool => "Bool",
        DType::U8 => "Byte",
        DType::I8 => "Char",
        DType::I16 => "Short",
        DType::I32 => "Int",
        DType::I64 => "Long",
        DType::F16 => "Half",
        DType::BF16 => "BFloat16",
        DType::F32 => "Float",
        DType::F64 => "Double",
        DType::C64 | DType::C128 => dt.scalar_type_name(),
    }
}

/// float32/float64 only, as PyTorch's LAPACK-backed ops.
fn check_dtype(a: &Tensor, op: &str) -> Result<()> {
    match a.dtype() {
        DType::F32 | DType::F64 => Ok(()),
        DType::F16 | DType::BF16 => Err(Error::NotImplemented(format!(
            "{op}: Low precision dtypes not supported. Got {}",
            torch_type(a.dtype())
        ))),
        dt => Err(Error::NotImplemented(format!(
            "{op}: Expected a floating point or complex tensor as input. Got {}",
            torch_type(dt)
        ))),
    }
}

fn check_matrix(a: &Tensor, op: &str, name: &str) -> Result<(usize, usize)> {
    if a.ndim() < 2 {
        bail!("{op}: The input tensor {name} must have at least 2 dimensions.");
    }
    let s = a.shape();
    Ok((s[s.len() - 2], s[s.len() - 1]))
}

fn check_square(a: &Tensor, op: &str) -> Result<usize> {
    let (m, n) = check_matrix(a, op, "A")?;
    if m != n {
        bail!("{op}: A must be batches of square matrices, but they are {m} by {n} matrices");
    }
    Ok(n)
}

/// Batch shape (all but the last two dims) and its element count.
fn batch_of(a: &Tensor) -> (Vec<usize>, usize) {
    let s = &a.shape()[..a.ndim() - 2];
    (s.to_vec(), s.iter().product())
}

fn with_tail(batch: &[usize], tail: &[usize]) -> Vec<usize> {
    let mut s = batch.to_vec();
    s.extend_from_slice(tail);
    s
}

/// Run a kernel, turning a panic inside faer into a RuntimeError.
fn guarded<R>(op: &str, f: impl FnOnce() -> R) -> Result<R> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|_| rt_err!("{op}: internal error in the faer factorization"))
}

/// f32/f64 dispatch: `T` is bound to the element type of `dt`.
macro_rules! float2 {
    ($dt:expr, $T:ident => $body:expr) => {{
        match $dt {
            DType::F32 => {
                type $T = f32;
                $body
            }
            _ => {
                type $T = f64;
                $body
            }
        }
    }};
}

/// torch.linalg.lu_factor_ex plus the row permutation: (LU, pivots int32,
/// perm int64 with A = P L U and P[perm[i], i] = 1, info int32).
pub fn lu_factor_ex(a: &Tensor) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
    let op = "torch.linalg.lu_factor_ex";
    check_matrix(a, op, "A")?;
    check_dtype(a, op)?;
    let mut r = host_fallback_n("linalg_lu_factor", &[a], |h| {
        let a = &h[0];
        let (m, n) = check_matrix(a, op, "A")?;
        let (batch, nb) = batch_of(a);
        let kk = m.min(n);
        float2!(a.dtype(), T => {
            let data = a.to_vec::<T>()?;
            let (lu, piv, perm, info) = guarded(op, || k::lu_factor::<T>(&data, nb, m, n))?;
            Ok(vec![
                Tensor::from_vec(lu, &with_tail(&batch, &[m, n])),
                Tensor::from_vec(piv, &with_tail(&batch, &[kk])),
                Tensor::from_vec(perm, &with_tail(&batch, &[m])),
                Tensor::from_vec(info, &batch),
            ])
        })
    })?;
    let info = r.pop().ok_or_else(|| rt_err!("{op}: missing output"))?;
    let perm = r.pop().ok_or_else(|| rt_err!("{op}: missing output"))?;
    let piv = r.pop().ok_or_else(|| rt_err!("{op}: missing output"))?;
    let lu = r.pop().ok_or_else(|| rt_err!("{op}: missing output"))?;
    Ok((lu, piv, perm, info))
}

fn two(mut r: Vec<Tensor>, op: &str) -> Result<(Tensor, Tensor)> {
    let b = r.pop().ok_or_else(|| rt_err!("{op}: missing output"))?;
    let a = r.pop().ok_or_else(|| rt_err!("{op}: missing output"))?;
    Ok((a, b))
}

fn three(mut r: Vec<Tensor>, op: &str) -> Result<(Tensor, Tensor, Tensor)> {
    let c = r.pop().ok_or_else(|| rt_err!("{op}: missing output"))?;
    let (a, b) = two(r, op)?;
    Ok((a, b, c))
}

/// torch.linalg.inv_ex: (inverse, info).
pub fn inv_ex(a: &Tensor) -> Result<(Tensor, Tensor)> {
    let op = "linalg.inv";
    check_matrix(a, op, "A")?;
    check_square(a, op)?;
    check_dtype(a, op)?;
    let r = host_fallback_n("linalg_inv", &[a], |h| {
        let a = &h[0];
        let n = check_square(a, op)?;
        let (batch, nb) = batch_of(a);
        float2!(a.dtype(), T => {
            let data = a.to_vec::<T>()?;
            let (x, info) = guarded(op, || k::inv::<T>(&data, nb, n))?;
            Ok(vec![
                Tensor::from_vec(x, &with_tail(&batch, &[n, n])),
                Tensor::from_vec(info, &batch),
            ])
        })
    })?;
    two(r, op)
}

/// (sign, log|det|, det) of square matrices; `op` names the caller in errors.
pub fn slogdet_det(a: &Tensor, op: &str) -> Result<(Tensor, Tensor, Tensor)> {
    check_matrix(a, op, "A")?;
    check_square(a, op)?;
    check_dtype(a, op)?;
    let r = host_fallback_n("linalg_det", &[a], |h| {
        let a = &h[0];
        let n = check_square(a, op)?;
        let (batch, nb) = batch_of(a);
        float2!(a.dtype(), T => {
            let data = a.to_vec::<T>()?;
            let (s, l, d) = guarded(op, || k::det::<T>(&data, nb, n))?;
            Ok(vec![
                Tensor::from_vec(s, &batch),
                Tensor::from_vec(l, &batch),
                Tensor::from_vec(d, &batch),
            ])
        })
    })?;
    three(r, op)
}

fn check_same_dtype(a: &Tensor, b: &Tensor, op: &str) -> Result<()> {
    if a.dtype() != b.dtype() {
        bail!(
            "{op}: Expected A and B to have the same dtype, but found A of type {} and B of type {} instead",
            torch_type(a.dtype()),
            torch_type(b.dtype())
        );
    }
    Ok(())
}

/// Shapes for A X = B with A (*, n, n) and B (*, n, k) of the same batch.
fn check_system(a: &Tensor, b: &Tensor, op: &str) -> Result<(usize, usize)> {
    let n = check_square(a, op)?;
    let (bn, kk) = check_matrix(b, op, "B")?;
    if bn != n {
        bail!(
            "{op}: Incompatible shapes of A and B for the equation AX = B ({n}x{n} and {bn}x{kk})"
        );
    }
    if a.shape()[..a.ndim() - 2] != b.shape()[..b.ndim() - 2] {
        bail!(
            "{op}: A and B must have the same batch shape (broadcast them first), got {:?} and {:?}",
            a.shape(),
            b.shape()
        );
    }
    Ok((n, kk))
}

/// torch.linalg.solve_ex for B a matrix with A's batch shape: (X, info).
pub fn solve_ex(a: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor)> {
    let op = "linalg.solve";
    check_matrix(a, op, "A")?;
    check_dtype(a, op)?;
    check_same_dtype(a, b, op)?;
    check_system(a, b, op)?;
    let r = host_fallback_n("linalg_solve", &[a, b], |h| {
        let (a, b) = (&h[0], &h[1]);
        let (n, kk) = check_system(a, b, op)?;
        let (batch, nb) = batch_of(a);
        float2!(a.dtype(), T => {
            let (da, db) = (a.to_vec::<T>()?, b.to_vec::<T>()?);
            let (x, info) = guarded(op, || k::solve::<T>(&da, &db, nb, n, kk))?;
            Ok(vec![
                Tensor::from_vec(x, &with_tail(&batch, &[n, kk])),
                Tensor::from_vec(info, &batch),
            ])
        })
    })?;
    two(r, op)
}

/// torch.linalg.solve_triangular with left=True, B of A's batch shape.
pub fn solve_triangular(a: &Tensor, b: &Tensor, upper: bool, unit: bool) -> Result<Tensor> {
    let op = "linalg.solve_triangular";
    check_matrix(a, op, "A")?;
    check_matrix(b, op, "B")?;
    check_dtype(a, op)?;
    check_same_dtype(a, b, op)?;
    check_system(a, b, op)?;
    let mut r = host_fallback_n("linalg_solve_triangular", &[a, b], |h| {
        let (a, b) = (&h[0], &h[1]);
        let (n, kk) = check_system(a, b, op)?;
        let (batch, nb) = batch_of(a);
        float2!(a.dtype(), T => {
            let (da, db) = (a.to_vec::<T>()?, b.to_vec::<T>()?);
            let x = guarded(op, || k::solve_triangular::<T>(&da, &db, nb, n, kk, upper, unit))?;
            Ok(vec![Tensor::from_vec(x, &with_tail(&batch, &[n, kk]))])
        })
    })?;
    r.pop().ok_or_else(|| rt_err!("{op}: missing output"))
}

/// torch.linalg.cholesky_ex: (L or U, info).
pub fn cholesky_ex(a: &Tensor, upper: bool) -> Result<(Tensor, Tensor)> {
    let op = "linalg.cholesky";
    check_matrix(a, op, "A")?;
    check_square(a, op)?;
    check_dtype(a, op)?;
    let r = host_fallback_n("linalg_cholesky", &[a], |h| {
        let a = &h[0];
        let n = check_square(a, op)?;
        let (batch, nb) = batch_of(a);
        float2!(a.dtype(), T => {
            let data = a.to_vec::<T>()?;
            let (l, info) = guarded(op, || k::cholesky::<T>(&data, nb, n, upper))?;
            Ok(vec![
                Tensor::from_vec(l, &with_tail(&batch, &[n, n])),
                Tensor::from_vec(info, &batch),
            ])
        })
    })?;
    two(r, op)
}

/// torch.linalg.qr: (Q, R); Q is an empty 1-d tensor in mode "r".
pub fn qr(a: &Tensor, mode: &str) -> Result<(Tensor, Tensor)> {
    let op = "linalg.qr";
    let md = match mode {
        "reduced" => k::QrMode::Reduced,
        "complete" => k::QrMode::Complete,
        "r" => k::QrMode::R,
        _ => bail!(
            "qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or 'complete'"
        ),
    };
    check_matrix(a, op, "A")?;
    check_dtype(a, op)?;
    let r = host_fallback_n("linalg_qr", &[a], |h| {
        let a = &h[0];
        let (m, n) = check_matrix(a, op, "A")?;
        let (batch, nb) = batch_of(a);
        let kk = m.min(n);
        let (qs, rs) = match md {
            k::QrMode::Reduced => (with_tail(&batch, &[m, kk]), with_tail(&batch, &[kk, n])),
            k::QrMode::Complete => (with_tail(&batch, &[m, m]), with_tail(&batch, &[m, n])),
            k::QrMode::R => (vec![0], with_tail(&batch, &[kk, n])),
        };
        float2!(a.dtype(), T => {
            let data = a.to_vec::<T>()?;
            let (q, r) = guarded(op, || k::qr::<T>(&data, nb, m, n, md))?;
            Ok(vec![Tensor::from_vec(q, &qs), Tensor::from_vec(r, &rs)])
        })
    })?;
    two(r, op)
}

/// torch.linalg.svd: (U, S, Vh); U and Vh are empty when `compute_uv` is false.
pub fn svd(a: &Tensor, full_matrices: bool, compute_uv: bool) -> Result<(Tensor, Tensor, Tensor)> {
    let op = "linalg.svd";
    check_matrix(a, op, "A")?;
    check_dtype(a, op)?;
    let r = host_fallback_n("linalg_svd", &[a], |h| {
        let a = &h[0];
        let (m, n) = check_matrix(a, op, "A")?;
        let (batch, nb) = batch_of(a);
        let kk = m.min(n);
        let (us, vs) = if !compute_uv {
            (vec![0], vec![0])
        } else if full_matrices {
            (with_tail(&batch, &[m, m]), with_tail(&batch, &[n, n]))
        } else {
            (with_tail(&batch, &[m, kk]), with_tail(&batch, &[kk, n]))
        };
        float2!(a.dtype(), T => {
            let data = a.to_vec::<T>()?;
            let (u, s, vh) = guarded(op, || k::svd::<T>(&data, nb, m, n, full_matrices, compute_uv))?
                .map_err(|i| rt_err!(
                    "{op}: (Batch element {i}): The algorithm failed to converge because the input matrix is ill-conditioned or has too many repeated singular values"
                ))?;
            Ok(vec![
                Tensor::from_vec(u, &us),
                Tensor::from_vec(s, &with_tail(&batch, &[kk])),
                Tensor::from_vec(vh, &vs),
            ])
        })
    })?;
    three(r, op)
}

/// torch.linalg.eigh: (eigenvalues ascending, eigenvectors as columns);
/// the vectors are an empty tensor when `compute_v` is false.
pub fn eigh(a: &Tensor, uplo: &str, compute_v: bool) -> Result<(Tensor, Tensor)> {
    let op = "linalg.eigh";
    let upper = match uplo {
        "L" | "l" => false,
        "U" | "u" => true,
        _ => bail!("Expected UPLO argument to be 'L' or 'U', but got {uplo}"),
    };
    check_matrix(a, op, "A")?;
    check_square(a, op)?;
    if !a.dtype().is_float() {
        return Err(Error::NotImplemented(format!(
            "\"linalg_eigh_cpu\" not implemented for '{}'",
            torch_type(a.dtype())
        )));
    }
    check_dtype(a, op)?;
    let r = host_fallback_n("linalg_eigh", &[a], |h| {
        let a = &h[0];
        let n = check_square(a, op)?;
        let (batch, nb) = batch_of(a);
        float2!(a.dtype(), T => {
            let data = a.to_vec::<T>()?;
            let (w, v) = guarded(op, || k::eigh::<T>(&data, nb, n, upper, compute_v))?
                .map_err(|i| rt_err!(
                    "{op}: (Batch element {i}): The algorithm failed to converge because the input matrix is ill-conditioned or has too many repeated eigenvalues"
                ))?;
            let vs = if compute_v { with_tail(&batch, &[n, n]) } else { vec![0] };
            Ok(vec![
                Tensor::from_vec(w, &with_tail(&batch, &[n])),
                Tensor::from_vec(v, &vs),
            ])
        })
    })?;
    two(r, op)
}
