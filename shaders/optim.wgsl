// Fused optimizer steps (f32), elementwise over n contiguous elements.
// types: f32
//
// Slots:
//   0 n   2 op: 0 SGD, 1 Adam / AdamW
//   SGD:  48 lr  49 momentum  50 dampening  51 weight_decay
//         53 flags: bit0 nesterov, bit1 maximize, bit2 first step (momentum
//            buffer := g instead of the update)
//   Adam: 48 lr  49 beta1  50 beta2  51 eps  52 weight_decay
//         53 flags: bit0 amsgrad (unsupported, ignored), bit1 maximize,
//            bit2 decoupled weight decay (AdamW)
//         54 bias_correction1 = 1 - beta1^t
//         55 bias_correction2_sqrt = sqrt(1 - beta2^t)
// Bindings: 1 param (rw), 2 buf1 (rw: momentum buffer / exp_avg),
//   3 buf2 (rw: exp_avg_sq; bind a dummy for SGD), 4 grad (read).
// One thread per element; workgroups of 256 on a 2-d grid (linear_id).
// Follows torch.optim's single-tensor (foreach=False) formulas.

@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> buf1: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf2: array<f32>;
@group(0) @binding(4) var<storage, read> grad: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = linear_id(gid, nwg);
    if i >= pu(0u) {
        return;
    }
    let op = pu(2u);
    let flags = pu(53u);
    let lr = pf(48u);
    var p = param[i];
    var g = grad[i];
    if (flags & 2u) != 0u {
        g = -g;
    }
    if op == 0u {
        let momentum = pf(49u);
        let dampening = pf(50u);
        let wd = pf(51u);
        if wd != 0.0 {
            g = g + wd * p;
        }
        if momentum != 0.0 {
            var b: f32;
            if (flags & 4u) != 0u {
                b = g;
            } else {
                b = momentum * buf1[i] + (1.0 - dampening) * g;
            }
            buf1[i] = b;
            if (flags & 1u) != 0u {
                g = g + momentum * b;
            } else {
                g = b;
            }
        }
        param[i] = p - lr * g;
    } else {
        let beta1 = pf(49u);
        let beta2 = pf(50u);
        let eps = pf(51u);
        let wd = pf(52u);
        if (flags & 4u) != 0u {
            p = p * (1.0 - lr * wd);
        } else if wd != 0.0 {
            g = g + wd * p;
        }
        let m0 = buf1[i];
        let m = m0 + (1.0 - beta1) * (g - m0);  // exp_avg.lerp_(g, 1 - beta1)
        let v = beta2 * buf2[i] + (1.0 - beta2) * g * g;
        buf1[i] = m;
        buf2[i] = v;
        let denom = sqrt(v) / pf(55u) + eps;
        param[i] = p - (lr / pf(54u)) * (m / denom);
    }
}
