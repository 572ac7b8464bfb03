//! bfloat16 and float16 matrix products on the CPU with float32
//! accumulation and one rounding of each result (PyTorch's CPU semantics).
//!
//! bfloat16 on CPUs with AVX512-BF16: A and B are packed into panels whose
//! 32-bit lanes hold the two k-neighbours `(x[p], x[p+1])` that `vdpbf16ps`
//! multiplies and adds into one float32 lane, and a 12 x 32 register-blocked
//! microkernel accumulates in float32 (BLIS-style loops: NC columns of B,
//! KC deep, MC rows of A; the MC x NR tiles of a block run on the rayon pool).
//! The instruction flushes denormal inputs and outputs to zero; values that
//! small (below 1.2e-38) are far below bfloat16's own resolution of a sum.
//!
//! float16 everywhere, and bfloat16 elsewhere (or with
//! `EMBER_DISABLE_AVX512BF16=1`, read once): KC-deep panels of A and B are
//! converted to float32 and multiplied by the float32 GEMM, accumulating
//! into a float32 result. (The `gemm` crate's own f16 GEMM rounds the result
//! to f16 after every k block, so it is not used.)
//!
//! Both write a float32 m x n scratch and round it to the half type once.

use super::half_cvt::Half;
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::Layout;
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use half::{bf16, f16};
use rayon::prelude::*;
use std::any::TypeId;
use std::mem::MaybeUninit;

// Microkernel tile (MR rows x NR columns of f32 accumulators in 24 zmm
// registers) and cache blocking (an NR x KC panel of B is 16 KiB, L1; the
// KC x NC block of B 512 KiB, L2).
const MR: usize = 12;
const NR: usize = 32;
const KC: usize = 256;
const MC: usize = 96;
const NC: usize = 1024;

/// A strided matrix view: element (i, j) at `s[off + i * rs + j * cs]`.
struct Mat<'a, T> {
    s: &'a [T],
    off: usize,
    rs: usize,
    cs: usize,
}
impl<T> Clone for Mat<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Mat<'_, T> {}
impl<T: Copy> Mat<'_, T> {
    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> T {
        self.s[self.off + i * self.rs + j * self.cs]
    }
}

/// A (rows i0.., k p0..) into MR-row panels of k pairs.
fn pack_a(a: &Mat<u16>, i0: usize, mc: usize, p0: usize, kc: usize, dst: &mut [u32]) {
    let kc2 = kc.div_ceil(2);
    for ip in 0..mc.div_ceil(MR) {
        let panel = &mut dst[ip * kc2 * MR..(ip + 1) * kc2 * MR];
        for r in 0..MR {
            let i = ip * MR + r;
            if i >= mc {
                for q in 0..kc2 {
                    panel[q * MR + r] = 0;
                }
                continue;
            }
            for q in 0..kc2 {
                let p = 2 * q;
                let lo = a.at(i0 + i, p0 + p) as u32;
                let hi = if p + 1 < kc {
                    a.at(i0 + i, p0 + p + 1) as u32
                } else {
                    0
                };
                panel[q * MR + r] = lo | (hi << 16);
            }
        }
    }
}

/// B (k p0.., cols j0..) into NR-column panels, the two k of a pair adjacent.
fn pack_b_panel(b: &Mat<u16>, p0: usize, kc: usize, j: usize, nr: usize, panel: &mut [u16]) {
    let kc2 = kc.div_ceil(2);
    for q in 0..kc2 {
        let row = &mut panel[q * NR * 2..(q + 1) * NR * 2];
        for t in 0..2 {
            let p = 2 * q + t;
            if p >= kc {
                for jj in 0..NR {
                    row[jj * 2 + t] = 0;
                }
                continue;
            }
            for jj in 0..NR {
                row[jj * 2 + t] = if jj < nr { b.at(p0 + p, j + jj) } else { 0 };
            }
        }
    }
}

/// Whether bfloat16 products use the AVX512-BF16 kernel (detected once;
/// `EMBER_DISABLE_AVX512BF16=1` or `EMBER_CPU_LEVEL` below avx512 force the
/// float32-panel path, so tests reach both on this machine).
pub fn dpbf16_enabled() -> bool {
    static F: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *F.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::env::var("EMBER_DISABLE_AVX512BF16").as_deref() != Ok("1")
                && super::simd::level() == super::simd::Level::Avx512
                && is_x86_feature_detected!("avx512bf16")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// The kernel a product of this dtype runs: "avx512bf16" or "f32-panels".
pub fn half_gemm_path(dt: DType) -> &'static str {
    if dt == DType::BF16 && dpbf16_enabled() {
        "avx512bf16"
    } else {
        "f32-panels"
    }
}

/// See [`crate::backend::Backend::matmul`] for half types: one product per
/// batch item (f32 scratch reused), each rounded once into the output.
pub fn matmul(
    a: &Tensor,
    la: &Layout,
    b: &Tensor,
    lb: &Layout,
    nb: usize,
    out_shape: &[usize],
) -> Result<Tensor> {
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
    macro_rules! run {
        ($T:ty) => {
            <$T>::wrap(batched(Shape {
                m,
                n,
                k,
                offs_a: &offs_a,
                offs_b: &offs_b,
                ars,
                acs,
                brs,
                bcs,
                sa: <$T>::slice(ga.cpu()),
                sb: <$T>::slice(gb.cpu()),
            }))
        };
    }
    let data = match a.dtype() {
        DType::BF16 => run!(bf16),
        DType::F16 => run!(f16),
        other => crate::bail!("half matmul: unexpected dtype {other}"),
    };
    Ok(Tensor::from_cpu(data, out_shape))
}

struct Shape<'a, T> {
    m: usize,
    n: usize,
    k: usize,
    offs_a: &'a [usize],
    offs_b: &'a [usize],
    ars: usize,
    acs: usize,
    brs: usize,
    bcs: usize,
    sa: &'a [T],
    sb: &'a [T],
}

/// A row stride that avoids cache-set aliasing (a multiple of 64 floats
/// puts the rows of a tile into a few sets).
fn padded(x: usize) -> usize {
    if x >= 64 && x.is_multiple_of(64) {
        x + 16
    } else {
        x
    }
}

fn batched<T: Half>(s: Shape<T>) -> Vec<T> {
    let (m, n) = (s.m, s.n);
    let ldc = padded(n);
    let mut c = vec![0f32; m * ldc];
    super::fill_new(s.offs_a.len() * m * n, |out| {
        if m == 0 || n == 0 {
            return;
        }
        for (bi, (&oa, &ob)) in s.offs_a.iter().zip(s.offs_b).enumerate() {
            let a = Mat {
                s: s.sa,
                off: oa,
                rs: s.ars,
                cs: s.acs,
            };
            let b = Mat {
                s: s.sb,
                off: ob,
                rs: s.brs,
                cs: s.bcs,
            };
            product(m, n, s.k, &mut c, ldc, a, b);
            let dst = &mut out[bi * m * n..(bi + 1) * m * n];
            let round = |(i, row): (usize, &mut [MaybeUninit<T>])| {
                T::from_f32_slice(&c[i * ldc..i * ldc + n], row)
            };
            if super::use_par(m * n) {
                dst.par_chunks_mut(n).enumerate().for_each(round);
            } else {
                dst.chunks_mut(n).enumerate().for_each(round);
            }
        }
    })
}

/// c (m x n, row stride ldc) = a @ b in float32.
fn product<T: Half>(m: usize, n: usize, k: usize, c: &mut [f32], ldc: usize, a: Mat<T>, b: Mat<T>) {
    if k == 0 {
        c.fill(0.0);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if TypeId::of::<T>() == TypeId::of::<bf16>() && dpbf16_enabled() {
        // SAFETY: T is bf16 (checked above), a plain 16-bit value like u16.
        let bits = |x: Mat<T>| Mat {
            s: unsafe { std::slice::from_raw_parts(x.s.as_ptr().cast::<u16>(), x.s.len()) },
            off: x.off,
            rs: x.rs,
            cs: x.cs,
        };
        return product_dpbf16(m, n, k, c, ldc, bits(a), bits(b));
    }
    product_panels(m, n, k, c, ldc, a, b);
}

/// Float32 panels of A (m x KC) and B (KC x n) through the f32 GEMM.
fn product_panels<T: Half>(
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    ldc: usize,
    a: Mat<T>,
    b: Mat<T>,
) {
    const KCF: usize = 512;
    let mut abuf = Vec::new();
    let mut bbuf = Vec::new();
    // The f32 GEMM writes a dense m x n block; use a dense scratch when the
    // caller's rows are padded.
    let mut dense = Vec::new();
    for p0 in (0..k).step_by(KCF) {
        let kc = KCF.min(k - p0);
        let (a_rs, a_cs) = to_f32_block(&a, (0, p0), (m, kc), &mut abuf);
        let (b_rs, b_cs) = to_f32_block(&b, (p0, 0), (kc, n), &mut bbuf);
        let dst: &mut [f32] = if ldc == n {
            &mut c[..m * n]
        } else {
            dense.resize(m * n, 0.0);
            &mut dense
        };
        super::gemm::gemm_f::<f32>(
            m,
            n,
            kc,
            dst,
            &abuf,
            0,
            a_rs,
            a_cs,
            &bbuf,
            0,
            b_rs,
            b_cs,
            if p0 == 0 { None } else { Some(1.0) },
            1.0,
            true,
        );
    }
    if ldc != n {
        for i in 0..m {
            c[i * ldc..i * ldc + n].copy_from_slice(&dense[i * n..(i + 1) * n]);
        }
    }
}

/// The `rows x cols` block of `x` at `(r0, c0)` as float32 in `buf`, laid out
/// along whichever of x's strides is 1 (so each line converts as a slice);
/// returns the block's (row stride, column stride).
fn to_f32_block<T: Half>(
    x: &Mat<T>,
    (r0, c0): (usize, usize),
    (rows, cols): (usize, usize),
    buf: &mut Vec<f32>,
) -> (usize, usize) {
    let col_major = x.cs != 1 && x.rs == 1;
    let (lines, len) = if col_major {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let ld = padded(len);
    buf.clear();
    buf.resize(lines * ld, 0.0);
    let base = x.off + r0 * x.rs + c0 * x.cs;
    let (line_step, elem_step) = if col_major {
        (x.cs, x.rs)
    } else {
        (x.rs, x.cs)
    };
    let conv = |(l, dst): (usize, &mut [f32])| {
        let start = base + l * line_step;
        // SAFETY: f32 and MaybeUninit<f32> share their layout; every slot
        // written here is initialised.
        let dst: &mut [MaybeUninit<f32>] =
            unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast(), len) };
        if elem_step == 1 {
            T::to_f32_slice(&x.s[start..start + len], dst);
        } else {
            for (e, d) in dst.iter_mut().enumerate() {
                d.write(x.s[start + e * elem_step].to_f32_one());
            }
        }
    };
    if super::use_par(lines * len) {
        buf.par_chunks_mut(ld).enumerate().for_each(conv);
    } else {
        buf.chunks_mut(ld).enumerate().for_each(conv);
    }
    if col_major {
        (1, ld)
    } else {
        (ld, 1)
    }
}

/// A pointer shared by the tile jobs, which write disjoint tiles.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: every job writes its own tiles of the buffer.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// c = a @ b (bf16 bits) with the AVX512-BF16 microkernel.
#[cfg(target_arch = "x86_64")]
fn product_dpbf16(
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    ldc: usize,
    a: Mat<u16>,
    b: Mat<u16>,
) {
    let threads = if m * n * k >= 48 * 48 * 48 && super::parallel_ok() {
        super::num_threads().max(1)
    } else {
        1
    };
    debug_assert!(c.len() >= (m - 1) * ldc + n);
    let cp = SendPtr(c.as_mut_ptr());
    let mut bpack: Vec<u16> = Vec::new();
    for j0 in (0..n).step_by(NC) {
        let nc = NC.min(n - j0);
        let np = nc.div_ceil(NR);
        for p0 in (0..k).step_by(KC) {
            let kc = KC.min(k - p0);
            let kc2 = kc.div_ceil(2);
            let psz = kc2 * NR * 2;
            bpack.resize(np * psz, 0);
            let pack = |(jp, panel): (usize, &mut [u16])| {
                let jj = j0 + jp * NR;
                pack_b_panel(&b, p0, kc, jj, NR.min(n - jj), panel);
            };
            if threads > 1 {
                bpack.par_chunks_mut(psz).enumerate().for_each(pack);
            } else {
                bpack.chunks_mut(psz).enumerate().for_each(pack);
            }
            // Jobs: row blocks of MC, split into column groups when there
            // are too few row blocks to feed every thread.
            let row_blocks = m.div_ceil(MC);
            let groups = if threads > 1 {
                (2 * threads).div_ceil(row_blocks).clamp(1, np)
            } else {
                1
            };
            let per_group = np.div_ceil(groups);
            let bp = &bpack;
            let job = |id: usize, apack: &mut Vec<u32>| {
                let (rb, g) = (id / groups, id % groups);
                let i0 = rb * MC;
                let mc = MC.min(m - i0);
                apack.resize(mc.div_ceil(MR) * kc2 * MR, 0);
                pack_a(&a, i0, mc, p0, kc, apack);
                for jp in g * per_group..((g + 1) * per_group).min(np) {
                    let jj = j0 + jp * NR;
                    for ip in 0..mc.div_ceil(MR) {
                        let ii = i0 + ip * MR;
                        // SAFETY: the CPU has AVX512-BF16 (dpbf16_enabled);
                        // the panels hold kc2 pairs each; the tile
                        // (ii.., jj..) of mr x nr lies inside c (asserted
                        // above) and belongs to this job only.
                        unsafe {
                            dp::tile(
                                kc2,
                                apack.as_ptr().add(ip * kc2 * MR),
                                bp.as_ptr().add(jp * psz),
                                cp.get().add(ii * ldc + jj),
                                ldc,
                                MR.min(m - ii),
                                NR.min(n - jj),
                                p0 > 0,
                            );
                        }
                    }
                }
            };
            let jobs = row_blocks * groups;
            if threads > 1 && jobs > 1 {
                // At most `threads` tasks (ember.set_num_threads caps them).
                let t = threads.min(jobs);
                (0..t).into_par_iter().for_each(|w| {
                    let mut apack = Vec::new();
                    for id in (w..jobs).step_by(t) {
                        job(id, &mut apack);
                    }
                });
            } else {
                let mut apack = Vec::new();
                for id in 0..jobs {
                    job(id, &mut apack);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod dp {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f,avx512bf16")]
    #[inline]
    unsafe fn kernel(
        kc2: usize,
        ap: *const u32,
        bp: *const u16,
        c: *mut f32,
        ldc: usize,
        acc: bool,
    ) {
        let mut r = [[_mm512_setzero_ps(); 2]; MR];
        if acc {
            for (i, ri) in r.iter_mut().enumerate() {
                ri[0] = _mm512_loadu_ps(c.add(i * ldc));
                ri[1] = _mm512_loadu_ps(c.add(i * ldc + 16));
            }
        }
        for q in 0..kc2 {
            let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(bp.add(q * NR * 2).cast()));
            let b1: __m512bh =
                std::mem::transmute(_mm512_loadu_si512(bp.add(q * NR * 2 + 32).cast()));
            let aq = ap.add(q * MR);
            for (i, ri) in r.iter_mut().enumerate() {
                let av: __m512bh = std::mem::transmute(_mm512_set1_epi32(*aq.add(i) as i32));
                ri[0] = _mm512_dpbf16_ps(ri[0], av, b0);
                ri[1] = _mm512_dpbf16_ps(ri[1], av, b1);
            }
        }
        for (i, ri) in r.iter().enumerate() {
            _mm512_storeu_ps(c.add(i * ldc), ri[0]);
            _mm512_storeu_ps(c.add(i * ldc + 16), ri[1]);
        }
    }

    /// c (mr x nr of an ldc-strided f32 matrix) = (acc ? c : 0) + A-panel @ B-panel.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn tile(
        kc2: usize,
        ap: *const u32,
        bp: *const u16,
        c: *mut f32,
        ldc: usize,
        mr: usize,
        nr: usize,
        acc: bool,
    ) {
        if mr == MR && nr == NR {
            kernel(kc2, ap, bp, c, ldc, acc);
            return;
        }
        let mut tmp = [0f32; MR * NR];
        if acc {
            for i in 0..mr {
                for j in 0..nr {
                    tmp[i * NR + j] = *c.add(i * ldc + j);
                }
            }
        }
        kernel(kc2, ap, bp, tmp.as_mut_ptr(), NR, acc);
        for i in 0..mr {
            for j in 0..nr {
                *c.add(i * ldc + j) = tmp[i * NR + j];
            }
        }
    }
}
