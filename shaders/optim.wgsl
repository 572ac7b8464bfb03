// Fused optimizer steps (f32), elementwise over n contiguous elements.
// types: f32
//
// Slots:
//   0 n   2 op: 0 SGD, 1 Adam / AdamW
//   SGD:  48 lr  49 momentum  50 dampening  51 weight_decay  52 1 - dampening
//         53 flags: bit0 nesterov, bit1 maximize, bit2 first step (momentum
//            buffer := g instead of the update)
//   Adam: 48 lr  49 beta1  50 beta2  51 eps  52 weight_decay
//         53 flags: bit1 maximize, bit2 decoupled weight decay (AdamW)
//         amsgrad when slot 60 is set: buf3 = max_exp_avg_sq
//         54 bias_correction1 = 1 - beta1^t
//         55 bias_correction2_sqrt = sqrt(1 - beta2^t)
//         56 1 - beta1   57 1 - beta2   58 1 - lr * weight_decay
//         59 -lr / bias_correction1
//   RMSprop (op 2): 48 lr  49 alpha  50 eps  51 weight_decay  52 1 - alpha
//         53 flags: bit0 centered, bit1 maximize, bit2 momentum > 0
//         54 momentum; buf1 square_avg, buf2 momentum_buffer, buf3 grad_avg
//   Adagrad (op 3): 48 lr / (1 + (step - 1) * lr_decay)  50 eps
//         51 weight_decay  53 flags: bit1 maximize; buf1 state_sum
//   60: 1 when buf3 is a real state (set by the host), 0 for a placeholder.
//   Constants derived from the hyper-parameters come from the host, computed
//   in float64 and rounded once, as the CPU step does (1 - beta2 computed in
//   f32 from beta2 = 0.999 is off by 1.3e-5 relative).
// Bindings: 1 param (rw), 2 buf1 (rw: momentum buffer / exp_avg / square_avg
//   / state_sum), 3 buf2 (rw: exp_avg_sq / momentum_buffer), 4 grad (read),
//   5 buf3 (rw: grad_avg). States an op does not keep get placeholders.
// One thread per element; workgroups of 256 on a 2-d grid (linear_id).
// Follows torch.optim's single-tensor (foreach=False) formulas.

@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> buf1: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf2: array<f32>;
@group(0) @binding(4) var<storage, read> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> buf3: array<f32>;

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
                b = momentum * buf1[i] + pf(52u) * g;
            }
            buf1[i] = b;
            if (flags & 1u) != 0u {
                g = g + momentum * b;
            } else {
                g = b;
            }
        }
        param[i] = p - lr * g;
    } else if op == 2u {
        // RMSprop, in the CPU step's operation order.
        let wd = pf(51u);
        if wd != 0.0 {
            g = g + wd * p;
        }
        let w = pf(52u);
        let sq = buf1[i] * pf(49u) + w * g * g;
        buf1[i] = sq;
        var avg: f32;
        if (flags & 1u) != 0u {
            let a0 = buf3[i];
            var ga: f32;
            if abs(w) < 0.5 {
                ga = a0 + w * (g - a0);
            } else {
                ga = g - (g - a0) * (1.0 - w);
            }
            buf3[i] = ga;
            avg = sqrt(sq + -1.0 * ga * ga);
        } else {
            avg = sqrt(sq);
        }
        avg = avg + pf(50u);
        if (flags & 4u) != 0u {
            let b = buf2[i] * pf(54u) + g / avg;
            buf2[i] = b;
            param[i] = p + (-lr) * b;
        } else {
            param[i] = p + (-lr) * g / avg;
        }
    } else if op == 3u {
        // Adagrad.
        let wd = pf(51u);
        if wd != 0.0 {
            g = g + wd * p;
        }
        let s = buf1[i] + g * g;
        buf1[i] = s;
        param[i] = p + (-lr) * g / (sqrt(s) + pf(50u));
    } else {
        let beta1 = pf(49u);
        let beta2 = pf(50u);
        let eps = pf(51u);
        let wd = pf(52u);
        if (flags & 4u) != 0u {
            p = p * pf(58u);
        } else if wd != 0.0 {
            g = g + wd * p;
        }
        // exp_avg.lerp_(g, 1 - beta1), PyTorch's two-sided lerp.
        let m0 = buf1[i];
        let w1 = pf(56u);
        var m: f32;
        if abs(w1) < 0.5 {
            m = m0 + w1 * (g - m0);
        } else {
            m = g - (g - m0) * (1.0 - w1);
        }
        let v = beta2 * buf2[i] + pf(57u) * g * g;
        buf1[i] = m;
        buf2[i] = v;
        var vd = v;
        if pu(60u) != 0u {
            // amsgrad: torch.maximum (NaN propagates).
            let mx = buf3[i];
            if !(mx == mx) || !(v == v) {
                vd = mx + v;
            } else {
                vd = max(mx, v);
            }
            buf3[i] = vd;
        }
        let denom = sqrt(vd) / pf(55u) + eps;
        param[i] = p + pf(59u) * m / denom;
    }
}
