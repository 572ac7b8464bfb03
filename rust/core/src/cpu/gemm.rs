//! Matrix products on the CPU: float GEMM on the packed `gemm` crate (its
//! AVX2/AVX-512 kernels are chosen at run time by the crate), integer
//! products with wrapping arithmetic.

use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::layout::Layout;
use crate::storage::CpuElement;
use crate::tensor::Tensor;

/// dst (m x n, contiguous) = alpha * dst + beta * a @ b with strided a and b;
/// `alpha: None` means dst is not read (it may hold anything). `par: false`
/// keeps the product on the calling thread (the caller runs several at once).
#[allow(clippy::too_many_arguments)]
pub fn gemm_f<T: CpuElement + std::ops::Mul<Output = T> + 'static>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    a: &[T],
    a_off: usize,
    a_rs: usize,
    a_cs: usize,
    b: &[T],
    b_off: usize,
    b_rs: usize,
    b_cs: usize,
    alpha: Option<T>,
    beta: T,
    par: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        match alpha {
            None => dst.fill(T::zero_v()),
            Some(al) => dst.iter_mut().for_each(|d| *d = al * *d),
        }
        return;
    }
    // A column-major B (a transposed weight: `x @ w.t()` in every linear
    // layer) is packed by the crate along its column stride of k elements.
    // When that stride is a multiple of 256 floats (k = 256, 512, 1024: the
    // usual widths) the reads fall into a handful of cache sets and the
    // product runs far slower than with a row-major B: 128x512 @ 512x512
    // took 1.14 ms against 0.67 ms (thread CPU time, AVX-512 EPYC). A
    // cache-blocked transpose into a scratch buffer first costs 0.18 ms
    // there; at other strides (k = 784: 1.16 vs 0.96 + 0.25 ms) it does not
    // pay, so only the aliasing strides take this path.
    let scratch: Vec<T>;
    let (b, b_off, b_rs, b_cs) =
        if b_rs == 1 && b_cs.is_multiple_of(256) && m >= 64 && k * n >= 1 << 14 {
            scratch = transpose_to_rows(&b[b_off..], k, n, b_cs);
            (scratch.as_slice(), 0, n, 1)
        } else {
            (b, b_off, b_rs, b_cs)
        };
    let par = if par
        && m * n * k >= 48 * 48 * 48
        && crate::cpu::parallel_ok()
        && crate::cpu::num_threads() > 1
    {
        gemm::Parallelism::Rayon(crate::cpu::num_threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: offsets and strides come from valid layouts of these slices;
    // dst is a contiguous m x n buffer.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            alpha.is_some(),
            a.as_ptr().add(a_off),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr().add(b_off),
            b_cs as isize,
            b_rs as isize,
            alpha.unwrap_or(T::zero_v()),
            beta,
            false,
            false,
            false,
            par,
        );
    }
}

/// Whether `items` products of `work` multiply-adds each run in parallel
/// over the items (rather than one after another, each threaded).
fn batch_par(items: usize, work: usize) -> bool {
    let t = crate::cpu::num_threads();
    items >= 2 * t
        && t > 1
        && items * work >= 48 * 48 * 48
        && work <= 256 * 256 * 256
        && crate::cpu::parallel_ok()
}

/// The row-major k x n copy of a column-major matrix `b` (element (p, j) at
/// `b[p + j * cs]`), in 16 x 16 tiles (each output row segment is one cache
/// line); blocks of 16 output rows are disjoint, so they run in parallel.
fn transpose_to_rows<T: CpuElement>(b: &[T], k: usize, n: usize, cs: usize) -> Vec<T> {
    use rayon::prelude::*;
    const TILE: usize = 16;
    crate::cpu::fill_new(k * n, |dst| {
        let block = |(pb, rows): (usize, &mut [std::mem::MaybeUninit<T>])| {
            let p0 = pb * TILE;
            let np = rows.len() / n;
            for j0 in (0..n).step_by(TILE) {
                let j1 = (j0 + TILE).min(n);
                for dp in 0..np {
                    let row = &mut rows[dp * n..(dp + 1) * n];
                    for j in j0..j1 {
                        row[j].write(b[j * cs + p0 + dp]);
                    }
                }
            }
        };
        if crate::cpu::use_par(k * n) {
            dst.par_chunks_mut(TILE * n).enumerate().for_each(block);
        } else {
            dst.chunks_mut(TILE * n).enumerate().for_each(block);
        }
    })
}

/// Integer matmul (wrapping, as PyTorch), naive loops.
#[allow(clippy::too_many_arguments)]
pub fn gemm_int<T: CpuElement>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    a: &[T],
    ao: usize,
    ars: usize,
    acs: usize,
    b: &[T],
    bo: usize,
    brs: usize,
    bcs: usize,
) {
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0i64;
            for p in 0..k {
                acc = acc.wrapping_add(
                    a[ao + i * ars + p * acs]
                        .to_i64()
                        .wrapping_mul(b[bo + p * brs + j * bcs].to_i64()),
                );
            }
            dst[i * n + j] = T::from_i64(acc);
        }
    }
}

/// See [`crate::backend::Backend::matmul`]: one packed GEMM per batch item.
pub fn matmul(
    a: &Tensor,
    la: &Layout,
    b: &Tensor,
    lb: &Layout,
    nb: usize,
    out_shape: &[usize],
) -> Result<Tensor> {
    let dt = a.dtype();
    if matches!(dt, DType::F16 | DType::BF16) {
        // Float32 accumulation, one rounding to the half type.
        return super::gemm_half::matmul(a, la, b, lb, nb, out_shape);
    }
    let (m, k, n) = (la.shape[nb], la.shape[nb + 1], lb.shape[nb + 1]);
    let batch_layout = |l: &Layout| Layout {
        shape: l.shape[..nb].to_vec(),
        strides: l.strides[..nb].to_vec(),
        offset: l.offset,
    };
    let offs_a = batch_layout(la).offsets();
    let offs_b = batch_layout(lb).offsets();
    let (ars, acs) = (la.strides[nb], la.strides[nb + 1]);
    let (brs, bcs) = (lb.strides[nb], lb.strides[nb + 1]);
    let (ga, gb) = (a.storage().read(), b.storage().read());
    let data = match dt {
        DType::F32 | DType::F64 => crate::dispatch_float!(dt, T => {
            let (sa, sb) = (T::slice(ga.cpu()), T::slice(gb.cpu()));
            let item = |(bi, d): (usize, &mut [T]), par: bool| {
                gemm_f::<T>(m, n, k, d, sa, offs_a[bi], ars, acs, sb, offs_b[bi], brs, bcs, None, T::one_v(), par)
            };
            let out = crate::cpu::fill_new(offs_a.len() * m * n, |d| {
                // SAFETY: gemm_f with `alpha: None` writes every element of
                // its m x n block and reads none (no zeroing pass needed).
                let d = unsafe { &mut *(d as *mut [std::mem::MaybeUninit<T>] as *mut [T]) };
                if batch_par(offs_a.len(), m * n * k) {
                    // Batch items on the threads, each product on one: the
                    // attention products (64 heads x 64x32x64) are too small
                    // for the crate to split and too many to run in turn.
                    use rayon::prelude::*;
                    d.par_chunks_mut((m * n).max(1)).enumerate().for_each(|x| item(x, false));
                } else {
                    d.chunks_mut((m * n).max(1)).enumerate().for_each(|x| item(x, true));
                }
            });
            T::wrap(out)
        }, unreachable!()),
        DType::Bool => crate::bail!("\"addmm_impl_cpu_\" not implemented for 'Bool'"),
        _ => crate::dispatch!(dt, T => {
            let (sa, sb) = (T::slice(ga.cpu()), T::slice(gb.cpu()));
            let mut out = vec![T::zero_v(); offs_a.len() * m * n];
            for (bi, (&oa, &ob)) in offs_a.iter().zip(&offs_b).enumerate() {
                gemm_int::<T>(m, n, k, &mut out[bi * m * n..(bi + 1) * m * n], sa, oa, ars, acs, sb, ob, brs, bcs);
            }
            T::wrap(out)
        }),
    };
    Ok(Tensor::from_cpu(data, out_shape))
}
