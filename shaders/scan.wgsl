// Inclusive scan (cumsum / cumprod) along one dim: one workgroup per line.
// types: f32 i32
//
// Slots:
//   0 number of lines   1 outer ndim (<= 7)   2 op: 0 sum, 1 prod
//   4 input offset   5 line length L   6 input stride along the line
//   7 output stride along the line
//   8..14 outer shape (every dim but the scanned one)
//   16..22 input outer strides   24..30 output outer strides
// Bindings: 1 out (T, read_write, offset 0), 2 input (T).
// The line is walked in chunks of 1024 (4 consecutive elements per thread):
// each thread scans its 4 serially, the workgroup scans the 256 thread totals
// (Hillis-Steele in shared memory), and a carry moves from chunk to chunk.
// Workgroup index = wid.x + wid.y * nwg.x (2-d grid under 65535).

alias T = f32;

@group(0) @binding(1) var<storage, read_write> out: array<T>;
@group(0) @binding(2) var<storage, read> src: array<T>;

const PER: u32 = 4u;
const CHUNK: u32 = 1024u;

var<workgroup> part: array<T, 256>;

fn combine(a: T, b: T) -> T {
    if pu(2u) == 1u {
        return a * b;
    }
    return a + b;
}

fn identity() -> T {
    if pu(2u) == 1u {
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
    let line = wid.x + wid.y * nwg.x;
    // Uniform control flow: every thread of the group takes the same branch.
    if line >= pu(0u) {
        return;
    }
    let ib = strided_offset(line, pu(1u), 8u, 16u, pu(4u));
    let ob = strided_offset(line, pu(1u), 8u, 24u, 0u);
    let len = pu(5u);
    let si = pu(6u);
    let so = pu(7u);
    var carry = identity();
    var start = 0u;
    loop {
        if start >= len {
            break;
        }
        var v: array<T, 4>;
        var acc = identity();
        for (var k = 0u; k < PER; k = k + 1u) {
            let j = start + lid * PER + k;
            var x = identity();
            if j < len {
                x = src[ib + j * si];
            }
            acc = combine(acc, x);
            v[k] = acc;
        }
        part[lid] = acc;
        workgroupBarrier();
        for (var off = 1u; off < 256u; off = off * 2u) {
            var y = identity();
            if lid >= off {
                y = part[lid - off];
            }
            workgroupBarrier();
            if lid >= off {
                part[lid] = combine(y, part[lid]);
            }
            workgroupBarrier();
        }
        // Exclusive prefix of this thread within the chunk, then the carry.
        var before = carry;
        if lid > 0u {
            before = combine(carry, part[lid - 1u]);
        }
        for (var k = 0u; k < PER; k = k + 1u) {
            let j = start + lid * PER + k;
            if j < len {
                out[ob + j * so] = combine(before, v[k]);
            }
        }
        carry = combine(carry, part[255]);
        workgroupBarrier();
        start = start + CHUNK;
    }
}
