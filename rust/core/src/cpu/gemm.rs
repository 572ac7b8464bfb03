//! Matrix products on the CPU: float GEMM on the packed `gemm` crate (its
//! AVX2/AVX-512 kernels are chosen at run time by the crate), integer
//! products with wrapping arithmetic.

use crate::storage::CpuElement;

/// dst (m x n, contiguous) = alpha * dst + beta * a @ b with strided a and b;
/// `alpha: None` means dst is not read (it may hold anything).
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
) {
    let par = if m * n * k >= 48 * 48 * 48
        && crate::cpu::parallel_ok()
        && crate::cpu::num_threads() > 1
    {
        gemm::Parallelism::Rayon(crate::cpu::num_threads())
    } else {
        gemm::Parallelism::None
    };
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
    // SAFETY: offsets and strides come from valid layouts of these slices;
    // dst is a fresh contiguous m x n buffer.
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
