"""Autograd cost: forward+backward of a 3-layer MLP (784-512-512-10, batch 128) written with
tensor ops only (no ember.nn), beside the same step hand-written in numpy (and PyTorch when
it happens to be installed); and the bookkeeping per recorded op.

    .venv/bin/python benchmarks/bench_autograd.py [--quick]
"""

import argparse

import numpy as np

import ember

try:  # never required
    import torch
except ImportError:  # pragma: no cover
    torch = None

from bench_ops import best_time, header, machine, row

B, D_IN, H, D_OUT = 128, 784, 512, 10


def _init(rng):
    def w(i, o):
        return (rng.standard_normal((i, o)) / np.sqrt(i)).astype(np.float32)

    return [w(D_IN, H), np.zeros(H, np.float32), w(H, H), np.zeros(H, np.float32),
            w(H, D_OUT), np.zeros(D_OUT, np.float32)]  # fmt: skip


def ember_step(params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    h1 = (x @ w1 + b1).relu()
    h2 = (h1 @ w2 + b2).relu()
    logits = h2 @ w3 + b3
    loss = -logits.log_softmax(1).gather(1, y).mean()
    loss.backward()
    for p in params:
        p.grad = None
    return loss


def numpy_step(params, x, y):
    """The same forward and backward by hand: what the kernels alone cost."""
    w1, b1, w2, b2, w3, b3 = params
    a1 = x @ w1 + b1
    h1 = np.maximum(a1, 0)
    a2 = h1 @ w2 + b2
    h2 = np.maximum(a2, 0)
    z = h2 @ w3 + b3
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(1, keepdims=True)
    loss = -np.log(p[np.arange(B), y[:, 0]]).mean()
    g = p
    g[np.arange(B), y[:, 0]] -= 1
    g /= B
    gw3, gb3 = h2.T @ g, g.sum(0)
    g = (g @ w3.T) * (a2 > 0)
    gw2, gb2 = h1.T @ g, g.sum(0)
    g = (g @ w2.T) * (a1 > 0)
    gw1, gb1 = x.T @ g, g.sum(0)
    return loss, (gw1, gb1, gw2, gb2, gw3, gb3)


def torch_step(params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    h1 = (x @ w1 + b1).relu()
    h2 = (h1 @ w2 + b2).relu()
    logits = h2 @ w3 + b3
    loss = -logits.log_softmax(1).gather(1, y).mean()
    loss.backward()
    for p in params:
        p.grad = None
    return loss


def mlp(number):
    rng = np.random.default_rng(0)
    init = _init(rng)
    x_n = rng.standard_normal((B, D_IN)).astype(np.float32)
    y_n = rng.integers(0, D_OUT, (B, 1))
    pe = [ember.tensor(a, requires_grad=True) for a in init]
    xe, ye = ember.tensor(x_n), ember.tensor(y_n)
    le = float(ember_step(pe, xe, ye))
    ln, _ = numpy_step(init, x_n, y_n)
    assert abs(le - ln) < 1e-4, (le, ln)  # both compute the same step
    te = best_time(lambda: ember_step(pe, xe, ye), number, repeat=3)
    tn = best_time(lambda: numpy_step(init, x_n, y_n), number, repeat=3)
    tt = None
    if torch is not None:
        pt = [torch.tensor(a, requires_grad=True) for a in init]
        xt, yt = torch.tensor(x_n), torch.tensor(y_n)
        tt = best_time(lambda: torch_step(pt, xt, yt), number, repeat=3)
    with ember.no_grad():
        tf = best_time(lambda: ((xe @ pe[0] + pe[1]).relu() @ pe[2]).relu() @ pe[4], number, 3)
    return [
        row("MLP 784-512-512-10 b128 fwd+bwd", "ms/step", [te * 1e3, tn * 1e3,
                                                          tt * 1e3 if tt else None]),
        row("  same, forward only (no_grad)", "ms/step", [tf * 1e3, None, None]),
    ]  # fmt: skip


def chain(n_ops, x, grad):
    y = x
    for _ in range(n_ops):
        y = y + 1.0
    if grad:
        y.sum().backward()
    return y


def overhead(number):
    n_ops = 1000
    a = ember.rand(10)
    b = ember.rand(10, requires_grad=True)
    t_plain = best_time(lambda: chain(n_ops, a, False), number) / n_ops
    t_rec = best_time(lambda: chain(n_ops, b, False), number) / n_ops
    t_both = best_time(lambda: chain(n_ops, b, True), number) / n_ops
    lines = [
        row("add chain x1000, no grad", "µs/op", [t_plain * 1e6, None, None]),
        row("add chain x1000, requires_grad (fwd)", "µs/op", [t_rec * 1e6, None, None]),
        row("  recording overhead per op", "ns/op", [(t_rec - t_plain) * 1e9, None, None]),
        row("  backward per op", "µs/op", [(t_both - t_rec) * 1e6, None, None]),
    ]
    if torch is not None:
        ta, tb = torch.rand(10), torch.rand(10, requires_grad=True)
        p = best_time(lambda: chain(n_ops, ta, False), number) / n_ops
        r = best_time(lambda: chain(n_ops, tb, False), number) / n_ops
        lines.append(
            row("  torch: recording overhead per op", "ns/op", [None, None, (r - p) * 1e9])
        )
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"torch: {torch.__version__ if torch is not None else 'not installed'}")
    print()
    print(header(["ember", "numpy", "torch"]))
    for line in mlp(3 if args.quick else 20) + overhead(5 if args.quick else 50):
        print(line)


if __name__ == "__main__":
    main()
