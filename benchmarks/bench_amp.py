"""Mixed-precision training step (issue 15): float32 vs autocast + GradScaler, ms per step.

Models: the demo CNN of examples/train_digits.py (batch 64 of 1x8x8 digits) and a small
transformer (nn.TransformerEncoder: d_model 128, 4 heads, 2 layers, feed-forward 512,
batch 16 x 64 tokens, mean-pooled to 10 classes). Each runs float32, and under
autocast(device) with GradScaler (bfloat16 on the CPU, float16 on the GPU), with SGD.
Also: the per-call cost autocast's wrappers add to ops while autocast is off.

    .venv/bin/python benchmarks/bench_amp.py [--device cpu|gpu] [--quick]

PyTorch is used for the same numbers when `import torch` works (never a dependency).
"""

import argparse
import importlib
import importlib.util
import sys
import time
import timeit
from pathlib import Path


def _demo_net(torch):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):  # examples/train_digits.py's model, rebuilt for either library
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
            self.fc1 = nn.Linear(64 * 2 * 2, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = F.relu(self.fc1(x.flatten(1)))
            return self.fc2(x)

    return Net()


def _transformer(torch):
    nn = torch.nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, 2)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            return self.head(self.enc(x).mean(1))

    return Tiny()


def build(torch, kind, device, amp):
    torch.manual_seed(0)
    if kind == "cnn":
        model = _demo_net(torch)
        x = torch.randn(64, 1, 8, 8, device=device)
        y = torch.randint(0, 10, (64,), device=device)
    else:
        model = _transformer(torch)
        x = torch.randn(16, 64, 128, device=device)
        y = torch.randint(0, 10, (16,), device=device)
    model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    dev_type = "cuda" if device == "cuda" else device
    scaler = torch.amp.GradScaler(dev_type, enabled=amp)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        with torch.autocast(dev_type, enabled=amp):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss.item()

    return step


def time_step(step, warmup, reps):
    for _ in range(warmup):
        step()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            step()
        best = min(best, (time.perf_counter() - t) / reps)
    return best * 1000


def off_path_overhead(ember):
    """ns per call that a wrapped op pays with autocast off (wrapper vs the op it wraps)."""
    T, F = ember.Tensor, ember.nn.functional
    x, a, w = ember.randn(10), ember.randn(4, 4), ember.randn(4, 4)
    pairs = {
        "x.sum()": (lambda: x.sum(), lambda: T.sum.__wrapped__(x)),
        "x.exp()": (lambda: x.exp(), lambda: T.exp.__wrapped__(x)),
        "a @ w": (lambda: a @ w, lambda: T.__matmul__.__wrapped__(a, w)),
        "F.linear(a, w)": (lambda: F.linear(a, w), lambda: F.linear.__wrapped__(a, w)),
    }
    n, out = 20000, {}
    for k, (wrapped, orig) in pairs.items():
        tw = min(timeit.repeat(wrapped, number=n, repeat=15)) / n * 1e9
        to = min(timeit.repeat(orig, number=n, repeat=15)) / n * 1e9
        out[k] = (tw, to)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    import ember

    libs = [("ember", ember, args.device)]
    try:
        torch = importlib.import_module("torch")
        if torch.__name__ == "torch":
            tdev = "cpu" if args.device == "cpu" else "cuda"
            if tdev == "cpu" or torch.cuda.is_available():
                libs.append(("torch", torch, tdev))
    except ImportError:
        pass
    warmup, reps = (1, 3) if args.quick else (3, 10)
    print("| model | library | float32 ms/step | autocast ms/step | speedup |")
    print("|---|---|---:|---:|---:|")
    for kind in ("cnn", "transformer"):
        for name, lib, dev in libs:
            f32 = time_step(build(lib, kind, dev, False), warmup, reps)
            amp = time_step(build(lib, kind, dev, True), warmup, reps)
            label = "demo CNN, batch 64" if kind == "cnn" else "TransformerEncoder d128 x2"
            print(f"| {label} | {name} ({dev}) | {f32:.2f} | {amp:.2f} | {f32 / amp:.2f}x |")
    print()
    print("| op, autocast off | wrapped ns | unwrapped ns | overhead ns |")
    print("|---|---:|---:|---:|")
    for k, (tw, to) in off_path_overhead(ember).items():
        print(f"| {k} | {tw:.0f} | {to:.0f} | {tw - to:.0f} |")


if __name__ == "__main__":
    main()
