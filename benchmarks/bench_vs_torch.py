"""ember beside PyTorch in one process: the CPU workloads of issue 11.

Each workload is written once against a torch-like module and run for every
library in turn (ember, PyTorch, numpy where the workload has a numpy form),
alternating between libraries so machine noise hits all of them alike. It
prints the median time per call and ember's ratio to PyTorch (< 1 is faster).

PyTorch is never a dependency: run this with a Python that has both, e.g.

    PYTHONPATH=python /path/to/venv-with-torch/bin/python benchmarks/bench_vs_torch.py

Without PyTorch the ratio column is against numpy where a numpy form exists.
`--quick` runs fewer repeats; `--only NAME` runs workloads whose name contains NAME.

With more than one thread, libraries measured in one process disturb each
other: PyTorch's OpenMP threads and numpy's OpenBLAS threads spin for a while
after each call and take the cores from the next library's workers (on 2
cores that doubled ember's matmul time and PyTorch's elementwise times).
`--isolate` measures each library in its own child process instead (same
workloads, run one after another); use it for the multi-threaded table.
"""

import argparse
import importlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# --- workloads: each returns a zero-argument callable (one "call") -----------


def w_add_small(T):
    x, y = T.ones(10), T.ones(10)
    return lambda: x + y


def w_matmul(n, m=None, k=None):
    m = m or n
    k = k or n

    def make(T):
        a = T.randn(n, k)
        b = T.randn(k, m)
        return lambda: a @ b

    return make


def w_chain(T):
    a = T.randn(4 << 20)
    b = T.randn(4 << 20)
    return lambda: (a * b + a).relu().sum()


def w_exp(T):
    a = T.randn(4 << 20)
    return lambda: a.exp()


def w_softmax(T):
    a = T.randn(128, 10000)
    return lambda: a.softmax(-1)


def w_embedding(T):
    # a language model's token lookup and its gradient (rows added back per id)
    T.manual_seed(0)
    emb = T.nn.Embedding(10000, 256)
    ids = T.randint(0, 10000, (32, 128))

    def step():
        emb.weight.grad = None
        emb(ids).sum().backward()

    return step


def np_embedding():
    w = np.random.randn(10000, 256).astype(np.float32)
    ids = np.random.randint(0, 10000, (32, 128))

    def step():
        out = w[ids]
        g = np.zeros_like(w)
        np.add.at(g, ids.reshape(-1), np.ones_like(out).reshape(-1, 256))

    return step


def w_mlp(T):
    nn = T.nn
    T.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )
    x = T.randn(128, 784)
    y = T.randint(0, 10, (128,))
    opt = T.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def w_cnn(T):
    nn = T.nn
    T.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 12 * 12, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    x = T.randn(64, 1, 28, 28)
    y = T.randint(0, 10, (64,))
    opt = T.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def w_transformer(T):
    nn = T.nn
    T.manual_seed(0)
    d, heads, layers, seq, batch, vocab = 128, 4, 4, 64, 16, 256
    layer = nn.TransformerEncoderLayer(
        d, heads, dim_feedforward=4 * d, dropout=0.0, batch_first=True
    )
    enc = nn.TransformerEncoder(layer, layers)
    emb = nn.Embedding(vocab, d)
    head = nn.Linear(d, vocab)
    params = list(enc.parameters()) + list(emb.parameters()) + list(head.parameters())
    opt = T.optim.AdamW(params, lr=1e-3)
    idx = T.randint(0, vocab, (batch, seq))
    tgt = T.randint(0, vocab, (batch * seq,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        h = enc(emb(idx))
        loss = loss_fn(head(h).reshape(batch * seq, vocab), tgt)
        loss.backward()
        opt.step()

    return step


def np_matmul(n, m=None, k=None):
    m = m or n
    k = k or n

    def make():
        a = np.random.randn(n, k).astype(np.float32)
        b = np.random.randn(k, m).astype(np.float32)
        return lambda: a @ b

    return make


def np_chain():
    a = np.random.randn(4 << 20).astype(np.float32)
    b = np.random.randn(4 << 20).astype(np.float32)
    return lambda: np.maximum(a * b + a, 0).sum()


def np_exp():
    a = np.random.randn(4 << 20).astype(np.float32)
    return lambda: np.exp(a)


WORKLOADS = [
    # name, builder(T), numpy builder or None, calls per sample
    ("x + y, 10 elements (us)", w_add_small, lambda: (lambda a: lambda: a + a)(np.ones(10)), 20000),
    ("matmul 256^3 f32", w_matmul(256), np_matmul(256), 50),
    ("matmul 1024^3 f32", w_matmul(1024), np_matmul(1024), 3),
    ("matmul 128x784 @ 784x512", w_matmul(128, 512, 784), np_matmul(128, 512, 784), 50),
    ("matmul 64x288 @ 288x784", w_matmul(64, 784, 288), np_matmul(64, 784, 288), 100),
    ("(a*b + a).relu().sum(), 4M", w_chain, np_chain, 5),
    ("exp, 4M f32", w_exp, np_exp, 5),
    ("softmax 128x10000", w_softmax, None, 10),
    ("embedding 10000x256, 32x128 ids, fwd+bwd", w_embedding, np_embedding, 10),
    ("MLP 784-512-512-10 b128 SGD-mom step", w_mlp, None, 10),
    ("CNN 2xconv3x3+2xfc b64 Adam step", w_cnn, None, 2),
    ("transformer 4L d128 h4 s64 b16 AdamW", w_transformer, None, 2),
]


def sample(fn, calls):
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls


def measure(libs, args):
    """Median seconds per call of each workload, per library name."""
    samples = 5 if args.quick else 11
    out = {}
    for name, build, np_build, calls in WORKLOADS:
        if args.only and args.only not in name:
            continue
        if args.quick:
            calls = max(1, calls // 3)
        fns = {lname: build(lib) for lname, lib in libs if lname != "numpy"}
        if np_build is not None and any(n == "numpy" for n, _ in libs):
            fns["numpy"] = np_build()
        for fn in fns.values():  # warm-up: caches, allocators, lazy init
            for _ in range(2):
                fn()
        times = {k: [] for k in fns}
        for _ in range(samples):
            for k, fn in fns.items():
                times[k].append(sample(fn, calls))
        out[name] = {k: statistics.median(v) for k, v in times.items()}
    return out


def load_libs(names, threads):
    libs = []
    for n in names:
        if n == "numpy":
            libs.append(("numpy", np))
            continue
        try:
            lib = importlib.import_module(n)
        except ImportError:
            continue
        lib.set_num_threads(threads)
        libs.append((n, lib))
    return libs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--isolate", action="store_true", help="one child process per library")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        json.dump(measure(load_libs([args.child], args.threads), args), sys.stdout)
        return

    names = ["ember", "torch", "numpy"]
    have_torch = importlib.util.find_spec("torch") is not None
    if args.isolate:
        res = {}
        for n in names if have_torch else ["ember", "numpy"]:
            cmd = [sys.executable, __file__, "--child", n, "--threads", str(args.threads)]
            cmd += ["--quick"] * args.quick + (["--only", args.only] if args.only else [])
            child = json.loads(
                subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            )
            for w, d in child.items():
                res.setdefault(w, {}).update(d)
        torch_version = "isolated" if have_torch else None
    else:
        libs = load_libs(names, args.threads)
        have_torch = any(n == "torch" for n, _ in libs)
        torch_version = dict(libs)["torch"].__version__ if have_torch else None
        res = measure(libs, args)

    mode = "one process per library" if args.isolate else "one process, alternating"
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores, threads={args.threads}, {mode}")
    print(f"numpy {np.__version__}" + (f", torch {torch_version}" if have_torch else ", no torch"))
    print()
    ref = "torch" if have_torch else "numpy"
    hdr = f"| {'workload':<38} | {'ember':>10} | {'torch':>10} | {'numpy':>10} | ember/{ref} |"
    print(hdr)
    print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|")
    for name, *_ in WORKLOADS:
        if name not in res:
            continue
        med = res[name]
        scale, unit = (1e6, "us") if "(us)" in name else (1e3, "ms")

        def cell(k, med=med, scale=scale, unit=unit):
            return f"{med[k] * scale:>8.3f}{unit}" if k in med else f"{'-':>10}"

        ratio = med["ember"] / med[ref] if ref in med else float("nan")
        print(
            f"| {name:<38} | {cell('ember')} | {cell('torch')} | {cell('numpy')} | {ratio:>9.2f} |"
        )


if __name__ == "__main__":
    main()
