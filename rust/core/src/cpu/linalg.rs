//! Batched dense factorizations on the `faer` crate: LU, inverse, determinant,
//! solve, triangular solve, Cholesky, QR, SVD and the symmetric eigensolver.
//!
//! Every kernel takes a contiguous row-major buffer holding `nb` matrices and
//! returns contiguous row-major outputs. Each batch item is viewed as a faer
//! matrix (faer copies it into its own column-major workspace) and factorized
//! on its own; large batches run in parallel over the batch with rayon (faer's
//! own threading is compiled out, so nested parallelism cannot oversubscribe).
//! Shape and dtype checks live in ops/linalg_decomp.rs; these kernels assume
//! valid shapes. Failures that LAPACK reports through `info` (a zero pivot, a
//! non-positive-definite minor) are reported the same way here: 1-based index,
//! 0 for success.

use crate::storage::CpuElement;
use faer::linalg::solvers::{DenseSolveCore, SolveCore};
use faer::traits::RealField;
use faer::{Mat, MatRef, Side};
use rayon::prelude::*;

/// Element types the factorizations run on (f32 and f64).
pub trait LinalgElement: RealField + CpuElement + Copy {}
impl LinalgElement for f32 {}
impl LinalgElement for f64 {}

/// Map `f` over batch items, in parallel when the total work is large.
fn batched<R: Send>(nb: usize, work: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    if nb > 1 && super::use_par(nb.saturating_mul(work)) {
        (0..nb).into_par_iter().map(f).collect()
    } else {
        (0..nb).map(f).collect()
    }
}

/// Rough cost of factorizing one m x n matrix, for the rayon threshold: its
/// flop count plus a fixed term for faer's per-call allocations (about a
/// microsecond), so a large batch of tiny matrices is split across threads too.
fn work(m: usize, n: usize) -> usize {
    m.saturating_mul(n)
        .saturating_mul(m.min(n).max(1))
        .saturating_add(4096)
}

/// Batch item `b` of `data` as an m x n faer view (row-major: a transposed
/// column-major view, no copy).
fn view<T: LinalgElement>(data: &[T], b: usize, m: usize, n: usize) -> MatRef<'_, T> {
    let s = &data[b * m * n..(b + 1) * m * n];
    MatRef::from_row_major_slice(s, m, n)
}

/// Append `mat` to `out` in row-major order.
fn push_rows<T: LinalgElement>(out: &mut Vec<T>, mat: MatRef<'_, T>) {
    for i in 0..mat.nrows() {
        for j in 0..mat.ncols() {
            out.push(mat[(i, j)]);
        }
    }
}

/// Append the transpose of `mat` to `out` in row-major order.
fn push_rows_t<T: LinalgElement>(out: &mut Vec<T>, mat: MatRef<'_, T>) {
    push_rows(out, mat.transpose());
}

/// Row-major batch item of `data` copied into an owned faer matrix.
fn owned<T: LinalgElement>(data: &[T], b: usize, m: usize, n: usize) -> Mat<T> {
    view(data, b, m, n).to_owned()
}

/// Concatenate per-item row-major buffers.
fn concat<T: Copy>(parts: Vec<Vec<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.extend(p);
    }
    out
}

/// LAPACK-style info of an LU factorization: 1-based index of the first
/// exactly-zero diagonal element of U, or 0.
fn lu_info<T: LinalgElement>(u: MatRef<'_, T>) -> i32 {
    let k = u.nrows().min(u.ncols());
    for i in 0..k {
        if u[(i, i)].to_f64() == 0.0 {
            return (i + 1) as i32;
        }
    }
    0
}

/// Parity (+1/-1) of a permutation given as an index array.
fn perm_sign(p: &[usize]) -> f64 {
    let mut seen = vec![false; p.len()];
    let mut sign = 1.0;
    for s in 0..p.len() {
        if seen[s] {
            continue;
        }
        let mut len = 0usize;
        let mut j = s;
        while !seen[j] {
            seen[j] = true;
            j = p[j];
            len += 1;
        }
        if len.is_multiple_of(2) {
            sign = -sign;
        }
    }
    sign
}

/// One LU factorization, packed as LAPACK's getrf returns it.
pub struct LuItem<T> {
    /// L (unit diagonal, not stored) below the diagonal, U on and above; m x n.
    pub lu: Vec<T>,
    /// 1-based sequential row swaps, min(m, n) of them.
    pub pivots: Vec<i32>,
    /// Row `perm[p]` of A is row `p` of L U, so A = P L U with P[perm[p], p] = 1.
    pub perm: Vec<i64>,
    pub info: i32,
}

fn lu_one<T: LinalgElement>(a: MatRef<'_, T>) -> LuItem<T> {
    let (m, n) = (a.nrows(), a.ncols());
    let k = m.min(n);
    let f = a.partial_piv_lu();
    let (l, u) = (f.L(), f.U());
    // faer: row i of L U is row fwd[i] of A.
    let (fwd, bwd) = f.P().arrays();
    // Replay the permutation as LAPACK's sequential swaps: step i brings row
    // fwd[i] to position i. Rows past k end up in `cur`'s order, so L's rows
    // are re-ordered to match it.
    let mut cur: Vec<usize> = (0..m).collect();
    let mut pos: Vec<usize> = (0..m).collect();
    let mut pivots = Vec::with_capacity(k);
    for i in 0..k {
        let j = pos[fwd[i]];
        pivots.push((j + 1) as i32);
        let (ri, rj) = (cur[i], cur[j]);
        cur.swap(i, j);
        pos[ri] = j;
        pos[rj] = i;
    }
    let mut lu = Vec::with_capacity(m * n);
    for (p, &row) in cur.iter().enumerate() {
        let lrow = bwd[row];
        for j in 0..n {
            lu.push(if j < p.min(k) {
                l[(lrow, j)]
            } else {
                u[(p, j)]
            });
        }
    }
    let info = lu_info(u);
    LuItem {
        lu,
        pivots,
        perm: cur.into_iter().map(|r| r as i64).collect(),
        info,
    }
}

/// Batched LU with partial pivoting: (LU, pivots, perm, info).
pub fn lu_factor<T: LinalgElement>(
    a: &[T],
    nb: usize,
    m: usize,
    n: usize,
) -> (Vec<T>, Vec<i32>, Vec<i64>, Vec<i32>) {
    let items = batched(nb, work(m, n), |b| lu_one(view(a, b, m, n)));
    let mut lu = Vec::with_capacity(nb * m * n);
    let mut piv = Vec::new();
    let mut perm = Vec::new();
    let mut info = Vec::with_capacity(nb);
    for it in items {
        lu.extend(it.lu);
        piv.extend(it.pivots);
        perm.extend(it.perm);
        info.push(it.info);
    }
    (lu, piv, perm, info)
}

/// Batched inverse of n x n matrices: (inverse, info). A singular item
/// (info > 0) holds whatever the triangular solves produced (inf/nan).
pub fn inv<T: LinalgElement>(a: &[T], nb: usize, n: usize) -> (Vec<T>, Vec<i32>) {
    let items = batched(nb, work(n, n), |b| {
        let f = view(a, b, n, n).partial_piv_lu();
        let info = lu_info(f.U());
        let mut out = Vec::with_capacity(n * n);
        push_rows(&mut out, f.inverse().as_ref());
        (out, info)
    });
    let (parts, info): (Vec<_>, Vec<_>) = items.into_iter().unzip();
    (concat(parts), info)
}

/// Batched determinant: (sign, log|det|, det), each one value per item.
pub fn det<T: LinalgElement>(a: &[T], nb: usize, n: usize) -> (Vec<T>, Vec<T>, Vec<T>) {
    let items = batched(nb, work(n, n), |b| {
        let f = view(a, b, n, n).partial_piv_lu();
        let u = f.U();
        let mut sign = perm_sign(f.P().arrays().0);
        let mut logabs = 0.0f64;
        let mut det = sign;
        for i in 0..n {
            let d = u[(i, i)].to_f64();
            if d == 0.0 {
                // An exact zero pivot: faer divides by it, so the pivots after it
                // are NaN; the determinant is zero (LAPACK stops here too).
                return (T::zero_v(), T::from_f64(f64::NEG_INFINITY), T::zero_v());
            }
            det *= d;
            sign *= d.signum();
            logabs += d.abs().ln();
        }
        (T::from_f64(sign), T::from_f64(logabs), T::from_f64(det))
    });
    let mut s = Vec::with_capacity(nb);
    let mut l = Vec::with_capacity(nb);
    let mut d = Vec::with_capacity(nb);
    for (a, b, c) in items {
        s.push(a);
        l.push(b);
        d.push(c);
    }
    (s, l, d)
}

/// Batched A X = B for n x n A and n x k B (same batch): (X, info).
pub fn solve<T: LinalgElement>(
    a: &[T],
    b: &[T],
    nb: usize,
    n: usize,
    k: usize,
) -> (Vec<T>, Vec<i32>) {
    let items = batched(nb, work(n, n.max(k)), |i| {
        let f = view(a, i, n, n).partial_piv_lu();
        let info = lu_info(f.U());
        let mut x = owned(b, i, n, k);
        f.solve_in_place_with_conj(faer::Conj::No, x.as_mut());
        let mut out = Vec::with_capacity(n * k);
        push_rows(&mut out, x.as_ref());
        (out, info)
    });
    let (parts, info): (Vec<_>, Vec<_>) = items.into_iter().unzip();
    (concat(parts), info)
}

/// Batched triangular solve A X = B (A n x n, B n x k); only the triangle
/// named by `upper` is read, and its diagonal is taken as ones if `unit`.
pub fn solve_triangular<T: LinalgElement>(
    a: &[T],
    b: &[T],
    nb: usize,
    n: usize,
    k: usize,
    upper: bool,
    unit: bool,
) -> Vec<T> {
    use faer::linalg::triangular_solve as ts;
    let par = faer::Par::Seq;
    let items = batched(nb, n * n * k.max(1), |i| {
        let av = view(a, i, n, n);
        let mut x = owned(b, i, n, k);
        match (upper, unit) {
            (false, false) => ts::solve_lower_triangular_in_place(av, x.as_mut(), par),
            (false, true) => ts::solve_unit_lower_triangular_in_place(av, x.as_mut(), par),
            (true, false) => ts::solve_upper_triangular_in_place(av, x.as_mut(), par),
            (true, true) => ts::solve_unit_upper_triangular_in_place(av, x.as_mut(), par),
        }
        let mut out = Vec::with_capacity(n * k);
        push_rows(&mut out, x.as_ref());
        out
    });
    concat(items)
}

/// Batched Cholesky: (factor, info). `upper` reads the upper triangle and
/// returns U with A = U^T U; otherwise the lower one and L with A = L L^T.
/// info is the order of the first leading minor that is not positive-definite;
/// the factor of a failed item is zero.
pub fn cholesky<T: LinalgElement>(a: &[T], nb: usize, n: usize, upper: bool) -> (Vec<T>, Vec<i32>) {
    let side = if upper { Side::Upper } else { Side::Lower };
    let items = batched(nb, work(n, n), |b| match view(a, b, n, n).llt(side) {
        Ok(f) => {
            let mut out = Vec::with_capacity(n * n);
            if upper {
                push_rows_t(&mut out, f.L());
            } else {
                push_rows(&mut out, f.L());
            }
            (out, 0)
        }
        Err(faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index }) => {
            (vec![T::zero_v(); n * n], (index + 1) as i32)
        }
    });
    let (parts, info): (Vec<_>, Vec<_>) = items.into_iter().unzip();
    (concat(parts), info)
}

/// QR modes of torch.linalg.qr.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum QrMode {
    Reduced,
    Complete,
    R,
}

/// Batched Householder QR: (Q, R) row-major; Q is empty in mode R.
pub fn qr<T: LinalgElement>(
    a: &[T],
    nb: usize,
    m: usize,
    n: usize,
    mode: QrMode,
) -> (Vec<T>, Vec<T>) {
    let k = m.min(n);
    let items = batched(nb, work(m, n), |b| {
        let f = view(a, b, m, n).qr();
        let mut q = Vec::new();
        let mut r = Vec::new();
        match mode {
            QrMode::Reduced => {
                push_rows(&mut q, f.compute_thin_Q().as_ref());
                push_rows(&mut r, f.thin_R());
            }
            QrMode::Complete => {
                push_rows(&mut q, f.compute_Q().as_ref());
                // faer keeps the min(m, n) x n upper part; complete R is m x n.
                push_rows(&mut r, f.thin_R());
                r.resize(m * n, T::zero_v());
            }
            QrMode::R => push_rows(&mut r, f.thin_R()),
        }
        debug_assert!(mode != QrMode::Reduced || q.len() == m * k);
        (q, r)
    });
    let (q, r): (Vec<_>, Vec<_>) = items.into_iter().unzip();
    (concat(q), concat(r))
}

/// Batched SVD: (U, S, Vh) row-major, singular values descending. With
/// `compute_uv` false only S is filled. Err on non-convergence (item index).
#[allow(clippy::type_complexity)]
pub fn svd<T: LinalgElement>(
    a: &[T],
    nb: usize,
    m: usize,
    n: usize,
    full: bool,
    compute_uv: bool,
) -> Result<(Vec<T>, Vec<T>, Vec<T>), usize> {
    let k = m.min(n);
    let items = batched(nb, work(m, n), |b| {
        let v = view(a, b, m, n);
        let mut u = Vec::new();
        let mut vh = Vec::new();
        let mut s = Vec::with_capacity(k);
        if k == 0 {
            // Nothing to factorize: full U/V are identities (as LAPACK returns).
            if compute_uv && full {
                push_rows(&mut u, Mat::<T>::identity(m, m).as_ref());
                push_rows(&mut vh, Mat::<T>::identity(n, n).as_ref());
            }
            return Some((u, s, vh));
        }
        if !compute_uv {
            let sv = v.singular_values().ok()?;
            s.extend(sv);
            return Some((u, s, vh));
        }
        let f = if full { v.svd() } else { v.thin_svd() }.ok()?;
        push_rows(&mut u, f.U());
        for i in 0..k {
            s.push(f.S().column_vector()[i]);
        }
        push_rows_t(&mut vh, f.V());
        Some((u, s, vh))
    });
    let mut u = Vec::new();
    let mut s = Vec::new();
    let mut vh = Vec::new();
    for (i, it) in items.into_iter().enumerate() {
        let (a, b, c) = it.ok_or(i)?;
        u.extend(a);
        s.extend(b);
        vh.extend(c);
    }
    Ok((u, s, vh))
}

/// Batched symmetric eigendecomposition: (eigenvalues ascending, eigenvectors
/// as columns, row-major). Reads the upper triangle if `upper`. With
/// `compute_v` false the vectors are empty. Err on non-convergence (item).
pub fn eigh<T: LinalgElement>(
    a: &[T],
    nb: usize,
    n: usize,
    upper: bool,
    compute_v: bool,
) -> Result<(Vec<T>, Vec<T>), usize> {
    let side = if upper { Side::Upper } else { Side::Lower };
    let items = batched(nb, work(n, n), |b| {
        let v = view(a, b, n, n);
        let mut w = Vec::with_capacity(n);
        let mut vecs = Vec::new();
        if n == 0 {
            return Some((w, vecs));
        }
        if !compute_v {
            w.extend(v.self_adjoint_eigenvalues(side).ok()?);
            return Some((w, vecs));
        }
        let f = v.self_adjoint_eigen(side).ok()?;
        for i in 0..n {
            w.push(f.S().column_vector()[i]);
        }
        push_rows(&mut vecs, f.U());
        Some((w, vecs))
    });
    let mut w = Vec::new();
    let mut vecs = Vec::new();
    for (i, it) in items.into_iter().enumerate() {
        let (a, b) = it.ok_or(i)?;
        w.extend(a);
        vecs.extend(b);
    }
    Ok((w, vecs))
}
