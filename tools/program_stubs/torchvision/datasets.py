"""A generated MNIST stand-in: learnable, deterministic, smaller than the real one.

Each image of class c is noise plus a bright 8x8 square at a position that depends on c, so a
classifier's loss falls as it trains. Sizes come from EMBER_STANDIN_TRAIN/EMBER_STANDIN_TEST.
"""

import os

import numpy as np
import torch


def _make(n, seed):
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, 10, size=n).astype(np.int64)
    imgs = (rng.rand(n, 28, 28) * 80).astype(np.uint8)
    for i, c in enumerate(labels):
        r, q = 3 + (c // 5) * 13, 1 + (c % 5) * 5
        imgs[i, r : r + 8, q : q + 8] = 255
    return imgs, labels


class MNIST:
    """Same constructor and attributes (data, targets, classes) as torchvision's MNIST."""

    classes = [f"{i} - digit" for i in range(10)]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        n = int(os.environ.get("EMBER_STANDIN_TRAIN" if train else "EMBER_STANDIN_TEST", 1024))
        imgs, labels = _make(n, 0 if train else 1)
        self.data = torch.from_numpy(imgs)
        self.targets = torch.from_numpy(labels)
        self._imgs, self._labels = imgs, labels
        self.train = train
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, i):
        img, target = self._imgs[i], int(self._labels[i])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from ._missing import missing

    return missing(__name__, name)
