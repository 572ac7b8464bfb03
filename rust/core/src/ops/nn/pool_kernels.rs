//! Pooling kernels over contiguous (planes, H, W) buffers. A `PoolPlan` lists
//! each output row's and column's input window, so max/avg pooling and their
//! adaptive forms share one set of loops. Planes run in parallel when large.

use super::Real;
use rayon::prelude::*;

/// Windows along one spatial axis: output `i` reads `lo[i]..hi[i]` by `step`;
/// `full[i]` is the window size counting padding cells (avg pooling's divisor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Axis {
    pub lo: Vec<usize>,
    pub hi: Vec<usize>,
    pub full: Vec<usize>,
    pub step: usize,
}

/// How an average window's sum is divided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Divisor {
    /// `divisor_override`.
    Override(i64),
    /// Window size including padding (count_include_pad=True).
    WithPad,
    /// Number of real input cells (count_include_pad=False).
    Valid,
    /// Adaptive pooling: `sum / kh / kw`, as PyTorch divides.
    Adaptive,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolPlan {
    pub h: Axis,
    pub w: Axis,
    pub in_hw: [usize; 2],
    pub divisor: Divisor,
    /// (kernel, stride, padding, dilation) as (h, w) pairs for regular
    /// pooling (the GPU kernel takes these); None for adaptive pooling.
    pub window: Option<[[usize; 2]; 4]>,
}

impl PoolPlan {
    pub fn out_hw(&self) -> [usize; 2] {
        [self.h.lo.len(), self.w.lo.len()]
    }
}

/// PyTorch's pooling_output_shape: floor (or ceil) division, and with ceil_mode
/// the last window must start inside the input or the left padding.
pub fn pool_out_size(size: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> i64 {
    let (size, k, s, p, d) = (size as i64, k as i64, s as i64, p as i64, d as i64);
    let num = size + 2 * p - d * (k - 1) - 1 + if ceil { s - 1 } else { 0 };
    let mut o = num.div_euclid(s) + 1;
    if ceil && (o - 1) * s >= size + p {
        o -= 1;
    }
    o
}

/// Max-pooling windows: starts skip padding by whole dilation steps, as PyTorch.
pub fn max_axis(size: usize, out: usize, k: usize, s: usize, p: usize, d: usize) -> Axis {
    let mut a = Axis {
        lo: vec![],
        hi: vec![],
        full: vec![],
        step: d,
    };
    for o in 0..out {
        let start = (o * s) as i64 - p as i64;
        let end = (start + ((k - 1) * d) as i64 + 1).min(size as i64);
        let mut lo = start;
        while lo < 0 {
            lo += d as i64;
        }
        a.lo.push(lo as usize);
        a.hi.push(end.max(0) as usize);
        a.full.push(k);
    }
    a
}

/// Average-pooling windows: `full` counts padding but not ceil_mode overhang.
pub fn avg_axis(size: usize, out: usize, k: usize, s: usize, p: usize) -> Axis {
    let mut a = Axis {
        lo: vec![],
        hi: vec![],
        full: vec![],
        step: 1,
    };
    for o in 0..out {
        let start = (o * s) as i64 - p as i64;
        let end = (start + k as i64).min((size + p) as i64);
        a.full.push((end - start) as usize);
        a.lo.push(start.max(0) as usize);
        a.hi.push(end.min(size as i64).max(0) as usize);
    }
    a
}

/// Adaptive windows: start = floor(i * size / out), end = ceil((i + 1) * size / out).
pub fn adaptive_axis(size: usize, out: usize) -> Axis {
    let mut a = Axis {
        lo: vec![],
        hi: vec![],
        full: vec![],
        step: 1,
    };
    for i in 0..out {
        let lo = i * size / out;
        let hi = ((i + 1) * size).div_ceil(out);
        a.lo.push(lo);
        a.hi.push(hi);
        a.full.push(hi - lo);
    }
    a
}

const PAR_WORK: usize = 1 << 16;

/// Map over (input plane, output plane) pairs, in parallel when the work is large.
fn planes<T: Send + Sync, U: Send>(
    src: &[T],
    src_len: usize,
    dst: &mut [U],
    dst_len: usize,
    work: usize,
    f: impl Fn(usize, &[T], &mut [U]) + Sync + Send,
) {
    if src_len == 0 || dst_len == 0 {
        return;
    }
    if work >= PAR_WORK && crate::cpu::num_threads() > 1 {
        dst.par_chunks_mut(dst_len)
            .zip(src.par_chunks(src_len))
            .enumerate()
            .for_each(|(i, (d, s))| f(i, s, d));
    } else {
        for (i, (d, s)) in dst.chunks_mut(dst_len).zip(src.chunks(src_len)).enumerate() {
            f(i, s, d);
        }
    }
}

fn window_work(p: &PoolPlan, planes: usize) -> usize {
    let [oh, ow] = p.out_hw();
    let kh = p.h.full.iter().max().copied().unwrap_or(0);
    let kw = p.w.full.iter().max().copied().unwrap_or(0);
    planes * oh * ow * kh.max(1) * kw.max(1)
}

/// Max over each window of one plane into `out`/`idx`, one output row at a
/// time. The loops run taps outside and output columns inside, so the
/// compare-and-select chains of neighbouring outputs are independent and
/// overlap; per output, cells are still visited in row-major order (the
/// first maximum wins, as in PyTorch). The index is `h * W + w` in the plane.
fn max_plane<T: Real>(xp: &[T], p: &PoolPlan, taps_w: usize, out: &mut [T], idx: &mut [i64]) {
    let w = p.in_hw[1];
    let ow = p.w.lo.len();
    let (sh, sw) = (p.h.step, p.w.step);
    for (oy, (best, bi)) in out.chunks_mut(ow).zip(idx.chunks_mut(ow)).enumerate() {
        let (y0, y1) = (p.h.lo[oy], p.h.hi[oy]);
        best.fill(T::neg_infinity());
        for (b, &lo) in bi.iter_mut().zip(&p.w.lo) {
            *b = (y0 * w + lo) as i64;
        }
        let mut iy = y0;
        while iy < y1 {
            let row = &xp[iy * w..(iy + 1) * w];
            let base = (iy * w) as i64;
            for kj in 0..taps_w {
                for ox in 0..ow {
                    let ix = p.w.lo[ox] + kj * sw;
                    if ix < p.w.hi[ox] {
                        let v = row[ix];
                        if (v > best[ox]) | v.is_nan() {
                            best[ox] = v;
                            bi[ox] = base + ix as i64;
                        }
                    }
                }
            }
            iy += sh;
        }
    }
}

/// Max over each window; the index is the flat offset `h * W + w` in the plane.
/// NaN wins, as in PyTorch; an empty window gives -inf.
pub fn max_forward<T: Real>(x: &[T], n_planes: usize, p: &PoolPlan) -> (Vec<T>, Vec<i64>) {
    let [h, w] = p.in_hw;
    let l = p.h.lo.len() * p.w.lo.len();
    let mut out = vec![T::zero(); n_planes * l];
    let mut idx = vec![0i64; n_planes * l];
    if l == 0 || h * w == 0 {
        return (out, idx);
    }
    let taps_w =
        p.w.lo
            .iter()
            .zip(&p.w.hi)
            .map(|(&lo, &hi)| hi.saturating_sub(lo).div_ceil(p.w.step))
            .max()
            .unwrap_or(0);
    if window_work(p, n_planes) >= PAR_WORK && crate::cpu::num_threads() > 1 {
        out.par_chunks_mut(l)
            .zip(idx.par_chunks_mut(l))
            .zip(x.par_chunks(h * w))
            .for_each(|((o, i), xp)| max_plane(xp, p, taps_w, o, i));
    } else {
        for ((o, i), xp) in out
            .chunks_mut(l)
            .zip(idx.chunks_mut(l))
            .zip(x.chunks(h * w))
        {
            max_plane(xp, p, taps_w, o, i);
        }
    }
    (out, idx)
}

/// Gradient of max pooling: each output's gradient added at its index.
pub fn max_backward<T: Real>(gy: &[T], idx: &[i64], n_planes: usize, p: &PoolPlan) -> Vec<T> {
    let [h, w] = p.in_hw;
    let [oh, ow] = p.out_hw();
    let l = oh * ow;
    let mut gx = vec![T::zero(); n_planes * h * w];
    planes(gy, l, &mut gx, h * w, n_planes * l * 4, |pi, src, dst| {
        for (&g, &i) in src.iter().zip(&idx[pi * l..(pi + 1) * l]) {
            if i >= 0 && (i as usize) < dst.len() {
                dst[i as usize] += g;
            }
        }
    });
    gx
}

/// Adjoint of `max_backward`: read each output's index from an input-shaped buffer.
pub fn max_gather<T: Real>(gx: &[T], idx: &[i64], n_planes: usize, p: &PoolPlan) -> Vec<T> {
    let [h, w] = p.in_hw;
    let [oh, ow] = p.out_hw();
    let l = oh * ow;
    let mut out = vec![T::zero(); n_planes * l];
    planes(gx, h * w, &mut out, l, n_planes * l * 4, |pi, src, dst| {
        for (d, &i) in dst.iter_mut().zip(&idx[pi * l..(pi + 1) * l]) {
            if i >= 0 && (i as usize) < src.len() {
                *d = src[i as usize];
            }
        }
    });
    out
}

/// `v` divided by window (oy, ox)'s divisor.
#[inline]
fn divide<T: Real>(p: &PoolPlan, oy: usize, ox: usize, v: T) -> T {
    let dh = p.h.hi[oy] - p.h.lo[oy];
    let dw = p.w.hi[ox] - p.w.lo[ox];
    let f = |n: usize| <T as crate::dtype::Element>::from_f64(n as f64);
    match p.divisor {
        Divisor::Override(d) => v / <T as crate::dtype::Element>::from_f64(d as f64),
        Divisor::WithPad => v / f(p.h.full[oy] * p.w.full[ox]),
        Divisor::Valid => v / f(dh * dw),
        Divisor::Adaptive => v / f(p.h.full[oy]) / f(p.w.full[ox]),
    }
}

fn empty(p: &PoolPlan, oy: usize, ox: usize) -> bool {
    p.h.lo[oy] >= p.h.hi[oy] || p.w.lo[ox] >= p.w.hi[ox]
}

/// Window averages.
pub fn avg_forward<T: Real>(x: &[T], n_planes: usize, p: &PoolPlan) -> Vec<T> {
    let [h, w] = p.in_hw;
    let [oh, ow] = p.out_hw();
    let mut out = vec![T::zero(); n_planes * oh * ow];
    planes(
        x,
        h * w,
        &mut out,
        oh * ow,
        window_work(p, n_planes),
        |_, xp, op| {
            for oy in 0..oh {
                for ox in 0..ow {
                    if empty(p, oy, ox) {
                        continue;
                    }
                    let mut sum = T::zero();
                    for iy in p.h.lo[oy]..p.h.hi[oy] {
                        for &v in &xp[iy * w + p.w.lo[ox]..iy * w + p.w.hi[ox]] {
                            sum += v;
                        }
                    }
                    op[oy * ow + ox] = divide(p, oy, ox, sum);
                }
            }
        },
    );
    out
}

/// Adjoint of `avg_forward`: each output's share spread over its window.
pub fn avg_backward<T: Real>(gy: &[T], n_planes: usize, p: &PoolPlan) -> Vec<T> {
    let [h, w] = p.in_hw;
    let [oh, ow] = p.out_hw();
    let mut gx = vec![T::zero(); n_planes * h * w];
    planes(
        gy,
        oh * ow,
        &mut gx,
        h * w,
        window_work(p, n_planes),
        |_, gp, xp| {
            for oy in 0..oh {
                for ox in 0..ow {
                    if empty(p, oy, ox) {
                        continue;
                    }
                    let g = divide(p, oy, ox, gp[oy * ow + ox]);
                    for iy in p.h.lo[oy]..p.h.hi[oy] {
                        for v in &mut xp[iy * w + p.w.lo[ox]..iy * w + p.w.hi[ox]] {
                            *v += g;
                        }
                    }
                }
            }
        },
    );
    gx
}
