//! Fourier transforms of contiguous lines of complex numbers, on rustfft.
//!
//! The data is interleaved (re, im) pairs, as ember stores complex tensors:
//! `lines` lines of `n` complex elements each, one after another. rustfft
//! plans once per length and direction; lines run in parallel on the pool.

use num_complex::Complex;
use rayon::prelude::*;
use rustfft::{FftNum, FftPlanner};

/// In place, unnormalized: forward is sum_j x_j e^{-2 pi i jk/n}, inverse
/// the same with +i (no 1/n: the caller applies the norm mode).
pub fn c2c<T: FftNum>(data: &mut [T], n: usize, inverse: bool) {
    if n == 0 || data.is_empty() {
        return;
    }
    let mut planner = FftPlanner::<T>::new();
    let fft = if inverse {
        planner.plan_fft_inverse(n)
    } else {
        planner.plan_fft_forward(n)
    };
    // Enough lines per task that the scratch buffer and the copy pay off.
    let per_task = (1 << 15) / n.max(1) + 1;
    data.par_chunks_mut(2 * n * per_task).for_each(|chunk| {
        let mut buf: Vec<Complex<T>> = vec![Complex::new(T::zero(), T::zero()); n];
        let mut scratch = vec![Complex::new(T::zero(), T::zero()); fft.get_inplace_scratch_len()];
        for line in chunk.chunks_exact_mut(2 * n) {
            for (c, p) in buf.iter_mut().zip(line.chunks_exact(2)) {
                *c = Complex::new(p[0], p[1]);
            }
            fft.process_with_scratch(&mut buf, &mut scratch);
            for (c, p) in buf.iter().zip(line.chunks_exact_mut(2)) {
                p[0] = c.re;
                p[1] = c.im;
            }
        }
    });
}
