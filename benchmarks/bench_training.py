"""Training-step benchmarks of issue 4: ms per step, ember (and PyTorch when installed).

MLP: 784-512-512-10, batch 128, SGD with momentum.
CNN: two 3x3 convs (1->32->64) + max-pool + two linears on 28x28, batch 64, Adam.
"""

import importlib
import time


def build(torch, kind, device="cpu"):
    nn = torch.nn
    torch.manual_seed(0)
    if kind == "mlp":
        model = nn.Sequential(
            nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
        )
        x = torch.randn(128, 784, device=device)
        y = torch.randint(0, 10, (128,), device=device)
    else:
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
        x = torch.randn(64, 1, 28, 28, device=device)
        y = torch.randint(0, 10, (64,), device=device)
    model.to(device)
    if kind == "mlp":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def timeit(step, warmup=3, reps=10):
    for _ in range(warmup):
        step()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            step()
        best = min(best, (time.perf_counter() - t) / reps)
    return best * 1000


def main():
    libs = [("ember", importlib.import_module("ember"))]
    try:
        import torch

        torch.set_num_threads(2)
        libs.append(("torch", torch))
    except ImportError:
        pass
    print(f"{'step':<34}" + "".join(f"{n:>12}" for n, _ in libs))
    for kind, label, reps in [
        ("mlp", "MLP 784-512-512-10 b128 SGD", 20),
        ("cnn", "CNN 2xconv3x3+2xfc b64 Adam", 5),
    ]:
        row = [timeit(build(lib, kind), reps=reps) for _, lib in libs]
        print(f"{label:<34}" + "".join(f"{v:>10.1f}ms" for v in row))


if __name__ == "__main__":
    main()
