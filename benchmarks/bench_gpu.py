"""GPU benchmarks of issue 5, on device "gpu" (any wgpu adapter).

Prints one table: f32 matmul in TFLOP/s, a large elementwise add in GB/s,
the MLP and CNN training steps of bench_training.py in ms, and the GPU
submits / buffer allocations / host reads per training step. Rows for
ember on "cpu" and numpy (and PyTorch CUDA when installed with a CUDA GPU)
are printed beside them.

    python benchmarks/bench_gpu.py          # sizes for a real GPU (4096^3 matmul)
    python benchmarks/bench_gpu.py --small  # sizes a software driver finishes

On Mesa's llvmpipe the numbers measure the CPU running the shaders: they
check the script, not the speed.
"""

import argparse
import importlib
import time

import numpy as np
from bench_training import build

import ember


def best_of(f, sync, reps, rounds=3):
    f()
    sync()
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            f()
        sync()
        best = min(best, (time.perf_counter() - t) / reps)
    return best


def matmul_rows(torch, dev, n, sync):
    a = torch.randn(n, n, device=dev)
    b = torch.randn(n, n, device=dev)
    s = best_of(lambda: a @ b, sync, reps=3 if n >= 2048 else 10)
    return 2 * n**3 / s / 1e12


def add_rows(torch, dev, n, sync):
    a = torch.randn(n, device=dev)
    b = torch.randn(n, device=dev)
    s = best_of(lambda: a + b, sync, reps=10)
    return 3 * 4 * n / s / 1e9


def step_rows(torch, dev, kind, sync):
    step = build(torch, kind, dev)
    ms = best_of(step, sync, reps=5) * 1000
    return ms


def gpu_counters(kind):
    step = build(ember, kind, "gpu")
    for _ in range(3):
        step()
    ember.gpu.synchronize()
    s0 = ember.gpu.stats()
    n = 5
    for _ in range(n):
        step()
    s1 = ember.gpu.stats()
    return {k: (s1[k] - s0[k]) / n for k in ("submits", "buffers_created", "host_reads")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="sizes for a software driver")
    args = ap.parse_args()
    mm = 1024 if args.small else 4096
    ew = 1 << 22 if args.small else 1 << 26

    if not ember.gpu.is_available():
        print("no GPU adapter:", ember.gpu.info().get("reason"))
        return
    info = ember.gpu.info()
    print(f"adapter: {info['name']} ({info['backend']}, {info['device_type']})")
    if info["device_type"] == "Cpu":
        print("software driver: these numbers check the script, not GPU speed")

    runs = [
        ("ember gpu", ember, "gpu", ember.gpu.synchronize),
        ("ember cpu", ember, "cpu", lambda: None),
    ]
    try:
        torch = importlib.import_module("torch")
        if torch.cuda.is_available():
            runs.append(("torch cuda", torch, "cuda", torch.cuda.synchronize))
    except ImportError:
        pass

    print(f"\n| run | matmul {mm}^3 TFLOP/s | add {ew} f32 GB/s | MLP step ms | CNN step ms |")
    print("|---|---|---|---|---|")
    for name, lib, dev, sync in runs:
        row = [
            f"{matmul_rows(lib, dev, mm, sync):.3f}",
            f"{add_rows(lib, dev, ew, sync):.1f}",
            f"{step_rows(lib, dev, 'mlp', sync):.2f}",
            f"{step_rows(lib, dev, 'cnn', sync):.2f}",
        ]
        print(f"| {name} | " + " | ".join(row) + " |")
    a = np.random.default_rng(0).standard_normal((mm, mm), dtype=np.float32)
    s = best_of(lambda: a @ a, lambda: None, reps=3)
    x = np.ones(ew, np.float32)
    s2 = best_of(lambda: x + x, lambda: None, reps=10)
    print(f"| numpy | {2 * mm**3 / s / 1e12:.3f} | {12 * ew / s2 / 1e9:.1f} | | |")

    print("\n| gpu step | submits | buffers created | host reads |")
    print("|---|---|---|---|")
    for kind in ("mlp", "cnn"):
        c = gpu_counters(kind)
        print(
            f"| {kind} | {c['submits']:.1f} | {c['buffers_created']:.1f} | {c['host_reads']:.1f} |"
        )


if __name__ == "__main__":
    main()
