//! max_pool2d, avg_pool2d, adaptive_avg_pool2d and adaptive_max_pool2d:
//! PyTorch's checks and output shapes, and autograd. Average pooling and its
//! gradient are adjoint linear maps, as are max pooling's scatter-to-indices
//! and gather-from-indices, so each backward is differentiable again.

use super::pool_kernels::{self as pk, Divisor, PoolPlan};
use super::{compute_dtype, prepare, read, run_kernel, scalar_name, sizes};
use crate::autograd::{any_requires_grad, record, BackCtx};
use crate::bail;
use crate::dtype::DType;
use crate::error::Result;
use crate::storage::CpuData;
use crate::tensor::Tensor;
use std::sync::Arc;

type Plan = Arc<PoolPlan>;

fn nc(t: &Tensor) -> (usize, usize) {
    (t.shape()[0], t.shape()[1])
}

/// Gradients must come with the shape the plan was made for (a hook could
/// return anything); a mismatch is an error, not an out-of-bounds read.
fn expect(t: &Tensor, shape: &[usize]) -> Result<()> {
    if t.shape() != shape {
        bail!(
            "pooling backward: expected a tensor of size {}, but got {}",
            sizes(shape),
            sizes(t.shape())
        );
    }
    Ok(())
}

fn contiguous_index(idx: &Tensor) -> Result<Tensor> {
    if idx.is_contiguous() {
        Ok(idx.clone())
    } else {
        idx.clone_data()
    }
}

/// Max over windows -> (values, int64 flat indices per plane).
fn max_op(
    x: &Tensor,
    plan: Plan,
    kernel_name: &str,
    node: &'static str,
) -> Result<(Tensor, Tensor)> {
    let (n, c) = nc(x);
    let [oh, ow] = plan.out_hw();
    let shape = [n, c, oh, ow];
    let dt = x.dtype();
    // Values and int64 indices of a user-sized output.
    crate::layout::checked_numel(&shape, dt.size() + 8, kernel_name)?;
    if let Some(g) = gpu_geom(&[x], &plan, n, c) {
        let (out, idx) = gpu_pool(0, x, None, &g, &plan)?;
        return max_record(
            x,
            plan,
            node,
            out,
            idx.expect("max pooling returns indices"),
        );
    }
    let cd = compute_dtype(dt);
    let p = prepare(&[x], cd)?;
    let (data, idx) = match cd {
        DType::F32 => {
            let (v, i) = read::<f32, _>(&p[0], |s| pk::max_forward(s, n * c, &plan));
            (CpuData::from(v), i)
        }
        DType::F64 => {
            let (v, i) = read::<f64, _>(&p[0], |s| pk::max_forward(s, n * c, &plan));
            (CpuData::from(v), i)
        }
        other => bail!(
            "\"{kernel_name}\" not implemented for '{}'",
            scalar_name(other)
        ),
    };
    let out = Tensor::from_cpu_on(data, &shape, x.device())?;
    let out = if cd != dt { out.cast_raw(dt)? } else { out };
    let idx = Tensor::from_vec(idx, &shape).to_device_raw(x.device())?;
    max_record(x, plan, node, out, idx)
}

fn max_record(
    x: &Tensor,
    plan: Plan,
    node: &'static str,
    out: Tensor,
    idx: Tensor,
) -> Result<(Tensor, Tensor)> {
    if any_requires_grad(&[x]) {
        let in_shape = x.shape().to_vec();
        record(
            node,
            &[&out],
            &[x],
            vec![idx.clone()],
            move |ctx: &BackCtx| {
                Ok(vec![Some(max_scatter_op(
                    ctx.grad(0)?,
                    &ctx.saved[0],
                    plan.clone(),
                    &in_shape,
                )?)])
            },
        );
    }
    Ok((out, idx))
}

/// Gradient of max pooling: `gy` added into an input-shaped zero tensor at `idx`.
fn max_scatter_op(gy: &Tensor, idx: &Tensor, plan: Plan, in_shape: &[usize]) -> Result<Tensor> {
    let planes = in_shape[0] * in_shape[1];
    let [oh, ow] = plan.out_hw();
    expect(gy, &[in_shape[0], in_shape[1], oh, ow])?;
    expect(idx, gy.shape())?;
    let ic = contiguous_index(idx)?;
    let out = if let Some(g) = gpu_geom(&[gy, &ic], &plan, in_shape[0], in_shape[1]) {
        gpu_pool(1, gy, Some(&ic), &g, &plan)?.0
    } else {
        let ic = ic.host()?;
        read::<i64, _>(&ic, |is| {
            run_kernel(
                gy.dtype(),
                "max_pool2d_with_indices_backward",
                &[gy],
                in_shape,
                |p| read::<f32, _>(&p[0], |g| pk::max_backward(g, is, planes, &plan)),
                |p| read::<f64, _>(&p[0], |g| pk::max_backward(g, is, planes, &plan)),
            )
        })?
    };
    if any_requires_grad(&[gy]) {
        let out_shape = gy.shape().to_vec();
        record(
            "MaxPool2DWithIndicesBackwardBackward0",
            &[&out],
            &[gy],
            vec![ic],
            move |ctx: &BackCtx| {
                Ok(vec![Some(max_gather_op(
                    ctx.grad(0)?,
                    &ctx.saved[0],
                    plan.clone(),
                    &out_shape,
                )?)])
            },
        );
    }
    Ok(out)
}

/// Adjoint of `max_scatter_op`: values of an input-shaped tensor at `idx`.
fn max_gather_op(gx: &Tensor, idx: &Tensor, plan: Plan, out_shape: &[usize]) -> Result<Tensor> {
    let planes = out_shape[0] * out_shape[1];
    expect(
        gx,
        &[out_shape[0], out_shape[1], plan.in_hw[0], plan.in_hw[1]],
    )?;
    expect(idx, out_shape)?;
    let ic = contiguous_index(idx)?;
    let out = if gx.is_gpu() && ic.is_gpu() {
        // Per plane: out[p, o] = gx[p, idx[p, o]].
        let [h, w] = plan.in_hw;
        let [oh, ow] = plan.out_hw();
        let src = gx.contiguous()?.detach().reshape(&[planes, h * w])?;
        let i2 = ic.view_of(crate::layout::Layout::contiguous(&[planes, oh * ow]));
        let li = i2.layout().clone();
        crate::wgpu::kernels::gather(&src, 1, &i2, &li, &[planes, oh * ow], 0, false)?
            .view_of(crate::layout::Layout::contiguous(out_shape))
    } else {
        let ic = ic.host()?;
        read::<i64, _>(&ic, |is| {
            run_kernel(
                gx.dtype(),
                "gather",
                &[gx],
                out_shape,
                |p| read::<f32, _>(&p[0], |g| pk::max_gather(g, is, planes, &plan)),
                |p| read::<f64, _>(&p[0], |g| pk::max_gather(g, is, planes, &plan)),
            )
        })?
    };
    if any_requires_grad(&[gx]) {
        let in_shape = gx.shape().to_vec();
        record(
            "GatherBackward0",
            &[&out],
            &[gx],
            vec![ic],
            move |ctx: &BackCtx| {
                Ok(vec![Some(max_scatter_op(
                    ctx.grad(0)?,
                    &ctx.saved[0],
                    plan.clone(),
                    &in_shape,
                )?)])
            },
        );
    }
    Ok(out)
}

/// Window averages; the backward is `avg_adj_op`.
fn avg_op(x: &Tensor, plan: Plan, kernel_name: &str, node: &'static str) -> Result<Tensor> {
    let (n, c) = nc(x);
    expect(x, &[n, c, plan.in_hw[0], plan.in_hw[1]])?;
    let [oh, ow] = plan.out_hw();
    crate::layout::checked_numel(&[n, c, oh, ow], x.dtype().size(), kernel_name)?;
    let out = if let Some(g) = gpu_geom(&[x], &plan, n, c) {
        gpu_pool(2, x, None, &g, &plan)?.0
    } else {
        run_kernel(
            x.dtype(),
            kernel_name,
            &[x],
            &[n, c, oh, ow],
            |p| read::<f32, _>(&p[0], |s| pk::avg_forward(s, n * c, &plan)),
            |p| read::<f64, _>(&p[0], |s| pk::avg_forward(s, n * c, &plan)),
        )?
    };
    if any_requires_grad(&[x]) {
        let in_shape = x.shape().to_vec();
        record(node, &[&out], &[x], vec![], move |ctx: &BackCtx| {
            Ok(vec![Some(avg_adj_op(
                ctx.grad(0)?,
                plan.clone(),
                &in_shape,
            )?)])
        });
    }
    Ok(out)
}

/// Adjoint of `avg_op` (its gradient); the backward is `avg_op` again.
fn avg_adj_op(gy: &Tensor, plan: Plan, in_shape: &[usize]) -> Result<Tensor> {
    let planes = in_shape[0] * in_shape[1];
    let [oh, ow] = plan.out_hw();
    expect(gy, &[in_shape[0], in_shape[1], oh, ow])?;
    let out = if let Some(g) = gpu_geom(&[gy], &plan, in_shape[0], in_shape[1]) {
        gpu_pool(3, gy, None, &g, &plan)?.0
    } else {
        run_kernel(
            gy.dtype(),
            "avg_pool2d_backward_cpu",
            &[gy],
            in_shape,
            |p| read::<f32, _>(&p[0], |g| pk::avg_backward(g, planes, &plan)),
            |p| read::<f64, _>(&p[0], |g| pk::avg_backward(g, planes, &plan)),
        )?
    };
    if any_requires_grad(&[gy]) {
        record(
            "AvgPool2DBackwardBackward0",
            &[&out],
            &[gy],
            vec![],
            move |ctx: &BackCtx| {
                Ok(vec![Some(avg_op(
                    ctx.grad(0)?,
                    plan.clone(),
                    "avg_pool2d",
                    "AvgPool2DBackward0",
                )?)])
            },
        );
    }
    Ok(out)
}

fn check_dims(input: &Tensor) -> Result<()> {
    if input.ndim() != 3 && input.ndim() != 4 {
        bail!(
            "non-empty 3D or 4D (batch mode) tensor expected for input, but got input of size: {}",
            sizes(input.shape())
        );
    }
    Ok(())
}

fn check_nonempty(input: &Tensor) -> Result<()> {
    if input.shape()[1..].contains(&0) {
        bail!("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:{}", sizes(input.shape()));
    }
    Ok(())
}

fn check_float(input: &Tensor, kernel_name: &str) -> Result<()> {
    if !input.dtype().is_float() {
        bail!(
            "\"{kernel_name}\" not implemented for '{}'",
            scalar_name(input.dtype())
        );
    }
    Ok(())
}

/// pooling_output_shape's and pool2d_shape_check's rules for one (kernel, stride, pad, dilation).
fn pool_params(
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    d: (usize, usize),
) -> Result<()> {
    if k.0 == 0 || k.1 == 0 {
        bail!(
            "kernel size should be greater than zero, but got kH: {} kW: {}",
            k.0,
            k.1
        );
    }
    if s.0 == 0 || s.1 == 0 {
        bail!(
            "stride should be greater than zero, but got dH: {} dW: {}",
            s.0,
            s.1
        );
    }
    if d.0 == 0 || d.1 == 0 {
        bail!(
            "dilation should be greater than zero, but got dilationH: {} dilationW: {}",
            d.0,
            d.1
        );
    }
    for (k, p, d) in [(k.0, p.0, d.0), (k.1, p.1, d.1)] {
        if p > ((k - 1) * d).div_ceil(2) {
            bail!("pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} and dilation={d}");
        }
    }
    if k.1 / 2 < p.1 || k.0 / 2 < p.0 {
        bail!("pad should be smaller than or equal to half of kernel size, but got padW = {}, padH = {}, kW = {}, kH = {}", p.1, p.0, k.1, k.0);
    }
    Ok(())
}

fn out_sizes(
    x: &Tensor,
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    d: (usize, usize),
    ceil: bool,
) -> Result<[usize; 2]> {
    let (h, w) = (x.shape()[2], x.shape()[3]);
    let oh = pk::pool_out_size(h, k.0, s.0, p.0, d.0, ceil);
    let ow = pk::pool_out_size(w, k.1, s.1, p.1, d.1, ceil);
    if oh < 1 || ow < 1 {
        bail!("Given input size: ({}x{}x{}). Calculated output size: ({}x{}x{}). Output size is too small", x.shape()[1], h, w, x.shape()[1], oh, ow);
    }
    Ok([oh as usize, ow as usize])
}

fn adaptive_check(input: &Tensor, name: &str) -> Result<()> {
    if input.ndim() != 3 && input.ndim() != 4 {
        bail!(
            "{name}(): Expected 3D or 4D tensor, but got {}",
            sizes(input.shape())
        );
    }
    let first = input.ndim() - 3;
    for i in first + 1..input.ndim() {
        if input.shape()[i] == 0 {
            bail!(
                "{name}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes {} with dimension {i} being empty",
                sizes(input.shape())
            );
        }
    }
    Ok(())
}

fn adaptive_plan(x: &Tensor, out: (usize, usize), divisor: Divisor) -> Plan {
    let (h, w) = (x.shape()[2], x.shape()[3]);
    // Output sizes that divide the input make the bins a regular window
    // (kernel = stride = in / out, no padding): the GPU pool kernel runs it.
    let window = (out.0 > 0 && out.1 > 0 && h % out.0 == 0 && w % out.1 == 0).then(|| {
        let k = [h / out.0, w / out.1];
        [k, k, [0, 0], [1, 1]]
    });
    Arc::new(PoolPlan {
        h: pk::adaptive_axis(h, out.0),
        w: pk::adaptive_axis(w, out.1),
        in_hw: [h, w],
        divisor,
        window,
    })
}

impl Tensor {
    /// torch.nn.functional.max_pool2d with indices: flat offsets `h * W + w` per plane.
    pub fn max_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
        ceil_mode: bool,
    ) -> Result<(Tensor, Tensor)> {
        check_dims(self)?;
        if self.ndim() == 3 {
            let (o, i) = self
                .unsqueeze(0)?
                .max_pool2d(kernel, stride, padding, dilation, ceil_mode)?;
            return Ok((o.squeeze_dims(&[0])?, i.squeeze_dims(&[0])?));
        }
        check_float(self, "max_pool2d")?;
        pool_params(kernel, stride, padding, dilation)?;
        check_nonempty(self)?;
        let [oh, ow] = out_sizes(self, kernel, stride, padding, dilation, ceil_mode)?;
        let (h, w) = (self.shape()[2], self.shape()[3]);
        let plan = Arc::new(PoolPlan {
            h: pk::max_axis(h, oh, kernel.0, stride.0, padding.0, dilation.0),
            w: pk::max_axis(w, ow, kernel.1, stride.1, padding.1, dilation.1),
            in_hw: [h, w],
            divisor: Divisor::Valid,
            window: Some([
                [kernel.0, kernel.1],
                [stride.0, stride.1],
                [padding.0, padding.1],
                [dilation.0, dilation.1],
            ]),
        });
        max_op(self, plan, "max_pool2d", "MaxPool2DWithIndicesBackward0")
    }

    /// torch.nn.functional.avg_pool2d.
    #[allow(clippy::too_many_arguments)]
    pub fn avg_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        ceil_mode: bool,
        count_include_pad: bool,
        divisor_override: Option<i64>,
    ) -> Result<Tensor> {
        check_dims(self)?;
        if self.ndim() == 3 {
            return self
                .unsqueeze(0)?
                .avg_pool2d(
                    kernel,
                    stride,
                    padding,
                    ceil_mode,
                    count_include_pad,
                    divisor_override,
                )?
                .squeeze_dims(&[0]);
        }
        check_float(self, "avg_pool2d")?;
        if divisor_override == Some(0) {
            bail!("divisor must be not zero");
        }
        pool_params(kernel, stride, padding, (1, 1))?;
        check_nonempty(self)?;
        let [oh, ow] = out_sizes(self, kernel, stride, padding, (1, 1), ceil_mode)?;
        let (h, w) = (self.shape()[2], self.shape()[3]);
        let divisor = match divisor_override {
            Some(d) => Divisor::Override(d),
            None if count_include_pad => Divisor::WithPad,
            None => Divisor::Valid,
        };
        let plan = Arc::new(PoolPlan {
            h: pk::avg_axis(h, oh, kernel.0, stride.0, padding.0),
            w: pk::avg_axis(w, ow, kernel.1, stride.1, padding.1),
            in_hw: [h, w],
            divisor,
            window: Some([
                [kernel.0, kernel.1],
                [stride.0, stride.1],
                [padding.0, padding.1],
                [1, 1],
            ]),
        });
        avg_op(self, plan, "avg_pool2d", "AvgPool2DBackward0")
    }

    /// torch.nn.functional.adaptive_avg_pool2d.
    pub fn adaptive_avg_pool2d(&self, output_size: (usize, usize)) -> Result<Tensor> {
        adaptive_check(self, "adaptive_avg_pool2d")?;
        if self.ndim() == 3 {
            return self
                .unsqueeze(0)?
                .adaptive_avg_pool2d(output_size)?
                .squeeze_dims(&[0]);
        }
        check_float(self, "adaptive_avg_pool2d")?;
        let plan = adaptive_plan(self, output_size, Divisor::Adaptive);
        avg_op(
            self,
            plan,
            "adaptive_avg_pool2d",
            "AdaptiveAvgPool2DBackward0",
        )
    }

    /// torch.nn.functional.adaptive_max_pool2d with indices.
    pub fn adaptive_max_pool2d(&self, output_size: (usize, usize)) -> Result<(Tensor, Tensor)> {
        adaptive_check(self, "adaptive_max_pool2d")?;
        if self.ndim() == 3 {
            let (o, i) = self.unsqueeze(0)?.adaptive_max_pool2d(output_size)?;
            return Ok((o.squeeze_dims(&[0])?, i.squeeze_dims(&[0])?));
        }
        check_float(self, "adaptive_max_pool2d")?;
        let plan = adaptive_plan(self, output_size, Divisor::Valid);
        max_op(
            self,
            plan,
            "adaptive_max_pool2d",
            "AdaptiveMaxPool2DBackward0",
        )
    }
}

/// Geometry for shaders/pool.wgsl when every operand is a float32 GPU tensor
/// and the plan is regular (not adaptive).
fn gpu_geom(
    ts: &[&Tensor],
    plan: &PoolPlan,
    n: usize,
    c: usize,
) -> Option<crate::wgpu::kernels::Geom> {
    let [k, s, p, d] = plan.window?;
    if !ts.iter().all(|t| t.is_gpu()) || ts[0].dtype() != DType::F32 {
        return None;
    }
    let [oh, ow] = plan.out_hw();
    Some(crate::wgpu::kernels::Geom {
        n,
        c,
        h: plan.in_hw[0],
        w: plan.in_hw[1],
        kh: k[0],
        kw: k[1],
        sh: s[0],
        sw: s[1],
        ph: p[0],
        pw: p[1],
        dh: d[0],
        dw: d[1],
        oh,
        ow,
    })
}

fn gpu_pool(
    op: u32,
    inp: &Tensor,
    idx: Option<&Tensor>,
    g: &crate::wgpu::kernels::Geom,
    plan: &PoolPlan,
) -> Result<(Tensor, Option<Tensor>)> {
    let x = inp.contiguous()?.detach();
    let (cip, div) = match plan.divisor {
        Divisor::Override(d) => (false, d.max(1) as usize),
        Divisor::WithPad => (true, 0),
        _ => (false, 0),
    };
    crate::wgpu::kernels::pool(op, &x, idx, g, cip, div)
}
