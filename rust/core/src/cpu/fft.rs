//! Fourier transforms of contiguous lines: complex-to-complex on rustfft,
//! real-to-complex and complex-to-real on realfft (its companion crate).
//!
//! The data is interleaved (re, im) pairs, as ember stores complex tensors:
//! `lines` lines of `n` complex elements each, one after another. rustfft
//! plans once per length and direction; lines run in parallel on the pool.

use num_complex::Complex;
use rayon::prelude::*;
use realfft::{FftError, RealFftPlanner};
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

/// Forward real-to-complex transform (realfft): `input` holds lines of `n`
/// reals (used as scratch, garbage afterwards); `out` receives lines of
/// n/2 + 1 interleaved (re, im) pairs, unnormalized.
pub fn r2c<T: FftNum>(input: &mut [T], n: usize, out: &mut [T]) -> Result<(), String> {
    if n == 0 || input.is_empty() {
        return Ok(());
    }
    let m = n / 2 + 1;
    let plan = RealFftPlanner::<T>::new().plan_fft_forward(n);
    let per_task = (1 << 15) / n + 1;
    input
        .par_chunks_mut(n * per_task)
        .zip(out.par_chunks_mut(2 * m * per_task))
        .try_for_each(|(ic, oc)| {
            let mut spec = plan.make_output_vec();
            let mut scratch = plan.make_scratch_vec();
            for (line, o) in ic.chunks_exact_mut(n).zip(oc.chunks_exact_mut(2 * m)) {
                plan.process_with_scratch(line, &mut spec, &mut scratch)
                    .map_err(|e| e.to_string())?;
                for (c, p) in spec.iter().zip(o.chunks_exact_mut(2)) {
                    p[0] = c.re;
                    p[1] = c.im;
                }
            }
            Ok(())
        })
}

/// Inverse complex-to-real transform (realfft): `input` holds lines of
/// n/2 + 1 (re, im) pairs of a Hermitian half spectrum, `out` receives lines
/// of `n` reals, unnormalized. The imaginary parts of the DC bin and (even n)
/// the Nyquist bin do not enter the result, as in PyTorch's c2r.
pub fn c2r<T: FftNum>(input: &[T], n: usize, out: &mut [T]) -> Result<(), String> {
    if n == 0 || out.is_empty() {
        return Ok(());
    }
    let m = n / 2 + 1;
    let plan = RealFftPlanner::<T>::new().plan_fft_inverse(n);
    let per_task = (1 << 15) / n + 1;
    input
        .par_chunks(2 * m * per_task)
        .zip(out.par_chunks_mut(n * per_task))
        .try_for_each(|(ic, oc)| {
            let mut spec = plan.make_input_vec();
            let mut scratch = plan.make_scratch_vec();
            for (line, o) in ic.chunks_exact(2 * m).zip(oc.chunks_exact_mut(n)) {
                for (c, p) in spec.iter_mut().zip(line.chunks_exact(2)) {
                    *c = Complex::new(p[0], p[1]);
                }
                match plan.process_with_scratch(&mut spec, o, &mut scratch) {
                    // realfft zeroes those imaginary parts and still transforms.
                    Ok(()) | Err(FftError::InputValues(..)) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            Ok(())
        })
}
