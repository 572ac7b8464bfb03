//! Host side of the WGSL kernels: parameter blocks, dispatch geometry and
//! the tensor-level entry points the ops call for GPU tensors.

use super::{ctx, wgsl_type, GpuData, Params, WG};
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::{Storage, StorageCell};
use crate::tensor::Tensor;
use std::sync::{Arc, RwLockReadGuard};

const COMMON: &str = include_str!("../../../../shaders/common.wgsl");

fn shader_text(name: &str) -> &'static str {
    match name {
        "unary_float" => include_str!("../../../../shaders/unary_float.wgsl"),
        "unary_int" => include_str!("../../../../shaders/unary_int.wgsl"),
        "binary_float" => include_str!("../../../../shaders/binary_float.wgsl"),
        "binary_int" => include_str!("../../../../shaders/binary_int.wgsl"),
        "compare" => include_str!("../../../../shaders/compare.wgsl"),
        "where" => include_str!("../../../../shaders/where.wgsl"),
        "cast" => include_str!("../../../../shaders/cast.wgsl"),
        "fill" => include_str!("../../../../shaders/fill.wgsl"),
        "reduce" => include_str!("../../../../shaders/reduce.wgsl"),
        "matmul" => include_str!("../../../../shaders/matmul.wgsl"),
        "im2col" => include_str!("../../../../shaders/im2col.wgsl"),
        "col2im" => include_str!("../../../../shaders/col2im.wgsl"),
        "pool" => include_str!("../../../../shaders/pool.wgsl"),
        "gather" => include_str!("../../../../shaders/gather.wgsl"),
        "scatter_add" => include_str!("../../../../shaders/scatter_add.wgsl"),
        "optim" => include_str!("../../../../shaders/optim.wgsl"),
        "scan" => include_str!("../../../../shaders/scan.wgsl"),
        "sort" => include_str!("../../../../shaders/sort.wgsl"),
        "half" => include_str!("../../../../shaders/half.wgsl"),
        _ => panic!("unknown shader {name}"),
    }
}

/// WGSL source of `name` with its `alias T`/`alias S` lines set.
pub fn source(name: &str, t: &str, s: &str) -> String {
    let mut out = String::with_capacity(COMMON.len() + 4096);
    out.push_str(COMMON);
    for line in shader_text(name).lines() {
        if line.starts_with("alias T = ") {
            out.push_str(&format!("alias T = {t};"));
        } else if line.starts_with("alias S = ") {
            out.push_str(&format!("alias S = {s};"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn run(
    name: &'static str,
    t: &'static str,
    s: &'static str,
    p: &Params,
    bufs: &[&::wgpu::Buffer],
    groups: (u32, u32, u32),
) -> Result<()> {
    ctx()?.dispatch((name, t, s), || source(name, t, s), p, bufs, groups)
}

/// Workgroups for `n` threads of WG each, as a 2-d grid under 65535 per dim.
pub fn grid(n: usize) -> (u32, u32, u32) {
    let g = n.div_ceil(WG as usize);
    if g == 0 {
        return (0, 1, 1);
    }
    let x = g.min(65535);
    (x as u32, g.div_ceil(x) as u32, 1)
}

/// Workgroup grid with one group per item.
pub fn grid_groups(n: usize) -> (u32, u32, u32) {
    if n == 0 {
        return (0, 1, 1);
    }
    let x = n.min(65535);
    (x as u32, n.div_ceil(x) as u32, 1)
}

fn u32_of(v: usize, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::Runtime(format!(
            "{what}: {v} exceeds the gpu device's 32-bit indexing"
        ))
    })
}

/// How a kernel uses a bound tensor (what `Bufs` does for a 16-bit storage).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// Read only.
    In,
    /// Every element of the view is written: its old values are not read
    /// (not unpacked when the view covers its whole storage).
    Out,
    /// Read and written (accumulations, optimizer states, partial writes).
    InOut,
}

/// One bound storage: its read guard and, for a float16/bfloat16 storage,
/// the f32-word temporary the kernels see instead, and whether it is packed
/// back when the guards are released.
struct Bound<'a> {
    guard: RwLockReadGuard<'a, Storage>,
    wide: Option<super::GpuBuffer>,
    write: bool,
}

/// Read guards over the GPU storages of some tensors; the one place kernels
/// bind a tensor's storage. A float16/bfloat16 storage (two 16-bit values per
/// word) is widened into a pooled f32-word temporary by an unpack dispatch
/// (skipped for an `Out` view covering the whole storage), and, when written,
/// packed back into the storage (rounded to nearest even) when the `Bufs` is
/// dropped, i.e. after the kernels recorded while it was alive. A storage
/// bound twice shares one temporary.
pub struct Bufs<'a> {
    bound: Vec<Bound<'a>>,
    /// Index into `bound` of each tensor passed.
    slot: Vec<usize>,
}

impl<'a> Bufs<'a> {
    /// `ts[0]` is the kernel's output (`Io::Out`), the others inputs.
    pub fn of(ts: &[&'a Tensor]) -> Result<Bufs<'a>> {
        let io: Vec<Io> = (0..ts.len())
            .map(|i| if i == 0 { Io::Out } else { Io::In })
            .collect();
        Bufs::io(ts, &io)
    }

    /// Bind `ts`, each used as `io` says.
    pub fn io(ts: &[&'a Tensor], io: &[Io]) -> Result<Bufs<'a>> {
        let mut bound: Vec<Bound<'a>> = Vec::with_capacity(ts.len());
        let mut slot = Vec::with_capacity(ts.len());
        let mut cells: Vec<*const StorageCell> = Vec::with_capacity(ts.len());
        for (k, t) in ts.iter().enumerate() {
            let cell = Arc::as_ptr(t.storage());
            let mode = io.get(k).copied().unwrap_or(Io::In);
            if let Some(j) = cells.iter().position(|&c| c == cell) {
                bound[j].write |= mode != Io::In;
                slot.push(j);
                continue;
            }
            let g = t.storage().read();
            if !matches!(&*g, Storage::Gpu(_)) {
                return Err(Error::Runtime(format!(
                    "internal: expected a gpu tensor, found one on {}",
                    t.device()
                )));
            }
            cells.push(cell);
            slot.push(bound.len());
            bound.push(Bound {
                guard: g,
                wide: None,
                write: mode != Io::In,
            });
        }
        // Widen the 16-bit storages (after the dedup, so that a storage bound
        // as output and input is unpacked).
        for (k, t) in ts.iter().enumerate() {
            let j = slot[k];
            let b = &mut bound[j];
            let Storage::Gpu(d) = &*b.guard else {
                continue;
            };
            if !super::is_half(d.dtype) || b.wide.is_some() {
                continue;
            }
            let shared = slot.iter().filter(|&&s| s == j).count() > 1;
            let l = t.layout();
            let whole = io.get(k) == Some(&Io::Out)
                && !shared
                && l.offset == 0
                && t.numel() == d.len
                && t.is_contiguous();
            let c = ctx()?;
            let wide = c.alloc(d.len.max(1))?;
            if !whole {
                let mut p: Params = [0; 64];
                p[0] = u32_of(d.len, "gpu tensor size")?;
                p[2] = (d.dtype == DType::BF16) as u32;
                run(
                    "half",
                    "u32",
                    "",
                    &p,
                    &[wide.raw(), d.buf.raw()],
                    grid(d.len),
                )?;
            }
            b.wide = Some(wide);
        }
        Ok(Bufs { bound, slot })
    }

    pub fn get(&self, i: usize) -> &::wgpu::Buffer {
        let b = &self.bound[self.slot[i]];
        if let Some(w) = &b.wide {
            return w.raw();
        }
        match &*b.guard {
            Storage::Gpu(g) => g.buf.raw(),
            Storage::Cpu(_) => unreachable!(),
        }
    }

    /// Pack the written 16-bit temporaries back into their storages.
    fn pack_back(&self) -> Result<()> {
        for b in &self.bound {
            let (Some(w), true, Storage::Gpu(d)) = (&b.wide, b.write, &*b.guard) else {
                continue;
            };
            let nw = super::words(d.len, d.dtype);
            let mut p: Params = [0; 64];
            p[0] = u32_of(d.len, "gpu tensor size")?;
            p[1] = nw as u32;
            p[2] = 2 + (d.dtype == DType::BF16) as u32;
            run("half", "u32", "", &p, &[d.buf.raw(), w.raw()], grid(nw))?;
        }
        Ok(())
    }
}

impl Drop for Bufs<'_> {
    fn drop(&mut self) {
        // Recorded after the kernels that used the temporaries, before the
        // storages' guards are released. The pack shader is fixed text, so
        // this fails only when the device does; such an error is raised at
        // the next check, like the device's own errors.
        if let Err(e) = self.pack_back() {
            if let Ok(c) = ctx() {
                super::lock(&c.errors).push(e.to_string());
            }
        }
    }
}

/// A new contiguous GPU tensor (uninitialised words).
pub fn empty(shape: &[usize], dtype: DType) -> Result<Tensor> {
    let n = crate::layout::checked_numel(shape, 4, "empty")?;
    u32_of(n, "gpu tensor size")?;
    let c = ctx()?;
    let buf = c.alloc(super::words(n, dtype))?;
    Ok(Tensor::from_parts(
        Arc::new(StorageCell::new_gpu(GpuData { buf, len: n, dtype })),
        Layout::contiguous(shape),
        dtype,
    ))
}

/// Merge dims that are contiguous in every operand (fewer index divisions,
/// and views with many dims still fit the 8 slots).
fn coalesce(shape: &[usize], ls: &[&[usize]]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut sh: Vec<usize> = Vec::new();
    let mut st: Vec<Vec<usize>> = vec![Vec::new(); ls.len()];
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        if let Some(&last) = sh.last() {
            let k = sh.len() - 1;
            if ls
                .iter()
                .enumerate()
                .all(|(j, s)| st[j][k] == s[d] * shape[d])
            {
                sh[k] = last * shape[d];
                for (j, s) in ls.iter().enumerate() {
                    st[j][k] = s[d];
                }
                continue;
            }
        }
        sh.push(shape[d]);
        for (j, s) in ls.iter().enumerate() {
            st[j].push(s[d]);
        }
    }
    (sh, st)
}

/// Slot layout of the strided elementwise kernels (shaders/README.md).
pub fn ew_params(
    shape: &[usize],
    out: &Layout,
    ins: &[&Layout],
    op: u32,
    flags: u32,
) -> Result<Params> {
    let mut p: Params = [0; 64];
    let n = crate::layout::numel(shape);
    p[0] = u32_of(n, "elementwise op")?;
    p[2] = op;
    let mut all: Vec<&Layout> = vec![out];
    all.extend_from_slice(ins);
    for l in &all {
        u32_of(l.offset + l.extent(), "gpu tensor offset")?;
    }
    let contig = all.iter().all(|l| l.shape == shape && l.is_contiguous());
    p[4] = out.offset as u32;
    for (k, l) in ins.iter().enumerate() {
        p[5 + k] = l.offset as u32;
    }
    if contig {
        p[3] = flags | 1;
        return Ok(p);
    }
    let strides: Vec<&[usize]> = all.iter().map(|l| &l.strides[..]).collect();
    let (sh, st) = coalesce(shape, &strides);
    if sh.len() > 8 {
        return Err(Error::NotImplemented(format!(
            "gpu kernels take views of at most 8 non-mergeable dims, got shape {shape:?}"
        )));
    }
    p[1] = sh.len() as u32;
    p[3] = flags;
    for (d, &s) in sh.iter().enumerate() {
        p[8 + d] = s as u32;
        p[16 + d] = st[0][d] as u32;
        for k in 0..ins.len() {
            p[24 + 8 * k + d] = st[k + 1][d] as u32;
        }
    }
    Ok(p)
}

const F_SCALAR: u32 = 2;
const F_ROUND16: u32 = 4;
const F_U8: u32 = 8;
const F_I8: u32 = 16;
const F_I16: u32 = 32;
const F_ROUNDBF: u32 = 64;

/// Result flags of the elementwise kernels: results of the narrow types are
/// rounded (float16, bfloat16) or wrapped (as their C arithmetic does) to
/// their width in the f32/i32 words the kernels compute on.
fn out_flags(dt: DType) -> u32 {
    match dt {
        DType::F16 => F_ROUND16,
        DType::BF16 => F_ROUNDBF,
        DType::U8 => F_U8,
        DType::I8 => F_I8,
        DType::I16 => F_I16,
        _ => 0,
    }
}

/// Bits of a scalar as a word of `dt`'s storage type.
pub fn scalar_word(v: Scalar, dt: DType) -> u32 {
    match wgsl_type(dt) {
        "f32" => (v.to_f64() as f32).to_bits(),
        "u32" => match dt {
            DType::Bool => (v.to_f64() != 0.0) as u32,
            _ => (v.to_i64() as i32 as u32) & 0xff,
        },
        _ => v.to_i64() as i32 as u32,
    }
}

pub fn unary(x: &Tensor, op: u32) -> Result<Tensor> {
    let dt = x.dtype();
    let out = empty(x.shape(), dt)?;
    let (name, t) = if dt.is_float() {
        ("unary_float", "f32")
    } else {
        ("unary_int", wgsl_type(dt))
    };
    let p = ew_params(x.shape(), out.layout(), &[x.layout()], op, out_flags(dt))?;
    {
        let b = Bufs::of(&[&out, x])?;
        run(name, t, "", &p, &[b.get(0), b.get(1)], grid(out.numel()))?;
    }
    Ok(out)
}

/// Elementwise binary op of `a` and `b` (already of dtype `ct`, or `b` a
/// 0-dim CPU scalar) producing `out_dt`.
pub fn binary(
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    op: u32,
    compare: bool,
    ct: DType,
) -> Result<Tensor> {
    let out_dt = if compare { DType::Bool } else { ct };
    let out = empty(shape, out_dt)?;
    let la = a.layout().broadcast_to(shape)?;
    let scalar = !b.device().is_gpu();
    let name = if compare {
        "compare"
    } else if ct.is_float() {
        "binary_float"
    } else {
        "binary_int"
    };
    let t = wgsl_type(ct);
    let mut p = if scalar {
        let mut p = ew_params(
            shape,
            out.layout(),
            &[&la],
            op,
            out_flags(out_dt) | F_SCALAR,
        )?;
        p[52] = scalar_word(b.item()?, ct);
        p
    } else {
        let lb = b.layout().broadcast_to(shape)?;
        ew_params(shape, out.layout(), &[&la, &lb], op, out_flags(out_dt))?
    };
    p[48] = 1.0f32.to_bits();
    let int_div = name == "binary_int" && (4..=6).contains(&op);
    if int_div && scalar && p[52] == 0 {
        return Err(Error::Runtime(format!(
            "ZeroDivisionError: {} of an integer tensor by zero",
            ["floor_divide", "remainder", "fmod"][op as usize - 4]
        )));
    }
    let g = if scalar {
        Bufs::of(&[&out, a, a])?
    } else {
        Bufs::of(&[&out, a, b])?
    };
    let mut bufs = vec![g.get(0), g.get(1), g.get(2)];
    if name == "binary_int" {
        // A tensor divisor may hold zeros: checked on the device.
        bufs.push(ctx()?.error_record(int_div && !scalar));
    }
    run(name, t, "", &p, &bufs, grid(out.numel()))?;
    drop(g);
    Ok(out)
}

pub fn where_(c: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let dt = a.dtype();
    let out = empty(shape, dt)?;
    let (lc, la, lb) = (
        c.layout().broadcast_to(shape)?,
        a.layout().broadcast_to(shape)?,
        b.layout().broadcast_to(shape)?,
    );
    let p = ew_params(shape, out.layout(), &[&lc, &la, &lb], 0, 0)?;
    {
        let g = Bufs::of(&[&out, c, a, b])?;
        run(
            "where",
            wgsl_type(dt),
            "",
            &p,
            &[g.get(0), g.get(1), g.get(2), g.get(3)],
            grid(out.numel()),
        )?;
    }
    Ok(out)
}

fn cast_op(from: DType, to: DType) -> u32 {
    match to {
        DType::Bool => 1,
        DType::U8 if from != DType::Bool && from != DType::U8 => 2,
        DType::F16 if from != DType::F16 => 3,
        DType::BF16 if from != DType::BF16 => 7,
        DType::I8 if !matches!(from, DType::Bool | DType::I8) => 5,
        DType::I16 if !matches!(from, DType::Bool | DType::U8 | DType::I8 | DType::I16) => 6,
        _ => 0,
    }
}

/// Write `src` (broadcast to dst's shape) into the GPU view `dst`, converting.
pub fn copy_into(dst: &Tensor, src: &Tensor) -> Result<()> {
    let ls = src.layout().broadcast_to(dst.shape())?;
    let p = ew_params(
        dst.shape(),
        dst.layout(),
        &[&ls],
        cast_op(src.dtype(), dst.dtype()),
        0,
    )?;
    if dst.same_storage(src) {
        // Overlapping copy: go through a temporary.
        let tmp = cast(src, src.dtype())?;
        return copy_into(dst, &tmp);
    }
    let g = Bufs::of(&[dst, src])?;
    run(
        "cast",
        wgsl_type(dst.dtype()),
        wgsl_type(src.dtype()),
        &p,
        &[g.get(0), g.get(1)],
        grid(dst.numel()),
    )
}

/// Contiguous copy of `x` converted to `to`.
pub fn cast(x: &Tensor, to: DType) -> Result<Tensor> {
    super::check_dtype(to, "to")?;
    let out = empty(x.shape(), to)?;
    copy_into(&out, x)?;
    Ok(out)
}

/// Fill the GPU view `dst` with `v`.
pub fn fill(dst: &Tensor, v: Scalar) -> Result<()> {
    let mut p = ew_params(dst.shape(), dst.layout(), &[], 0, 0)?;
    p[52] = scalar_word(v, dst.dtype());
    if dst.dtype() == DType::F16 {
        p[52] = half::f16::from_f64(v.to_f64()).to_f32().to_bits();
    }
    if dst.dtype() == DType::BF16 {
        p[52] = half::bf16::from_f64(v.to_f64()).to_f32().to_bits();
    }
    let g = Bufs::of(&[dst])?;
    run("fill", "u32", "", &p, &[g.get(0)], grid(dst.numel()))
}

pub fn full(shape: &[usize], v: Scalar, dtype: DType) -> Result<Tensor> {
    super::check_dtype(dtype, "full")?;
    let out = empty(shape, dtype)?;
    fill(&out, v)?;
    Ok(out)
}

/// Reduction ops of reduce.wgsl (their discriminants are the shader's op ids).
pub use crate::backend::Red;

/// Reduce `x` over `dims` into a contiguous tensor of `out_shape` and
/// `out_dt` (x must already have a dtype with the same storage word).
/// Returns (values, indices) where indices are int64 for the arg ops.
pub fn reduce(
    x: &Tensor,
    dims: &[usize],
    out_shape: &[usize],
    op: Red,
    out_dt: DType,
) -> Result<(Tensor, Option<Tensor>)> {
    let l = x.layout();
    let mut p: Params = [0; 64];
    let (mut kd, mut rd) = (0usize, 0usize);
    let mut n_out = 1usize;
    let mut r = 1usize;
    for d in 0..x.ndim() {
        if l.shape[d] == 1 {
            continue;
        }
        if dims.contains(&d) {
            if rd == 8 {
                return Err(Error::NotImplemented(
                    "gpu reductions take at most 8 reduced dims".into(),
                ));
            }
            p[24 + rd] = l.shape[d] as u32;
            p[32 + rd] = l.strides[d] as u32;
            rd += 1;
            r *= l.shape[d];
        } else {
            if kd == 8 {
                return Err(Error::NotImplemented(
                    "gpu reductions keep at most 8 dims".into(),
                ));
            }
            p[8 + kd] = l.shape[d] as u32;
            p[16 + kd] = l.strides[d] as u32;
            kd += 1;
            n_out *= l.shape[d];
        }
    }
    p[0] = u32_of(n_out, "reduction")?;
    p[1] = kd as u32;
    p[2] = op as u32;
    p[3] = rd as u32;
    p[5] = u32_of(l.offset + l.extent(), "reduction input")? - l.extent() as u32;
    p[6] = u32_of(r, "reduction")?;
    let arg = matches!(op, Red::ArgMax | Red::ArgMin);
    // Long reductions run in two passes: chunks of REDUCE_CHUNK elements,
    // each reduced by its own workgroup, then the partials.
    let chunks = r.div_ceil(REDUCE_CHUNK);
    if chunks > 1 {
        p[4] = REDUCE_CHUNK as u32;
        p[7] = u32_of(chunks, "reduction")?;
        let pshape = [n_out, chunks];
        let part = empty(&pshape, out_dt)?;
        let pidx = empty(if arg { &pshape[..] } else { &[1][..] }, DType::I64)?;
        {
            let g = Bufs::of(&[&part, &pidx, x])?;
            let t = wgsl_type(x.dtype());
            let groups = grid_groups(n_out * chunks);
            run("reduce", t, "", &p, &[g.get(0), g.get(1), g.get(2)], groups)?;
        }
        let (v, ci) = reduce(&part, &[1], out_shape, op, out_dt)?;
        let idx = match ci {
            // The element's index as found in the winning chunk.
            Some(ci) => {
                let c2 = ci.view_of(Layout::contiguous(&[n_out, 1]));
                let li = c2.layout().clone();
                let i = gather(&pidx, 1, &c2, &li, &[n_out, 1], 0, false)?;
                Some(i.view_of(Layout::contiguous(out_shape)))
            }
            None => None,
        };
        return Ok((v, idx));
    }
    let out = empty(out_shape, out_dt)?;
    let idx = empty(if arg { out_shape } else { &[1] }, DType::I64)?;
    {
        let g = Bufs::of(&[&out, &idx, x])?;
        let groups = grid_groups(n_out);
        run(
            "reduce",
            wgsl_type(x.dtype()),
            "",
            &p,
            &[g.get(0), g.get(1), g.get(2)],
            groups,
        )?;
    }
    Ok((out, if arg { Some(idx) } else { None }))
}

/// Elements one workgroup reduces in a pass (256 per thread).
const REDUCE_CHUNK: usize = 256 * 256;

/// Batched matmul on (batch, M, K) and (batch, K, N) strided views (3-d
/// layouts, batch strides may be 0) into a new contiguous (batch, M, N).
pub fn matmul3(a: &Tensor, la: &Layout, b: &Tensor, lb: &Layout) -> Result<Tensor> {
    let (bt, m, k) = (la.shape[0], la.shape[1], la.shape[2]);
    let n = lb.shape[2];
    let out = empty(&[bt, m, n], DType::F32)?;
    if m == 0 || n == 0 || bt == 0 {
        return Ok(out);
    }
    if k == 0 {
        fill(&out, Scalar::Float(0.0))?;
        return Ok(out);
    }
    for l in [la, lb] {
        u32_of(l.offset + l.extent(), "matmul operand")?;
    }
    u32_of(bt * m * n, "matmul output")?;
    let g = Bufs::of(&[&out, a, b])?;
    let mut b0 = 0usize;
    while b0 < bt {
        let nb = (bt - b0).min(65535);
        let mut p: Params = [0; 64];
        p[0] = m as u32;
        p[1] = n as u32;
        p[2] = k as u32;
        p[3] = nb as u32;
        p[4] = (la.offset + b0 * la.strides[0]) as u32;
        p[5] = (lb.offset + b0 * lb.strides[0]) as u32;
        p[6] = la.strides[0] as u32;
        p[7] = la.strides[1] as u32;
        p[8] = la.strides[2] as u32;
        p[9] = lb.strides[0] as u32;
        p[10] = lb.strides[1] as u32;
        p[11] = lb.strides[2] as u32;
        p[12] = (b0 * m * n) as u32;
        p[13] = (m * n) as u32;
        p[14] = n as u32;
        let groups = (n.div_ceil(64) as u32, m.div_ceil(64) as u32, nb as u32);
        if groups.0 > 65535 || groups.1 > 65535 {
            return Err(Error::NotImplemented(format!(
                "gpu matmul: {m}x{n} output exceeds the dispatch limit"
            )));
        }
        run(
            "matmul",
            "f32",
            "",
            &p,
            &[g.get(0), g.get(1), g.get(2)],
            groups,
        )?;
        b0 += nb;
    }
    drop(g);
    Ok(out)
}

/// Convolution geometry (slots 1..14 of im2col/col2im/pool).
#[derive(Clone, Copy)]
pub struct Geom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
    pub oh: usize,
    pub ow: usize,
}

fn geom_params(gm: &Geom, count: usize) -> Result<Params> {
    let mut p: Params = [0; 64];
    p[0] = u32_of(count, "convolution")?;
    let v = [
        gm.n, gm.c, gm.h, gm.w, gm.kh, gm.kw, gm.sh, gm.sw, gm.ph, gm.pw, gm.dh, gm.dw, gm.oh,
        gm.ow,
    ];
    for (i, x) in v.iter().enumerate() {
        p[1 + i] = *x as u32;
    }
    Ok(p)
}

/// cols (N, C*KH*KW, OH*OW) of a strided (N, C, H, W) f32 input.
pub fn im2col(x: &Tensor, gm: &Geom) -> Result<Tensor> {
    let rows = gm.c * gm.kh * gm.kw;
    let out = empty(&[gm.n, rows, gm.oh * gm.ow], DType::F32)?;
    let mut p = geom_params(gm, out.numel())?;
    let l = x.layout();
    p[15] = l.offset as u32;
    for i in 0..4 {
        p[16 + i] = l.strides[i] as u32;
    }
    let g = Bufs::of(&[&out, x])?;
    run(
        "im2col",
        "f32",
        "",
        &p,
        &[g.get(0), g.get(1)],
        grid(out.numel()),
    )?;
    drop(g);
    Ok(out)
}

/// The adjoint of im2col: (N, C, H, W) from contiguous cols.
pub fn col2im(cols: &Tensor, gm: &Geom) -> Result<Tensor> {
    let out = empty(&[gm.n, gm.c, gm.h, gm.w], DType::F32)?;
    let p = geom_params(gm, out.numel())?;
    let g = Bufs::of(&[&out, cols])?;
    run(
        "col2im",
        "f32",
        "",
        &p,
        &[g.get(0), g.get(1)],
        grid(out.numel()),
    )?;
    drop(g);
    Ok(out)
}

/// Pooling (pool.wgsl): op 0 max fwd, 1 max bwd, 2 avg fwd, 3 avg bwd.
/// `inp` and `idx` contiguous; returns (out, idx for max forward).
pub fn pool(
    op: u32,
    inp: &Tensor,
    idx: Option<&Tensor>,
    gm: &Geom,
    count_include_pad: bool,
    divisor: usize,
) -> Result<(Tensor, Option<Tensor>)> {
    let fwd = op == 0 || op == 2;
    let out_shape = if fwd {
        [gm.n, gm.c, gm.oh, gm.ow]
    } else {
        [gm.n, gm.c, gm.h, gm.w]
    };
    let out = empty(&out_shape, DType::F32)?;
    let mut p = geom_params(gm, out.numel())?;
    p[1] = (gm.n * gm.c) as u32;
    p[20] = op;
    p[21] = count_include_pad as u32;
    p[22] = divisor as u32;
    let idx_t = match (op, idx) {
        (0, _) => empty(&out_shape, DType::I64)?,
        (_, Some(i)) => i.clone(),
        _ => empty(&[1], DType::I64)?,
    };
    {
        let g = Bufs::of(&[&out, &idx_t, inp])?;
        run(
            "pool",
            "f32",
            "",
            &p,
            &[g.get(0), g.get(1), g.get(2)],
            grid(out.numel()),
        )?;
    }
    Ok((out, if op == 0 { Some(idx_t) } else { None }))
}

/// out[o] = src[o with coord `dim` replaced by idx[o]] (idx: int32/int64 view
/// of the output's shape, possibly broadcast). An index out of range is
/// reported through the device error record as op `code` (super::ERR_*);
/// `wrap`: negative indices count from the end.
pub fn gather(
    src: &Tensor,
    dim: usize,
    idx: &Tensor,
    lidx: &Layout,
    out_shape: &[usize],
    code: u32,
    wrap: bool,
) -> Result<Tensor> {
    let out = empty(out_shape, src.dtype())?;
    if out.numel() == 0 {
        return Ok(out);
    }
    let nd = out_shape.len();
    if nd > 8 {
        return Err(Error::NotImplemented(
            "gpu gather takes at most 8 dims".into(),
        ));
    }
    let mut p: Params = [0; 64];
    p[0] = u32_of(out.numel(), "gather")?;
    p[1] = nd as u32;
    p[2] = dim as u32;
    p[3] = code;
    p[4] = src.layout().offset as u32;
    p[5] = lidx.offset as u32;
    p[6] = src.shape()[dim] as u32;
    p[7] = wrap as u32;
    for d in 0..nd {
        p[8 + d] = out_shape[d] as u32;
        p[24 + d] = src.layout().strides[d] as u32;
        p[32 + d] = lidx.strides[d] as u32;
    }
    let g = Bufs::of(&[&out, src, idx])?;
    run(
        "gather",
        wgsl_type(src.dtype()),
        "",
        &p,
        &[g.get(0), g.get(1), g.get(2), ctx()?.error_record(code != 0)],
        grid(out.numel()),
    )?;
    drop(g);
    Ok(out)
}

/// out (contiguous, GPU) [coords with `dim` replaced by idx] += src over the
/// domain `shape` (src and idx views of that shape). Index errors are
/// reported as in `gather`.
#[allow(clippy::too_many_arguments)]
pub fn scatter_add_into(
    out: &Tensor,
    dim: usize,
    idx: &Tensor,
    lidx: &Layout,
    src: &Tensor,
    lsrc: &Layout,
    shape: &[usize],
    code: u32,
    wrap: bool,
    replace: bool,
) -> Result<()> {
    let n = crate::layout::numel(shape);
    if n == 0 {
        return Ok(());
    }
    let nd = shape.len();
    if nd > 8 {
        return Err(Error::NotImplemented(
            "gpu scatter takes at most 8 dims".into(),
        ));
    }
    let mut p: Params = [0; 64];
    p[0] = u32_of(n, "scatter_add")?;
    p[1] = nd as u32;
    p[2] = dim as u32;
    p[3] = code;
    p[4] = lsrc.offset as u32;
    p[5] = lidx.offset as u32;
    p[7] = wrap as u32 | (replace as u32) << 1;
    let os = crate::layout::contiguous_strides(out.shape());
    for d in 0..nd {
        p[8 + d] = shape[d] as u32;
        p[16 + d] = os[d] as u32;
        p[24 + d] = lsrc.strides[d] as u32;
        p[32 + d] = lidx.strides[d] as u32;
    }
    p[40] = out.shape()[dim] as u32;
    let g = Bufs::io(&[out, src, idx], &[Io::InOut, Io::In, Io::In])?;
    run(
        "scatter_add",
        wgsl_type(src.dtype()),
        "",
        &p,
        &[g.get(0), g.get(1), g.get(2), ctx()?.error_record(true)],
        grid(n),
    )
}

/// One fused optimizer step over contiguous f32 GPU tensors.
pub fn optim_step(
    op: u32,
    param: &Tensor,
    bufs: [Option<&Tensor>; 3],
    grad: &Tensor,
    slots: &[(usize, u32)],
) -> Result<()> {
    let n = param.numel();
    let mut p: Params = [0; 64];
    p[0] = u32_of(n, "optimizer step")?;
    p[2] = op;
    for &(i, v) in slots {
        p[i] = v;
    }
    p[60] = bufs[2].is_some() as u32;
    // States a rule does not keep (SGD without momentum, SGD's buf2, ...)
    // bind distinct one-word placeholders the kernel never touches.
    let holders: Vec<Option<Tensor>> = bufs
        .iter()
        .map(|b| match b {
            Some(_) => Ok(None),
            None => empty(&[1], DType::F32).map(Some),
        })
        .collect::<Result<_>>()?;
    let mut ts: Vec<&Tensor> = vec![param];
    for (b, h) in bufs.into_iter().zip(&holders) {
        match (b, h) {
            (Some(t), _) | (None, Some(t)) => ts.push(t),
            (None, None) => return Err(Error::Runtime("internal: optimizer state".into())),
        }
    }
    ts.push(grad);
    let io = [Io::InOut, Io::InOut, Io::InOut, Io::InOut, Io::In];
    let g = Bufs::io(&ts, &io)?;
    run(
        "optim",
        "f32",
        "",
        &p,
        &[g.get(0), g.get(1), g.get(2), g.get(4), g.get(3)],
        grid(n),
    )
}

/// Slots 1 and 8..30 of the line kernels (scan, sort): the outer dims (all but
/// `d`) of `x` with x's strides at 16.. and the strides of a contiguous output
/// of `out_shape` at 24..; returns (lines, input stride along d, output stride
/// along d).
fn line_slots(
    p: &mut Params,
    x: &Tensor,
    d: usize,
    out_shape: &[usize],
    what: &str,
) -> Result<(usize, u32, u32)> {
    let nd = x.ndim();
    if nd > 8 {
        return Err(Error::NotImplemented(format!(
            "gpu {what} takes at most 8 dims, got {nd}"
        )));
    }
    let os = crate::layout::contiguous_strides(out_shape);
    let mut lines = 1usize;
    let mut k = 0;
    for q in (0..nd).filter(|&q| q != d) {
        p[8 + k] = x.shape()[q] as u32;
        p[16 + k] = u32_of(x.strides()[q], what)?;
        p[24 + k] = u32_of(os[q], what)?;
        lines *= x.shape()[q];
        k += 1;
    }
    p[1] = k as u32;
    p[4] = u32_of(x.layout().offset, what)?;
    Ok((lines, u32_of(x.strides()[d], what)?, os[d] as u32))
}

/// Inclusive scan along `d` (cumsum, or cumprod when `prod`) of a float32 /
/// int32 (int64) GPU tensor: a new contiguous tensor of x's shape and dtype.
pub fn scan(x: &Tensor, d: usize, prod: bool) -> Result<Tensor> {
    let out = empty(x.shape(), x.dtype())?;
    if out.numel() == 0 {
        return Ok(out);
    }
    let what = if prod { "cumprod" } else { "cumsum" };
    let mut p: Params = [0; 64];
    let (lines, si, so) = line_slots(&mut p, x, d, x.shape(), what)?;
    p[0] = u32_of(lines, what)?;
    p[2] = prod as u32;
    p[5] = u32_of(x.shape()[d], what)?;
    p[6] = si;
    p[7] = so;
    let g = Bufs::of(&[&out, x])?;
    run(
        "scan",
        wgsl_type(x.dtype()),
        "",
        &p,
        &[g.get(0), g.get(1)],
        grid_groups(lines),
    )?;
    drop(g);
    Ok(out)
}

/// Elements of a sort block held in workgroup memory (sort.wgsl BLOCK).
const SORT_BLOCK: usize = 2048;

/// Stable sort along `d` (NaN above every number, ties by position, as the
/// CPU sort): the first `k` of every sorted line as (values of x's dtype,
/// int64 indices), contiguous, of x's shape with dim `d` set to `k`.
pub fn sort(x: &Tensor, d: usize, descending: bool, k: usize) -> Result<(Tensor, Tensor)> {
    let mut out_shape = x.shape().to_vec();
    out_shape[d] = k;
    let vals = empty(&out_shape, x.dtype())?;
    let idx = empty(&out_shape, DType::I64)?;
    let len = x.shape()[d];
    if vals.numel() == 0 || len == 0 {
        return Ok((vals, idx));
    }
    let mut p: Params = [0; 64];
    let (lines, si, so) = line_slots(&mut p, x, d, &out_shape, "sort")?;
    let p2 = len.next_power_of_two();
    let b = p2.min(SORT_BLOCK);
    // The scratch keys live in f32 words for float16/bfloat16 too (the same
    // shader type): nothing to pack.
    let kdt = if super::is_half(x.dtype()) {
        DType::F32
    } else {
        x.dtype()
    };
    let keys = empty(&[lines * p2], kdt)?;
    let kidx = empty(&[lines * p2], DType::I32)?;
    u32_of(lines * p2, "sort")?;
    p[0] = lines as u32;
    p[3] = descending as u32;
    p[5] = len as u32;
    p[6] = si;
    p[7] = so;
    p[40] = p2 as u32;
    p[41] = b as u32;
    p[44] = k as u32;
    let io = [Io::Out, Io::Out, Io::Out, Io::Out, Io::In];
    let g = Bufs::io(&[&keys, &kidx, &vals, &idx, x], &io)?;
    let bufs = [g.get(0), g.get(1), g.get(2), g.get(3), g.get(4)];
    let t = wgsl_type(x.dtype());
    let blocks = grid_groups(lines * (p2 / b));
    let pass = |mode: u32, stage: usize, j: usize, threads: usize, groups| -> Result<()> {
        let mut q = p;
        q[2] = mode;
        q[42] = stage as u32;
        q[43] = j as u32;
        q[45] = threads as u32;
        run("sort", t, "", &q, &bufs, groups)
    };
    // Sort blocks in workgroup memory, then merge stages longer than a block:
    // global compare-exchanges down to distance B, then a block merge.
    pass(0, 0, 0, 0, blocks)?;
    let mut stage = b * 2;
    while stage <= p2 {
        let mut j = stage / 2;
        while j >= b {
            let n = lines * p2 / 2;
            pass(2, stage, j, n, grid(n))?;
            j /= 2;
        }
        pass(1, stage, 0, 0, blocks)?;
        stage *= 2;
    }
    pass(3, 0, 0, lines * k, grid(lines * k))?;
    drop(g);
    Ok((vals, idx))
}
