"""ember.distributed: all_reduce bandwidth (1-256 MB) and the DDP step time on 1 vs 2 processes.

    .venv/bin/python benchmarks/bench_distributed.py [--quick] [--nproc 2]

The script starts itself through `python -m ember.distributed.run` and prints rank 0's
results. all_reduce is timed two ways: ember's `dist.all_reduce` on a float32 tensor (host
copies in and out included) and mpi4py's `Allreduce` on a numpy array (the engine alone), so
the wrapper's cost is visible. Bus bandwidth = size * 2(n-1)/n / time, as nccl-tests report.
The DDP step is the demo's CNN (examples/train_digits.py) with 32 images per process: forward,
backward with the gradient all-reduce, Adam step.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _best(fn, reps):
    fn()  # warm-up (allocations, MPI connections)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def worker_allreduce(sizes_mb, reps):
    import ember
    import ember.distributed as dist

    dist.init_process_group("mpi")
    comm = dist.GroupMember.WORLD._comm
    n = dist.get_world_size()
    rows = []
    for mb in sizes_mb:
        count = mb * 2**20 // 4
        t = ember.ones(count)
        a = np.ones(count, dtype=np.float32)
        out = np.empty_like(a)

        def ember_ar(t=t):
            dist.all_reduce(t)
            dist.barrier()  # the slowest rank sets the time

        def mpi_ar(a=a, out=out):
            comm.Allreduce(a, out)
            comm.Barrier()

        r = 3 if mb >= 64 else reps
        te, tm = _best(ember_ar, r), _best(mpi_ar, r)
        bus = mb * 2**20 * 2 * (n - 1) / n / 1e9
        rows.append({"mb": mb, "ember_ms": te * 1e3, "mpi_ms": tm * 1e3,
                     "ember_busbw": bus / te, "mpi_busbw": bus / tm})  # fmt: skip
    if dist.get_rank() == 0:
        print("RESULT " + json.dumps({"allreduce": rows, "n": n}), flush=True)
    dist.destroy_process_group()


def worker_ddp(steps):
    sys.path.insert(0, os.path.join(HERE, "..", "examples"))
    from train_digits import Net

    import ember
    import ember.distributed as dist
    import ember.nn.functional as F

    dist.init_process_group("mpi")
    ember.manual_seed(0)
    model = ember.nn.parallel.DistributedDataParallel(Net())
    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(dist.get_rank())
    x = ember.tensor(rng.random((32, 1, 8, 8), dtype=np.float32))
    y = ember.tensor(rng.integers(0, 10, 32))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    dist.barrier()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    t = np.array(times)
    dist.all_reduce(ts := ember.tensor(t), op=dist.ReduceOp.MAX)
    med = float(np.median(ts.numpy()))
    if dist.get_rank() == 0:
        n = dist.get_world_size()
        print("RESULT " + json.dumps({"ddp": {"n": n, "step_ms": med * 1e3,
                                               "images_per_s": 32 * n / med}}), flush=True)  # fmt: skip
    dist.destroy_process_group()


def _launch(nproc, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(HERE, "..", "python") + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", str(nproc),
           os.path.abspath(__file__), *args]  # fmt: skip
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"benchmark worker failed:\n{p.stdout}\n{p.stderr}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--worker", choices=["allreduce", "ddp"])
    ap.add_argument("--sizes", default=None)
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()
    if args.worker == "allreduce":
        return worker_allreduce([int(s) for s in args.sizes.split(",")], 3 if args.quick else 5)
    if args.worker == "ddp":
        return worker_ddp(args.steps)

    sizes = "1,4,16" if args.quick else "1,4,16,64,256"
    steps = "10" if args.quick else "30"
    res = _launch(args.nproc, "--worker", "allreduce", "--sizes", sizes)
    print(f"all_reduce, float32, {res['n']} processes on this machine (best of repeats)")
    print("| size | ember all_reduce ms | ember bus GB/s | mpi4py Allreduce ms | mpi4py bus GB/s |")
    print("|---:|---:|---:|---:|---:|")
    for r in res["allreduce"]:
        print(f"| {r['mb']} MB | {r['ember_ms']:.2f} | {r['ember_busbw']:.2f} | "
              f"{r['mpi_ms']:.2f} | {r['mpi_busbw']:.2f} |")  # fmt: skip
    print()
    print("DDP step, demo CNN, 32 images per process (median over steps, slowest rank)")
    print("| processes | step ms | images/s |")
    print("|---:|---:|---:|")
    for n in (1, args.nproc):
        d = _launch(n, "--worker", "ddp", "--steps", steps)["ddp"]
        print(f"| {d['n']} | {d['step_ms']:.2f} | {d['images_per_s']:.0f} |")


if __name__ == "__main__":
    main()
