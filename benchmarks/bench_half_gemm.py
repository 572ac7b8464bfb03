"""Half-precision CPU kernels (issue 15): matmul GFLOP/s, conv2d and cast times per dtype.

Rows: 512^3 and 1024^3 matmul (float32 / bfloat16 / float16), a 3x3 conv2d (padding 1)
from 32 to 64 channels on a 64x32x8x8 input, forward and forward+backward, and the
float32 -> bfloat16/float16 -> float32 casts of a 4M-element tensor (what autocast
runs on every weight each step). Best of several repeats, on the CPU.

    .venv/bin/python benchmarks/bench_half_gemm.py [--quick]
    /tmp/tv/bin/python benchmarks/bench_half_gemm.py --torch   # PyTorch's numbers

ember is imported from this checkout; with --torch the same code runs on PyTorch
(`import torch`), which is never a dependency of ember.
"""

import argparse
import importlib
import sys
import time
from pathlib import Path


def best_ms(fn, reps, rounds=5):
    fn()
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t) / reps)
    return best * 1000


def run(lib, quick):
    dts = {"float32": lib.float32, "bfloat16": lib.bfloat16, "float16": lib.float16}
    lib.manual_seed(0)
    rows = []
    for n in (512, 1024):
        for name, dt in dts.items():
            a, b = lib.randn(n, n).to(dt), lib.randn(n, n).to(dt)
            ms = best_ms(lambda a=a, b=b: a @ b, 1 if quick else 3)
            rows.append((f"matmul {n}^3", name, f"{2 * n**3 / ms / 1e6:.0f} GFLOP/s"))
    F = lib.nn.functional
    for name, dt in dts.items():
        x = lib.randn(64, 32, 8, 8).to(dt)
        w = lib.randn(64, 32, 3, 3).to(dt)
        ms = best_ms(lambda x=x, w=w: F.conv2d(x, w, padding=1), 3 if quick else 10)
        rows.append(("conv2d 64x32x8x8 -> 64, fwd", name, f"{ms:.2f} ms"))
        xg = x.clone().requires_grad_(True)
        wg = w.clone().requires_grad_(True)

        def fwd_bwd(xg=xg, wg=wg):
            F.conv2d(xg, wg, padding=1).sum().backward()

        ms = best_ms(fwd_bwd, 3 if quick else 10)
        rows.append(("conv2d 64x32x8x8 -> 64, fwd+bwd", name, f"{ms:.2f} ms"))
    big = lib.randn(4 * 1024 * 1024)
    for name in ("bfloat16", "float16"):
        dt = dts[name]
        low = big.to(dt)
        ms = best_ms(lambda dt=dt: big.to(dt), 3 if quick else 10)
        rows.append(("cast 4M float32 ->", name, f"{ms:.2f} ms"))
        ms = best_ms(lambda low=low: low.to(lib.float32), 3 if quick else 10)
        rows.append(("cast 4M -> float32", name, f"{ms:.2f} ms"))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--torch", action="store_true", help="run on PyTorch instead of ember")
    args = ap.parse_args(argv)
    if args.torch:
        lib = importlib.import_module("torch")
        label = f"torch {lib.__version__} ({lib.get_num_threads()} threads)"
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
        lib = importlib.import_module("ember")
        label = f"ember ({lib.get_num_threads()} threads, bf16 kernel: "
        label += f"{lib._C._half_gemm_path('bfloat16')})"
    print(f"# {label}")
    print("| case | dtype | time |")
    print("|---|---|---:|")
    for case, dt, val in run(lib, args.quick):
        print(f"| {case} | {dt} | {val} |")


if __name__ == "__main__":
    main()
