"""Soak test: memory over many training steps (issue 17, item 4).

Trains an MLP (784-256-128-10, ReLU, SGD with momentum, batch 32, fresh random
batches from a fixed generator) and prints the process RSS after 100, 1,000,
5,000 and 10,000 steps; then 2,000 steps of a double-backward objective
(a gradient penalty through `autograd.grad(..., create_graph=True)`), which
keeps a second graph alive each step. On "gpu" it also prints the backend's
buffer counters (`ember.gpu.stats()`): live bytes must stay flat too.

    PYTHONPATH=python .venv/bin/python benchmarks/soak.py                  # full table, cpu
    PYTHONPATH=python .venv/bin/python benchmarks/soak.py --device gpu
    PYTHONPATH=python .venv/bin/python benchmarks/soak.py --steps 1000 --cg-steps 200 --json

A leak shows as RSS growing with the step count after warm-up (allocator
caches and the first step's pipelines are allocated by step 100).
"""

import argparse
import json
import os
import time

import numpy as np

import ember
from ember import nn

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb():
    """Resident set size of this process in MiB (from /proc, no dependency)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


def gpu_live():
    """(bytes created - pooled bytes) in MiB: buffers the backend holds for live tensors."""
    s = ember.gpu.stats()
    if not s:
        return None
    return (s["bytes_created"] - s["pooled_bytes"]) / 2**20, s["buffers_created"]


def make(device):
    ember.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    ).to(device)
    opt = ember.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return model, opt


def batches(device, n_distinct=64):
    """A fixed pool of batches (generated once, so data creation is not measured)."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n_distinct):
        x = ember.tensor(rng.standard_normal((32, 784)).astype(np.float32), device=device)
        y = ember.tensor(rng.integers(0, 10, 32), device=device)
        out.append((x, y))
    return out


def run(device, marks, create_graph):
    model, opt = make(device)
    data = batches(device)
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    t0 = time.perf_counter()
    for step in range(1, marks[-1] + 1):
        x, y = data[step % len(data)]
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        if create_graph:
            params = list(model.parameters())
            grads = ember.autograd.grad(loss, params, create_graph=True)
            penalty = sum((g * g).sum() for g in grads)
            (loss + 1e-3 * penalty).backward()
        else:
            loss.backward()
        opt.step()
        if step in marks:
            value = float(loss)  # also waits for the device
            row = {"step": step, "rss_mb": round(rss_mb(), 1), "loss": round(value, 4)}
            # Only a gpu run touches the backend (starting it costs ~60 MB of RSS).
            live = gpu_live() if device != "cpu" else None
            if live is not None:
                row["gpu_live_mb"] = round(live[0], 2)
                row["gpu_buffers_created"] = live[1]
            row["seconds"] = round(time.perf_counter() - t0, 1)
            rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--cg-steps", type=int, default=2_000)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    marks = [m for m in (100, 1_000, 5_000, 10_000) if m < args.steps] + [args.steps]
    cg_marks = [m for m in (100, 1_000) if m < args.cg_steps] + [args.cg_steps]
    res = {
        "device": args.device,
        "sgd": run(args.device, marks, False),
        "create_graph": run(args.device, cg_marks, True) if args.cg_steps else [],
    }
    if args.json:
        print(json.dumps(res))
        return
    for name in ("sgd", "create_graph"):
        print(f"\n{name} ({args.device}): MLP 784-256-128-10, batch 32")
        cols = [c for c in res[name][0]] if res[name] else []
        print(" | ".join(f"{c:>19}" for c in cols))
        for r in res[name]:
            print(" | ".join(f"{r[c]!s:>19}" for c in cols))


if __name__ == "__main__":
    main()
