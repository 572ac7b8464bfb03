// Batched strided GEMM (f32): C[b, m, n] (+)= sum_k A[b, m, k] * B[b, k, n].
// types: f32
//
// Slots:
//   0 M    1 N    2 K    3 batch
//   4 A offset   5 B offset
//   6 A batch stride   7 A m-stride   8 A k-stride
//   9 B batch stride  10 B k-stride  11 B n-stride
//  12 C offset  13 C batch stride  14 C m-stride (C n-stride is 1)
//  15 flags: bit0 = accumulate (C += A@B instead of C = A@B)
// Strides are arbitrary, so transposed operands need no copy.
// Bindings: 1 C (f32, read_write), 2 A (f32), 3 B (f32).
// Workgroup 16x16 threads computes a 64x64 tile of C; each thread a 4x4
// register block (rows ty + 16*i, cols tx + 16*j); K is walked in tiles of 16
// staged in workgroup memory. Edges (M, N, K not multiples) are bounds-checked.
// Dispatch: (ceil(N/64), ceil(M/64), batch); the batch index is wid.z (the
// host splits batches > 65535 by shifting the offsets).

const TM: u32 = 64u;
const TN: u32 = 64u;
const BK: u32 = 16u;

// As[k * TM + m], Bs[k * TN + n]
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;

@group(0) @binding(1) var<storage, read_write> C: array<f32>;
@group(0) @binding(2) var<storage, read> A: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid3: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let M = pu(0u);
    let N = pu(1u);
    let K = pu(2u);
    let b = wid.z;
    let a_base = pu(4u) + b * pu(6u);
    let b_base = pu(5u) + b * pu(9u);
    let a_ms = pu(7u);
    let a_ks = pu(8u);
    let b_ks = pu(10u);
    let b_ns = pu(11u);
    let row0 = wid.y * TM;
    let col0 = wid.x * TN;
    let tx = lid3.x;
    let ty = lid3.y;

    var acc: array<array<f32, 4>, 4>;
    for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) {
            acc[i][j] = 0.0;
        }
    }

    for (var k0 = 0u; k0 < K; k0 = k0 + BK) {
        // Stage A[row0.., k0..] (64 x 16) and B[k0.., col0..] (16 x 64).
        for (var e = 0u; e < 4u; e = e + 1u) {
            let l = lid + e * 256u;
            let am = l / BK;
            let ak = l % BK;
            let gm = row0 + am;
            let gk = k0 + ak;
            var av = 0.0;
            if gm < M && gk < K {
                av = A[a_base + gm * a_ms + gk * a_ks];
            }
            As[ak * TM + am] = av;

            let bk = l / TN;
            let bn = l % TN;
            let gk2 = k0 + bk;
            let gn = col0 + bn;
            var bv = 0.0;
            if gk2 < K && gn < N {
                bv = B[b_base + gk2 * b_ks + gn * b_ns];
            }
            Bs[bk * TN + bn] = bv;
        }
        workgroupBarrier();

        for (var k = 0u; k < BK; k = k + 1u) {
            var ar: array<f32, 4>;
            var br: array<f32, 4>;
            for (var i = 0u; i < 4u; i = i + 1u) {
                ar[i] = As[k * TM + ty + 16u * i];
                br[i] = Bs[k * TN + tx + 16u * i];
            }
            for (var i = 0u; i < 4u; i = i + 1u) {
                for (var j = 0u; j < 4u; j = j + 1u) {
                    acc[i][j] = fma(ar[i], br[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }

    let c_base = pu(12u) + b * pu(13u);
    let c_ms = pu(14u);
    let accumulate = (pu(15u) & 1u) != 0u;
    for (var i = 0u; i < 4u; i = i + 1u) {
        let m = row0 + ty + 16u * i;
        if m >= M {
            continue;
        }
        for (var j = 0u; j < 4u; j = j + 1u) {
            let n = col0 + tx + 16u * j;
            if n < N {
                let ci = c_base + m * c_ms + n;
                if accumulate {
                    C[ci] = C[ci] + acc[i][j];
                } else {
                    C[ci] = acc[i][j];
                }
            }
        }
    }
}
