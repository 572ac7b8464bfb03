"""DataLoader: batching, shuffling, and parallel loading in worker processes.

With num_workers > 0 each worker gets its own index queue; results come back
on one queue and are reordered by task index, so batches arrive in sampler
order. A worker's exception is re-raised in the main process with the worker's
traceback; a worker that dies is detected (watchdog) and `timeout` bounds the
wait for any batch, so iteration never hangs.

Workers are forked (PyTorch's default on Linux) as long as ember's CPU kernels
work in a forked child. Once the core's thread pool has started in the parent
it does not survive fork(); a probe detects that and the loader falls back to
'spawn' (with a warning): then the dataset, collate_fn and worker_init_fn must
be picklable and scripts need a main guard. Batches cross the process boundary
as numpy payloads and are rebuilt as tensors in the main process.
"""

import itertools
import multiprocessing
import os
import pickle
import queue
import signal
import time
import warnings
from typing import Any, Generic, Iterator, TypeVar

import ember

from . import _utils
from ._utils.collate import default_collate, default_convert
from ._utils.worker import ExceptionWrapper, _IterableDatasetStopIteration, get_worker_info, unpack
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]


class _InfiniteConstantSampler(Sampler):
    def __iter__(self):
        while True:
            yield None


_FORK_BROKEN = False


def _fork_probe(timeout=2.0):
    """Can a forked child run ember's parallel CPU kernels?

    A thread pool started in the parent does not survive fork(): a child that
    runs a parallel kernel would wait forever for threads that do not exist.
    A throwaway child runs one parallel-sized op; if it does not finish in
    `timeout` seconds it is killed and forking is declared unsafe (for good:
    the pool never stops once started).
    """
    global _FORK_BROKEN
    if _FORK_BROKEN:
        return False
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            a = ember.ones(1 << 17)
            (a + a).sum().item()
            m = ember.ones(256, 256)
            m.matmul(m).sum().item()
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    _FORK_BROKEN = True
    return False


def _default_mp_context():
    """fork (like PyTorch on Linux) when ember's kernels work in a forked child, else spawn."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods:
        fork_safe = getattr(ember._C, "_fork_safe", None)
        if (fork_safe is not None and fork_safe()) or _fork_probe():
            return multiprocessing.get_context("fork")
        warnings.warn(
            "ember's CPU thread pool does not survive fork() in this build, so DataLoader "
            "workers are started with 'spawn': the dataset, collate_fn and worker_init_fn "
            "must be picklable and scripts need an `if __name__ == '__main__':` guard. "
            "Pass multiprocessing_context to choose explicitly.",
            RuntimeWarning,
            stacklevel=4,
        )
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context(methods[0])


_T_co = TypeVar("_T_co", covariant=True)


class DataLoader(Generic[_T_co]):
    r"""Combines a dataset and a sampler, and provides an iterable over batches."""

    __initialized = False

    def __init__(
        self,
        # typed as PyTorch's, so `DataLoader(ds)` infers DataLoader[T] from a Dataset[T]
        dataset: "Dataset[_T_co]",
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
    ):
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
            )
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = "iterable"
            if shuffle not in {False, None}:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                    f"but got shuffle={shuffle}"
                )
            elif sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified sampler option, "
                    f"but got sampler={sampler}"
                )
            elif batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = "map"

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None:
            if drop_last:
                raise ValueError(
                    "batch_size=None option disables auto-batching and is mutually exclusive "
                    "with drop_last"
                )

        if sampler is None:
            if self._dataset_kind == "iterable":
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._iterator = None
        self.__initialized = True

    def __setattr__(self, attr, val):
        if self.__initialized and attr in (
            "batch_size",
            "batch_sampler",
            "sampler",
            "drop_last",
            "dataset",
            "persistent_workers",
        ):
            raise ValueError(
                f"{attr} attribute should not be set after {self.__class__.__name__} is initialized"
            )
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self) -> Iterator[Any]:
        if self.persistent_workers and self.num_workers > 0:
            it = self._iterator
            if it is not None and it._can_reset():
                it._reset(self)
                return it
            if it is not None:
                it._shutdown_workers()
            self._iterator = self._get_iterator()
            return self._iterator
        return self._get_iterator()

    def __len__(self) -> int:
        if self._dataset_kind == "iterable":
            length = len(self.dataset)
            if self.batch_size is not None:
                from math import ceil

                if self.drop_last:
                    length = length // self.batch_size
                else:
                    length = ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)


class _BaseDataLoaderIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._loader = loader
        # like PyTorch, the workers' base seed comes from the loader's generator (or the global RNG)
        gen = {} if loader.generator is None else {"generator": loader.generator}
        self._base_seed = int(ember.randint(0, 2**31 - 1, (1,), dtype=ember.int64, **gen).item())

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0

    def _next_index(self):
        return next(self._sampler_iter)

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        return data

    def __len__(self):
        return len(self._index_sampler)


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        # As PyTorch: without workers nothing can enforce `timeout` (a hanging __getitem__
        # would hang forever), so the setting is rejected when iteration starts.
        if self._timeout != 0:
            raise AssertionError(
                "_SingleProcessDataLoaderIter requires timeout == 0 (DataLoader got "
                f"timeout={self._timeout} with num_workers=0; timeout needs num_workers > 0)"
            )
        from ._utils.fetch import create_fetcher

        self._dataset_fetcher = create_fetcher(
            self._dataset_kind,
            self._dataset,
            self._auto_collation,
            self._collate_fn,
            self._drop_last,
        )

    def _next_data(self):
        index = self._next_index()
        return self._dataset_fetcher.fetch(index)


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = _default_mp_context()
        elif isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        self._worker_init_fn = loader.worker_init_fn
        self._worker_result_queue = ctx.Queue()
        self._workers_done_event = ctx.Event()
        self._index_queues = []
        self._workers = []
        self._shutdown = False
        for i in range(self._num_workers):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()
            w = ctx.Process(
                target=_utils.worker._worker_loop,
                args=(
                    self._dataset_kind,
                    self._dataset,
                    index_queue,
                    self._worker_result_queue,
                    self._workers_done_event,
                    self._auto_collation,
                    self._collate_fn,
                    self._drop_last,
                    self._base_seed,
                    self._worker_init_fn,
                    i,
                    self._num_workers,
                    _utils.MP_STATUS_CHECK_INTERVAL,
                ),
            )
            w.daemon = True
            w.start()
            self._index_queues.append(index_queue)
            self._workers.append(w)
        self._reset(loader, first_iter=True)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info = {}
        self._tasks_outstanding = 0
        self._workers_status = [True for _ in range(self._num_workers)]
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        self._exhausted = False
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _can_reset(self):
        # Workers can only be reused when nothing is in flight from the last epoch and no
        # worker consumed an iterable dataset (they cannot restart their iterators).
        return (
            not self._shutdown
            and self._tasks_outstanding == 0
            and self._dataset_kind == "map"
            and all(w.is_alive() for w in self._workers)
        )

    def _try_put_index(self):
        assert self._tasks_outstanding < self._prefetch_factor * self._num_workers
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_queue_idx = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_queue_idx]:
                break
        else:
            return
        self._index_queues[worker_queue_idx].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_queue_idx,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _get_data(self):
        """Wait for one result, checking for dead workers and the user's timeout."""
        waited = 0.0
        interval = _utils.MP_STATUS_CHECK_INTERVAL
        while True:
            wait = interval
            if self._timeout > 0:
                wait = min(interval, max(self._timeout - waited, 0.001))
            try:
                return pickle.loads(self._worker_result_queue.get(timeout=wait))
            except queue.Empty:
                waited += wait
                failed = [w for w in self._workers if not w.is_alive() and w.exitcode != 0]
                if failed:
                    pids = ", ".join(str(w.pid) for w in failed)
                    codes = ", ".join(str(w.exitcode) for w in failed)
                    self._shutdown_workers()
                    raise RuntimeError(
                        f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                        f"(exit code(s) {codes})"
                    ) from None
                if self._timeout > 0 and waited >= self._timeout:
                    self._shutdown_workers()
                    raise RuntimeError(
                        f"DataLoader timed out after {self._timeout} seconds"
                    ) from None

    def _next_data(self):
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is None:
                    self._rcvd_idx += 1
                    continue
                worker_id = info[0]
                if len(info) == 2 or self._workers_status[worker_id]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                self._exhausted = True
                if not self._loader.persistent_workers or self._dataset_kind != "map":
                    self._shutdown_workers()
                raise StopIteration

            if len(self._task_info[self._rcvd_idx]) == 2:
                data = self._task_info.pop(self._rcvd_idx)[1]
                self._rcvd_idx += 1
                return self._process_data(data)

            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(data, _IterableDatasetStopIteration):
                self._workers_status[data.worker_id] = False
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                self._task_info[idx] += (data,)
            else:
                del self._task_info[idx]
                self._rcvd_idx += 1
                return self._process_data(data)

    def _process_data(self, data):
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            self._shutdown_workers()
            data.reraise()
        return unpack(data)

    def _shutdown_workers(self):
        if self._shutdown:
            return
        self._shutdown = True
        try:
            self._workers_done_event.set()
            for q in self._index_queues:
                try:
                    q.put(None)
                except Exception:  # noqa: BLE001 - queue may already be closed
                    pass
            for w in self._workers:
                w.join(timeout=_utils.MP_STATUS_CHECK_INTERVAL * 4)
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=1.0)
            for q in self._index_queues:
                q.cancel_join_thread()
                q.close()
            self._worker_result_queue.cancel_join_thread()
            self._worker_result_queue.close()
        except Exception:  # noqa: BLE001 - best effort during interpreter shutdown
            pass

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:  # noqa: BLE001
            pass
