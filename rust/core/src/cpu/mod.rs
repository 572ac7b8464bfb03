//! CPU kernels: contiguous fast paths, strided fallback, rayon for large tensors.

use crate::dispatch;
use crate::dtype::{DType, Element};
use crate::layout::{for_each_offset, for_each_offset2, Layout};
use crate::storage::{CpuData, CpuElement};
use rayon::prelude::*;

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

#[inline]
pub fn use_par(n: usize) -> bool {
    n >= PAR_THRESHOLD && parallel_ok()
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

/// Apply `f` to every element, producing a contiguous vector.
pub fn map1<T: CpuElement, U: CpuElement>(
    src: &CpuData,
    l: &Layout,
    f: impl Fn(T) -> U + Sync + Send,
) -> Vec<U> {
    let s = T::slice(src);
    let n = l.numel();
    if l.is_contiguous() {
        let s = &s[l.offset..l.offset + n];
        if use_par(n) {
            let mut out = alloc_default::<U>(n);
            out.par_chunks_mut(CHUNK)
                .zip(s.par_chunks(CHUNK))
                .for_each(|(o, i)| {
                    for (o, &i) in o.iter_mut().zip(i) {
                        *o = f(i);
                    }
                });
            return out;
        }
        if n >= (1 << 20) {
            let mut out = alloc_default::<U>(n);
            for (o, &x) in out.iter_mut().zip(s) {
                *o = f(x);
            }
            return out;
        }
        return s.iter().map(|&x| f(x)).collect();
    }
    let mut out = Vec::with_capacity(n);
    for_each_offset(l, |o| out.push(f(s[o])));
    out
}

/// Apply `f` pairwise; `la` and `lb` have the same shape (already broadcast).
pub fn map2<T: CpuElement, U: CpuElement>(
    a: &CpuData,
    la: &Layout,
    b: &CpuData,
    lb: &Layout,
    f: impl Fn(T, T) -> U + Sync + Send,
) -> Vec<U> {
    let (sa, sb) = (T::slice(a), T::slice(b));
    let n = la.numel();
    if la.is_contiguous() && lb.is_contiguous() {
        let (sa, sb) = (&sa[la.offset..la.offset + n], &sb[lb.offset..lb.offset + n]);
        if use_par(n) {
            let mut out = alloc_default::<U>(n);
            out.par_chunks_mut(CHUNK)
                .zip(sa.par_chunks(CHUNK).zip(sb.par_chunks(CHUNK)))
                .for_each(|(o, (x, y))| {
                    for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                        *o = f(x, y);
                    }
                });
            return out;
        }
        if n >= (1 << 20) {
            let mut out = alloc_default::<U>(n);
            for ((o, &x), &y) in out.iter_mut().zip(sa).zip(sb) {
                *o = f(x, y);
            }
            return out;
        }
        return sa.iter().zip(sb).map(|(&x, &y)| f(x, y)).collect();
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
    if from == to && l.is_contiguous() {
        let n = l.numel();
        return dispatch!(from, T => {
            let mut v = alloc_default::<T>(n);
            v.copy_from_slice(&T::slice(src)[l.offset..l.offset + n]);
            T::wrap(v)
        });
    }
    dispatch!(from, T => dispatch!(to, U => U::wrap(map1::<T, U>(src, l, cast_elem::<T, U>))))
}

/// Copy `src` (layout `sl`) into `dst` (layout `dl`), same shape, converting dtype.
pub fn copy_into(dst: &mut CpuData, dl: &Layout, src: &CpuData, sl: &Layout) {
    let (dt, st) = (dst.dtype(), src.dtype());
    dispatch!(st, S => dispatch!(dt, D => {
        let s = S::slice(src);
        let d = D::slice_mut(dst);
        let n = dl.numel();
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
