"""The DataLoader worker loop and the tensor transport between processes.

Workers run in forked processes. Batches travel through multiprocessing
queues as numpy payloads (tensors are rebuilt in the main process), so no
tensor pickling support is needed from the core.
"""

import os
import pickle
import queue
import random
import sys
import traceback

import numpy as np

import ember

_worker_info = None


class WorkerInfo:
    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__initialized = True

    def __setattr__(self, key, val):
        if getattr(self, "_WorkerInfo__initialized", False):
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        return super().__setattr__(key, val)

    def __repr__(self):
        items = [f"{k}={getattr(self, k)}" for k in ("id", "num_workers", "seed", "dataset")]
        return f"{self.__class__.__name__}({', '.join(items)})"


def get_worker_info():
    return _worker_info


class ExceptionWrapper:
    """Carries an exception and its formatted traceback across processes."""

    def __init__(self, exc_info=None, where="in background"):
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        try:
            exception = self.exc_type(msg)
        except Exception:  # noqa: BLE001 - exception types with odd constructors
            raise RuntimeError(msg) from None
        raise exception


class KeyErrorMessage(str):
    def __repr__(self):
        return self


class _IterableDatasetStopIteration:
    def __init__(self, worker_id):
        self.worker_id = worker_id


class _TensorPayload:
    """A tensor flattened to a numpy array (+ dtype name) for the trip between processes."""

    __slots__ = ("array", "dtype", "requires_grad")

    def __init__(self, t):
        self.dtype = str(t.dtype).split(".")[-1]
        t = t.detach()
        if self.dtype == "bfloat16":
            t = t.to(ember.float32)
        self.array = t.cpu().contiguous().numpy().copy()
        self.requires_grad = bool(t.requires_grad)

    def rebuild(self):
        conv = getattr(ember, "from_numpy", None)
        t = conv(self.array) if conv is not None else ember.tensor(self.array)
        if self.dtype == "bfloat16":
            t = t.to(ember.bfloat16)
        return t


def pack(obj):
    if isinstance(obj, ember.Tensor):
        return _TensorPayload(obj)
    if isinstance(obj, (list, tuple)):
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return type(obj)(*(pack(o) for o in obj))
        packed = [pack(o) for o in obj]
        return tuple(packed) if isinstance(obj, tuple) else packed
    if isinstance(obj, dict):
        return type(obj)((k, pack(v)) for k, v in obj.items())
    return obj


def unpack(obj):
    if isinstance(obj, _TensorPayload):
        return obj.rebuild()
    if isinstance(obj, (list, tuple)):
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return type(obj)(*(unpack(o) for o in obj))
        out = [unpack(o) for o in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    if isinstance(obj, dict):
        return type(obj)((k, unpack(v)) for k, v in obj.items())
    return obj


def _worker_loop(
    dataset_kind,
    dataset,
    index_queue,
    data_queue,
    done_event,
    auto_collation,
    collate_fn,
    drop_last,
    base_seed,
    init_fn,
    worker_id,
    num_workers,
    status_interval,
):
    from . import fetch

    global _worker_info
    try:
        seed = base_seed + worker_id
        random.seed(seed)
        ember.manual_seed(seed)
        np.random.seed(seed % (2**32))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_exception = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = fetch.create_fetcher(
                dataset_kind, dataset, auto_collation, collate_fn, drop_last
            )
        except Exception:  # noqa: BLE001 - forwarded to the main process
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        iteration_end = False
        parent = os.getppid()
        while True:
            try:
                r = index_queue.get(timeout=status_interval)
            except queue.Empty:
                if os.getppid() != parent:  # the main process died: stop
                    break
                continue
            if r is None:
                break
            if done_event.is_set() or iteration_end:
                continue
            idx, index = r
            if init_exception is not None:
                data = init_exception
                init_exception = None
            else:
                try:
                    data = pack(fetcher.fetch(index))
                except Exception as e:  # noqa: BLE001 - forwarded to the main process
                    if isinstance(e, StopIteration) and dataset_kind == "iterable":
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            # Pickle here, not in the queue's feeder thread: an unpicklable batch then
            # becomes an error for the main process instead of a silently lost result.
            try:
                payload = pickle.dumps((idx, data), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # noqa: BLE001 - forwarded to the main process
                err = ExceptionWrapper(
                    where=f"in DataLoader worker process {worker_id} (the batch cannot be pickled)"
                )
                payload = pickle.dumps((idx, err), protocol=pickle.HIGHEST_PROTOCOL)
            data_queue.put(payload)
            del data, idx, index, r
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
