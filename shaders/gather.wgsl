// gather along one dim (also index_select via a broadcast idx view):
//   out[o] = src[coords(o) with coordinate `dim` replaced by idx[idx_view(o)]]
// types: f32 i32 u32
//
// Slots:
//   0 n_out   1 ndim (<= 8)   2 dim   3 op code reported with an error
//   4 src offset   5 idx offset   6 src size along dim   7 flags: bit0 =
//   negative indices wrap (+ size along dim)
//   8..15 out shape (= idx shape)
//   24..31 src strides   32..39 idx strides (0 for broadcast dims)
// Bindings: 1 out (T, contiguous, read_write), 2 src (T), 3 idx (i32),
// 4 the device error record (layout in shaders/README.md).
// An index out of range writes 0 and is reported in the error record; the
// host raises IndexError at its next read (like CUDA's device asserts).
// One thread per output element; workgroups of 256 on a 2-d grid (linear_id).

alias T = f32;

@group(0) @binding(1) var<storage, read_write> out: array<T>;
@group(0) @binding(2) var<storage, read> src: array<T>;
@group(0) @binding(3) var<storage, read> idx: array<i32>;
@group(0) @binding(4) var<storage, read_write> err: array<atomic<u32>>;

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
        ioff = ioff + c * pu(32u + d);
        if d != dim {
            soff = soff + c * pu(24u + d);
        }
    }
    let size = i32(pu(6u));
    let k0 = idx[ioff];
    var k = k0;
    if k < 0 && (pu(7u) & 1u) != 0u {
        k = k + size;
    }
    if k < 0 || k >= size {
        out[t] = T(0);
        if atomicAdd(&err[0], 1u) == 0u {
            atomicStore(&err[1], pu(3u));
            atomicStore(&err[2], bitcast<u32>(k0));
            atomicStore(&err[3], pu(6u));
            atomicStore(&err[4], dim);
        }
        return;
    }
    out[t] = src[soff + u32(k) * pu(24u + dim)];
}
