// Strided copy with conversion S -> T (also the plain copy when S == T, used
// by contiguous() and copy_ into views). Op: 0 convert, 1 to bool (nonzero),
// 2 to uint8 (wrap to 8 bits), 3 round to float16, 4 float -> int (truncate,
// as C casts do), 5 to int8 and 6 to int16 (wrap to the width, sign-extended
// in an i32 word), 7 round to bfloat16.
// types: f32 i32 u32
alias S = f32;
alias T = f32;
@group(0) @binding(1) var<storage, read_write> out: array<T>;
@group(0) @binding(2) var<storage, read> a: array<S>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if i >= pu(0u) {
        return;
    }
    let x = a[ew_off_in(i, 0u)];
    var v: T;
    switch pu(2u) {
        case 1u: { v = T(select(1u, 0u, x == S(0))); }
        case 2u: { v = T(u32(i32(x)) & 255u); }
        case 3u: { v = T(round_f16(f32(x))); }
        case 5u: { v = T((i32(x) << 24u) >> 24u); }
        case 6u: { v = T((i32(x) << 16u) >> 16u); }
        case 7u: { v = T(round_bf16(f32(x))); }
        default: { v = T(x); }
    }
    out[ew_off_out(i)] = v;
}
