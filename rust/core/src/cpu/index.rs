//! Row selection and row accumulation along one dim of a contiguous host
//! tensor: `index_select` (the embedding lookup) and `index_add` (its
//! gradient). A tensor of shape (outer, n, inner) moves whole rows of
//! `inner` elements, so each pick is one slice copy or one slice add
//! instead of an offset computed per element.

use crate::error::Result;
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// (outer, n, inner) of `shape` around dim `d`.
fn split(shape: &[usize], d: usize) -> (usize, usize, usize) {
    let outer = shape[..d].iter().product();
    let inner = shape[d + 1..].iter().product();
    (outer, shape[d], inner)
}

/// See [`crate::backend::Backend::index_select`]: `x` contiguous, `idx` in
/// range for dim `d`.
pub fn index_select(x: &Tensor, d: usize, idx: &[usize]) -> Result<Tensor> {
    let (outer, n, inner) = split(x.shape(), d);
    let k = idx.len();
    let mut shape = x.shape().to_vec();
    shape[d] = k;
    let off = x.layout().offset;
    let data = x.with_cpu(|data, _| {
        crate::dispatch!(x.dtype(), T => {
            let s = &T::slice(data)[off..];
            let rows = outer * k;
            let out = super::fill_new(rows * inner, |dst: &mut [MaybeUninit<T>]| {
                if inner == 0 {
                    return;
                }
                let row = |(r, o): (usize, &mut [MaybeUninit<T>])| {
                    let src = ((r / k) * n + idx[r % k]) * inner;
                    for (o, &v) in o.iter_mut().zip(&s[src..src + inner]) {
                        o.write(v);
                    }
                };
                if super::use_par(rows * inner) {
                    dst.par_chunks_mut(inner).enumerate().for_each(row);
                } else {
                    dst.chunks_mut(inner).enumerate().for_each(row);
                }
            });
            T::wrap(out)
        })
    })?;
    Ok(Tensor::from_cpu(data, &shape))
}

/// See [`crate::backend::Backend::index_add`]: a new tensor equal to `x`
/// (any layout) with `src` (contiguous, dim `d` of size `idx.len()`) added
/// into the rows `idx` of dim `d`, in index order (repeated rows add up).
pub fn index_add(x: &Tensor, d: usize, idx: &[usize], src: &Tensor) -> Result<Tensor> {
    let (outer, n, inner) = split(x.shape(), d);
    let k = idx.len();
    let one = crate::layout::Layout {
        shape: vec![],
        strides: vec![],
        offset: x.layout().offset,
    };
    let bcast_zero = x.numel() > 0
        && x.strides().iter().all(|&s| s == 0)
        && x.view_of(one).item()?.to_f64().to_bits() == 0;
    let out = if bcast_zero {
        // A broadcast zero (the gradient of index_select): a zeroed table.
        Tensor::zeros_on(x.shape(), x.dtype(), x.device())?
    } else {
        x.clone_data()?
    };
    let soff = src.layout().offset;
    {
        let sg = src.storage().read();
        let mut og = out.storage().write();
        crate::dispatch_float!(x.dtype(), T => {
            let s = &T::slice(sg.cpu())[soff..];
            let o = T::slice_mut(og.cpu_mut());
            let block = |(b, o): (usize, &mut [T])| {
                for (j, &i) in idx.iter().enumerate() {
                    let src = &s[(b * k + j) * inner..(b * k + j + 1) * inner];
                    for (o, &v) in o[i * inner..(i + 1) * inner].iter_mut().zip(src) {
                        *o += v;
                    }
                }
            };
            if inner > 0 {
                // Blocks of the outer dims are disjoint: they run in
                // parallel; inside one, repeated indices add in order.
                if outer > 1 && super::use_par(outer * k * inner) {
                    o.par_chunks_mut(n * inner).enumerate().for_each(block);
                } else {
                    o.chunks_mut(n * inner).enumerate().for_each(block);
                }
            }
        }, unreachable!());
    }
    Ok(out)
}
