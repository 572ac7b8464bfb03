//! Shape, strides and offset (in elements). Views only ever make a new Layout.

use crate::error::Result;
use crate::{bail, idx_err, rt_err};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
    pub offset: usize,
}

pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut acc = 1usize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i].max(1);
    }
    strides
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Number of elements, or an error when it overflows (huge user-given sizes).
pub fn checked_numel(shape: &[usize], elem_size: usize, op: &str) -> Result<usize> {
    let mut n: usize = 1;
    for &s in shape {
        n = n.checked_mul(s).ok_or_else(|| {
            rt_err!(
                "{op}: the number of elements of a tensor of shape {:?} overflows",
                shape
            )
        })?;
    }
    let bytes = n
        .checked_mul(elem_size)
        .ok_or_else(|| rt_err!("{op}: a tensor of shape {:?} is too large", shape))?;
    check_alloc(bytes, op)?;
    Ok(n)
}

/// PyTorch's out-of-memory error (a RuntimeError) for a request of `bytes` by `op`.
pub fn oom_err(bytes: u128, op: &str) -> crate::error::Error {
    rt_err!("{op}: DefaultCPUAllocator: not enough memory: you tried to allocate {bytes} bytes.")
}

/// Fail cleanly instead of aborting on an allocation of `bytes` the OS will
/// refuse: Rust's infallible allocations (`vec!`, `collect`) abort the whole
/// process. Small requests skip the probe (it would cost a malloc per op).
pub fn check_alloc(bytes: usize, op: &str) -> Result<()> {
    if bytes > (1usize << 32) {
        let mut probe: Vec<u8> = Vec::new();
        if probe.try_reserve_exact(bytes).is_err() {
            return Err(oom_err(bytes as u128, op));
        }
    }
    Ok(())
}

/// An empty vector with room for `n` elements, or the out-of-memory
/// RuntimeError naming `op`: the one fallible allocation for buffers whose
/// size a user controls (index offsets, sort lines, multinomial draws).
pub fn try_vec<T>(n: usize, op: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    if v.try_reserve_exact(n).is_err() {
        return Err(oom_err(n as u128 * std::mem::size_of::<T>() as u128, op));
    }
    Ok(v)
}

/// Wrap a possibly negative dim into [0, ndim).
pub fn wrap_dim(dim: i64, ndim: usize, op: &str) -> Result<usize> {
    let n = ndim.max(1) as i64;
    if dim < -n || dim >= n {
        return Err(idx_err!(
            "{op}: Dimension out of range (expected to be in range of [{}, {}], but got {dim})",
            -n,
            n - 1
        ));
    }
    Ok(if dim < 0 {
        (dim + n) as usize
    } else {
        dim as usize
    })
}

pub fn shape_str(shape: &[usize]) -> String {
    format!("{:?}", shape)
}

/// Broadcast two shapes (numpy/PyTorch rules).
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db {
            da
        } else if da == 1 {
            db
        } else if db == 1 {
            da
        } else {
            return None;
        };
    }
    Some(out)
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }
    pub fn is_contiguous(&self) -> bool {
        let mut acc = 1;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] != 1 && self.strides[i] != acc {
                return false;
            }
            acc *= self.shape[i];
        }
        true
    }
    /// Largest element offset reachable + 1 (0 for empty tensors).
    pub fn extent(&self) -> usize {
        if self.numel() == 0 {
            return self.offset;
        }
        self.offset
            + self
                .shape
                .iter()
                .zip(&self.strides)
                .map(|(s, st)| (s - 1) * st)
                .sum::<usize>()
            + 1
    }

    /// View with the same memory as this layout, broadcast to `shape` (stride 0 on new/size-1 dims).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        let mut n: usize = 1;
        for &s in shape {
            n = n.checked_mul(s).ok_or_else(|| {
                rt_err!(
                    "expand: the number of elements of shape {:?} overflows",
                    shape
                )
            })?;
        }
        if shape.len() < self.ndim() {
            bail!(
                "expand: the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                shape.len(),
                self.ndim()
            );
        }
        let lead = shape.len() - self.ndim();
        let mut strides = vec![0; shape.len()];
        for i in 0..shape.len() {
            if i < lead {
                strides[i] = 0;
            } else {
                let (s, st) = (self.shape[i - lead], self.strides[i - lead]);
                if s == shape[i] {
                    strides[i] = st;
                } else if s == 1 {
                    strides[i] = 0;
                } else {
                    bail!(
                        "The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension {}.  Target sizes: {:?}.  Tensor sizes: {:?}",
                        shape[i], s, i, shape, self.shape
                    );
                }
            }
        }
        Ok(Layout {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        })
    }

    pub fn permute(&self, dims: &[usize]) -> Result<Layout> {
        let n = self.ndim();
        if dims.len() != n {
            bail!(
                "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = {} is not equal to len(dims) = {}",
                n,
                dims.len()
            );
        }
        let mut seen = vec![false; n];
        for &d in dims {
            if d >= n || seen[d] {
                bail!(
                    "permute(): duplicate or out of range dims {:?} for a tensor of {} dims",
                    dims,
                    n
                );
            }
            seen[d] = true;
        }
        Ok(Layout {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        })
    }

    pub fn transpose(&self, a: usize, b: usize) -> Layout {
        let mut l = self.clone();
        l.shape.swap(a, b);
        l.strides.swap(a, b);
        l
    }

    /// Slice `dim` as start..end with a positive step (bounds already clamped).
    pub fn slice(&self, dim: usize, start: usize, end: usize, step: usize) -> Layout {
        let mut l = self.clone();
        let len = if end > start {
            (end - start).div_ceil(step)
        } else {
            0
        };
        l.offset += start * self.strides[dim];
        l.shape[dim] = len;
        l.strides[dim] *= step;
        l
    }

    pub fn select(&self, dim: usize, index: usize) -> Layout {
        let mut l = self.clone();
        l.offset += index * self.strides[dim];
        l.shape.remove(dim);
        l.strides.remove(dim);
        l
    }

    pub fn unsqueeze(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        let st = if dim < self.ndim() {
            self.strides[dim] * self.shape[dim]
        } else {
            1
        };
        l.shape.insert(dim, 1);
        l.strides.insert(dim, st);
        l
    }

    pub fn squeeze_dims(&self, dims: &[usize]) -> Layout {
        let mut l = Layout {
            shape: vec![],
            strides: vec![],
            offset: self.offset,
        };
        for i in 0..self.ndim() {
            if dims.contains(&i) && self.shape[i] == 1 {
                continue;
            }
            l.shape.push(self.shape[i]);
            l.strides.push(self.strides[i]);
        }
        l
    }

    pub fn diagonal(&self, offset: i64, d1: usize, d2: usize) -> Layout {
        let (s1, s2) = (self.shape[d1] as i64, self.shape[d2] as i64);
        let (len, off) = if offset >= 0 {
            (
                (s1.min(s2 - offset)).max(0),
                offset as usize * self.strides[d2],
            )
        } else {
            (
                (s1 + offset).min(s2).max(0),
                (-offset) as usize * self.strides[d1],
            )
        };
        let mut shape = vec![];
        let mut strides = vec![];
        for i in 0..self.ndim() {
            if i != d1 && i != d2 {
                shape.push(self.shape[i]);
                strides.push(self.strides[i]);
            }
        }
        shape.push(len as usize);
        strides.push(self.strides[d1] + self.strides[d2]);
        Layout {
            shape,
            strides,
            offset: self.offset + if len > 0 { off } else { 0 },
        }
    }

    /// A view with a new shape when the memory allows it (PyTorch's computeStride).
    pub fn view(&self, new_shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout {
                shape: new_shape.to_vec(),
                strides: contiguous_strides(new_shape),
                offset: self.offset,
            });
        }
        let old_numel = self.numel();
        if old_numel == 0 {
            return Some(Layout {
                shape: new_shape.to_vec(),
                strides: contiguous_strides(new_shape),
                offset: self.offset,
            });
        }
        let mut new_strides = vec![0usize; new_shape.len()];
        let mut view_d = new_shape.len() as isize - 1;
        let mut chunk_base_stride = *self.strides.last().unwrap_or(&1);
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        for tensor_d in (0..self.ndim()).rev() {
            tensor_numel *= self.shape[tensor_d];
            if tensor_d == 0
                || (self.shape[tensor_d - 1] != 1
                    && self.strides[tensor_d - 1] != tensor_numel * chunk_base_stride)
            {
                while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1)
                {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= new_shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = self.strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(Layout {
            shape: new_shape.to_vec(),
            strides: new_strides,
            offset: self.offset,
        })
    }

    /// Offsets of all elements in row-major order.
    pub fn offsets(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.numel());
        for_each_offset(self, |o| out.push(o));
        out
    }
}

/// Resolve a shape with at most one -1 against a number of elements.
pub fn infer_shape(shape: &[i64], numel: usize, op: &str) -> Result<Vec<usize>> {
    let mut infer = None;
    let mut known = 1usize;
    for (i, &s) in shape.iter().enumerate() {
        if s == -1 {
            if infer.is_some() {
                bail!("{op}: only one dimension can be inferred");
            }
            infer = Some(i);
        } else if s < 0 {
            bail!("{op}: invalid shape dimension {s}");
        } else {
            known *= s as usize;
        }
    }
    let mut out: Vec<usize> = shape.iter().map(|&s| s.max(0) as usize).collect();
    if let Some(i) = infer {
        if known == 0 || !numel.is_multiple_of(known) {
            return Err(rt_err!(
                "shape '{:?}' is invalid for input of size {}",
                shape,
                numel
            ));
        }
        out[i] = numel / known;
    } else if known != numel {
        return Err(rt_err!(
            "shape '{:?}' is invalid for input of size {}",
            shape,
            numel
        ));
    }
    Ok(out)
}

/// Call `f` with the storage offset of every element, row-major.
#[inline]
pub fn for_each_offset(l: &Layout, mut f: impl FnMut(usize)) {
    let n = l.numel();
    if n == 0 {
        return;
    }
    let nd = l.ndim();
    if nd == 0 {
        f(l.offset);
        return;
    }
    let inner = l.shape[nd - 1];
    let inner_st = l.strides[nd - 1];
    let mut idx = vec![0usize; nd];
    let mut base = l.offset;
    loop {
        let mut o = base;
        for _ in 0..inner {
            f(o);
            o += inner_st;
        }
        // increment outer index
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            base += l.strides[d];
            if idx[d] < l.shape[d] {
                break;
            }
            base -= l.strides[d] * l.shape[d];
            idx[d] = 0;
        }
    }
}

/// Call `f` with the offsets of both layouts (same shape) for every element.
#[inline]
pub fn for_each_offset2(a: &Layout, b: &Layout, mut f: impl FnMut(usize, usize)) {
    debug_assert_eq!(a.shape, b.shape);
    let n = a.numel();
    if n == 0 {
        return;
    }
    let nd = a.ndim();
    if nd == 0 {
        f(a.offset, b.offset);
        return;
    }
    let inner = a.shape[nd - 1];
    let (ia, ib) = (a.strides[nd - 1], b.strides[nd - 1]);
    let mut idx = vec![0usize; nd];
    let (mut ba, mut bb) = (a.offset, b.offset);
    loop {
        let (mut oa, mut ob) = (ba, bb);
        for _ in 0..inner {
            f(oa, ob);
            oa += ia;
            ob += ib;
        }
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            ba += a.strides[d];
            bb += b.strides[d];
            if idx[d] < a.shape[d] {
                break;
            }
            ba -= a.strides[d] * a.shape[d];
            bb -= b.strides[d] * b.shape[d];
            idx[d] = 0;
        }
    }
}
