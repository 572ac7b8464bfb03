//! CPU kernels: contiguous fast paths, strided fallback, rayon for large tensors.

use crate::dispatch;
use crate::dtype::{DType, Element};
use crate::layout::{for_each_offset, for_each_offset2, Layout};
use crate::storage::{CpuData, CpuElement};
use rayon::prelude::*;
use std::mem::MaybeUninit;

pub mod alloc;
pub mod backend;
pub mod binary;
pub mod fft;
pub mod gemm;
pub mod gemm_half;
pub mod half_cvt;
pub mod index;
pub mod linalg;
pub mod norm;
pub mod reduce;
pub mod simd;
pub mod softmax;
pub mod sort;
pub mod unary;

/// Elements above which elementwise kernels split work across threads.
pub const PAR_THRESHOLD: usize = 1 << 16;

static MAIN_PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Record the process that owns the thread pool (called when the module loads).
pub fn init_process() {
    MAIN_PID.get_or_init(std::process::id);
}

/// Whether kernels may use the rayon pool. A child created by fork() (e.g. a
/// DataLoader worker) has no pool threads, so waiting on them would hang:
/// kernels run single-threaded there instead.
#[inline]
pub fn parallel_ok() -> bool {
    match MAIN_PID.get() {
        Some(&p) => p == std::process::id(),
        None => true,
    }
}

/// Threads the kernels may use (`ember.set_num_threads`); 0 = the pool's size.
static NUM_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Cap the threads the CPU kernels use. 1 makes every kernel serial; above
/// 1, GEMMs use exactly `n` threads and elementwise/reduction kernels split
/// over the pool (whose size is fixed at start-up: OMP_NUM_THREADS or
/// EMBER_NUM_THREADS, else the number of cores).
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// The thread count kernels use now.
pub fn num_threads() -> usize {
    match NUM_THREADS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => rayon::current_num_threads(),
        n => n,
    }
}

/// Size the global pool from OMP_NUM_THREADS / EMBER_NUM_THREADS (as
/// PyTorch honours OMP_NUM_THREADS); called once when the module loads.
pub fn init_pool_from_env() {
    let n = ["EMBER_NUM_THREADS", "OMP_NUM_THREADS"]
        .iter()
        .find_map(|k| std::env::var(k).ok()?.trim().parse::<usize>().ok())
        .filter(|&n| n > 0);
    if let Some(n) = n {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
        set_num_threads(n);
    }
}

#[inline]
pub fn use_par(n: usize) -> bool {
    n >= PAR_THRESHOLD && parallel_ok() && num_threads() > 1
}

/// A zero-initialised output buffer. Large buffers are backed by transparent
/// huge pages where the OS offers them: filling a fresh 40 MB buffer then
/// takes a few dozen page faults instead of ten thousand.
pub fn alloc_default<U: Clone + Default>(n: usize) -> Vec<U> {
    let v = vec![U::default(); n];
    let bytes = n * std::mem::size_of::<U>();
    #[cfg(target_os = "linux")]
    if bytes >= (4 << 20) {
        // SAFETY: advisory call on memory owned by `v`; failure is harmless.
        unsafe {
            let p = v.as_ptr() as usize;
            let page = 4096;
            let start = (p + page - 1) & !(page - 1);
            let end = (p + bytes) & !(page - 1);
            if end > start {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    let _ = bytes;
    v
}
const CHUNK: usize = 1 << 14;

/// Cast one element between any two element types.
#[inline(always)]
pub fn cast_elem<T: Element, U: Element>(x: T) -> U {
    if T::DTYPE.is_float() || U::DTYPE.is_float() {
        U::from_f64(x.to_f64())
    } else {
        U::from_i64(x.to_i64())
    }
}

/// A vector of `n` elements, each written exactly once by `fill` (no zeroing
/// pass first). A panic inside `fill` leaks nothing and exposes nothing: the
/// length is set only after it returns.
pub fn fill_new<U>(n: usize, fill: impl FnOnce(&mut [MaybeUninit<U>])) -> Vec<U> {
    let mut v = Vec::with_capacity(n);
    fill(&mut v.spare_capacity_mut()[..n]);
    // SAFETY: `fill` initialised all n elements (every caller writes each slot).
    unsafe { v.set_len(n) };
    v
}

/// Apply `f` to every element, producing a contiguous vector.
pub fn map1<T: CpuElement, U: CpuElement>(
    src: &CpuData,
    l: &Layout,
    f: impl Fn(T) -> U + Sync + Send + Copy,
) -> Vec<U> {
    let s = T::slice(src);
    let n = l.numel();
    if n == 0 {
        // An empty view may carry an offset past the end of its storage.
        return Vec::new();
    }
    if l.is_contiguous() {
        let s = &s[l.offset..l.offset + n];
        return fill_new(n, |dst| {
            if use_par(n) {
                dst.par_chunks_mut(CHUNK)
                    .zip(s.par_chunks(CHUNK))
                    .for_each(|(o, i)| simd::map1_slice(i, o, f));
            } else {
                simd::map1_slice(s, dst, f);
            }
        });
    }
    let nd = l.ndim();
    if nd >= 2 && l.strides[nd - 1] == 1 && l.shape[nd - 1] >= 8 {
        // Rows with unit stride (a slice of a wider tensor): vector loop per row.
        let len = l.shape[nd - 1];
        let outer = Layout {
            shape: l.shape[..nd - 1].to_vec(),
            strides: l.strides[..nd - 1].to_vec(),
            offset: l.offset,
        };
        let bases = outer.offsets();
        return fill_new(n, |dst| {
            let row =
                |(o, &b): (&mut [MaybeUninit<U>], &usize)| simd::map1_slice(&s[b..b + len], o, f);
            if use_par(n) {
                dst.par_chunks_mut(len).zip(bases.par_iter()).for_each(row);
            } else {
                dst.chunks_mut(len).zip(bases.iter()).for_each(row);
            }
        });
    }
    if nd >= 2 && l.strides[nd - 2] == 1 && l.shape[nd - 1] >= 8 && l.shape[nd - 2] >= 8 {
        // The last two dims swapped (`x.t().contiguous()`, a transposed
        // weight): 16 x 16 tiles, so each cache line read serves 16 writes.
        const TILE: usize = 16;
        let (r, c, sc) = (l.shape[nd - 2], l.shape[nd - 1], l.strides[nd - 1]);
        let outer = Layout {
            shape: l.shape[..nd - 2].to_vec(),
            strides: l.strides[..nd - 2].to_vec(),
            offset: l.offset,
        };
        let bases = outer.offsets();
        return fill_new(n, |dst| {
            // One block of TILE output rows of one matrix per task.
            let blocks = r.div_ceil(TILE);
            let task = |(t, o): (usize, &mut [MaybeUninit<U>])| {
                let (m, i0) = (t / blocks, (t % blocks) * TILE);
                let base = bases[m];
                let rows = o.len() / c;
                for j0 in (0..c).step_by(TILE) {
                    let j1 = (j0 + TILE).min(c);
                    for di in 0..rows {
                        let src = base + i0 + di;
                        let out = &mut o[di * c..(di + 1) * c];
                        for j in j0..j1 {
                            out[j].write(f(s[src + j * sc]));
                        }
                    }
                }
            };
            // Row blocks never straddle two matrices: split each matrix first.
            let chunks = dst
                .chunks_mut(r * c)
                .flat_map(|mat| mat.chunks_mut(TILE * c));
            if use_par(n) {
                let v: Vec<_> = chunks.enumerate().collect();
                v.into_par_iter().for_each(task);
            } else {
                chunks.enumerate().for_each(task);
            }
        });
    }
    let mut out = Vec::with_capacity(n);
    for_each_offset(l, |o| out.push(f(s[o])));
    out
}

/// How a broadcast binary op walks its operands: `len` elements at a time
/// along the innermost dims, where each operand is either contiguous or
/// constant (stride 0); `outer_*` enumerate the starts of those runs.
struct Runs {
    len: usize,
    a_const: bool,
    b_const: bool,
    outer_a: Layout,
    outer_b: Layout,
}

fn inner_runs(la: &Layout, lb: &Layout) -> Option<Runs> {
    let nd = la.ndim();
    if nd == 0 {
        return None;
    }
    let kind = |l: &Layout, d: usize| -> Option<bool> {
        // Some(false): unit stride at the last dim; Some(true): constant.
        if l.strides[d] == 0 {
            Some(true)
        } else if l.strides[d] == 1 {
            Some(false)
        } else {
            None
        }
    };
    let (ka, kb) = (kind(la, nd - 1)?, kind(lb, nd - 1)?);
    if ka && kb {
        return None;
    }
    let mut k = nd - 1;
    let mut len = la.shape[nd - 1];
    // Extend the run over outer dims while each operand stays contiguous
    // (stride == elements below) or constant (stride 0).
    while k > 0 {
        let d = k - 1;
        let ok_a = if ka {
            la.strides[d] == 0
        } else {
            la.strides[d] == len
        };
        let ok_b = if kb {
            lb.strides[d] == 0
        } else {
            lb.strides[d] == len
        };
        if !(ok_a && ok_b) {
            break;
        }
        len *= la.shape[d];
        k = d;
    }
    let cut = |l: &Layout| Layout {
        shape: l.shape[..k].to_vec(),
        strides: l.strides[..k].to_vec(),
        offset: l.offset,
    };
    Some(Runs {
        len,
        a_const: ka,
        b_const: kb,
        outer_a: cut(la),
        outer_b: cut(lb),
    })
}

/// Apply `f` pairwise; `la` and `lb` have the same shape (already broadcast).
pub fn map2<T: CpuElement, U: CpuElement>(
    a: &CpuData,
    la: &Layout,
    b: &CpuData,
    lb: &Layout,
    f: impl Fn(T, T) -> U + Sync + Send + Copy,
) -> Vec<U> {
    let (sa, sb) = (T::slice(a), T::slice(b));
    let n = la.numel();
    if n == 0 {
        return Vec::new();
    }
    if la.is_contiguous() && lb.is_contiguous() {
        let (sa, sb) = (&sa[la.offset..la.offset + n], &sb[lb.offset..lb.offset + n]);
        return fill_new(n, |dst| {
            if use_par(n) {
                dst.par_chunks_mut(CHUNK)
                    .zip(sa.par_chunks(CHUNK).zip(sb.par_chunks(CHUNK)))
                    .for_each(|(o, (x, y))| simd::map2_slice(x, y, o, f));
            } else {
                simd::map2_slice(sa, sb, dst, f);
            }
        });
    }
    // Scalar on one side (stride-0 everywhere): common for `x * 2`.
    if la.is_contiguous() && lb.strides.iter().all(|&s| s == 0) {
        let y = sb[lb.offset];
        return map1::<T, U>(a, la, move |x| f(x, y));
    }
    if lb.is_contiguous() && la.strides.iter().all(|&s| s == 0) {
        let x = sa[la.offset];
        return map1::<T, U>(b, lb, move |y| f(x, y));
    }
    if n > 0 {
        if let Some(r) = inner_runs(la, lb).filter(|r| r.len >= 8) {
            let mut starts = Vec::with_capacity(n / r.len);
            for_each_offset2(&r.outer_a, &r.outer_b, |oa, ob| starts.push((oa, ob)));
            let len = r.len;
            return fill_new(n, |dst| {
                let run = |(o, &(oa, ob)): (&mut [MaybeUninit<U>], &(usize, usize))| {
                    if r.b_const {
                        let y = sb[ob];
                        simd::map1_slice(&sa[oa..oa + len], o, move |x| f(x, y));
                    } else if r.a_const {
                        let x = sa[oa];
                        simd::map1_slice(&sb[ob..ob + len], o, move |y| f(x, y));
                    } else {
                        simd::map2_slice(&sa[oa..oa + len], &sb[ob..ob + len], o, f);
                    }
                };
                if use_par(n) {
                    dst.par_chunks_mut(len).zip(starts.par_iter()).for_each(run);
                } else {
                    dst.chunks_mut(len).zip(starts.iter()).for_each(run);
                }
            });
        }
    }
    let mut out = Vec::with_capacity(n);
    for_each_offset2(la, lb, |oa, ob| out.push(f(sa[oa], sb[ob])));
    out
}

/// Three-input map (where, clamp with tensor bounds, lerp...).
pub fn map3<A: CpuElement, T: CpuElement, U: CpuElement>(
    a: &CpuData,
    la: &Layout,
    b: &CpuData,
    lb: &Layout,
    c: &CpuData,
    lc: &Layout,
    f: impl Fn(A, T, T) -> U,
) -> Vec<U> {
    let (sa, sb, sc) = (A::slice(a), T::slice(b), T::slice(c));
    let (oa, ob, oc) = (la.offsets(), lb.offsets(), lc.offsets());
    oa.iter()
        .zip(&ob)
        .zip(&oc)
        .map(|((&i, &j), &k)| f(sa[i], sb[j], sc[k]))
        .collect()
}

/// Contiguous copy with a dtype conversion.
pub fn cast(src: &CpuData, l: &Layout, to: DType) -> CpuData {
    let from = src.dtype();
    if from == to && l.is_contiguous() && l.numel() > 0 {
        let n = l.numel();
        return dispatch!(from, T => {
            let mut v = alloc_default::<T>(n);
            v.copy_from_slice(&T::slice(src)[l.offset..l.offset + n]);
            T::wrap(v)
        });
    }
    if l.is_contiguous() {
        if let Some(d) = half_cvt::cast_contiguous(src, l, to) {
            return d;
        }
    }
    dispatch!(from, T => dispatch!(to, U => U::wrap(map1::<T, U>(src, l, cast_elem::<T, U>))))
}

/// Copy `src` (layout `sl`) into `dst` (layout `dl`), same shape, converting dtype.
pub fn copy_into(dst: &mut CpuData, dl: &Layout, src: &CpuData, sl: &Layout) {
    let (dt, st) = (dst.dtype(), src.dtype());
    let n = dl.numel();
    if dt == st && n > 0 && dl.is_contiguous() && sl.is_contiguous() {
        dispatch!(dt, T => {
            let d = &mut T::slice_mut(dst)[dl.offset..dl.offset + n];
            let s = &T::slice(src)[sl.offset..sl.offset + n];
            if use_par(n) {
                d.par_chunks_mut(CHUNK)
                    .zip(s.par_chunks(CHUNK))
                    .for_each(|(a, b)| a.copy_from_slice(b));
            } else {
                d.copy_from_slice(s);
            }
        });
        return;
    }
    dispatch!(st, S => dispatch!(dt, D => {
        let s = S::slice(src);
        let d = D::slice_mut(dst);
        let n = dl.numel();
        if n == 0 {
            return;
        }
        if dl.is_contiguous() && sl.is_contiguous() {
            let (d, s) = (&mut d[dl.offset..dl.offset + n], &s[sl.offset..sl.offset + n]);
            for (o, &i) in d.iter_mut().zip(s) {
                *o = cast_elem::<S, D>(i);
            }
        } else {
            for_each_offset2(dl, sl, |od, os| d[od] = cast_elem::<S, D>(s[os]));
        }
    }))
}

/// Fill every element of the layout with a value.
pub fn fill(dst: &mut CpuData, dl: &Layout, v: crate::dtype::Scalar) {
    dispatch!(dst.dtype(), T => {
        let x = T::from_scalar(v);
        let d = T::slice_mut(dst);
        if dl.numel() == 0 {
            return;
        }
        if dl.is_contiguous() {
            let n = dl.numel();
            d[dl.offset..dl.offset + n].fill(x);
        } else {
            for_each_offset(dl, |o| d[o] = x);
        }
    })
}

/// Base offsets of the 1-d lines along `dim` (row-major over the other dims).
pub fn line_bases(l: &Layout, dim: usize) -> Vec<usize> {
    if l.shape[dim] == 0 {
        let mut s = l.clone();
        s.shape[dim] = 1;
        return s.select(dim, 0).offsets();
    }
    l.select(dim, 0).offsets()
}
