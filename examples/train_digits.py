"""Train a small CNN on scikit-learn's bundled 8x8 handwritten digits (`make demo`).

Written exactly like a PyTorch script, with `import ember as torch`:
Conv2d x2 + Linear x2, Adam, DataLoader, a tqdm progress bar, per-epoch
loss and test accuracy (model.eval() under no_grad), a checkpoint of model and
optimizer in ./out/, and ./out/loss.png.
"""

import argparse
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from tqdm import tqdm  # noqa: E402

import ember as torch  # noqa: E402
import ember.nn as nn  # noqa: E402
import ember.nn.functional as F  # noqa: E402
from ember.utils.data import DataLoader, TensorDataset  # noqa: E402


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
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def load_data(seed):
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # N x 1 x 8 x 8
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)


def evaluate(model, loader, device):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            outputs = model(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    model.train()
    return correct / total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = "gpu" if torch.cuda.is_available() else "cpu"
    print(f"device: {device}")

    x_train, x_test, y_train, y_test = load_data(args.seed)
    train_ds = TensorDataset(torch.tensor(x_train), torch.tensor(y_train))
    test_ds = TensorDataset(torch.tensor(x_test), torch.tensor(y_test))
    train_loader = DataLoader(
        train_ds,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,  # start the worker processes once, not per epoch
    )
    test_loader = DataLoader(test_ds, batch_size=256)
    print(f"train: {len(train_ds)} images, test: {len(test_ds)} images")

    model = Net().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    # cosine decay to a small lr: the last epochs settle instead of bouncing around
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    print(model)

    os.makedirs(args.out, exist_ok=True)
    losses, accuracies = [], []
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        running, batches = 0.0, 0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{args.epochs}", leave=False,
                   disable=args.no_progress)  # fmt: skip
        for images, labels in bar:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            running += loss.item()
            batches += 1
            bar.set_postfix(loss=f"{loss.item():.4f}")
        scheduler.step()
        epoch_loss = running / batches
        acc = evaluate(model, test_loader, device)
        losses.append(epoch_loss)
        accuracies.append(acc)
        print(f"epoch {epoch + 1:2d}  loss {epoch_loss:.4f}  test accuracy {100 * acc:.2f}%")
    elapsed = time.time() - start

    ckpt = os.path.join(args.out, "digits_cnn.pt")
    torch.save(
        {"epoch": args.epochs, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
         "scheduler": scheduler.state_dict(), "test_accuracy": accuracies[-1]},
        ckpt,
    )  # fmt: skip
    fig, ax1 = plt.subplots(figsize=(6, 4))
    ax1.plot(range(1, len(losses) + 1), losses, "o-", label="train loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax2 = ax1.twinx()
    ax2.plot(range(1, len(accuracies) + 1), [100 * a for a in accuracies], "s--", color="tab:green")
    ax2.set_ylabel("test accuracy (%)")
    ax1.set_title("ember: CNN on sklearn digits")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "loss.png"), dpi=100)
    plt.close(fig)
    print(f"final test accuracy {100 * accuracies[-1]:.2f}% in {elapsed:.1f}s; "
          f"checkpoint {ckpt}, plot {os.path.join(args.out, 'loss.png')}")  # fmt: skip
    return accuracies[-1]


if __name__ == "__main__":
    acc = main()
    sys.exit(0 if acc > 0.95 else 1)
