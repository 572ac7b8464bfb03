"""PyTorch's collectives (all_reduce, broadcast, all_gather, ...) on MPI's non-blocking calls.

Each collective copies the ember tensor to a contiguous host buffer, starts MPI's non-blocking
operation (MPI runs the algorithm), and returns a Work whose wait() polls with the group's
timeout and copies the result back into the tensor (which may be non-contiguous or on "gpu").
Before a collective the ranks compare dtype and shape with one tiny all-reduce, so a mismatch
is a clear error on every rank instead of corrupted data or a hang.
"""

import pickle

import numpy as np

from .. import _C
from .._ops import from_numpy
from ..autograd.grad_mode import no_grad
from ._state import ReduceOp, Work, _group, _mpi, _mpi_op, _wait_request

_MAX_DIMS = 8


def _check_tensor(fn, t, name="tensor"):
    if not isinstance(t, _C.Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(t).__name__}")


def _host(fn, t, writable=False):
    """A contiguous host (numpy) copy of the tensor's values (numpy() already copies; a
    buffer that MPI writes into needs a writable copy of that read-only one)."""
    try:
        a = t.detach().cpu().numpy()
    except TypeError:
        raise TypeError(f"{fn}: dtype {t.dtype} is not supported by the MPI backend") from None
    if writable or not a.flags.c_contiguous:
        return np.array(a, copy=True, order="C")
    return a


def _write(t, arr):
    """Copy host values into the tensor in place (keeps its strides and device)."""
    src = from_numpy(np.ascontiguousarray(arr).reshape(tuple(t.shape)))
    with no_grad():
        t.copy_(src)


def _meta(a):
    shape = list(a.shape)
    head = shape[:_MAX_DIMS] + [0] * (_MAX_DIMS - min(len(shape), _MAX_DIMS))
    return [len(shape), a.size, np.dtype(a.dtype).num] + head


def _check_same(fn, g, a):
    """All ranks of the group must pass the same dtype and shape; raise on every rank if not."""
    MPI = _mpi()
    m = np.array(_meta(a), dtype=np.int64)
    both = np.concatenate([m, -m])
    out = np.empty_like(both)
    _wait_request(g._comm.Iallreduce(both, out, op=MPI.MAX), g, fn)
    if np.array_equal(out[: len(m)], -out[len(m) :]):
        return
    every = np.empty((g.size(), len(m)), dtype=np.int64)
    _wait_request(g._comm.Iallgather(m, every), g, fn)
    desc = ", ".join(
        f"rank {g._ranks[i]}: shape {tuple(int(x) for x in r[3 : 3 + min(r[0], _MAX_DIMS)])} "
        f"dtype {_dtype_name(int(r[2]))}"
        for i, r in enumerate(every)
    )
    raise RuntimeError(f"{fn}: tensors differ in shape or dtype across ranks ({desc})")


def _dtype_name(num):
    for t in (
        np.float16,
        np.float32,
        np.float64,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.bool_,
        np.complex64,
        np.complex128,
    ):
        if np.dtype(t).num == num:
            return np.dtype(t).name
    return f"dtype#{num}"


def _done(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def _member(g):
    # PyTorch: a rank outside the group returns at once (with a warning) from a collective.
    return g._comm is not None


def _group_rank(fn, g, rank, what):
    if rank not in g._ranks:
        raise ValueError(f"{fn}: {what} rank {rank} is not part of the group (ranks {g._ranks})")
    return g._ranks.index(rank)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    fn = "all_reduce"
    _check_tensor(fn, tensor)
    g = _group(fn, group)
    if not _member(g):
        return None
    a = _host(fn, tensor)
    mop = _mpi_op(fn, op, a.dtype)
    _check_same(fn, g, a)
    out = np.empty_like(a)
    req = g._comm.Iallreduce(a, out, op=mop)

    def finish():
        if op == ReduceOp.AVG:
            np.divide(out, g.size(), out=out)
        _write(tensor, out)

    return _done(Work([req], g, fn, finish, keep=(a, out)), async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    fn = "broadcast"
    _check_tensor(fn, tensor)
    g = _group(fn, group)
    if not _member(g):
        return None
    root = group_src if group_src is not None else _group_rank(fn, g, src, "src")
    a = _host(fn, tensor, writable=True)
    _check_same(fn, g, a)
    req = g._comm.Ibcast(a, root=root)
    return _done(Work([req], g, fn, lambda: _write(tensor, a), keep=(a,)), async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    fn = "reduce"
    _check_tensor(fn, tensor)
    g = _group(fn, group)
    if not _member(g):
        return None
    root = group_dst if group_dst is not None else _group_rank(fn, g, dst, "dst")
    a = _host(fn, tensor)
    mop = _mpi_op(fn, op, a.dtype)
    _check_same(fn, g, a)
    out = np.empty_like(a)
    req = g._comm.Ireduce(a, out, op=mop, root=root)

    def finish():
        if g.rank() == root:
            if op == ReduceOp.AVG:
                np.divide(out, g.size(), out=out)
            _write(tensor, out)

    return _done(Work([req], g, fn, finish, keep=(a, out)), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    fn = "all_gather"
    _check_tensor(fn, tensor)
    g = _group(fn, group)
    if not _member(g):
        return None
    if len(tensor_list) != g.size():
        raise ValueError(
            f"{fn}: tensor_list has {len(tensor_list)} tensors, the group has {g.size()} ranks"
        )
    for t in tensor_list:
        _check_tensor(fn, t, "tensor_list element")
        if tuple(t.shape) != tuple(tensor.shape) or t.dtype != tensor.dtype:
            raise ValueError(
                f"{fn}: tensor_list element has shape {tuple(t.shape)} dtype {t.dtype}, "
                f"the input has shape {tuple(tensor.shape)} dtype {tensor.dtype}"
            )
    a = _host(fn, tensor)
    _check_same(fn, g, a)
    out = np.empty((g.size(),) + a.shape, dtype=a.dtype)
    req = g._comm.Iallgather(a, out)

    def finish():
        for i, t in enumerate(tensor_list):
            _write(t, out[i])

    return _done(Work([req], g, fn, finish, keep=(a, out)), async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    fn = "all_gather_into_tensor"
    _check_tensor(fn, output_tensor, "output_tensor")
    _check_tensor(fn, input_tensor, "input_tensor")
    g = _group(fn, group)
    if not _member(g):
        return None
    if output_tensor.numel() != g.size() * input_tensor.numel() or (
        output_tensor.dtype != input_tensor.dtype
    ):
        raise ValueError(
            f"{fn}: output_tensor (shape {tuple(output_tensor.shape)}, {output_tensor.dtype}) "
            f"must hold world_size={g.size()} copies of input_tensor "
            f"(shape {tuple(input_tensor.shape)}, {input_tensor.dtype})"
        )
    a = _host(fn, input_tensor)
    _check_same(fn, g, a)
    out = np.empty((g.size(),) + a.shape, dtype=a.dtype)
    req = g._comm.Iallgather(a, out)
    # Rank blocks are laid out one after the other: this is both the "stacked" (world, *shape)
    # and the "concatenated along dim 0" (world * d0, ...) layout PyTorch accepts.
    return _done(Work([req], g, fn, lambda: _write(output_tensor, out), keep=(a, out)), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    fn = "reduce_scatter"
    _check_tensor(fn, output, "output")
    g = _group(fn, group)
    if not _member(g):
        return None
    if len(input_list) != g.size():
        raise ValueError(
            f"{fn}: input_list has {len(input_list)} tensors, the group has {g.size()} ranks"
        )
    for t in input_list:
        _check_tensor(fn, t, "input_list element")
        if tuple(t.shape) != tuple(output.shape) or t.dtype != output.dtype:
            raise ValueError(
                f"{fn}: input_list element has shape {tuple(t.shape)} dtype {t.dtype}, "
                f"the output has shape {tuple(output.shape)} dtype {output.dtype}"
            )
    a = np.stack([_host(fn, t) for t in input_list])
    return _reduce_scatter(fn, g, output, a, op, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    fn = "reduce_scatter_tensor"
    _check_tensor(fn, output, "output")
    _check_tensor(fn, input, "input")
    g = _group(fn, group)
    if not _member(g):
        return None
    if input.numel() != g.size() * output.numel() or input.dtype != output.dtype:
        raise ValueError(
            f"{fn}: input (shape {tuple(input.shape)}, {input.dtype}) must hold "
            f"world_size={g.size()} blocks of the output's shape {tuple(output.shape)}, "
            f"{output.dtype}"
        )
    a = _host(fn, input).reshape((g.size(),) + tuple(output.shape))
    return _reduce_scatter(fn, g, output, a, op, async_op)


def _reduce_scatter(fn, g, output, a, op, async_op):
    mop = _mpi_op(fn, op, a.dtype)
    _check_same(fn, g, a)
    out = np.empty(a.shape[1:], dtype=a.dtype)
    req = g._comm.Ireduce_scatter_block(a, out, op=mop)

    def finish():
        if op == ReduceOp.AVG:
            np.divide(out, g.size(), out=out)
        _write(output, out)

    return _done(Work([req], g, fn, finish, keep=(a, out)), async_op)


def _check_root_list(fn, g, mine, lst, name, tensor, role, side):
    """gather/scatter: the root rank passes one tensor per rank, shaped like `tensor`;
    the other ranks pass none."""
    if mine:
        if lst is None or len(lst) != g.size():
            n = None if lst is None else len(lst)
            raise ValueError(f"{fn}: the {role} rank needs {name} with {g.size()} tensors, got {n}")
        for t in lst:
            _check_tensor(fn, t, f"{name} element")
            if tuple(t.shape) != tuple(tensor.shape) or t.dtype != tensor.dtype:
                raise ValueError(
                    f"{fn}: {name} element has shape {tuple(t.shape)} dtype {t.dtype}, "
                    f"the {side} has shape {tuple(tensor.shape)} dtype {tensor.dtype}"
                )
    elif lst:
        raise ValueError(f"{fn}: Argument ``{name}`` must NOT be specified on non-{role} ranks.")


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    fn = "gather"
    _check_tensor(fn, tensor)
    g = _group(fn, group)
    if not _member(g):
        return None
    if dst is None and group_dst is None:
        dst = 0
    root = group_dst if group_dst is not None else _group_rank(fn, g, dst, "dst")
    mine = g.rank() == root
    _check_root_list(fn, g, mine, gather_list, "gather_list", tensor, "destination", "input")
    a = _host(fn, tensor)
    _check_same(fn, g, a)
    out = np.empty((g.size(),) + a.shape, dtype=a.dtype) if mine else None
    req = g._comm.Igather(a, out, root=root)

    def finish():
        if mine:
            for i, t in enumerate(gather_list):
                _write(t, out[i])

    return _done(Work([req], g, fn, finish, keep=(a, out)), async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    fn = "scatter"
    _check_tensor(fn, tensor)
    g = _group(fn, group)
    if not _member(g):
        return None
    if src is None and group_src is None:
        src = 0
    root = group_src if group_src is not None else _group_rank(fn, g, src, "src")
    mine = g.rank() == root
    _check_root_list(fn, g, mine, scatter_list, "scatter_list", tensor, "source", "output")
    if mine:
        send = np.stack([_host(fn, t) for t in scatter_list])
    else:
        send = None
    out = _host(fn, tensor, writable=True)
    _check_same(fn, g, out)
    req = g._comm.Iscatter(send, out, root=root)
    return _done(Work([req], g, fn, lambda: _write(tensor, out), keep=(send, out)), async_op)


def _alltoallv(fn, g, send, scounts, recv, rcounts, finish, async_op):
    """MPI alltoallv after checking that what each peer sends is what this rank expects."""
    MPI = _mpi()
    scounts = np.asarray(scounts, dtype=np.int64)
    rcounts = np.asarray(rcounts, dtype=np.int64)
    told = np.empty_like(scounts)
    _wait_request(g._comm.Ialltoall(scounts, told), g, fn)
    # Every rank learns whether any rank saw a mismatch, so none is left waiting in MPI.
    ok = np.array([int(np.array_equal(told, rcounts))], dtype=np.int64)
    all_ok = np.empty_like(ok)
    _wait_request(g._comm.Iallreduce(ok, all_ok, op=MPI.MIN), g, fn)
    if not ok[0]:
        i = [i for i in range(g.size()) if told[i] != rcounts[i]][0]
        raise RuntimeError(
            f"{fn}: rank {g._ranks[i]} sends {int(told[i])} elements to rank "
            f"{g._ranks[g.rank()]}, which expects {int(rcounts[i])}"
        )
    if not all_ok[0]:
        raise RuntimeError(f"{fn}: split sizes disagree across ranks (another rank reports which)")
    sd = np.concatenate([[0], np.cumsum(scounts)[:-1]]).astype(np.int64)
    rd = np.concatenate([[0], np.cumsum(rcounts)[:-1]]).astype(np.int64)
    req = g._comm.Ialltoallv([send, (scounts, sd)], [recv, (rcounts, rd)])
    return _done(Work([req], g, fn, finish, keep=(send, recv)), async_op)


def all_to_all_single(
    output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op=False
):
    """Rank i sends its j-th dim-0 slice of input to rank j, which stores it at slot i."""
    fn = "all_to_all_single"
    _check_tensor(fn, output, "output")
    _check_tensor(fn, input, "input")
    g = _group(fn, group)
    if not _member(g):
        return None
    if input.dtype != output.dtype:
        raise ValueError(f"{fn}: input is {input.dtype} but output is {output.dtype}")
    n = g.size()

    def splits(t, sizes, what):
        d0 = t.shape[0] if t.dim() else 1
        if sizes is None:
            if d0 % n:
                raise ValueError(f"{fn}: {what} dim 0 ({d0}) is not divisible by {n} ranks")
            sizes = [d0 // n] * n
        sizes = [int(x) for x in sizes]
        if len(sizes) != n or sum(sizes) != d0:
            raise ValueError(
                f"{fn}: {what} split sizes {sizes} must be {n} numbers summing to {d0}"
            )
        row = t.numel() // d0 if d0 else 0
        return [x * row for x in sizes]

    sc = splits(input, input_split_sizes, "input")
    rc = splits(output, output_split_sizes, "output")
    a = _host(fn, input).reshape(-1)
    out = np.empty(output.numel(), dtype=a.dtype)
    return _alltoallv(fn, g, a, sc, out, rc, lambda: _write(output, out), async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Rank i sends input_tensor_list[j] to rank j, which receives it in output_tensor_list[i]."""
    fn = "all_to_all"
    g = _group(fn, group)
    if not _member(g):
        return None
    n = g.size()
    if len(input_tensor_list) != n or len(output_tensor_list) != n:
        raise ValueError(
            f"{fn}: needs {n} input and {n} output tensors, got {len(input_tensor_list)} and "
            f"{len(output_tensor_list)}"
        )
    for t in list(input_tensor_list) + list(output_tensor_list):
        _check_tensor(fn, t, "list element")
        if t.dtype != input_tensor_list[0].dtype:
            raise ValueError(f"{fn}: all tensors must share one dtype, got {t.dtype} and "
                             f"{input_tensor_list[0].dtype}")  # fmt: skip
    a = np.concatenate([_host(fn, t).reshape(-1) for t in input_tensor_list])
    rc = [t.numel() for t in output_tensor_list]
    out = np.empty(sum(rc), dtype=a.dtype)

    def finish():
        o = 0
        for t, c in zip(output_tensor_list, rc):
            _write(t, out[o : o + c])
            o += c

    return _alltoallv(fn, g, a, [t.numel() for t in input_tensor_list], out, rc, finish, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    g = _group("barrier", group)
    if not _member(g):
        return None
    return _done(Work([g._comm.Ibarrier()], g, "barrier"), async_op)


# Point-to-point: a small header (dtype, shape) travels before the data, so the receiver can
# report a mismatch instead of truncating. Tags are doubled to keep the two streams apart.
def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    fn = "isend"
    _check_tensor(fn, tensor)
    g = _group(fn, group)
    if not _member(g):
        return None
    peer = group_dst if group_dst is not None else _group_rank(fn, g, dst, "dst")
    a = _host(fn, tensor)
    m = np.array(_meta(a), dtype=np.int64)
    reqs = [g._comm.Isend(m, dest=peer, tag=2 * tag + 1), g._comm.Isend(a, dest=peer, tag=2 * tag)]
    return Work(reqs, g, fn, keep=(m, a))


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    w = isend(tensor, dst, group, tag, group_dst)
    if w is not None:
        w.wait()


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    fn = "irecv"
    _check_tensor(fn, tensor)
    g = _group(fn, group)
    if not _member(g):
        return None
    MPI = _mpi()
    if group_src is not None:
        peer = group_src
    elif src is not None:
        peer = _group_rank(fn, g, src, "src")
    else:
        peer = MPI.ANY_SOURCE
    return _RecvWork(g, fn, tensor, peer, tag)


class _RecvWork(Work):
    """Receives the header first (its sender answers src=None), checks it, then the data."""

    def __init__(self, g, fn, tensor, peer, tag):
        self._tensor, self._tag = tensor, tag
        self._buf = _host(fn, tensor, writable=True)
        self._want = np.array(_meta(self._buf), dtype=np.int64)
        self._head = np.empty_like(self._want)
        super().__init__([g._comm.Irecv(self._head, source=peer, tag=2 * tag + 1)], g, fn)
        self._status = _mpi().Status()
        self.source = None

    def _complete(self, timeout=None):
        g = self._group
        _wait_request(self._reqs[0], g, self._what, self._status, timeout)
        sender = self._status.Get_source()
        if not np.array_equal(self._head, self._want):
            h = self._head
            raise RuntimeError(
                f"{self._what}: rank {g._ranks[sender]} sent shape "
                f"{tuple(int(x) for x in h[3 : 3 + min(int(h[0]), _MAX_DIMS)])} dtype "
                f"{_dtype_name(int(h[2]))}, but the receiving tensor has shape "
                f"{tuple(self._tensor.shape)} dtype {self._buf.dtype}"
            )
        req = g._comm.Irecv(self._buf, source=sender, tag=2 * self._tag)
        _wait_request(req, g, self._what, timeout=timeout)
        _write(self._tensor, self._buf)
        self.source = g._ranks[sender]
        self._result = self.source
        self._done = True

    def is_completed(self):
        return self._done


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into tensor; returns the sender's rank (PyTorch: -1 outside the group)."""
    w = irecv(tensor, src, group, tag, group_src)
    if w is None:
        return -1
    w.wait()
    return w.source


# ----- object collectives: pickled bytes through the same MPI calls (with timeout) -----


def _gather_bytes(fn, g, data):
    """All-gather variable-length byte strings; returns one bytes object per group rank."""
    MPI = _mpi()
    n = np.array([len(data)], dtype=np.int64)
    sizes = np.empty(g.size(), dtype=np.int64)
    _wait_request(g._comm.Iallgather(n, sizes), g, fn)
    buf = np.empty(int(sizes.sum()), dtype=np.uint8)
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    src = np.frombuffer(data, dtype=np.uint8)
    req = g._comm.Iallgatherv(src, [buf, (sizes, displs), MPI.BYTE])
    _wait_request(req, g, fn)
    return [buf[o : o + s].tobytes() for o, s in zip(displs, sizes)]


def all_gather_object(object_list, obj, group=None):
    fn = "all_gather_object"
    g = _group(fn, group)
    if not _member(g):
        return None
    if len(object_list) != g.size():
        raise ValueError(
            f"{fn}: object_list has {len(object_list)} entries, the group has {g.size()} ranks"
        )
    for i, b in enumerate(_gather_bytes(fn, g, pickle.dumps(obj))):
        object_list[i] = pickle.loads(b)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    fn = "gather_object"
    g = _group(fn, group)
    if not _member(g):
        return None
    if dst is None and group_dst is None:
        dst = 0
    root = group_dst if group_dst is not None else _group_rank(fn, g, dst, "dst")
    # An all-gather keeps this short; object collectives are for small metadata.
    got = _gather_bytes(fn, g, pickle.dumps(obj))
    if g.rank() == root:
        if object_gather_list is None or len(object_gather_list) != g.size():
            raise ValueError(f"{fn}: the destination rank needs object_gather_list of {g.size()}")
        for i, b in enumerate(got):
            object_gather_list[i] = pickle.loads(b)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    fn = "broadcast_object_list"
    g = _group(fn, group)
    if not _member(g):
        return None
    if src is None and group_src is None:
        src = 0
    root = group_src if group_src is not None else _group_rank(fn, g, src, "src")
    data = pickle.dumps(list(object_list)) if g.rank() == root else b""
    n = np.array([len(data)], dtype=np.int64)
    _wait_request(g._comm.Ibcast(n, root=root), g, fn)
    buf = (
        np.frombuffer(data, dtype=np.uint8).copy()
        if g.rank() == root
        else np.empty(int(n[0]), dtype=np.uint8)
    )
    _wait_request(g._comm.Ibcast(buf, root=root), g, fn)
    got = pickle.loads(buf.tobytes())
    if len(got) != len(object_list):
        raise ValueError(
            f"{fn}: object_list has {len(object_list)} entries on rank {g.rank()}, "
            f"{len(got)} on the source rank"
        )
    object_list[:] = got


def scatter_object_list(
    scatter_object_output_list, scatter_object_input_list=None, src=None, group=None, group_src=None
):
    fn = "scatter_object_list"
    g = _group(fn, group)
    if not _member(g):
        return None
    if src is None and group_src is None:
        src = 0
    root = group_src if group_src is not None else _group_rank(fn, g, src, "src")
    objs = [None]
    if g.rank() == root:
        if scatter_object_input_list is None or len(scatter_object_input_list) != g.size():
            raise ValueError(f"{fn}: the source rank needs {g.size()} input objects")
        objs = list(scatter_object_input_list)
    everything = [objs]
    broadcast_object_list(everything, group=g, group_src=root)
    scatter_object_output_list[0] = everything[0][g.rank()]
