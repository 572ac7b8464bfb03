"""ember.linalg beside numpy.linalg (and PyTorch, run in its own process).

    PYTHONPATH=python .venv/bin/python benchmarks/bench_linalg.py [--quick] [--threads N]
        [--torch /path/to/python-with-torch]

Rows: inv, solve (n x n with 16 right-hand sides), cholesky, qr, svd and eigh at
n = 64, 256, 512, and a batch of 1000 4x4 matrices, float64 (numpy's dtype).
Each number is the best of several repeats. With --torch, the same rows run
under that interpreter in a subprocess (PyTorch is never imported here), so
each library gets the cores alone.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

SIZES = [64, 256, 512]
OPS = ["inv", "solve", "cholesky", "qr", "svd", "eigh"]


def best(fn, reps):
    fn()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def inputs(n, batch):
    rng = np.random.default_rng(0)
    shape = (batch, n, n) if batch else (n, n)
    a = rng.standard_normal(shape)
    spd = a @ np.swapaxes(a, -1, -2) + n * np.eye(n)
    b = rng.standard_normal(shape[:-1] + (16 if not batch else 1,))
    return a + n * np.eye(n), spd, b


def cases(quick):
    sizes = [64, 256] if quick else SIZES
    return [(n, 0) for n in sizes] + [(4, 1000)]


def run_lib(lib, quick):
    """{row: seconds} for lib in numpy/ember/torch (imported here, by name)."""
    if lib == "numpy":
        ops = {
            "inv": lambda a, s, b: np.linalg.inv(a),
            "solve": lambda a, s, b: np.linalg.solve(a, b),
            "cholesky": lambda a, s, b: np.linalg.cholesky(s),
            "qr": lambda a, s, b: np.linalg.qr(a),
            "svd": lambda a, s, b: np.linalg.svd(a, full_matrices=False),
            "eigh": lambda a, s, b: np.linalg.eigh(s),
        }
        conv = lambda x: x  # noqa: E731
    else:
        mod = __import__("ember" if lib == "ember" else "torch")
        L = mod.linalg
        ops = {
            "inv": lambda a, s, b: L.inv(a),
            "solve": lambda a, s, b: L.solve(a, b),
            "cholesky": lambda a, s, b: L.cholesky(s),
            "qr": lambda a, s, b: L.qr(a),
            "svd": lambda a, s, b: L.svd(a, full_matrices=False),
            "eigh": lambda a, s, b: L.eigh(s),
        }
        conv = mod.tensor
    out = {}
    for n, batch in cases(quick):
        a, s, b = (conv(x) for x in inputs(n, batch))
        reps = 3 if n >= 512 else 7
        for op in OPS:
            key = f"{op} {'1000x4x4' if batch else f'{n}x{n}'}"
            out[key] = best(lambda op=op, a=a, s=s, b=b: ops[op](a, s, b), reps)
    return out


def fmt(t):
    return "-" if t is None else (f"{t * 1e3:9.3f}ms" if t >= 1e-3 else f"{t * 1e6:9.1f}us")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--torch", default=None, help="python interpreter with PyTorch installed")
    p.add_argument("--only", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        for k in (
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "EMBER_NUM_THREADS",
        ):
            os.environ[k] = str(args.threads)
    if args.only:
        if args.only == "torch" and args.threads:
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(run_lib(args.only, args.quick)))
        return
    res = {}
    for lib, py in [("ember", sys.executable), ("numpy", sys.executable), ("torch", args.torch)]:
        if py is None:
            continue
        cmd = [py, __file__, "--only", lib] + (["--quick"] if args.quick else [])
        cmd += ["--threads", str(args.threads)] if args.threads else []
        r = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if r.returncode != 0:
            print(f"{lib} failed:\n{r.stderr}", file=sys.stderr)
            continue
        res[lib] = json.loads(r.stdout.strip().splitlines()[-1])
    rows = list(res["ember"].keys())
    head = f"| {'float64':<18} | {'ember':>11} | {'numpy':>11} | {'torch':>11} | ember/numpy |"
    print(head)
    print("|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|")
    for k in rows:
        e, n, t = (res.get(lib, {}).get(k) for lib in ("ember", "numpy", "torch"))
        print(f"| {k:<18} | {fmt(e):>11} | {fmt(n):>11} | {fmt(t):>11} | {e / n:11.2f} |")


if __name__ == "__main__":
    main()
