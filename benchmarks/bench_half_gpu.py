"""GPU (wgpu) cost and memory of float16/bfloat16 storage: bytes allocated for a
tensor of N elements and the time of an elementwise add of 1M elements, per dtype.

Run: PYTHONPATH=python python benchmarks/bench_half_gpu.py
"""

import time

import ember as torch

N = 1 << 20


def alloc_bytes(dtype):
    """Bytes created by the pool for one new tensor of N elements of `dtype`."""
    torch.gpu.empty_cache()
    before = dict(torch.gpu.stats())["bytes_created"]
    t = torch.zeros(N + 12345, dtype=dtype, device="gpu")  # an odd size: no pooled reuse
    after = dict(torch.gpu.stats())["bytes_created"]
    del t
    return after - before


def add_ms(dtype, reps=20):
    """Median wall time of a + b (synchronised) on the gpu."""
    a = torch.rand(N, device="gpu").to(dtype)
    b = torch.rand(N, device="gpu").to(dtype)
    (a + b).sum().item()
    ts = []
    for _ in range(reps):
        torch.gpu.synchronize()
        t0 = time.perf_counter()
        c = a + b
        torch.gpu.synchronize()
        ts.append(time.perf_counter() - t0)
        del c
    ts.sort()
    return 1e3 * ts[len(ts) // 2]


def main():
    print(f"N = {N + 12345} elements (alloc), {N} (add); adapter {dict(torch.gpu.info())['name']}")
    for name in ("float32", "float16", "bfloat16"):
        dt = getattr(torch, name)
        try:
            b = alloc_bytes(dt)
            ms = add_ms(dt)
        except RuntimeError as e:
            print(f"{name:9s}  not stored on the gpu: {str(e)[:60]}")
            continue
        print(f"{name:9s}  bytes {b:9d}  add {ms:7.2f} ms")


if __name__ == "__main__":
    main()
