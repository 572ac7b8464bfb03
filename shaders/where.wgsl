// out = cond ? a : b. Inputs 0, 1, 2 of the strided layout are cond (u32),
// a and b (T).
// types: f32 i32 u32
alias T = f32;
@group(0) @binding(1) var<storage, read_write> out: array<T>;
@group(0) @binding(2) var<storage, read> c: array<u32>;
@group(0) @binding(3) var<storage, read> a: array<T>;
@group(0) @binding(4) var<storage, read> b: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if i >= pu(0u) {
        return;
    }
    if c[ew_off_in(i, 0u)] != 0u {
        out[ew_off_out(i)] = a[ew_off_in(i, 1u)];
    } else {
        out[ew_off_out(i)] = b[ew_off_in(i, 2u)];
    }
}
