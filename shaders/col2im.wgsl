// col2im (f32), the adjoint of im2col, as a gather (no atomics):
//   dx[n, c, h, w] = sum over (i, j), (oh, ow) with oh*SH - PH + i*DH == h and
//                    ow*SW - PW + j*DW == w of cols[n, (c*KH + i)*KW + j, oh*OW + ow]
// cols contiguous (N, C*KH*KW, OH*OW); dx contiguous (N, C, H, W).
// types: f32
//
// Slots:
//   0 element count of dx (N*C*H*W)
//   1 N   2 C   3 H   4 W   5 KH   6 KW   7 SH   8 SW   9 PH   10 PW
//   11 DH   12 DW   13 OH   14 OW
// Bindings: 1 dx (f32, read_write), 2 cols (f32).
// One thread per dx element; workgroups of 256 on a 2-d grid (linear_id).

@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read> cols: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = linear_id(gid, nwg);
    if t >= pu(0u) {
        return;
    }
    let H = pu(3u);
    let W = pu(4u);
    let KH = pu(5u);
    let KW = pu(6u);
    let SH = i32(pu(7u));
    let SW = i32(pu(8u));
    let PH = i32(pu(9u));
    let PW = i32(pu(10u));
    let DH = i32(pu(11u));
    let DW = i32(pu(12u));
    let OH = i32(pu(13u));
    let OW = i32(pu(14u));
    let L = u32(OH * OW);

    let w = i32(t % W);
    let h = i32((t / W) % H);
    let nc = t / (W * H);  // n * C + c
    // cols row (c*KH + i)*KW + j of image n starts at ((n*C + c)*KH*KW + i*KW + j) * L
    let plane = nc * KH * KW;

    var acc = 0.0;
    for (var i = 0u; i < KH; i = i + 1u) {
        let th = h + PH - i32(i) * DH;
        if th < 0 || th % SH != 0 {
            continue;
        }
        let oh = th / SH;
        if oh >= OH {
            continue;
        }
        for (var j = 0u; j < KW; j = j + 1u) {
            let tw = w + PW - i32(j) * DW;
            if tw < 0 || tw % SW != 0 {
                continue;
            }
            let ow = tw / SW;
            if ow >= OW {
                continue;
            }
            acc = acc + cols[(plane + i * KW + j) * L + u32(oh * OW + ow)];
        }
    }
    dx[t] = acc;
}
