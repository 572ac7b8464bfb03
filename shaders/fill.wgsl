// Strided fill with the word in slot 52 (bit pattern of the value).
// types: f32 i32 u32
alias T = u32;
@group(0) @binding(1) var<storage, read_write> out: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if i >= pu(0u) {
        return;
    }
    out[ew_off_out(i)] = bitcast<T>(pu(52u));
}
