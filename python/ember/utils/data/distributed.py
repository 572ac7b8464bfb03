"""PyTorch's DistributedSampler: each rank reads its own 1/num_replicas share of a dataset.

Same arithmetic as PyTorch: with drop_last=False the index list is padded by repeating its
start until it divides evenly; with drop_last=True the tail is dropped. Shuffling uses a
generator seeded with seed + epoch, identical on every rank, so the shares never overlap;
call set_epoch(e) before each epoch for a new order.
"""

import math

import ember

from .sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    def __init__(
        self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False
    ):
        if num_replicas is None:
            if not ember.distributed.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: Requires distributed package to be available"
                )
            num_replicas = ember.distributed.get_world_size()
        if rank is None:
            if not ember.distributed.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: Requires distributed package to be available"
                )
            rank = ember.distributed.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            g = ember.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = ember.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[: self.total_size]
        assert len(indices) == self.total_size
        indices = indices[self.rank : self.total_size : self.num_replicas]
        assert len(indices) == self.num_samples
        return iter(indices)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        self.epoch = epoch
