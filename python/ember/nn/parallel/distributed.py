"""PyTorch's DistributedDataParallel: gradients averaged over ranks in buckets during backward.

At construction the parameters and buffers of rank 0 are broadcast, and the parameter shapes
are compared across ranks. Parameters are grouped into buckets (reverse registration order,
~1 MB first then `bucket_cap_mb`, as PyTorch) because gradients become ready roughly in that
order. A hook on each parameter copies its gradient (plus what .grad already holds, so
no_sync() accumulation is included) into its bucket's host buffer; a full bucket starts MPI's
non-blocking all-reduce at once, so communication overlaps the rest of the backward pass.
When the backward pass ends, a queued callback waits for the buckets and writes the averages
into each parameter's .grad (on its own device: "gpu" parameters go through host buffers).
"""

import contextlib

import numpy as np

from ... import autograd
from ..._ops import from_numpy
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ...distributed import _state
from ...distributed._collectives import _host, _write
from ..modules.module import Module

_FIRST_BUCKET_BYTES = 1024 * 1024


class _Bucket:
    def __init__(self, params, dtype):
        self.params = params  # (index, param) pairs
        self.offsets = []
        n = 0
        for _, p in params:
            self.offsets.append(n)
            n += p.numel()
        self.buf = np.zeros(n, dtype=dtype)
        self.out = None
        self.req = None
        self.pending = 0
        self.seen = set()


class DistributedDataParallel(Module):
    def __init__(
        self,
        module,
        device_ids=None,
        output_device=None,
        dim=0,
        broadcast_buffers=True,
        process_group=None,
        bucket_cap_mb=None,
        find_unused_parameters=False,
        check_reduction=False,
        gradient_as_bucket_view=False,
        static_graph=False,
        delay_all_reduce_named_params=None,
        param_to_hook_all_reduce=None,
        mixed_precision=None,
        device_mesh=None,
        init_sync=True,
    ):
        super().__init__()
        fn = "DistributedDataParallel"
        if not isinstance(module, Module):
            raise TypeError(f"{fn}: module must be an nn.Module, got {type(module).__name__}")
        unsupported = {
            "mixed_precision": mixed_precision,
            "device_mesh": device_mesh,
            "delay_all_reduce_named_params": delay_all_reduce_named_params,
            "param_to_hook_all_reduce": param_to_hook_all_reduce,
        }
        for name, v in unsupported.items():
            if v is not None:
                raise NotImplementedError(f"{fn}: {name}= is not supported by ember")
        self.module = module
        g = _state._group(fn, process_group)
        self.process_group = g
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 2**20)
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._verify_shapes()
        if init_sync:
            with no_grad():
                self._broadcast([*module.parameters(), *module.buffers()])
        self._buckets, self._bucket_of = self._make_buckets()
        self._in_backward = False
        self._hooks = [p.register_hook(self._make_hook(i)) for i, p in enumerate(self._params)]

    # ----- construction -----
    def _verify_shapes(self):
        g = self.process_group
        sig = [len(self._params)]
        for p in self._params:
            sig += [p.dim(), *p.shape]
        # Compare an order-sensitive checksum of every shape (max == min across ranks).
        a = np.array(sig, dtype=np.int64)
        h = np.array([len(a), int((a * np.arange(1, len(a) + 1)).sum() % (2**61))], np.int64)
        both = np.concatenate([h, -h])
        out = np.empty_like(both)
        _state._wait_request(g._comm.Iallreduce(both, out, op=_state._mpi().MAX), g, "DDP")
        if not np.array_equal(out[:2], -out[2:]):
            raise RuntimeError(
                "DistributedDataParallel: the model's parameters differ across ranks in number "
                f"or shape (this rank has {len(self._params)} parameters with shapes "
                f"{[tuple(p.shape) for p in self._params]})"
            )

    def _broadcast(self, tensors):
        g = self.process_group
        for t in tensors:
            a = _host("DistributedDataParallel", t, writable=True)
            _state._wait_request(g._comm.Ibcast(a, root=0), g, "DistributedDataParallel")
            _write(t, a)

    def _make_buckets(self):
        buckets, cur, size = [], [], 0
        cap = min(_FIRST_BUCKET_BYTES, self.bucket_bytes_cap)
        dtype = None
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            d = p.detach().cpu().numpy().dtype
            nbytes = p.numel() * d.itemsize
            if cur and (d != dtype or size + nbytes > cap):
                buckets.append(_Bucket(cur, dtype))
                cur, size, cap = [], 0, self.bucket_bytes_cap
            cur.append((i, p))
            size += nbytes
            dtype = d
        if cur:
            buckets.append(_Bucket(cur, dtype))
        where = {}
        for b, bucket in enumerate(buckets):
            for k, (i, _) in enumerate(bucket.params):
                where[i] = (b, k)
        return buckets, where

    # ----- forward / backward -----
    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self.training:
            bufs = list(self.module.buffers())
            if bufs and self.process_group.size() > 1:
                with no_grad():
                    self._broadcast(bufs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self._reset()
        return self.module(*inputs, **kwargs)

    def _reset(self):
        for b in self._buckets:
            b.req, b.out, b.seen = None, None, set()
            b.pending = len(b.params)
        self._next_launch = 0
        self._armed = True
        self._queued = False

    def _make_hook(self, i):
        def hook(grad):
            if not (self.require_backward_grad_sync and getattr(self, "_armed", False)):
                return None
            if not self._queued:
                autograd._queue_callback(self._finish)
                self._queued = True
            b, k = self._bucket_of[i]
            bucket = self._buckets[b]
            if k in bucket.seen:
                raise RuntimeError(
                    "DistributedDataParallel: Expected to mark a variable ready only once; "
                    f"parameter {i} got two gradients in one backward pass (retain_graph and "
                    "several backward calls need no_sync())"
                )
            p = bucket.params[k][1]
            g = _host("DistributedDataParallel", grad).reshape(-1)
            if p.grad is not None:
                # The sync covers what .grad holds already (no_sync() accumulation) too.
                g = g + _host("DistributedDataParallel", p.grad).reshape(-1)
            o = bucket.offsets[k]
            bucket.buf[o : o + g.size] = g
            bucket.seen.add(k)
            bucket.pending -= 1
            self._launch_ready()
            return None

        return hook

    def _launch(self, bucket):
        bucket.out = np.empty_like(bucket.buf)
        op = _state._mpi().SUM
        bucket.req = self.process_group._comm.Iallreduce(bucket.buf, bucket.out, op=op)

    def _launch_ready(self):
        # Every rank must start the buckets' all-reduces in the same order.
        while self._next_launch < len(self._buckets):
            bucket = self._buckets[self._next_launch]
            if bucket.pending:
                break
            self._launch(bucket)
            self._next_launch += 1
        for b in self._buckets[: self._next_launch]:
            b.req.Test()  # lets MPI progress the transfers already started

    def _finish(self):
        self._armed = False
        g = self.process_group
        for bucket in self._buckets[self._next_launch :]:
            # Parameters that got no gradient in this pass contribute what .grad holds (or 0).
            for k, (_, p) in enumerate(bucket.params):
                if k not in bucket.seen:
                    o = bucket.offsets[k]
                    v = 0 if p.grad is None else _host("DDP", p.grad).reshape(-1)
                    bucket.buf[o : o + p.numel()] = v
            bucket.pending = 0
        self._launch_ready()
        n = g.size()
        for bucket in self._buckets:
            _state._wait_request(bucket.req, g, "DistributedDataParallel gradient all_reduce")
            bucket.out /= n
            for k, (_, p) in enumerate(bucket.params):
                o = bucket.offsets[k]
                v = from_numpy(bucket.out[o : o + p.numel()].reshape(tuple(p.shape)))
                if p.device.type != "cpu":
                    v = v.to(p.device)
                p.grad = v

    @contextlib.contextmanager
    def no_sync(self):
        """Gradients accumulate locally inside; the next synced backward averages the sum."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old
