"""ember vs numpy (and PyTorch when it happens to be installed): small-op overhead from
Python, float32 matmul throughput, and a large elementwise chain.

    .venv/bin/python benchmarks/bench_ops.py [--quick]
"""

import argparse
import os
import platform
import time

import numpy as np

import ember

try:  # never required: only printed beside ember when present
    import torch
except ImportError:  # pragma: no cover
    torch = None


def best_time(fn, number, repeat=5):
    """Best-of-`repeat` seconds per call of fn, each measured over `number` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def row(label, unit, values):
    cells = [f"{v:>10.2f}" if v is not None else f"{'-':>10}" for v in values]
    return f"| {label:<38} | {unit:<8} | " + " | ".join(cells) + " |"


def header(cols):
    names = " | ".join(f"{c:>10}" for c in cols)
    seps = " | ".join("-" * 9 + ":" for _ in cols)
    return f"| {'benchmark':<38} | {'unit':<8} | {names} |\n|{'-' * 40}|{'-' * 10}| {seps} |"


def small_ops(number):
    a_e, b_e = ember.rand(10), ember.rand(10)
    a_n, b_n = np.random.rand(10).astype(np.float32), np.random.rand(10).astype(np.float32)
    cases = [
        ("add, two 10-element tensors", lambda: a_e + b_e, lambda: a_n + b_n, "add"),
        ("x.sum(), 10 elements", lambda: a_e.sum(), lambda: a_n.sum(), "sum"),
        ("x[0]", lambda: a_e[0], lambda: a_n[0], "index"),
        ("x.view(-1)", lambda: a_e.view(-1), lambda: a_n.reshape(-1), "view"),
        ("x.relu_() in place", lambda: a_e.relu_(), lambda: np.maximum(a_n, 0, out=a_n), "relu_"),
    ]
    if torch is not None:
        a_t, b_t = torch.rand(10), torch.rand(10)
        tmap = {
            "add": lambda: a_t + b_t,
            "sum": lambda: a_t.sum(),
            "index": lambda: a_t[0],
            "view": lambda: a_t.view(-1),
            "relu_": lambda: a_t.relu_(),
        }
    out = []
    for label, fe, fn, key in cases:
        te = best_time(fe, number) * 1e6
        tn = best_time(fn, number) * 1e6
        tt = best_time(tmap[key], number) * 1e6 if torch is not None else None
        out.append(row(label, "µs/op", [te, tn, tt]))
    return out


def matmul(sizes):
    out = []
    for n in sizes:
        a_n = np.random.rand(n, n).astype(np.float32)
        b_n = np.random.rand(n, n).astype(np.float32)
        a_e, b_e = ember.from_numpy(a_n), ember.from_numpy(b_n)
        number = max(1, int(2e8 // (n**3)))  # ~0.4 GFLOP per measurement
        flops = 2.0 * n**3
        te = best_time(lambda a=a_e, b=b_e: a @ b, number, repeat=3)
        tn = best_time(lambda a=a_n, b=b_n: a @ b, number, repeat=3)
        tt = None
        if torch is not None:
            a_t, b_t = torch.from_numpy(a_n), torch.from_numpy(b_n)
            tt = best_time(lambda a=a_t, b=b_t: a @ b, number, repeat=3)
        vals = [flops / t / 1e9 for t in (te, tn)] + [flops / tt / 1e9 if tt else None]
        out.append(row(f"matmul f32 {n}x{n} @ {n}x{n}", "GFLOP/s", vals))
    return out


def elementwise(n):
    x_n = np.random.randn(n).astype(np.float32)
    x_e = ember.from_numpy(x_n)
    te = best_time(lambda: (x_e * 2 + 1).relu().exp(), 3, repeat=3)
    tn = best_time(lambda: np.exp(np.maximum(x_n * 2 + 1, 0)), 3, repeat=3)
    tt = None
    if torch is not None:
        x_t = torch.from_numpy(x_n)
        tt = best_time(lambda: (x_t * 2 + 1).relu().exp(), 3, repeat=3)
    # four passes, each reading and writing n float32 values
    gbs = [4 * 2 * 4 * n / t / 1e9 if t else None for t in (te, tn, tt)]
    label = f"(x*2+1).relu().exp(), {n // 1_000_000}M f32"
    return [
        row(label, "ms", [te * 1e3, tn * 1e3, tt * 1e3 if tt else None]),
        row(label, "GB/s", gbs),
    ]


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer iterations, smaller sizes")
    args = ap.parse_args()
    cols = ["ember", "numpy", "torch"]
    print(f"machine: {machine()}")
    print(f"torch: {torch.__version__ if torch is not None else 'not installed'}")
    print()
    print(header(cols))
    lines = small_ops(20_000 if args.quick else 200_000)
    lines += matmul([256, 512] if args.quick else [256, 1024, 2048])
    lines += elementwise(1_000_000 if args.quick else 10_000_000)
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
