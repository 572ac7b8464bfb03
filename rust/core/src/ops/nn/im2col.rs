//! Convolution kernels on contiguous NCHW buffers: im2col/col2im around the
//! packed `gemm` crate. Three bilinear maps share one geometry:
//! forward `y = conv(x, w)`, its adjoint in x (`col2im(wᵀ y)`, which is also
//! conv_transpose2d) and its adjoint in w (`Σₙ y colᵀ`).
//! Large batches run one image per rayon task with a single-threaded GEMM;
//! a single image lets the GEMM itself use the threads.

use super::Real;
use rayon::prelude::*;

/// Geometry of one 2-d convolution: `input` is the spatial size of the image
/// side (x), `output` that of the column side (y).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub kernel: [usize; 2],
    pub input: [usize; 2],
    pub output: [usize; 2],
}

/// Channel counts: `c` on the image side, `o` on the column side.
#[derive(Clone, Copy, Debug)]
pub struct Channels {
    pub n: usize,
    pub c: usize,
    pub o: usize,
}

impl ConvGeom {
    fn hw(&self) -> usize {
        self.input[0] * self.input[1]
    }
    fn l(&self) -> usize {
        self.output[0] * self.output[1]
    }
    fn kk(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }
    /// A 1x1, stride-1, unpadded kernel: the image is its own column matrix.
    fn pointwise(&self) -> bool {
        self.kernel == [1, 1]
            && self.stride == [1, 1]
            && self.padding == [0, 0]
            && self.input == self.output
    }
}

/// Multiply-adds above which work is spread over threads.
const PAR_FLOPS: usize = 1 << 21;

/// Whether to run images in parallel (else the GEMM gets the threads).
fn batch_parallel(n: usize, flops: usize) -> bool {
    n >= 2 && flops >= PAR_FLOPS && crate::cpu::num_threads() > 1
}

/// Row-major `dst (m x n) = [dst +] a (m x k) * b (k x n)` with arbitrary
/// element strides for a and b.
#[allow(clippy::too_many_arguments)]
fn gemm<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    accumulate: bool,
    a: &[T],
    a_rs: usize,
    a_cs: usize,
    b: &[T],
    b_rs: usize,
    b_cs: usize,
    threads: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    debug_assert!(dst.len() >= m * n);
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(T::zero());
        }
        return;
    }
    debug_assert!(a.len() > (m - 1) * a_rs + (k - 1) * a_cs);
    debug_assert!(b.len() > (k - 1) * b_rs + (n - 1) * b_cs);
    let par = if threads && m * n * k >= 48 * 48 * 48 {
        gemm::Parallelism::Rayon(crate::cpu::num_threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the debug assertions above state the extents the caller guarantees:
    // every (row, col) reached through the strides lies inside a, b and dst.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            par,
        );
    }
}

/// Output positions `o` in `0..out` with `o * s + off` inside `0..size`.
#[inline]
fn valid_range(off: isize, s: usize, size: usize, out: usize) -> (usize, usize) {
    let lo = if off >= 0 {
        0
    } else {
        ((-off) as usize).div_ceil(s)
    };
    let room = size as isize - off;
    let hi = if room <= 0 {
        0
    } else {
        (room as usize).div_ceil(s)
    };
    let lo = lo.min(out);
    (lo, hi.min(out).max(lo))
}

/// Unfold `cg` planes of one image into the (cg*kh*kw) x (oh*ow) column matrix.
fn im2col<T: Real>(x: &[T], cg: usize, g: &ConvGeom, col: &mut [T]) {
    let [h, w] = g.input;
    let [oh, ow] = g.output;
    let [kh, kw] = g.kernel;
    let [sh, sw] = g.stride;
    let l = oh * ow;
    for ci in 0..cg {
        let plane = &x[ci * h * w..(ci + 1) * h * w];
        for ki in 0..kh {
            for kj in 0..kw {
                let row = &mut col[((ci * kh + ki) * kw + kj) * l..][..l];
                let off_w = (kj * g.dilation[1]) as isize - g.padding[1] as isize;
                let (x0, x1) = valid_range(off_w, sw, w, ow);
                for oy in 0..oh {
                    let iy = (oy * sh + ki * g.dilation[0]) as isize - g.padding[0] as isize;
                    let dst = &mut row[oy * ow..(oy + 1) * ow];
                    if iy < 0 || iy >= h as isize {
                        dst.fill(T::zero());
                        continue;
                    }
                    let src = &plane[iy as usize * w..][..w];
                    dst[..x0].fill(T::zero());
                    dst[x1..].fill(T::zero());
                    if x1 == x0 {
                        // No output column reads this row (a dilated kernel
                        // wider than the padded input): all padding.
                    } else if sw == 1 {
                        let s0 = (x0 as isize + off_w) as usize;
                        dst[x0..x1].copy_from_slice(&src[s0..s0 + (x1 - x0)]);
                    } else {
                        for (ox, d) in dst[x0..x1].iter_mut().enumerate() {
                            *d = src[(((ox + x0) * sw) as isize + off_w) as usize];
                        }
                    }
                }
            }
        }
    }
}

/// Fold a column matrix back onto `cg` planes, adding overlapping taps.
fn col2im<T: Real>(col: &[T], cg: usize, g: &ConvGeom, x: &mut [T]) {
    let [h, w] = g.input;
    let [oh, ow] = g.output;
    let [kh, kw] = g.kernel;
    let [sh, sw] = g.stride;
    let l = oh * ow;
    for ci in 0..cg {
        let plane = &mut x[ci * h * w..(ci + 1) * h * w];
        for ki in 0..kh {
            for kj in 0..kw {
                let row = &col[((ci * kh + ki) * kw + kj) * l..][..l];
                let off_w = (kj * g.dilation[1]) as isize - g.padding[1] as isize;
                let (x0, x1) = valid_range(off_w, sw, w, ow);
                for oy in 0..oh {
                    let iy = (oy * sh + ki * g.dilation[0]) as isize - g.padding[0] as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    let src = &row[oy * ow..(oy + 1) * ow];
                    let dst = &mut plane[iy as usize * w..][..w];
                    if x1 == x0 {
                        // Only padding under this kernel column (see im2col).
                    } else if sw == 1 {
                        let d0 = (x0 as isize + off_w) as usize;
                        for (d, &s) in dst[d0..d0 + (x1 - x0)].iter_mut().zip(&src[x0..x1]) {
                            *d += s;
                        }
                    } else {
                        for (ox, &s) in src[x0..x1].iter().enumerate() {
                            dst[(((ox + x0) * sw) as isize + off_w) as usize] += s;
                        }
                    }
                }
            }
        }
    }
}

/// Run `f(image index, output chunk, scratch)` over images, in parallel when worth it.
fn per_image<T: Real>(
    out: &mut [T],
    chunk: usize,
    scratch: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [T], &mut Vec<T>, bool) + Sync + Send,
) {
    if chunk == 0 {
        return;
    }
    if parallel {
        out.par_chunks_mut(chunk).enumerate().for_each_init(
            || vec![T::zero(); scratch],
            |col, (i, o)| f(i, o, col, false),
        );
    } else {
        let mut col = vec![T::zero(); scratch];
        for (i, o) in out.chunks_mut(chunk).enumerate() {
            f(i, o, &mut col, true);
        }
    }
}

/// `y[n, o, oh, ow] = Σ w[o, c, ki, kj] x[n, c, ...] (+ bias[o])`.
pub fn conv_forward<T: Real>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    ch: Channels,
    g: &ConvGeom,
) -> Vec<T> {
    let Channels { n, c, o } = ch;
    let (cg, og) = (c / g.groups, o / g.groups);
    let (k, l, hw) = (cg * g.kk(), g.l(), g.hw());
    let mut y = vec![T::zero(); n * o * l];
    let direct = g.pointwise();
    let scratch = if direct { 0 } else { k * l };
    let parallel = batch_parallel(n, n * o * k * l);
    per_image(&mut y, o * l, scratch, parallel, |i, yi, col, threads| {
        let xi = &x[i * c * hw..(i + 1) * c * hw];
        for gi in 0..g.groups {
            let xg = &xi[gi * cg * hw..(gi + 1) * cg * hw];
            let cols: &[T] = if direct {
                xg
            } else {
                im2col(xg, cg, g, col);
                col
            };
            let yg = &mut yi[gi * og * l..(gi + 1) * og * l];
            if let Some(b) = bias {
                for (r, row) in yg.chunks_mut(l).enumerate() {
                    row.fill(b[gi * og + r]);
                }
            }
            let wg = &w[gi * og * k..(gi + 1) * og * k];
            gemm(og, l, k, yg, bias.is_some(), wg, k, 1, cols, l, 1, threads);
        }
    });
    y
}

/// Adjoint of `conv_forward` in x: `x[n, c, h, w] = Σ w[o, c, ki, kj] y[n, o, ...]`
/// (+ bias[c]); this is also conv_transpose2d's forward.
pub fn conv_backward_input<T: Real>(
    y: &[T],
    w: &[T],
    bias: Option<&[T]>,
    ch: Channels,
    g: &ConvGeom,
) -> Vec<T> {
    let Channels { n, c, o } = ch;
    let (cg, og) = (c / g.groups, o / g.groups);
    let (k, l, hw) = (cg * g.kk(), g.l(), g.hw());
    let mut x = vec![T::zero(); n * c * hw];
    let direct = g.pointwise();
    let scratch = if direct { 0 } else { k * l };
    let parallel = batch_parallel(n, n * o * k * l);
    per_image(&mut x, c * hw, scratch, parallel, |i, xi, col, threads| {
        let yi = &y[i * o * l..(i + 1) * o * l];
        for gi in 0..g.groups {
            let yg = &yi[gi * og * l..(gi + 1) * og * l];
            let wg = &w[gi * og * k..(gi + 1) * og * k];
            let xg = &mut xi[gi * cg * hw..(gi + 1) * cg * hw];
            if direct {
                gemm(k, l, og, xg, false, wg, 1, k, yg, l, 1, threads);
            } else {
                gemm(k, l, og, col, false, wg, 1, k, yg, l, 1, threads);
                col2im(col, cg, g, xg);
            }
            if let Some(b) = bias {
                for (r, plane) in xg.chunks_mut(hw).enumerate() {
                    let v = b[gi * cg + r];
                    plane.iter_mut().for_each(|e| *e += v);
                }
            }
        }
    });
    x
}

/// Adjoint of `conv_forward` in w: `w[o, c, ki, kj] = Σₙ y[n, o, ...] col(x)[n, c, ki, kj, ...]`.
pub fn conv_backward_weight<T: Real>(x: &[T], y: &[T], ch: Channels, g: &ConvGeom) -> Vec<T> {
    let Channels { n, c, o } = ch;
    let (cg, og) = (c / g.groups, o / g.groups);
    let (k, l, hw) = (cg * g.kk(), g.l(), g.hw());
    let direct = g.pointwise();
    let scratch = if direct { 0 } else { k * l };
    // Accumulate images [lo, hi) into `acc` (o x k).
    let run = |lo: usize, hi: usize, acc: &mut [T], threads: bool| {
        let mut col = vec![T::zero(); scratch];
        for i in lo..hi {
            let xi = &x[i * c * hw..(i + 1) * c * hw];
            let yi = &y[i * o * l..(i + 1) * o * l];
            for gi in 0..g.groups {
                let xg = &xi[gi * cg * hw..(gi + 1) * cg * hw];
                let cols: &[T] = if direct {
                    xg
                } else {
                    im2col(xg, cg, g, &mut col);
                    &col
                };
                let yg = &yi[gi * og * l..(gi + 1) * og * l];
                let ag = &mut acc[gi * og * k..(gi + 1) * og * k];
                gemm(og, k, l, ag, true, yg, l, 1, cols, 1, l, threads);
            }
        }
    };
    let mut acc = vec![T::zero(); o * k];
    if batch_parallel(n, n * o * k * l) {
        let parts = crate::cpu::num_threads().min(n);
        let per = n.div_ceil(parts);
        let partial: Vec<Vec<T>> = (0..parts)
            .into_par_iter()
            .map(|p| {
                let mut a = vec![T::zero(); o * k];
                run(p * per, ((p + 1) * per).min(n), &mut a, false);
                a
            })
            .collect();
        for p in partial {
            for (a, v) in acc.iter_mut().zip(p) {
                *a += v;
            }
        }
    } else {
        run(0, n, &mut acc, true);
    }
    acc
}

/// Per-channel sum over batch and space of an (n, c, hw) buffer (bias gradients).
pub fn channel_sum<T: Real>(g: &[T], n: usize, c: usize, hw: usize) -> Vec<T> {
    let mut acc = vec![0f64; c];
    for i in 0..n {
        for (ci, a) in acc.iter_mut().enumerate() {
            let plane = &g[(i * c + ci) * hw..(i * c + ci + 1) * hw];
            *a += crate::cpu::reduce::sum_slice(plane);
        }
    }
    acc.into_iter()
        .map(<T as crate::dtype::Element>::from_f64)
        .collect()
}
