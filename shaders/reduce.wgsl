// Reductions over an arbitrary subset of dims: ONE workgroup (256 threads)
// per output element.
// types: f32 i32 u32
//
// Slots:
//   0       n_out (number of output elements = workgroups)
//   1       kept ndim (<= 8; 0 for a full reduction)
//   2       op: 0 sum, 1 prod, 2 max, 3 min, 4 argmax, 5 argmin, 6 mean (f32 only),
//               7 any, 8 all
//   3       reduced ndim (<= 8)
//   4       chunk length L (when slot 7 > 1)
//   5       input offset (elements)
//   6       reduced count R (product of the reduced shape)
//   7       chunks per output C (0 or 1: one workgroup reduces all of R).
//           With C > 1, workgroup w writes the partial of chunk w % C of
//           output w / C (r in [c*L, min(R, (c+1)*L))) at out[w]/idx[w]; the
//           host reduces the partials in a second pass. Long per-thread loops
//           are both slow and, on llvmpipe, wrong beyond ~32k iterations.
//   8..15   kept shape          16..23  kept strides (of the input)
//   24..31  reduced shape       32..39  reduced strides (of the input)
// Output element o (row-major over the kept shape) reduces
//   input[offset(o over kept dims) + offset(r over reduced dims)], r in 0..R.
// Bindings: 1 out (T, contiguous, n_out), 2 idx (i32, n_out; written by
//   argmax/argmin only but always bound), 3 input (T).
// Grid: 2-d, workgroup index o = wid.x + wid.y * nwg.x; groups with o >= n_out
// return.
// Semantics:
//   * sum/prod/mean accumulate in T (f32 for floats; wrapping for ints).
//   * max/min/argmax/argmin propagate NaN like PyTorch: NaN is both the max and
//     the min, and the arg ops return the index of the FIRST NaN. Ties return
//     the smallest index r.
//   * any/all write 1/0 (T); a float is "true" when it is not +-0 (NaN is true).
//   * R == 0: sum -> 0, prod -> 1, mean -> NaN, any -> 0, all -> 1; max/min/arg
//     ops are rejected by the host (they would write garbage/index -1).

alias T = f32;

const EMPTY: u32 = 0xffffffffu;

var<workgroup> sv: array<T, 256>;
var<workgroup> si: array<u32, 256>;

@group(0) @binding(1) var<storage, read_write> out: array<T>;
@group(0) @binding(2) var<storage, read_write> idx: array<i32>;
@group(0) @binding(3) var<storage, read> inp: array<T>;

fn t_is_float() -> bool {
    return bitcast<u32>(T(1)) == 0x3f800000u;
}

fn t_is_nan(x: T) -> bool {
    return t_is_float() && is_nan_f(bitcast<f32>(x));
}

fn t_truthy(x: T) -> bool {
    let b = bitcast<u32>(x);
    if t_is_float() {
        return (b & 0x7fffffffu) != 0u;
    }
    return b != 0u;
}

// Should candidate (bv, bi) replace the current best (av, ai)?
// is_max selects max vs min. EMPTY indices mark "no element yet".
fn take_b(av: T, ai: u32, bv: T, bi: u32, is_max: bool) -> bool {
    if bi == EMPTY {
        return false;
    }
    if ai == EMPTY {
        return true;
    }
    let an = t_is_nan(av);
    let bn = t_is_nan(bv);
    if an || bn {
        if an && bn {
            return bi < ai;
        }
        return bn;
    }
    if bv == av {
        return bi < ai;
    }
    if is_max {
        return bv > av;
    }
    return bv < av;
}

fn combine(op: u32, a: T, b: T) -> T {
    switch op {
        case 1u: {
            return a * b;
        }
        case 7u: {
            return select(T(0), T(1), t_truthy(a) || t_truthy(b));
        }
        case 8u: {
            return select(T(0), T(1), t_truthy(a) && t_truthy(b));
        }
        default: {
            // sum, mean
            return a + b;
        }
    }
}

fn identity(op: u32) -> T {
    if op == 1u || op == 8u {
        return T(1);
    }
    return T(0);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // With C = slot 7 > 1 chunks per output, workgroup w reduces chunk
    // w % C (slot 4 = chunk length) of output w / C into partial w.
    let w = wid.x + wid.y * nwg.x;
    let C = max(pu(7u), 1u);
    let o = w / C;
    let n_out = pu(0u);
    if o >= n_out {
        return;
    }
    let kept_nd = pu(1u);
    let op = pu(2u);
    let red_nd = pu(3u);
    let R = pu(6u);
    var r0 = 0u;
    var r1 = R;
    if C > 1u {
        r0 = (w % C) * pu(4u);
        r1 = min(R, r0 + pu(4u));
    }
    let base = strided_offset(o, kept_nd, 8u, 16u, pu(5u));
    let is_arg = op >= 2u && op <= 5u;
    let is_max = op == 2u || op == 4u;

    // 1. Each thread accumulates r = lid, lid + 256, ...
    var acc: T = identity(op);
    var ai: u32 = EMPTY;
    if is_arg {
        for (var r = r0 + lid; r < r1; r = r + WG) {
            let v = inp[strided_offset(r, red_nd, 24u, 32u, base)];
            if take_b(acc, ai, v, r, is_max) {
                acc = v;
                ai = r;
            }
        }
    } else {
        for (var r = r0 + lid; r < r1; r = r + WG) {
            let v = inp[strided_offset(r, red_nd, 24u, 32u, base)];
            acc = combine(op, acc, v);
        }
    }
    sv[lid] = acc;
    si[lid] = ai;
    workgroupBarrier();

    // 2. Tree reduction in shared memory.
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if lid < s {
            let bv = sv[lid + s];
            if is_arg {
                let bi = si[lid + s];
                if take_b(sv[lid], si[lid], bv, bi, is_max) {
                    sv[lid] = bv;
                    si[lid] = bi;
                }
            } else {
                sv[lid] = combine(op, sv[lid], bv);
            }
        }
        workgroupBarrier();
    }

    // 3. Write.
    if lid == 0u {
        var res = sv[0];
        if op == 6u {
            if R == 0u {
                res = bitcast<T>(0x7fc00000u);
            } else {
                res = res / T(R);
            }
        }
        out[w] = res;
        if op == 4u || op == 5u {
            idx[w] = bitcast<i32>(si[0]);
        }
    }
}
