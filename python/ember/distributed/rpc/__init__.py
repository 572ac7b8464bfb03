"""ember.distributed.rpc: PyTorch's torch.distributed.rpc on MPI.

    import ember.distributed.rpc as rpc
    rpc.init_rpc(f"worker{rank}", rank=rank, world_size=world_size)
    y = rpc.rpc_sync("worker1", ember.add, args=(ember.ones(2), 3))
    rref = rpc.remote("worker1", MyClass, args=(...))       # the object lives on worker1
    rref.rpc_sync().method(1, 2)                             # runs there
    rpc.shutdown()

Workers are the processes of one MPI job (`python -m ember.distributed.run --nproc-per-node N
script.py`, or `mpirun -n N python script.py`); with world_size=1 no launcher is needed. Each
worker runs an agent (see _agent.py) that serves requests with num_worker_threads threads.
Functions and arguments travel by pickle, so a function must be importable by the same name
on the receiving worker, as in PyTorch. Tensors travel as cpu tensors; a gpu tensor needs a
device map (`TensorPipeRpcBackendOptions.set_device_map`), as PyTorch requires for cuda.

Not provided: distributed autograd (ember.distributed.autograd) and the distributed
optimizer; RRefs are not reference counted across workers (an owner keeps the values it owns
until shutdown).
"""

import enum
import threading
import time

from .._state import _mpi
from . import functions  # noqa: F401
from ._agent import _CALL, _REMOTE, UNINIT_MSG, Agent, WorkerInfo, env_int
from ._rref import RRef, _set_agent_getter

__all__ = [
    "BackendType",
    "RRef",
    "RpcBackendOptions",
    "TensorPipeRpcBackendOptions",
    "WorkerInfo",
    "functions",
    "get_worker_info",
    "init_rpc",
    "is_available",
    "remote",
    "rpc_async",
    "rpc_sync",
    "shutdown",
]

UNSET_RPC_TIMEOUT = -1.0
DEFAULT_RPC_TIMEOUT_SEC = 60.0
DEFAULT_NUM_WORKER_THREADS = 16
DEFAULT_SHUTDOWN_TIMEOUT = 0

_AGENT = None
_INIT_LOCK = threading.Lock()


def _agent():
    if _AGENT is None:
        raise RuntimeError(UNINIT_MSG)
    return _AGENT


_set_agent_getter(_agent)


def is_available():
    return True


class BackendType(enum.Enum):
    """RPC backends; TENSORPIPE is accepted and runs on ember's MPI agent."""

    TENSORPIPE = "TENSORPIPE"

    def __repr__(self):
        return f"BackendType.{self.name}"


class RpcBackendOptions:
    """Options every backend has: the default timeout (seconds) and the init method."""

    def __init__(self, rpc_timeout=DEFAULT_RPC_TIMEOUT_SEC, init_method="env://"):
        self.rpc_timeout = float(rpc_timeout)
        self.init_method = init_method


class TensorPipeRpcBackendOptions(RpcBackendOptions):
    """PyTorch's TensorPipe options. num_worker_threads sizes the pool that serves requests;
    device_maps ({worker: {local device: remote device}}) lets gpu tensors travel."""

    def __init__(
        self,
        *,
        num_worker_threads=DEFAULT_NUM_WORKER_THREADS,
        rpc_timeout=DEFAULT_RPC_TIMEOUT_SEC,
        init_method="env://",
        device_maps=None,
        devices=None,
        _transports=None,
        _channels=None,
    ):
        super().__init__(rpc_timeout, init_method)
        if int(num_worker_threads) < 1:
            raise ValueError(
                f"TensorPipeRpcBackendOptions: num_worker_threads must be >= 1, "
                f"got {num_worker_threads}"
            )
        self.num_worker_threads = int(num_worker_threads)
        self.device_maps = {}
        for to, m in (device_maps or {}).items():
            self.set_device_map(to, m)
        self.devices = list(devices or [])

    def set_device_map(self, to, device_map):
        """Tensors on device k sent to worker `to` arrive on device_map[k] there."""
        import ember

        full = {}
        for k, v in device_map.items():
            k, v = ember.device(k), ember.device(v)
            if v in full.values():
                raise ValueError(
                    "`device_map` only supports 1-to-1 mapping, "
                    f"trying to map {k} and {[a for a, b in full.items() if b == v][0]} to {v}"
                )
            full[k] = v
        self.device_maps.setdefault(to, {}).update(full)

    def set_devices(self, devices):
        self.devices = list(devices)


def init_rpc(name, backend=None, rank=-1, world_size=None, rpc_backend_options=None):
    """Start this worker's RPC agent; every worker of the job calls it (a collective).

    rank / world_size default to the MPI launcher's (or torchrun's RANK / WORLD_SIZE); a
    process not started by a launcher is a world of one."""
    global _AGENT
    if not isinstance(name, str) or not name:
        raise ValueError(f"init_rpc: name must be a non-empty str, got {name!r}")
    if backend is not None and backend != BackendType.TENSORPIPE:
        raise ValueError(f"init_rpc: unsupported backend {backend!r}; use BackendType.TENSORPIPE")
    opts = rpc_backend_options or TensorPipeRpcBackendOptions()
    if not isinstance(opts, RpcBackendOptions):
        raise TypeError(
            "init_rpc: rpc_backend_options must be a TensorPipeRpcBackendOptions, got "
            f"{type(opts).__name__}"
        )
    if not hasattr(opts, "num_worker_threads"):
        opts.num_worker_threads, opts.device_maps = DEFAULT_NUM_WORKER_THREADS, {}
    with _INIT_LOCK:
        if _AGENT is not None:
            raise RuntimeError("RPC is already initialized")
        launched = env_int("OMPI_COMM_WORLD_SIZE") or env_int("PMI_SIZE")
        want_size = world_size if world_size is not None else env_int("WORLD_SIZE")
        if want_size is None:
            want_size = launched or 1
        want_rank = rank if rank not in (None, -1) else env_int("RANK")
        if want_size == 1 and not launched:
            if want_rank not in (None, 0):
                raise ValueError(f"init_rpc: rank {want_rank} is not in [0, 1) (world_size=1)")
            _AGENT = Agent(name, 0, [name], None, opts)
            return
        comm, me = _join(want_size, want_rank, opts.rpc_timeout)
        names = comm.allgather(name)
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            comm.Free()
            raise RuntimeError(f"init_rpc: worker names must be unique, {dup[0]!r} is used twice")
        _AGENT = Agent(name, me, names, comm, opts)


def _join(want_size, want_rank, timeout):
    """The agent's private communicator (a dup of the MPI job's), with init's checks."""
    MPI = _mpi()
    world = MPI.COMM_WORLD
    size, me = world.Get_size(), world.Get_rank()
    if want_size != size:
        if size == 1:
            raise RuntimeError(
                f"init_rpc: world_size is {want_size} but this process was not started by an "
                "MPI launcher (MPI sees 1 process). Start the script with `python -m "
                f"ember.distributed.run --nproc-per-node {want_size} script.py` or "
                f"`mpirun -n {want_size} python script.py`."
            )
        raise RuntimeError(f"init_rpc: world_size is {want_size} but the MPI job has {size}")
    if want_rank is not None and want_rank != me:
        raise RuntimeError(
            f"init_rpc: rank is {want_rank} but MPI gives this process rank {me}; ranks follow "
            "the MPI launcher's order"
        )
    # Idup, polled: a worker that never calls init_rpc is a timeout here, not a hang.
    comm, req = world.Idup()
    deadline = time.monotonic() + (timeout if timeout > 0 else float("inf"))
    while not req.Test():
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"init_rpc: timed out after {timeout:g} s waiting for the other "
                f"{size - 1} workers to call init_rpc"
            )
        time.sleep(0.001)
    return comm, me


def shutdown(graceful=True, timeout=DEFAULT_SHUTDOWN_TIMEOUT):
    """Stop the agent. graceful (a collective): first every worker waits until its own RPCs
    have answered and the requests it serves are done, then all stop together.
    timeout: seconds for the graceful wait (0: no limit)."""
    global _AGENT
    a = _agent()
    try:
        if graceful:
            deadline = time.monotonic() + timeout if timeout and timeout > 0 else None
            for rnd in (1, 2):
                a.wait_idle(deadline)
                a.barrier(rnd, deadline)
        a.stop(graceful)
    finally:
        _AGENT = None


def _shutdown_from_exit(timeout):
    if _AGENT is not None:
        shutdown(True, timeout)


def get_worker_info(worker_name=None):
    """WorkerInfo of `worker_name` (this worker's if None)."""
    a = _agent()
    if worker_name is None:
        return a.me
    return a.worker(worker_name, "get_worker_info")


def _args(fn, args, kwargs):
    if args is not None and not isinstance(args, tuple):
        if isinstance(args, list):
            args = tuple(args)
        else:
            raise TypeError(f"{fn}: args must be a tuple, got {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError(f"{fn}: kwargs must be a dict, got {type(kwargs).__name__}")
    return args or (), kwargs or {}


def rpc_async(to, func, args=None, kwargs=None, timeout=UNSET_RPC_TIMEOUT):
    """Run func(*args, **kwargs) on worker `to`; returns an ember.futures.Future of the result.
    timeout: seconds (-1: the agent's rpc_timeout, 0: no limit)."""
    a = _agent()
    dest = a.worker(to, "rpc_async")
    if not callable(func):
        raise TypeError(f"rpc_async: func must be callable, got {type(func).__name__}")
    args, kwargs = _args("rpc_async", args, kwargs)
    return a.request(dest.id, _CALL, (func, args, kwargs), timeout)


def rpc_sync(to, func, args=None, kwargs=None, timeout=UNSET_RPC_TIMEOUT):
    """Run func(*args, **kwargs) on worker `to` and return its result (blocking)."""
    return rpc_async(to, func, args, kwargs, timeout).wait()


def remote(to, func, args=None, kwargs=None, timeout=UNSET_RPC_TIMEOUT):
    """Run func on worker `to` and keep the result there; returns an RRef to it at once."""
    a = _agent()
    dest = a.worker(to, "remote")
    if not callable(func):
        raise TypeError(f"remote: func must be callable, got {type(func).__name__}")
    args, kwargs = _args("remote", args, kwargs)
    key = a.new_rref_key()
    created = a.request(dest.id, _REMOTE, (key, func, args, kwargs), timeout)
    return RRef._make(key, dest.id, created)
