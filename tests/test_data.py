"""ember.utils.data: datasets, samplers, collate, DataLoader (incl. worker processes)."""

import collections
import os
import time
import warnings

import numpy as np
import pytest

import ember
from ember.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    get_worker_info,
    random_split,
)


class Squares(Dataset):
    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i >= self.n:
            raise IndexError(i)
        return ember.tensor([float(i), float(i * i)]), i


class Failing(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise ValueError("bad sample 5")
        return i


class Dying(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 3 and get_worker_info() is not None:
            os._exit(3)
        return i


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(5)
        return i


class Range(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


class WorkerId(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        info = get_worker_info()
        return (i, -1 if info is None else info.id, float(ember.rand(1).item()))


Point = collections.namedtuple("Point", ["x", "y"])

INIT_IDS = []


# Worker functions live at module level so they also work with the 'spawn' start method.
def init_fn(worker_id):
    info = get_worker_info()
    assert info.id == worker_id and info.num_workers == 2
    INIT_IDS.append(worker_id)


def bad_init(worker_id):
    raise KeyError("init failed")


class BigSamples(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        x = ember.full((300, 300), float(i))
        return (x * 2 + 1).sum(0) + x.matmul(x)[0] * 0


def warm_thread_pool():
    a = ember.ones(1 << 18)
    (a * 2).sum().item()
    m = ember.ones(300, 300)
    m.matmul(m).sum().item()


def test_tensor_dataset_subset_concat():
    x = ember.arange(10).reshape(5, 2)
    y = ember.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    a, b = ds[2]
    assert a.tolist() == [4, 5] and b.item() == 2
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(x, ember.arange(4))
    sub = Subset(ds, [4, 0])
    assert len(sub) == 2 and sub[0][1].item() == 4
    cat = ConcatDataset([Squares(3), Squares(2)])
    assert len(cat) == 5 and cat[3][1] == 0 and cat[-1][1] == 1
    assert len(Squares(2) + Squares(3)) == 5


def test_random_split_lengths_and_fractions():
    ember.manual_seed(0)
    parts = random_split(range(10), [3, 7])
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    parts = random_split(range(11), [0.5, 0.5])
    assert [len(p) for p in parts] == [6, 5]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(range(10), [3, 3])
    ember.manual_seed(5)
    a = [list(p) for p in random_split(range(20), [10, 10])]
    ember.manual_seed(5)
    b = [list(p) for p in random_split(range(20), [10, 10])]
    assert a == b


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    ember.manual_seed(0)
    perm = list(RandomSampler(range(10)))
    assert sorted(perm) == list(range(10))
    ember.manual_seed(0)
    assert list(RandomSampler(range(10))) == perm
    rep = list(RandomSampler(range(3), replacement=True, num_samples=50))
    assert len(rep) == 50 and set(rep) <= {0, 1, 2}
    assert len(list(RandomSampler(range(4), num_samples=10))) == 10
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(4), num_samples=0)
    sub = list(SubsetRandomSampler([10, 20, 30]))
    assert sorted(sub) == [10, 20, 30]
    bs = BatchSampler(SequentialSampler(range(10)), 3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]] and len(bs) == 4
    bs = BatchSampler(SequentialSampler(range(10)), 3, drop_last=True)
    assert len(list(bs)) == 3 == len(bs)


def test_default_collate_types():
    out = default_collate([1.5, 2.5])
    assert out.dtype == ember.float64 and out.tolist() == [1.5, 2.5]
    out = default_collate([1, 2, 3])
    assert out.dtype == ember.int64
    out = default_collate(
        [np.array([1.0, 2.0], dtype=np.float32), np.array([3.0, 4.0], dtype=np.float32)]
    )
    assert out.dtype == ember.float32 and out.tolist() == [[1, 2], [3, 4]]
    assert default_collate(["a", "b"]) == ["a", "b"]
    out = default_collate([(ember.zeros(2), 1), (ember.ones(2), 2)])
    assert isinstance(out, list) and tuple(out[0].shape) == (2, 2) and out[1].tolist() == [1, 2]
    out = default_collate([{"a": 1, "b": ember.zeros(3)}, {"a": 2, "b": ember.zeros(3)}])
    assert out["a"].tolist() == [1, 2] and tuple(out["b"].shape) == (2, 3)
    out = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(out, Point) and out.x.tolist() == [1, 3] and out.y.dtype == ember.float64
    out = default_collate([np.float32(1.0), np.float32(2.0)])
    assert out.dtype == ember.float32
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([object(), object()])


def test_dataloader_basic_order_len_and_reiteration():
    dl = DataLoader(Squares(10), batch_size=4)
    assert len(dl) == 3
    batches = list(dl)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert tuple(batches[0][0].shape) == (4, 2)
    assert [b[1].tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dl = DataLoader(Squares(10), batch_size=4, drop_last=True)
    assert len(dl) == 2 and len(list(dl)) == 2
    dl = DataLoader(Squares(3), batch_size=None)
    items = list(dl)
    assert items[1][1] == 1 and tuple(items[1][0].shape) == (2,)
    dl = DataLoader(Squares(5), batch_size=2, collate_fn=lambda b: [i for _, i in b])
    assert list(dl) == [[0, 1], [2, 3], [4]]
    bs = BatchSampler(SequentialSampler(range(5)), 2, False)
    assert [b[1].tolist() for b in DataLoader(Squares(5), batch_sampler=bs)] == [
        [0, 1],
        [2, 3],
        [4],
    ]


def test_dataloader_shuffle_reproducible():
    ember.manual_seed(1)
    a = [b[1].tolist() for b in DataLoader(Squares(20), batch_size=5, shuffle=True)]
    ember.manual_seed(1)
    b = [b[1].tolist() for b in DataLoader(Squares(20), batch_size=5, shuffle=True)]
    assert a == b
    assert sorted(sum(a, [])) == list(range(20))
    assert sum(a, []) != list(range(20))


def test_dataloader_argument_errors():
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(Squares(), sampler=SequentialSampler(range(3)), shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(Squares(), batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(Squares(), num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(Squares(), persistent_workers=True)
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Range(3), shuffle=True)


@pytest.mark.parametrize("workers", [1, 3])
def test_workers_preserve_order(workers):
    dl = DataLoader(Squares(23), batch_size=3, num_workers=workers)
    got = [b[1].tolist() for b in dl]
    assert got == [list(range(i, min(i + 3, 23))) for i in range(0, 23, 3)]
    xs = next(iter(dl))[0]
    assert isinstance(xs, ember.Tensor) and xs.dtype == ember.float32
    assert xs.tolist() == [[0.0, 0.0], [1.0, 1.0], [2.0, 4.0]]
    # iterating twice
    assert [b[1].tolist() for b in dl] == got


def test_workers_shuffle_matches_single_process():
    ember.manual_seed(3)
    single = [b[1].tolist() for b in DataLoader(Squares(16), batch_size=4, shuffle=True)]
    ember.manual_seed(3)
    multi = [
        b[1].tolist() for b in DataLoader(Squares(16), batch_size=4, shuffle=True, num_workers=2)
    ]
    assert single == multi


def test_worker_exception_propagates_with_traceback():
    dl = DataLoader(Failing(), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as e:
        list(dl)
    msg = str(e.value)
    assert "Caught ValueError in DataLoader worker process" in msg
    assert "bad sample 5" in msg and "Traceback" in msg and "__getitem__" in msg
    with pytest.raises(ValueError, match="bad sample 5"):
        list(DataLoader(Failing(), batch_size=2))


def test_dead_worker_is_detected():
    dl = DataLoader(Dying(), batch_size=1, num_workers=2)
    start = time.time()
    with pytest.raises(
        RuntimeError, match="DataLoader worker \\(pid\\(s\\) .*\\) exited unexpectedly"
    ):
        list(dl)
    assert time.time() - start < 30


def test_timeout():
    dl = DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5)
    start = time.time()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        next(iter(dl))
    assert time.time() - start < 5


def test_worker_info_init_fn_and_seeds():
    got = [b for b in DataLoader(WorkerId(), batch_size=None, num_workers=2)]
    assert [g[0] for g in got] == list(range(6))
    assert [g[1] for g in got] == [0, 1, 0, 1, 0, 1]
    assert got[0][2] != got[1][2]  # different seeds per worker

    INIT_IDS.clear()
    assert len(list(DataLoader(Squares(4), num_workers=2, worker_init_fn=init_fn))) == 4
    assert INIT_IDS == []  # init_fn ran in the worker processes, not here

    with pytest.raises(KeyError, match="init failed"):
        list(DataLoader(Squares(4), num_workers=1, worker_init_fn=bad_init))
    assert get_worker_info() is None


def test_iterable_dataset_single_and_workers():
    dl = DataLoader(Range(7), batch_size=3)
    assert [b.tolist() for b in dl] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(dl) == 3
    dl = DataLoader(Range(8), batch_size=2, num_workers=2)
    got = sorted(sum((b.tolist() for b in dl), []))
    assert got == list(range(8))


def test_persistent_workers_reuse_processes():
    dl = DataLoader(Squares(6), batch_size=2, num_workers=2, persistent_workers=True)
    first = [b[1].tolist() for b in dl]
    it1 = dl._iterator
    second = [b[1].tolist() for b in dl]
    assert first == second == [[0, 1], [2, 3], [4, 5]]
    assert dl._iterator is it1
    pids = [w.pid for w in it1._workers]
    assert all(w.is_alive() for w in it1._workers)
    it1._shutdown_workers()
    assert pids


def test_pin_memory_and_generator_are_accepted():
    dl = DataLoader(Squares(4), batch_size=2, pin_memory=True, shuffle=False)
    assert len(list(dl)) == 2


def test_workers_do_not_hang_after_the_parent_used_parallel_kernels():
    """A thread pool started before fork() does not exist in the child: the loader
    must notice (or the core must be fork-safe) and still deliver every batch."""
    warm_thread_pool()
    start = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        batches = list(DataLoader(BigSamples(), batch_size=4, num_workers=2, timeout=60))
    assert [b[:, 0].tolist() for b in batches] == [
        [300.0 * (2 * i + 1) for i in range(k, k + 4)] for k in (0, 4)
    ]
    assert all(tuple(b.shape) == (4, 300) for b in batches)
    assert time.time() - start < 60


def test_generators_make_splits_and_shuffles_reproducible():
    a = [
        list(p)
        for p in random_split(range(10), [0.7, 0.3], generator=ember.Generator().manual_seed(42))
    ]
    b = [
        list(p)
        for p in random_split(range(10), [0.7, 0.3], generator=ember.Generator().manual_seed(42))
    ]
    assert a == b and [len(p) for p in a] == [7, 3]

    def order(seed):
        g = ember.Generator().manual_seed(seed)
        return [
            t[1].tolist() for t in DataLoader(Squares(12), batch_size=4, shuffle=True, generator=g)
        ]

    ember.manual_seed(0)
    first = order(7)
    ember.manual_seed(123)  # the global RNG does not matter when a generator is given
    assert order(7) == first
    assert sorted(sum(first, [])) == list(range(12))


def test_weighted_random_sampler():
    from ember.utils.data import WeightedRandomSampler

    ember.manual_seed(0)
    draws = list(WeightedRandomSampler([0.1, 0.0, 0.9], 2000))
    assert len(draws) == 2000 and draws.count(1) == 0
    assert abs(draws.count(2) / 2000 - 0.9) < 0.03
    assert sorted(WeightedRandomSampler([1.0, 2.0, 3.0, 4.0], 4, replacement=False)) == [0, 1, 2, 3]


class Unpicklable(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return (lambda: i) if i == 2 else i


def identity(x):
    return x


def test_unpicklable_batch_is_an_error_not_a_hang():
    dl = DataLoader(Unpicklable(), batch_size=None, num_workers=1, collate_fn=identity)
    start = time.time()
    with pytest.raises(Exception, match="cannot be pickled"):
        list(dl)
    assert time.time() - start < 30
