// 2-d max / average pooling, forward and backward (f32). Planes are the
// N*C images of a contiguous (N, C, H, W) input; outputs are (N, C, OH, OW).
// types: f32
//
// Slots:
//   0 element count of the thread domain (forward: NC*OH*OW; backward: NC*H*W)
//   1 NC   3 H   4 W   5 KH   6 KW   7 SH   8 SW   9 PH   10 PW   11 DH   12 DW
//   13 OH   14 OW
//   20 op: 0 max fwd, 1 max bwd, 2 avg fwd, 3 avg bwd
//   21 count_include_pad (avg; nonzero = true)
//   22 divisor_override (avg; 0 = none)
// Bindings:
//   1 out   (f32, read_write): forward output (NC, OH, OW), or backward
//           grad_input (NC, H, W)
//   2 idx   (i32, read_write): max forward writes the argmax h*W + w within the
//           plane; max backward reads it (bind a dummy for avg)
//   3 input (f32): forward x (NC, H, W), backward grad_output (NC, OH, OW)
// One thread per domain element; workgroups of 256 on a 2-d grid (linear_id).
// Max forward follows PyTorch exactly: padding is -inf (skipped), a value
// replaces the running max when it is greater or NaN (so NaN propagates, ties
// keep the first position and among several NaNs the last one wins).
// Avg uses dilation 1 and PyTorch's divisor rule (see avg_window).
// Backward passes are gathers: no atomics.

@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> idx: array<i32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;

struct Win {
    h0: i32,
    h1: i32,
    w0: i32,
    w1: i32,
    div: f32,
}

// Clipped window [h0, h1) x [w0, w1) of output (oh, ow) and its divisor.
fn avg_window(oh: i32, ow: i32) -> Win {
    let H = i32(pu(3u));
    let W = i32(pu(4u));
    let PH = i32(pu(9u));
    let PW = i32(pu(10u));
    var h0 = oh * i32(pu(7u)) - PH;
    var w0 = ow * i32(pu(8u)) - PW;
    var h1 = min(h0 + i32(pu(5u)), H + PH);
    var w1 = min(w0 + i32(pu(6u)), W + PW);
    let pool_size = (h1 - h0) * (w1 - w0);
    h0 = max(h0, 0);
    w0 = max(w0, 0);
    h1 = min(h1, H);
    w1 = min(w1, W);
    var div: f32;
    let ovr = pi(22u);
    if ovr != 0 {
        div = f32(ovr);
    } else if pu(21u) != 0u {
        div = f32(pool_size);
    } else {
        div = f32((h1 - h0) * (w1 - w0));
    }
    return Win(h0, h1, w0, w1, div);
}

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = linear_id(gid, nwg);
    if t >= pu(0u) {
        return;
    }
    let H = i32(pu(3u));
    let W = i32(pu(4u));
    let KH = i32(pu(5u));
    let KW = i32(pu(6u));
    let SH = i32(pu(7u));
    let SW = i32(pu(8u));
    let PH = i32(pu(9u));
    let PW = i32(pu(10u));
    let DH = i32(pu(11u));
    let DW = i32(pu(12u));
    let OH = i32(pu(13u));
    let OW = i32(pu(14u));
    let op = pu(20u);

    if op == 0u || op == 2u {
        // Forward: t = (p, oh, ow).
        let ow = i32(t % u32(OW));
        let oh = i32((t / u32(OW)) % u32(OH));
        let p = i32(t / u32(OW * OH));
        let in_base = p * H * W;
        if op == 0u {
            var h0 = oh * SH - PH;
            var w0 = ow * SW - PW;
            let h1 = min(h0 + (KH - 1) * DH + 1, H);
            let w1 = min(w0 + (KW - 1) * DW + 1, W);
            while h0 < 0 {
                h0 = h0 + DH;
            }
            while w0 < 0 {
                w0 = w0 + DW;
            }
            var best = bitcast<f32>(0xff800000u);  // -inf
            var best_nan = false;
            var bi = h0 * W + w0;
            for (var h = h0; h < h1; h = h + DH) {
                for (var w = w0; w < w1; w = w + DW) {
                    let v = inp[in_base + h * W + w];
                    let vn = is_nan_f(v);
                    if vn || (!best_nan && v > best) {
                        best = v;
                        best_nan = vn;
                        bi = h * W + w;
                    }
                }
            }
            out[t] = best;
            idx[t] = bi;
        } else {
            let win = avg_window(oh, ow);
            var acc = 0.0;
            for (var h = win.h0; h < win.h1; h = h + 1) {
                for (var w = win.w0; w < win.w1; w = w + 1) {
                    acc = acc + inp[in_base + h * W + w];
                }
            }
            if win.h0 >= win.h1 || win.w0 >= win.w1 {
                out[t] = 0.0;
            } else {
                out[t] = acc / win.div;
            }
        }
        return;
    }

    // Backward: t = (p, h, w) of grad_input; inp is grad_output.
    let w = i32(t % u32(W));
    let h = i32((t / u32(W)) % u32(H));
    let p = i32(t / u32(W * H));
    let out_base = p * OH * OW;
    var acc = 0.0;
    if op == 1u {
        let me = h * W + w;
        for (var i = 0; i < KH; i = i + 1) {
            let th = h + PH - i * DH;
            if th < 0 || th % SH != 0 {
                continue;
            }
            let oh = th / SH;
            if oh >= OH {
                continue;
            }
            for (var j = 0; j < KW; j = j + 1) {
                let tw = w + PW - j * DW;
                if tw < 0 || tw % SW != 0 {
                    continue;
                }
                let ow = tw / SW;
                if ow >= OW {
                    continue;
                }
                let o = out_base + oh * OW + ow;
                if idx[o] == me {
                    acc = acc + inp[o];
                }
            }
        }
    } else {
        // Output windows containing h: oh*SH - PH <= h < oh*SH - PH + KH.
        let oh_lo = select(0, (h + PH - KH) / SH + 1, h + PH >= KH);
        let oh_hi = min((h + PH) / SH, OH - 1);
        let ow_lo = select(0, (w + PW - KW) / SW + 1, w + PW >= KW);
        let ow_hi = min((w + PW) / SW, OW - 1);
        for (var oh = oh_lo; oh <= oh_hi; oh = oh + 1) {
            for (var ow = ow_lo; ow <= ow_hi; ow = ow + 1) {
                let win = avg_window(oh, ow);
                if h >= win.h0 && h < win.h1 && w >= win.w0 && w < win.w1 {
                    acc = acc + inp[out_base + oh * OW + ow] / win.div;
                }
            }
        }
    }
    out[t] = acc;
}
