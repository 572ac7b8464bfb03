"""conv2d forward + backward: ember against PyTorch (when installed) and a numpy
im2col reference, in ms per call, plus a whole CNN training step.

    python benchmarks/bench_conv.py [--reps N]

The numpy reference does the same work as ember's kernel (im2col, one GEMM per
map: output, input gradient via col2im, weight gradient) so the table shows
what the Rust kernels add over plain BLAS-backed numpy.
"""

import argparse
import time

import numpy as np

import ember
import ember.nn as enn
import ember.nn.functional as EF

try:
    import torch  # optional, for side-by-side numbers only
except ImportError:  # pragma: no cover
    torch = None

CASES = [
    ("(64,1,28,28) -> (64,32,26,26) 3x3", (64, 1, 28, 28), (32, 1, 3, 3)),
    ("(64,32,26,26) -> (64,64,24,24) 3x3", (64, 32, 26, 26), (64, 32, 3, 3)),
]


def best_ms(fn, reps):
    fn()  # warm up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times), 1e3 * float(np.median(times))


# ---------------------------------------------------------------- numpy im2col
def im2col(x, kh, kw):
    n, c, h, w = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    s = x.strides
    view = np.lib.stride_tricks.as_strided(
        x, (n, c, kh, kw, oh, ow), (s[0], s[1], s[2], s[3], s[2], s[3]), writeable=False
    )
    return view.reshape(n, c * kh * kw, oh * ow), (oh, ow)


def col2im(cols, shape, kh, kw):
    n, c, h, w = shape
    oh, ow = h - kh + 1, w - kw + 1
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    x = np.zeros(shape, cols.dtype)
    for i in range(kh):
        for j in range(kw):
            x[:, :, i : i + oh, j : j + ow] += cols[:, :, i, j]
    return x


def numpy_step(x, w, b, needs_input_grad):
    o, _, kh, kw = w.shape
    cols, (oh, ow) = im2col(x, kh, kw)
    wm = w.reshape(o, -1)
    y = np.matmul(wm, cols) + b[None, :, None]  # (n, o, L)
    gy = np.ones_like(y)
    gw = np.einsum("nol,nkl->ok", gy, cols).reshape(w.shape)
    gb = gy.sum(axis=(0, 2))
    gx = col2im(np.matmul(wm.T, gy), x.shape, kh, kw) if needs_input_grad else None
    return y.reshape(x.shape[0], o, oh, ow), gw, gb, gx


# ---------------------------------------------------------------- framework runs
def framework_step(lib, fn, x, w, b):
    def run():
        for t in (x, w, b):
            t.grad = None
        y = fn.conv2d(x, w, b)
        y.backward(lib.ones_like(y))

    return run


def make_inputs(lib, xs, ws, needs_input_grad):
    rng = np.random.default_rng(0)
    xa = rng.standard_normal(xs).astype(np.float32)
    wa = (rng.standard_normal(ws) * 0.1).astype(np.float32)
    ba = (rng.standard_normal(ws[0]) * 0.1).astype(np.float32)
    x = lib.tensor(xa).requires_grad_(needs_input_grad)
    w = lib.tensor(wa).requires_grad_(True)
    b = lib.tensor(ba).requires_grad_(True)
    return (xa, wa, ba), (x, w, b)


def check_agreement(arrays, tensors, needs_input_grad):
    y, gw, gb, gx = numpy_step(*arrays, needs_input_grad)
    x, w, b = tensors
    for t in (x, w, b):
        t.grad = None
    out = EF.conv2d(x, w, b)
    out.backward(ember.ones_like(out))
    np.testing.assert_allclose(out.detach().numpy(), y, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(w.grad.numpy(), gw, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(b.grad.numpy(), gb, rtol=1e-3, atol=1e-2)
    if needs_input_grad:
        np.testing.assert_allclose(x.grad.numpy(), gx, rtol=1e-3, atol=1e-2)


# ---------------------------------------------------------------- training step
def cnn_step_ms(lib, nn, F, reps):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3)
            self.conv2 = nn.Conv2d(32, 64, 3)
            self.fc1 = nn.Linear(64 * 12 * 12, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = F.relu(self.fc1(x.flatten(1)))
            return self.fc2(x)

    lib.manual_seed(0)
    model = Net()
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 64))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return best_ms(step, reps)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    print(f"conv2d forward+backward, float32, ms per call (best / median of {args.reps})")
    cols = ["ember", "numpy im2col"] + (["torch"] if torch is not None else [])
    print(f"{'case':38s}" + "".join(f"{c:>22s}" for c in cols))
    for name, xs, ws in CASES:
        needs_input_grad = xs[1] > 1  # the first layer's input is data
        arrays, tensors = make_inputs(ember, xs, ws, needs_input_grad)
        check_agreement(arrays, tensors, needs_input_grad)
        row = [best_ms(framework_step(ember, EF, *tensors), args.reps)]
        row.append(best_ms(lambda a=arrays, n=needs_input_grad: numpy_step(*a, n), args.reps))
        if torch is not None:
            _, tt = make_inputs(torch, xs, ws, needs_input_grad)
            row.append(best_ms(framework_step(torch, torch.nn.functional, *tt), args.reps))
        print(f"{name:38s}" + "".join(f"{b:10.1f} / {m:9.1f}" for b, m in row))
    print()
    print("CNN training step (conv 1->32, conv 32->64, max_pool, fc 9216->128->10, Adam), batch 64")
    b, m = cnn_step_ms(ember, enn, EF, args.reps)
    print(f"{'ember':38s}{b:10.1f} / {m:9.1f} ms")
    if torch is not None:
        b, m = cnn_step_ms(torch, torch.nn, torch.nn.functional, args.reps)
        print(f"{'torch':38s}{b:10.1f} / {m:9.1f} ms")


if __name__ == "__main__":
    main()
