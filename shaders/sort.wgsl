// Bitonic sort of (key, index) pairs along one dim, stable in both directions.
// types: f32 i32 u32
//
// Each line of length L is padded to P (a power of two) in the scratch
// buffers keys/idx ([lines, P]); padding has index -1 and sorts last. The
// order: NaN above every number (ascending puts NaNs last, descending first),
// ties by index, so the result equals a stable sort. Blocks of B = min(P,
// 2048) pairs are sorted in workgroup memory; longer lines add global
// compare-exchange passes (j >= B) each followed by a block merge (j < B).
//
// Slots:
//   0 lines   1 outer ndim (<= 7)   2 mode   3 flags: bit0 descending
//   4 input offset   5 L   6 input stride along the line
//   7 output stride along the line (mode 3)
//   8..14 outer shape   16..22 input outer strides   24..30 output outer strides
//   40 P   41 B   42 k (stage size, modes 1-2)   43 j (mode 2)   44 K (mode 3)
//   45 threads (modes 2-3)
// Modes:
//   0 load a block from the input and sort it        (workgroup per block)
//   1 merge a block for stage k, j = B/2 .. 1         (workgroup per block)
//   2 compare-exchange at distance j >= B, stage k    (thread per pair)
//   3 write the first K of every line to out/out_idx  (thread per element)
// Bindings: 1 keys (T), 2 idx (i32), 3 out (T), 4 out_idx (i32), all
// read_write, 5 input (T). Workgroup/thread index on a 2-d grid.

alias T = f32;

@group(0) @binding(1) var<storage, read_write> keys: array<T>;
@group(0) @binding(2) var<storage, read_write> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;
@group(0) @binding(4) var<storage, read_write> out_idx: array<i32>;
@group(0) @binding(5) var<storage, read> src: array<T>;

const BLOCK: u32 = 2048u;

var<workgroup> sk: array<T, 2048>;
var<workgroup> si: array<i32, 2048>;

fn is_nan(x: T) -> bool {
    // llvmpipe's != is an ordered compare; !(x == x) is NaN-correct there.
    return !(x == x);
}

// Whether (ka, ia) comes strictly before (kb, ib) in the output order.
fn before(ka: T, ia: i32, kb: T, ib: i32) -> bool {
    if ia < 0 {
        return false;
    }
    if ib < 0 {
        return true;
    }
    let na = is_nan(ka);
    let nb = is_nan(kb);
    let desc = (pu(3u) & 1u) != 0u;
    if na != nb {
        return na == desc;
    }
    if !na && !(ka == kb) {
        return (ka < kb) != desc;
    }
    return ia < ib;
}

// Line base offsets (input, output) of line r over the outer dims.
fn line_bases(r: u32) -> vec2<u32> {
    let ib = strided_offset(r, pu(1u), 8u, 16u, pu(4u));
    return vec2<u32>(ib, strided_offset(r, pu(1u), 8u, 24u, 0u));
}

// Compare-exchange of block-local pair q at distance j for stage k; `base` is
// the block's first position in its line (the direction depends on it).
fn block_step(q: u32, j: u32, k: u32, base: u32) {
    let i = (q / j) * 2u * j + q % j;
    let l = i + j;
    let asc = ((base + i) & k) == 0u;
    let a = sk[i];
    let b = sk[l];
    let ia = si[i];
    let ib = si[l];
    var swap = before(a, ia, b, ib);
    if asc {
        swap = before(b, ib, a, ia);
    }
    if swap {
        sk[i] = b;
        sk[l] = a;
        si[i] = ib;
        si[l] = ia;
    }
}

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let mode = pu(2u);
    let len = pu(5u);
    let p2 = pu(40u);
    let bsz = pu(41u);
    if mode <= 1u {
        let g = wid.x + wid.y * nwg.x;
        let per_line = p2 / bsz;
        if g >= pu(0u) * per_line {
            return;
        }
        let r = g / per_line;
        let base = (g % per_line) * bsz;
        let row = r * p2 + base;
        if mode == 0u {
            let ib = line_bases(r).x;
            for (var i = lid; i < bsz; i = i + WG) {
                let p = base + i;
                if p < len {
                    sk[i] = src[ib + p * pu(6u)];
                    si[i] = i32(p);
                } else {
                    sk[i] = T(0);
                    si[i] = -1;
                }
            }
        } else {
            for (var i = lid; i < bsz; i = i + WG) {
                sk[i] = keys[row + i];
                si[i] = idx[row + i];
            }
        }
        workgroupBarrier();
        var k = 2u;
        if mode == 1u {
            k = pu(42u);
        }
        loop {
            if k > bsz && mode == 0u {
                break;
            }
            var j = k / 2u;
            if mode == 1u {
                j = bsz / 2u;
            }
            loop {
                if j == 0u {
                    break;
                }
                for (var q = lid; q < bsz / 2u; q = q + WG) {
                    block_step(q, j, k, base);
                }
                workgroupBarrier();
                j = j / 2u;
            }
            if mode == 1u {
                break;
            }
            k = k * 2u;
        }
        for (var i = lid; i < bsz; i = i + WG) {
            keys[row + i] = sk[i];
            idx[row + i] = si[i];
        }
        return;
    }
    let t = linear_id(gid, nwg);
    if t >= pu(45u) {
        return;
    }
    if mode == 2u {
        let k = pu(42u);
        let j = pu(43u);
        let half = p2 / 2u;
        let r = t / half;
        let q = t % half;
        let i = (q / j) * 2u * j + q % j;
        let l = i + j;
        let asc = (i & k) == 0u;
        let o = r * p2;
        let a = keys[o + i];
        let b = keys[o + l];
        let ia = idx[o + i];
        let ib = idx[o + l];
        var swap = before(a, ia, b, ib);
        if asc {
            swap = before(b, ib, a, ia);
        }
        if swap {
            keys[o + i] = b;
            keys[o + l] = a;
            idx[o + i] = ib;
            idx[o + l] = ia;
        }
        return;
    }
    // mode 3: extract the first K of each line.
    let kk = pu(44u);
    let r = t / kk;
    let p = t % kk;
    let ob = line_bases(r).y + p * pu(7u);
    out[ob] = keys[r * p2 + p];
    out_idx[ob] = idx[r * p2 + p];
}
