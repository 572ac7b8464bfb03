// Comparisons and logical ops -> bool (u32 0/1). Op codes of the Rust
// `Binary` enum: 18 logical_and, 19 logical_or, 20 logical_xor, 21 eq, 22 ne,
// 23 lt, 24 le, 25 gt, 26 ge. F_SCALAR: second operand in slot 52.
// types: f32 i32 u32
alias T = f32;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<storage, read> a: array<T>;
@group(0) @binding(3) var<storage, read> b: array<T>;

fn apply(op: u32, x: T, y: T) -> bool {
    let z = T(0);
    switch op {
        case 18u: { return !(x == z) && !(y == z); }
        case 19u: { return !(x == z) || !(y == z); }
        case 20u: { return (x == z) != (y == z); }
        case 21u: { return x == y; }
        case 22u: { return !(x == y); }
        case 23u: { return x < y; }
        case 24u: { return x <= y; }
        case 25u: { return x > y; }
        case 26u: { return x >= y; }
        default: { return false; }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if i >= pu(0u) {
        return;
    }
    let x = a[ew_off_in(i, 0u)];
    var y: T;
    if (pu(3u) & F_SCALAR) != 0u {
        y = bitcast<T>(pu(52u));
    } else {
        y = b[ew_off_in(i, 1u)];
    }
    out[ew_off_out(i)] = select(0u, 1u, apply(pu(2u), x, y));
}
