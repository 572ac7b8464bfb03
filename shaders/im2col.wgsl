// im2col (f32): x (N, C, H, W), arbitrary offset + strides ->
// cols contiguous (N, C*KH*KW, OH*OW):
//   cols[n, (c*KH + i)*KW + j, oh*OW + ow] =
//       x[n, c, oh*SH - PH + i*DH, ow*SW - PW + j*DW]   (0 outside the input)
// types: f32
//
// Slots:
//   0 total element count of cols (N*C*KH*KW*OH*OW)
//   1 N   2 C   3 H   4 W   5 KH   6 KW   7 SH   8 SW   9 PH   10 PW
//   11 DH   12 DW   13 OH   14 OW
//   15 x offset   16..19 x strides (n, c, h, w)
// Bindings: 1 cols (f32, read_write), 2 x (f32).
// One thread per cols element; workgroups of 256 on a 2-d grid (linear_id).

@group(0) @binding(1) var<storage, read_write> cols: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = linear_id(gid, nwg);
    if t >= pu(0u) {
        return;
    }
    let C = pu(2u);
    let H = i32(pu(3u));
    let W = i32(pu(4u));
    let KH = pu(5u);
    let KW = pu(6u);
    let OH = pu(13u);
    let OW = pu(14u);
    let L = OH * OW;
    let CKK = C * KH * KW;

    let col = t % L;
    let row = (t / L) % CKK;
    let n = t / (L * CKK);
    let kj = row % KW;
    let ki = (row / KW) % KH;
    let c = row / (KW * KH);
    let oh = col / OW;
    let ow = col % OW;

    let h = i32(oh * pu(7u) + ki * pu(11u)) - i32(pu(9u));
    let w = i32(ow * pu(8u) + kj * pu(12u)) - i32(pu(10u));
    var v = 0.0;
    if h >= 0 && h < H && w >= 0 && w < W {
        v = x[pu(15u) + n * pu(16u) + c * pu(17u) + u32(h) * pu(18u) + u32(w) * pu(19u)];
    }
    cols[t] = v;
}
