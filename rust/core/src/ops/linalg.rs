//! matmul in all of PyTorch's rank combinations, on the packed `gemm` crate.

use crate::autograd::{any_requires_grad, record, BackCtx};
use crate::backend;
use crate::cpu;
use crate::dtype::{promote_types, DType, Element};
use crate::error::Result;
use crate::layout::{broadcast_shapes, Layout};
use crate::storage::CpuElement;
use crate::tensor::Tensor;
use crate::{bail, rt_err};

impl Tensor {
    /// Batched matrix product of tensors with >= 2 dims, broadcasting batch dims.
    fn matmul_nd(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self, other);
        let (an, bn) = (a.ndim(), b.ndim());
        let (m, k) = (a.shape()[an - 2], a.shape()[an - 1]);
        let (k2, n) = (b.shape()[bn - 2], b.shape()[bn - 1]);
        if k != k2 {
            bail!(
                "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
                a.shape()[..an - 1].iter().product::<usize>(),
                k,
                k2,
                n
            );
        }
        let batch =
            broadcast_shapes(&a.shape()[..an - 2], &b.shape()[..bn - 2]).ok_or_else(|| {
                rt_err!(
                    "matmul: batch dimensions {:?} and {:?} cannot be broadcast",
                    &a.shape()[..an - 2],
                    &b.shape()[..bn - 2]
                )
            })?;
        let dt = promote_types(a.dtype(), b.dtype());
        if a.dtype() != b.dtype() {
            bail!(
                "expected m1 and m2 to have the same dtype, but got: {} != {}",
                a.dtype(),
                b.dtype()
            );
        }
        let mut full_a = batch.clone();
        full_a.extend([m, k]);
        let mut full_b = batch.clone();
        full_b.extend([k, n]);
        let la = a.layout().broadcast_to(&full_a)?;
        let lb = b.layout().broadcast_to(&full_b)?;
        let nb = batch.len();
        let mut out_shape = batch.clone();
        out_shape.extend([m, n]);
        crate::layout::checked_numel(&out_shape, dt.size(), "matmul")?;
        if dt == DType::Bool {
            bail!("\"addmm_impl_cpu_\" not implemented for 'Bool'");
        }
        let dev = crate::ops::device::common_device(&[a, b], "matmul")?;
        backend::for_device(dev).matmul(a, &la, b, &lb, nb, &out_shape)
    }

    /// torch.matmul.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        if self.dtype().is_complex() || other.dtype().is_complex() {
            return crate::ops::complex::matmul(self, other);
        }
        let (an, bn) = (self.ndim(), other.ndim());
        if an == 0 || bn == 0 {
            bail!(
                "both arguments to matmul need to be at least 1D, but they are {}D and {}D",
                an,
                bn
            );
        }
        crate::ops::device::common_device(&[self, other], "matmul")?;
        if self.dtype() != other.dtype() {
            bail!(
                "expected m1 and m2 to have the same dtype, but got: {} != {}",
                self.dtype(),
                other.dtype()
            );
        }
        if an == 1 && bn == 1 {
            if self.shape()[0] != other.shape()[0] {
                bail!(
                    "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
                    self.shape()[0],
                    other.shape()[0],
                    self.shape()[0],
                    other.shape()[0]
                );
            }
            return self
                .unsqueeze(0)?
                .matmul(&other.unsqueeze(1)?)?
                .reshape(&[]);
        }
        if an == 1 {
            let r = self.unsqueeze(0)?.matmul(other)?;
            return r.squeeze_dims(&[r.ndim() - 2]);
        }
        if bn == 1 {
            let r = self.matmul(&other.unsqueeze(1)?)?;
            return r.squeeze_dims(&[r.ndim() - 1]);
        }
        let out = self.matmul_nd(other)?;
        if out.dtype().is_float() && any_requires_grad(&[self, other]) {
            let (sa, sb) = (self.shape().to_vec(), other.shape().to_vec());
            record(
                "MmBackward0",
                &[&out],
                &[self, other],
                vec![self.clone(), other.clone()],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    let (a, b) = (&c.saved[0], &c.saved[1]);
                    let (ga, gb) = mm_grads(g, a, b, c.needs[0], c.needs[1])?;
                    let ga = ga.map(|t| t.sum_to(&sa)).transpose()?;
                    let gb = gb.map(|t| t.sum_to(&sb)).transpose()?;
                    Ok(vec![ga, gb])
                },
            );
        }
        Ok(out)
    }

    pub fn mm(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() != 2 {
            bail!("self must be a matrix");
        }
        if other.ndim() != 2 {
            bail!("mat2 must be a matrix");
        }
        self.matmul(other)
    }

    pub fn bmm(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() != 3 {
            bail!("batch1 must be a 3D tensor");
        }
        if other.ndim() != 3 {
            bail!("batch2 must be a 3D tensor");
        }
        if self.shape()[0] != other.shape()[0] {
            bail!("Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].", self.shape()[0], self.shape()[2], other.shape()[0], other.shape()[1]);
        }
        self.matmul(other)
    }

    pub fn mv(&self, v: &Tensor) -> Result<Tensor> {
        if self.ndim() != 2 || v.ndim() != 1 {
            bail!(
                "vector + matrix @ vector expected, got {}, {}",
                self.ndim(),
                v.ndim()
            );
        }
        self.matmul(v)
    }

    pub fn dot(&self, o: &Tensor) -> Result<Tensor> {
        if self.ndim() != 1 || o.ndim() != 1 {
            bail!(
                "1D tensors expected, but got {}D and {}D tensors",
                self.ndim(),
                o.ndim()
            );
        }
        self.matmul(o)
    }

    pub fn outer(&self, o: &Tensor) -> Result<Tensor> {
        if self.ndim() != 1 || o.ndim() != 1 {
            bail!(
                "outer: expected 1D tensors, but got {}D and {}D tensors",
                self.ndim(),
                o.ndim()
            );
        }
        self.unsqueeze(1)?.mul(&o.unsqueeze(0)?)
    }

    /// addmm on the CPU in one GEMM: the (broadcast) input is written into
    /// the output first and the product accumulated onto it, so linear layers
    /// pay no separate bias pass and no extra buffer.
    fn addmm_cpu(
        input: &Tensor,
        lin: &Layout,
        m1: &Tensor,
        m2: &Tensor,
        beta: f64,
        alpha: f64,
        (m, k, n): (usize, usize, usize),
    ) -> Result<Tensor> {
        let dt = m1.dtype();
        let data = crate::dispatch_float!(dt, T => {
            let gi = input.storage().read();
            let (ga, gb) = (m1.storage().read(), m2.storage().read());
            let (la, lb) = (m1.layout(), m2.layout());
            let (sa, sb) = (T::slice(ga.cpu()), T::slice(gb.cpu()));
            let (bt, at) = (T::from_f64(beta), T::from_f64(alpha));
            let mut out: Vec<T> = if beta == 0.0 {
                vec![T::zero_v(); m * n]
            } else if beta == 1.0 {
                cpu::map1::<T, T>(gi.cpu(), lin, |x| x)
            } else {
                cpu::map1::<T, T>(gi.cpu(), lin, move |x| x * bt)
            };
            cpu::gemm::gemm_f::<T>(
                m, n, k, &mut out, sa, la.offset, la.strides[0], la.strides[1],
                sb, lb.offset, lb.strides[0], lb.strides[1], Some(T::one_v()), at, true,
            );
            T::wrap(out)
        }, unreachable!());
        let out = Tensor::from_cpu(data, &[m, n]);
        if any_requires_grad(&[input, m1, m2]) {
            let ishape = input.shape().to_vec();
            record(
                "AddmmBackward0",
                &[&out],
                &[input, m1, m2],
                vec![m1.clone(), m2.clone()],
                move |c: &BackCtx| {
                    let g = c.grad(0)?;
                    let (a, b) = (&c.saved[0], &c.saved[1]);
                    let scale = |t: Tensor, s: f64| if s != 1.0 { t.mul_s(s) } else { Ok(t) };
                    let gi = if c.needs[0] {
                        Some(scale(g.sum_to(&ishape)?, beta)?)
                    } else {
                        None
                    };
                    let (ga, gb) = mm_grads(g, a, b, c.needs[1], c.needs[2])?;
                    let ga = ga.map(|t| scale(t, alpha)).transpose()?;
                    let gb = gb.map(|t| scale(t, alpha)).transpose()?;
                    Ok(vec![gi, ga, gb])
                },
            );
        }
        Ok(out)
    }

    /// beta * input + alpha * (m1 @ m2)
    pub fn addmm(
        input: &Tensor,
        m1: &Tensor,
        m2: &Tensor,
        beta: f64,
        alpha: f64,
    ) -> Result<Tensor> {
        let dt = m1.dtype();
        let fused = !(input.is_gpu() || m1.is_gpu() || m2.is_gpu())
            && m1.ndim() == 2
            && m2.ndim() == 2
            && matches!(dt, DType::F32 | DType::F64)
            && m2.dtype() == dt
            && input.dtype() == dt
            && m1.shape()[1] == m2.shape()[0];
        if fused {
            let (m, k, n) = (m1.shape()[0], m1.shape()[1], m2.shape()[1]);
            if let Ok(lin) = input.layout().broadcast_to(&[m, n]) {
                return Tensor::addmm_cpu(input, &lin, m1, m2, beta, alpha, (m, k, n));
            }
        }
        let p = m1.matmul(m2)?;
        let p = if alpha != 1.0 { p.mul_s(alpha)? } else { p };
        let i = if beta == 0.0 {
            return Ok(p);
        } else if beta != 1.0 {
            input.mul_s(beta)?
        } else {
            input.clone()
        };
        i.add(&p)
    }
}

/// Whether a matrix is stored column-major (a transposed view, e.g. the
/// `w.t()` of a linear layer).
fn col_major(t: &Tensor) -> bool {
    t.ndim() == 2 && t.layout().strides[0] == 1 && t.layout().strides[1] != 1 && t.shape()[0] > 1
}

/// The gradients of `a @ b` for the incoming `g`: `g @ b^T` and `a^T @ g`.
/// Where an operand is column-major the product is formed transposed, so its
/// gradient has the operand's own layout (as PyTorch's mm_mat1/mat2_backward
/// do): the weight gradient of a linear layer then reaches `w.grad` already
/// row-major, with no transposing copy of the whole matrix every step.
fn mm_grads(
    g: &Tensor,
    a: &Tensor,
    b: &Tensor,
    need_a: bool,
    need_b: bool,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let plain = g.ndim() == 2 && a.ndim() == 2 && b.ndim() == 2;
    let ga = if !need_a {
        None
    } else if plain && col_major(a) {
        Some(b.matmul(&g.t()?)?.t()?)
    } else {
        Some(g.matmul(&b.transpose(-1, -2)?)?)
    };
    let gb = if !need_b {
        None
    } else if plain && col_major(b) {
        Some(g.t()?.matmul(a)?.t()?)
    } else {
        Some(a.transpose(-1, -2)?.matmul(g)?)
    };
    Ok((ga, gb))
}
