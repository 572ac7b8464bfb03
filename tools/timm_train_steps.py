"""A few SGD steps of a timm model (created with pretrained=False) on a fixed random batch.

    python tools/timm_train_steps.py MODEL_NAME STEPS

Driver for tools/run_programs.py: the user code of a model-zoo run (create the model, forward,
cross-entropy, backward, optimizer step), written against PyTorch's API so that it runs the
same under real PyTorch and through ember's torch mapping. Prints "step i loss x".
"""

import sys

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
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        print(f"step {i} loss {loss.item():.4f}", flush=True)


if __name__ == "__main__":
    main()
