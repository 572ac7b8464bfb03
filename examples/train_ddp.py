"""Data-parallel training of the demo's CNN on sklearn's digits with DistributedDataParallel.

    python -m ember.distributed.run --nproc-per-node 2 examples/train_ddp.py --epochs 5

Each process trains on its DistributedSampler share of every batch; DDP averages the
gradients (MPI all-reduce) during backward, so all processes keep identical weights. Rank 0
reports the test accuracy and saves the checkpoint.

This is a plain PyTorch DDP script: replace the `import ember as torch` line with
`import torch` and run it with `torchrun --nproc-per-node 2 examples/train_ddp.py`.
"""

import argparse
import os
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import ember as torch  # with PyTorch: import torch

nn = torch.nn
F = torch.nn.functional
dist = torch.distributed
DDP = torch.nn.parallel.DistributedDataParallel
DataLoader = torch.utils.data.DataLoader
TensorDataset = torch.utils.data.TensorDataset
DistributedSampler = torch.utils.data.distributed.DistributedSampler


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)  # 32 x 8 x 8
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)  # 64 x 4 x 4
        self.fc1 = nn.Linear(64 * 2 * 2, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # 32 x 4 x 4
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # 64 x 2 x 2
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def load_data(seed):
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # N x 1 x 8 x 8
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    args = parser.parse_args(argv)

    # "gloo" is PyTorch's CPU backend; ember runs every backend name on MPI.
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)

    x_train, x_test, y_train, y_test = load_data(args.seed)
    train_ds = TensorDataset(torch.tensor(x_train), torch.tensor(y_train))
    sampler = DistributedSampler(train_ds, shuffle=True, seed=args.seed)
    loader = DataLoader(train_ds, batch_size=args.batch_size, sampler=sampler)

    model = DDP(Net())  # rank 0's initial weights are broadcast to every process
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    if rank == 0:
        print(f"{world} processes, {len(train_ds)} training images, {len(sampler)} per process")

    start = time.time()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        model.train()
        stats = torch.zeros(2, dtype=torch.float64)
        for images, labels in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()  # gradients are averaged across processes here
            optimizer.step()
            stats += torch.tensor([loss.item(), 1.0], dtype=torch.float64)
        dist.all_reduce(stats)  # mean loss over all processes' batches
        if rank == 0:
            print(f"epoch {epoch + 1:2d}  loss {(stats[0] / stats[1]).item():.4f}")
    elapsed = time.time() - start

    acc = 0.0
    if rank == 0:
        model.eval()
        with torch.no_grad():
            pred = model.module(torch.tensor(x_test)).argmax(1)
            acc = (pred == torch.tensor(y_test)).float().mean().item()
        os.makedirs(args.out, exist_ok=True)
        ckpt = os.path.join(args.out, "digits_cnn_ddp.pt")
        torch.save(model.module.state_dict(), ckpt)
        print(f"test accuracy {100 * acc:.2f}% in {elapsed:.1f}s; checkpoint {ckpt}")
    box = [acc]
    dist.broadcast_object_list(box, src=0)  # every process exits with rank 0's verdict
    dist.destroy_process_group()
    return box[0]


if __name__ == "__main__":
    sys.exit(0 if main() > 0.9 else 1)
