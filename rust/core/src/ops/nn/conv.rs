//! conv2d and conv_transpose2d: PyTorch's argument checks and shape rules, and
//! the autograd rules. Convolution is bilinear, so its three maps — forward
//! `conv(x, w)`, input adjoint `conv_t(y, w)` and weight adjoint `conv_w(x, y)` —
//! differentiate into each other; every backward is built from these ops and
//! double backward comes for free.

use super::im2col::{self, Channels, ConvGeom};
use super::{read, read_opt, run_kernel, scalar_name, sizes, Real};
use crate::autograd::{any_requires_grad, record, BackCtx};
use crate::bail;
use crate::error::Result;
use crate::tensor::Tensor;

const FWD: &str = "ConvolutionBackward0";
const BWD: &str = "ConvolutionBackwardBackward0";

fn fwd_k<T: Real>(p: &[Tensor], ch: Channels, g: &ConvGeom) -> Vec<T> {
    read::<T, _>(&p[0], |x| {
        read::<T, _>(&p[1], |w| {
            read_opt::<T, _>(p.get(2), |b| im2col::conv_forward(x, w, b, ch, g))
        })
    })
}
fn bwd_input_k<T: Real>(p: &[Tensor], ch: Channels, g: &ConvGeom) -> Vec<T> {
    read::<T, _>(&p[0], |y| {
        read::<T, _>(&p[1], |w| {
            read_opt::<T, _>(p.get(2), |b| im2col::conv_backward_input(y, w, b, ch, g))
        })
    })
}
fn bwd_weight_k<T: Real>(p: &[Tensor], ch: Channels, g: &ConvGeom) -> Vec<T> {
    read::<T, _>(&p[0], |x| {
        read::<T, _>(&p[1], |y| im2col::conv_backward_weight(x, y, ch, g))
    })
}

/// Guard for the kernels (and their unchecked GEMM): an operand arriving with
/// another shape (say, from a gradient hook) is an error, never a bad read.
fn expect(t: &Tensor, shape: &[usize], what: &str) -> Result<()> {
    if t.shape() != shape {
        bail!(
            "convolution: expected {what} of size {}, but got {}",
            sizes(shape),
            sizes(t.shape())
        );
    }
    Ok(())
}

fn operands<'a>(a: &'a Tensor, b: &'a Tensor, c: Option<&'a Tensor>) -> Vec<&'a Tensor> {
    let mut v = vec![a, b];
    v.extend(c);
    v
}

/// `y = conv(x, w) + b`; x: [N, C, *input], w: [O, C/groups, kh, kw] -> [N, O, *output].
fn conv_op(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    g: ConvGeom,
    name: &'static str,
) -> Result<Tensor> {
    let ch = Channels {
        n: x.shape()[0],
        c: x.shape()[1],
        o: w.shape()[0],
    };
    expect(x, &[ch.n, ch.c, g.input[0], g.input[1]], "input")?;
    expect(
        w,
        &[ch.o, ch.c / g.groups, g.kernel[0], g.kernel[1]],
        "weight",
    )?;
    let ops = operands(x, w, b);
    let shape = [ch.n, ch.o, g.output[0], g.output[1]];
    let out = if let Some(o) = gpu::forward(&ops, ch, &g)? {
        o
    } else {
        run_kernel(
            x.dtype(),
            "slow_conv2d_cpu",
            &ops,
            &shape,
            |p| fwd_k(p, ch, &g),
            |p| fwd_k(p, ch, &g),
        )?
    };
    if any_requires_grad(&ops) {
        record(
            name,
            &[&out],
            &ops,
            vec![x.clone(), w.clone()],
            move |c: &BackCtx| {
                let gy = c.grad(0)?;
                let (x, w) = (&c.saved[0], &c.saved[1]);
                let mut r = vec![
                    if c.needs[0] {
                        Some(conv_t_op(gy, w, None, g, BWD)?)
                    } else {
                        None
                    },
                    if c.needs[1] {
                        Some(conv_w_op(x, gy, g)?)
                    } else {
                        None
                    },
                ];
                if c.needs.len() > 2 {
                    r.push(if c.needs[2] {
                        Some(bias_grad_op(gy)?)
                    } else {
                        None
                    });
                }
                Ok(r)
            },
        );
    }
    Ok(out)
}

/// `x = conv_t(y, w) + b`, the adjoint of `conv_op` in x (conv_transpose2d);
/// y: [N, O, *output], w: [O, C/groups, kh, kw] -> [N, C, *input].
fn conv_t_op(
    y: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    g: ConvGeom,
    name: &'static str,
) -> Result<Tensor> {
    let ch = Channels {
        n: y.shape()[0],
        c: w.shape()[1] * g.groups,
        o: y.shape()[1],
    };
    expect(y, &[ch.n, ch.o, g.output[0], g.output[1]], "input")?;
    expect(
        w,
        &[ch.o, ch.c / g.groups, g.kernel[0], g.kernel[1]],
        "weight",
    )?;
    let ops = operands(y, w, b);
    let shape = [ch.n, ch.c, g.input[0], g.input[1]];
    let out = if let Some(o) = gpu::input_adjoint(&ops, ch, &g)? {
        o
    } else {
        run_kernel(
            y.dtype(),
            "slow_conv_transpose2d_out_cpu",
            &ops,
            &shape,
            |p| bwd_input_k(p, ch, &g),
            |p| bwd_input_k(p, ch, &g),
        )?
    };
    if any_requires_grad(&ops) {
        record(
            name,
            &[&out],
            &ops,
            vec![y.clone(), w.clone()],
            move |c: &BackCtx| {
                let gx = c.grad(0)?;
                let (y, w) = (&c.saved[0], &c.saved[1]);
                // <conv_t(y, w), G> = <y, conv(G, w)> = <conv_w(G, y), w>.
                let mut r = vec![
                    if c.needs[0] {
                        Some(conv_op(gx, w, None, g, BWD)?)
                    } else {
                        None
                    },
                    if c.needs[1] {
                        Some(conv_w_op(gx, y, g)?)
                    } else {
                        None
                    },
                ];
                if c.needs.len() > 2 {
                    r.push(if c.needs[2] {
                        Some(bias_grad_op(gx)?)
                    } else {
                        None
                    });
                }
                Ok(r)
            },
        );
    }
    Ok(out)
}

/// `gw = conv_w(x, y)`, the adjoint of `conv_op` in w -> [O, C/groups, kh, kw].
fn conv_w_op(x: &Tensor, y: &Tensor, g: ConvGeom) -> Result<Tensor> {
    let ch = Channels {
        n: x.shape()[0],
        c: x.shape()[1],
        o: y.shape()[1],
    };
    expect(x, &[ch.n, ch.c, g.input[0], g.input[1]], "input")?;
    expect(y, &[ch.n, ch.o, g.output[0], g.output[1]], "grad_output")?;
    let ops = [x, y];
    let shape = [ch.o, ch.c / g.groups, g.kernel[0], g.kernel[1]];
    let out = if let Some(o) = gpu::weight_adjoint(x, y, ch, &g)? {
        o
    } else {
        run_kernel(
            x.dtype(),
            "slow_conv2d_cpu",
            &ops,
            &shape,
            |p| bwd_weight_k(p, ch, &g),
            |p| bwd_weight_k(p, ch, &g),
        )?
    };
    if any_requires_grad(&ops) {
        record(
            BWD,
            &[&out],
            &ops,
            vec![x.clone(), y.clone()],
            move |c: &BackCtx| {
                let gw = c.grad(0)?;
                let (x, y) = (&c.saved[0], &c.saved[1]);
                // <conv_w(x, y), G> = <conv(x, G), y>.
                Ok(vec![
                    if c.needs[0] {
                        Some(conv_t_op(y, gw, None, g, BWD)?)
                    } else {
                        None
                    },
                    if c.needs[1] {
                        Some(conv_op(x, gw, None, g, BWD)?)
                    } else {
                        None
                    },
                ])
            },
        )
    }
    Ok(out)
}

/// Bias gradient: sum of an NCHW gradient over batch and space.
fn bias_grad_op(gy: &Tensor) -> Result<Tensor> {
    let s = gy.shape().to_vec();
    let (n, c, hw) = (s[0], s[1], s[2] * s[3]);
    let out = if gy.is_gpu() && gy.dtype() == crate::dtype::DType::F32 {
        let sum = crate::backend::Red::Sum;
        crate::wgpu::kernels::reduce(gy, &[0, 2, 3], &[c], sum, gy.dtype())?.0
    } else {
        run_kernel(
            gy.dtype(),
            "sum_cpu",
            &[gy],
            &[c],
            |p| read::<f32, _>(&p[0], |g| im2col::channel_sum(g, n, c, hw)),
            |p| read::<f64, _>(&p[0], |g| im2col::channel_sum(g, n, c, hw)),
        )?
    };
    if any_requires_grad(&[gy]) {
        record(
            "SumBackward1",
            &[&out],
            &[gy],
            vec![],
            move |ctx: &BackCtx| Ok(vec![Some(ctx.grad(0)?.reshape(&[1, c, 1, 1])?.expand(&s)?)]),
        );
    }
    Ok(out)
}

fn check_common(
    op: &str,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: (usize, usize),
    dilation: (usize, usize),
    groups: usize,
) -> Result<()> {
    if !input.dtype().is_float() {
        let k = if op == "conv2d" {
            "slow_conv2d_cpu"
        } else {
            "slow_conv_transpose2d_out_cpu"
        };
        bail!(
            "\"{k}\" not implemented for '{}'",
            scalar_name(input.dtype())
        );
    }
    if weight.dtype() != input.dtype() {
        bail!(
            "expected scalar type {} but found {}",
            scalar_name(input.dtype()),
            scalar_name(weight.dtype())
        );
    }
    if let Some(b) = bias {
        if b.dtype() != input.dtype() {
            bail!(
                "Input type ({}) and bias type ({}) should be the same",
                scalar_name(input.dtype()),
                scalar_name(b.dtype())
            );
        }
    }
    if input.device() != weight.device() || bias.is_some_and(|b| b.device() != input.device()) {
        bail!("Expected all tensors to be on the same device, but found at least two devices");
    }
    if groups == 0 {
        bail!("non-positive groups is not supported");
    }
    if stride.0 == 0 || stride.1 == 0 {
        bail!("non-positive stride is not supported");
    }
    if dilation.0 == 0 || dilation.1 == 0 {
        bail!("dilation should be greater than zero");
    }
    if weight.ndim() != 4 {
        bail!(
            "Expected {}-dimensional input for {}-dimensional weight {}, but got {}-dimensional input of size {} instead",
            weight.ndim(),
            weight.ndim(),
            sizes(weight.shape()),
            input.ndim(),
            sizes(input.shape())
        );
    }
    let w0 = weight.shape()[0];
    if w0 < groups {
        bail!("Given groups={groups}, expected weight to be at least {groups} at dimension 0, but got weight of size {} instead", sizes(weight.shape()));
    }
    if !w0.is_multiple_of(groups) {
        bail!("Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of size {} instead", sizes(weight.shape()));
    }
    Ok(())
}

fn check_input_dims(op: &str, input: &Tensor) -> Result<()> {
    if input.ndim() != 3 && input.ndim() != 4 {
        bail!(
            "Expected 3D (unbatched) or 4D (batched) input to {op}, but got input of size: {}",
            sizes(input.shape())
        );
    }
    Ok(())
}

fn check_bias(bias: Option<&Tensor>, weight: &Tensor, n: usize, transposed: bool) -> Result<()> {
    if let Some(b) = bias {
        if b.ndim() != 1 || b.shape()[0] != n {
            bail!(
                "Given {}weight of size {}, expected bias to be 1-dimensional with {n} elements, but got bias of size {} instead",
                if transposed { "transposed=1, " } else { "" },
                sizes(weight.shape()),
                sizes(b.shape())
            );
        }
    }
    Ok(())
}

impl Tensor {
    /// torch.nn.functional.conv2d on (N, C, H, W) or unbatched (C, H, W) input.
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
        groups: usize,
    ) -> Result<Tensor> {
        check_input_dims("conv2d", self)?;
        if self.ndim() == 3 {
            return self
                .unsqueeze(0)?
                .conv2d(weight, bias, stride, padding, dilation, groups)?
                .squeeze_dims(&[0]);
        }
        check_common("conv2d", self, weight, bias, stride, dilation, groups)?;
        let (x, w) = (self.shape(), weight.shape());
        if x[1] != w[1] * groups {
            bail!(
                "Given groups={groups}, weight of size {}, expected input{} to have {} channels, but got {} channels instead",
                sizes(w),
                sizes(x),
                w[1] * groups,
                x[1]
            );
        }
        check_bias(bias, weight, w[0], false)?;
        let padded = [x[2] + 2 * padding.0, x[3] + 2 * padding.1];
        let eff = [
            dilation.0 * (w[2].max(1) - 1) + 1,
            dilation.1 * (w[3].max(1) - 1) + 1,
        ];
        if w[2] == 0 || w[3] == 0 || padded[0] < eff[0] || padded[1] < eff[1] {
            bail!(
                "Calculated padded input size per channel: ({} x {}). Kernel size: ({} x {}). Kernel size can't be greater than actual input size",
                padded[0],
                padded[1],
                eff[0],
                eff[1]
            );
        }
        let output = [
            (padded[0] - eff[0]) / stride.0 + 1,
            (padded[1] - eff[1]) / stride.1 + 1,
        ];
        let g = ConvGeom {
            stride: [stride.0, stride.1],
            padding: [padding.0, padding.1],
            dilation: [dilation.0, dilation.1],
            groups,
            kernel: [w[2], w[3]],
            input: [x[2], x[3]],
            output,
        };
        conv_op(self, weight, bias, g, FWD)
    }

    /// torch.nn.functional.conv_transpose2d; weight is (C_in, C_out / groups, kh, kw).
    #[allow(clippy::too_many_arguments)]
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: (usize, usize),
        padding: (usize, usize),
        output_padding: (usize, usize),
        groups: usize,
        dilation: (usize, usize),
    ) -> Result<Tensor> {
        check_input_dims("conv_transpose2d", self)?;
        if self.ndim() == 3 {
            return self
                .unsqueeze(0)?
                .conv_transpose2d(
                    weight,
                    bias,
                    stride,
                    padding,
                    output_padding,
                    groups,
                    dilation,
                )?
                .squeeze_dims(&[0]);
        }
        check_common(
            "conv_transpose2d",
            self,
            weight,
            bias,
            stride,
            dilation,
            groups,
        )?;
        let (x, w) = (self.shape(), weight.shape());
        if x[1] != w[0] {
            bail!(
                "Given transposed=1, weight of size {}, expected input{} to have {} channels, but got {} channels instead",
                sizes(w),
                sizes(x),
                w[0],
                x[1]
            );
        }
        check_bias(bias, weight, w[1] * groups, true)?;
        let (op, s, d) = (
            [output_padding.0, output_padding.1],
            [stride.0, stride.1],
            [dilation.0, dilation.1],
        );
        if (0..2).any(|i| op[i] >= s[i] && op[i] >= d[i]) {
            bail!(
                "output padding must be smaller than either stride or dilation, but got output_padding_height: {} output_padding_width: {} stride_height: {} stride_width: {} dilation_height: {} dilation_width: {}",
                op[0],
                op[1],
                s[0],
                s[1],
                d[0],
                d[1]
            );
        }
        let p = [padding.0, padding.1];
        let out_i = |i: usize| -> i64 {
            (x[2 + i] as i64 - 1) * s[i] as i64 - 2 * p[i] as i64
                + d[i] as i64 * (w[2 + i] as i64 - 1)
                + op[i] as i64
                + 1
        };
        let (oh, ow) = (out_i(0), out_i(1));
        if oh <= 0 || ow <= 0 || w[2] == 0 || w[3] == 0 {
            bail!(
                "Given input size per channel: ({} x {}). Calculated output size per channel: ({} x {}). Output size is too small",
                x[2],
                x[3],
                oh,
                ow
            );
        }
        let g = ConvGeom {
            stride: s,
            padding: p,
            dilation: d,
            groups,
            kernel: [w[2], w[3]],
            input: [oh as usize, ow as usize],
            output: [x[2], x[3]],
        };
        conv_t_op(self, weight, bias, g, FWD)
    }
}

/// The three convolution maps on the GPU: im2col / col2im kernels around the
/// tiled matmul. `None` where the GPU path does not apply (CPU operands,
/// dtypes other than float32, groups > 1, columns over the binding limit):
/// the caller then runs the CPU kernels (on host copies for GPU operands).
mod gpu {
    use super::{Channels, ConvGeom};
    use crate::dtype::DType;
    use crate::error::Result;
    use crate::layout::Layout;
    use crate::ops::Binary;
    use crate::tensor::Tensor;
    use crate::wgpu::kernels::{self as k, Geom};

    fn applies(ts: &[&Tensor], cols: usize) -> Result<bool> {
        if !ts.iter().all(|t| t.is_gpu() && t.dtype() == DType::F32) {
            return Ok(false);
        }
        let limit = crate::wgpu::ctx()?.limits.max_storage_buffer_binding_size as usize;
        Ok(cols.saturating_mul(4) <= limit)
    }

    /// The weight as a (batch = n * groups, O/groups, C/groups * kh * kw)
    /// operand: a broadcast view for one group, else a contiguous copy
    /// repeated per sample (grouped convs have small weights), so that batch
    /// b = sample * groups + group is one uniform stride in every operand.
    fn weight_batches(w: &Tensor, ch: Channels, g: &ConvGeom) -> Result<(Tensor, Layout)> {
        let w = contiguous(w)?;
        let (gs, og) = (g.groups, ch.o / g.groups);
        let cgk = ch.c / gs * g.kernel[0] * g.kernel[1];
        if gs == 1 {
            let off = w.layout().offset;
            return Ok((
                w,
                Layout {
                    shape: vec![ch.n, og, cgk],
                    strides: vec![0, cgk, 1],
                    offset: off,
                },
            ));
        }
        let rep = w
            .detach()
            .reshape(&[1, gs, og, cgk])?
            .expand(&[ch.n, gs, og, cgk])?
            .contiguous()?;
        let l = Layout::contiguous(&[ch.n * gs, og, cgk]);
        Ok((rep, l))
    }

    fn geom(ch: Channels, g: &ConvGeom) -> Geom {
        Geom {
            n: ch.n,
            c: ch.c,
            h: g.input[0],
            w: g.input[1],
            kh: g.kernel[0],
            kw: g.kernel[1],
            sh: g.stride[0],
            sw: g.stride[1],
            ph: g.padding[0],
            pw: g.padding[1],
            dh: g.dilation[0],
            dw: g.dilation[1],
            oh: g.output[0],
            ow: g.output[1],
        }
    }

    fn contiguous(t: &Tensor) -> Result<Tensor> {
        if t.is_contiguous() {
            Ok(t.clone())
        } else {
            t.clone_data()
        }
    }

    /// `out + bias` broadcast over channel `dim 1` of an NCHW result.
    fn add_bias(out: Tensor, b: Option<&&Tensor>) -> Result<Tensor> {
        let Some(b) = b else { return Ok(out) };
        let bv = b.detach().reshape(&[1, b.numel(), 1, 1])?;
        k::binary(
            &out,
            &bv,
            out.shape(),
            Binary::Add as u32,
            false,
            DType::F32,
        )
    }

    /// y = W (O, CK) @ cols[n] (CK, L) + b, per group.
    pub fn forward(ops: &[&Tensor], ch: Channels, g: &ConvGeom) -> Result<Option<Tensor>> {
        let (ck, l) = (ch.c * g.kernel[0] * g.kernel[1], g.output[0] * g.output[1]);
        if !applies(ops, ch.n * ck * l)? {
            return Ok(None);
        }
        let cols = k::im2col(ops[0], &geom(ch, g))?;
        let (w, lw) = weight_batches(ops[1], ch, g)?;
        let gs = g.groups;
        let lc = Layout::contiguous(&[ch.n * gs, ck / gs, l]);
        let out = k::matmul3(&w, &lw, &cols, &lc)?;
        let out = out.view_of(Layout::contiguous(&[ch.n, ch.o, g.output[0], g.output[1]]));
        add_bias(out, ops.get(2)).map(Some)
    }

    /// dx = col2im(W^T (CK, O) @ y[n] (O, L)) + b (conv_transpose2d's bias), per group.
    pub fn input_adjoint(ops: &[&Tensor], ch: Channels, g: &ConvGeom) -> Result<Option<Tensor>> {
        let (ck, l) = (ch.c * g.kernel[0] * g.kernel[1], g.output[0] * g.output[1]);
        if !applies(ops, ch.n * ck * l)? {
            return Ok(None);
        }
        let y = contiguous(ops[0])?;
        let (w, lw) = weight_batches(ops[1], ch, g)?;
        let (gs, og) = (g.groups, ch.o / g.groups);
        let lwt = Layout {
            shape: vec![lw.shape[0], lw.shape[2], lw.shape[1]],
            strides: vec![lw.strides[0], lw.strides[2], lw.strides[1]],
            offset: lw.offset,
        };
        let ly = Layout {
            shape: vec![ch.n * gs, og, l],
            strides: vec![og * l, l, 1],
            offset: y.layout().offset,
        };
        let cols = k::matmul3(&w, &lwt, &y, &ly)?;
        let dx = k::col2im(&cols, &geom(ch, g))?;
        add_bias(dx, ops.get(2)).map(Some)
    }

    /// gw = sum_n y[n] (O, L) @ cols[n]^T (L, CK), per group.
    pub fn weight_adjoint(
        x: &Tensor,
        y: &Tensor,
        ch: Channels,
        g: &ConvGeom,
    ) -> Result<Option<Tensor>> {
        let (ck, l) = (ch.c * g.kernel[0] * g.kernel[1], g.output[0] * g.output[1]);
        if !applies(&[x, y], ch.n * ck * l.max(ch.o))? {
            return Ok(None);
        }
        let (gs, og, cgk) = (g.groups, ch.o / g.groups, ck / g.groups);
        let cols = k::im2col(x, &geom(ch, g))?;
        let y = contiguous(y)?;
        let ly = Layout {
            shape: vec![ch.n * gs, og, l],
            strides: vec![og * l, l, 1],
            offset: y.layout().offset,
        };
        let lc = Layout {
            shape: vec![ch.n * gs, l, cgk],
            strides: vec![cgk * l, 1, l],
            offset: 0,
        };
        let per = k::matmul3(&y, &ly, &cols, &lc)?;
        let shape = [ch.o, ch.c / gs, g.kernel[0], g.kernel[1]];
        let gw = if ch.n == 1 {
            per
        } else {
            let per = per.view_of(Layout::contiguous(&[ch.n, ch.o * cgk]));
            k::reduce(&per, &[0], &[ch.o * cgk], k::Red::Sum, DType::F32)?.0
        };
        Ok(Some(gw.view_of(Layout::contiguous(&shape))))
    }
}
