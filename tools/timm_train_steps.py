"""A few SGD steps of a timm model (created with pretrained=False) on a fixed random batch.

    python tools/timm_train_steps.py MODEL_NAME STEPS

Driver for tools/run_programs.py: the user code of a model-zoo run (create the model, forward,
cross-entropy, backward, optimizer step), timed per step, written against PyTorch's API so that it runs the
same under real PyTorch and through ember's torch mapping. Prints "step i loss x time t ms".
"""

import sys
import time

import timm
import torch


def main():
    name, steps = sys.argv[1], int(sys.argv[2])
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, num_classes=10)
    model.train()
    size = 224 if "vit" in name else 96
    # Inputs from a fixed numpy generator, so both backends see the same batch.
    import numpy as np

    rng = np.random.RandomState(0)
    x = torch.from_numpy(rng.randn(2, 3, size, size).astype(np.float32))
    y = torch.from_numpy(rng.randint(0, 10, size=2).astype(np.int64))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for i in range(steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss_value = loss.item()
        ms = 1000 * (time.perf_counter() - t0)
        print(f"step {i} loss {loss_value:.4f} time {ms:.1f} ms", flush=True)


if __name__ == "__main__":
    main()
