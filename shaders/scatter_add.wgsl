// scatter_add along one dim:
//   out[coords(s) with coordinate `dim` replaced by idx[idx_view(s)]] += src[src_view(s)]
// for every s of the (src/idx) domain.
// types: f32 i32 u32
//
// Slots:
//   0 n (elements of the domain)   1 ndim (<= 8)   2 dim   3 op code
//   reported with an error   4 src offset   5 idx offset   7 flags: bit0 =
//   negative indices wrap (+ size along dim), bit1 = replace (scatter /
//   index_put: store instead of add; with duplicate indices one of the
//   values lands, as on CUDA)
//   8..15 domain shape
//   16..23 out strides (out is contiguous, offset 0)
//   24..31 src strides   32..39 idx strides
//   40 out size along dim
// Bindings: 1 out (atomic 32-bit words, read_write), 2 src (T), 3 idx (i32),
// 4 the device error record (layout in shaders/README.md).
// f32 adds use an atomicCompareExchangeWeak loop on the bits; i32/u32 use
// atomicAdd on the bits (two's complement, so the same for both). An index
// out of range is skipped and reported in the error record.
// One thread per domain element; workgroups of 256 on a 2-d grid (linear_id).

alias T = f32;

@group(0) @binding(1) var<storage, read_write> out: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read> src: array<T>;
@group(0) @binding(3) var<storage, read> idx: array<i32>;
@group(0) @binding(4) var<storage, read_write> err: array<atomic<u32>>;

fn t_is_float() -> bool {
    return bitcast<u32>(T(1)) == 0x3f800000u;
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
    let ndim = pu(1u);
    let dim = pu(2u);
    var rem = t;
    var ooff = 0u;
    var soff = pu(4u);
    var ioff = pu(5u);
    var d = ndim;
    loop {
        if d == 0u {
            break;
        }
        d = d - 1u;
        let n = pu(8u + d);
        let c = rem % n;
        rem = rem / n;
        soff = soff + c * pu(24u + d);
        ioff = ioff + c * pu(32u + d);
        if d != dim {
            ooff = ooff + c * pu(16u + d);
        }
    }
    let size = i32(pu(40u));
    let k0 = idx[ioff];
    var k = k0;
    if k < 0 && (pu(7u) & 1u) != 0u {
        k = k + size;
    }
    if k < 0 || k >= size {
        if atomicAdd(&err[0], 1u) == 0u {
            atomicStore(&err[1], pu(3u));
            atomicStore(&err[2], bitcast<u32>(k0));
            atomicStore(&err[3], pu(40u));
            atomicStore(&err[4], dim);
        }
        return;
    }
    let o = ooff + u32(k) * pu(16u + dim);
    let v = src[soff];
    if (pu(7u) & 2u) != 0u {
        atomicStore(&out[o], bitcast<u32>(v));
    } else if t_is_float() {
        var old = atomicLoad(&out[o]);
        loop {
            let nv = bitcast<u32>(bitcast<T>(old) + v);
            let r = atomicCompareExchangeWeak(&out[o], old, nv);
            if r.exchanged {
                break;
            }
            old = r.old_value;
        }
    } else {
        atomicAdd(&out[o], bitcast<u32>(v));
    }
}
