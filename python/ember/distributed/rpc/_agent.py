"""The RPC agent: one communication thread per worker that owns every MPI call.

Why one thread: Open MPI 5 does give mpi4py MPI_THREAD_MULTIPLE here (MPI.Query_thread() is
THREAD_MULTIPLE with mpi4py 4.1.2 on Open MPI 5.0.11), but a single owner of
the communicator needs no locks around MPI, cannot interleave a probe of one thread with the
receive of another, and lets user threads block on plain Futures instead of inside MPI.

    user threads --(dest, bytes)--> outbox --> comm thread --Isend--> peer
    peer --Iprobe/Recv--> comm thread --> replies: complete the caller's Future
                                      --> requests: the server pool (num_worker_threads)

Messages are pickled in the sending user thread (so a bad argument, e.g. a gpu tensor without
a device map, raises at the call) and carry a one-byte kind, so the comm thread routes them
without unpickling requests. The comm thread sleeps on an Event between polls (woken at once
by new outgoing work, otherwise it polls MPI every 0.1-2 ms), so an idle agent does not burn a
core. Timeouts are deadlines the comm thread checks on each pass.

A world of one process (world_size=1, no mpiexec) needs no MPI: every message is to self.
"""

import atexit
import heapq
import io
import itertools
import os
import pickle
import queue
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from ...futures import Future

_TAG = 77  # the RPC messages' tag on the agent's private communicator

# message kinds (first byte)
_CALL, _REMOTE, _FETCH, _RET, _SHUT, _GO = b"C", b"M", b"F", b"R", b"S", b"G"

UNINIT_MSG = "RPC has not been initialized. Call torch.distributed.rpc.init_rpc first."


def timeout_error(seconds):
    # PyTorch's wording (TensorPipe agent), in milliseconds.
    ms = int(round(seconds * 1000))
    return RuntimeError(
        f"RPCErr:1:RPC ran for more than set timeout ({ms} ms) and will now be marked with an error"
    )


class WorkerInfo:
    """PyTorch's WorkerInfo: a worker's unique name and its id (the rank)."""

    __slots__ = ("name", "id")

    def __init__(self, name, id):  # noqa: A002 - PyTorch's name
        self.name = name
        self.id = id

    def __eq__(self, other):
        return isinstance(other, WorkerInfo) and (self.name, self.id) == (other.name, other.id)

    def __hash__(self):
        return hash((self.name, self.id))

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, name={self.name})"

    def __reduce__(self):
        return (WorkerInfo, (self.name, self.id))


class RemoteError:
    """An exception raised by a remote function, travelling back as its type and text."""

    def __init__(self, exc_type, msg):
        self.exc_type = exc_type
        self.msg = msg

    def rebuild(self):
        try:
            return self.exc_type(self.msg)
        except Exception:  # some exception types cannot be built from one string
            return RuntimeError(
                f"Failed to create original exception type {self.exc_type.__name__}. "
                f"Original exception on remote side was {self.msg}"
            )


def _device_key(d):
    import ember

    d = ember.device(d)
    return f"{d.type}:{d.index or 0}"


def _rebuild(arr, dtype_name, requires_grad):
    import ember

    t = ember.from_numpy(arr)
    want = getattr(ember, dtype_name)
    if t.dtype != want:
        t = t.to(want)
    return t.requires_grad_() if requires_grad else t


def _to_device(t, device):
    return t.to(device)


class _Pickler(pickle.Pickler):
    """pickle, plus PyTorch's device rule: a non-cpu tensor travels only through a device map
    (its device -> the destination's device); it arrives on the mapped device."""

    def __init__(self, f, dest_name, device_map):
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        self._dest = dest_name
        self._map = device_map

    def reducer_override(self, obj):
        import ember

        if not isinstance(obj, ember.Tensor):
            return NotImplemented
        if obj.device.type == "cpu":
            # Tensor.__reduce_ex__ without its defensive copy: the bytes are pickled right
            # now, in the caller's thread, so a view of the tensor's memory is enough
            t = obj.detach()
            if t.dtype == ember.bfloat16:  # numpy has no bfloat16: sent as float32 (exact)
                t = t.float()
            return (_rebuild, (t.numpy(), obj.dtype.name, obj.requires_grad))
        target = self._map.get(_device_key(obj.device))
        if target is None:
            raise RuntimeError(
                "TensorPipe RPC backend only supports CPU tensors by default, please move "
                "your tensors to CPU before sending them over RPC, or call `set_device_map` "
                "on `TensorPipeRpcBackendOptions` to explicitly configure device mapping. "
                f"Request device mapping is not available for destination {self._dest}, but "
                f"found tensor on device: {obj.device}"
            )
        return (_to_device, (obj.cpu(), target))


def dumps(kind, obj, dest_name, device_map):
    buf = io.BytesIO()
    buf.write(kind)
    _Pickler(buf, dest_name, device_map).dump(obj)
    # a view of the pickle's buffer, not a copy (messages can be large tensors)
    return buf.getbuffer()


class Agent:
    """One worker's RPC agent (see the module docstring)."""

    def __init__(self, name, rank, names, comm, options):
        self.rank = rank
        self.names = list(names)
        self.infos = [WorkerInfo(n, i) for i, n in enumerate(self.names)]
        self.by_name = {n: i for i, n in enumerate(self.names)}
        self.me = self.infos[rank]
        self.comm = comm  # None when the world is this one process
        self.default_timeout = float(options.rpc_timeout)
        # device maps: destination name -> {local device key: remote device}
        self.device_maps = {
            dst: {_device_key(k): str(v) for k, v in m.items()}
            for dst, m in (options.device_maps or {}).items()
        }
        for dst in self.device_maps:
            if dst not in self.by_name:
                raise ValueError(f"init_rpc: device_maps names an unknown worker {dst!r}")
        self._ids = itertools.count()
        self._rref_ids = itertools.count()
        self._lock = threading.Lock()
        self._pending = {}  # request id -> the caller's Future
        self._deadlines = []  # heap of (deadline, request id, timeout seconds)
        self._running = 0  # requests being served here
        self._idle = threading.Condition(self._lock)
        self._owned = {}  # rref key -> Future of the value this worker owns
        self._outbox = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = False
        self._hard = False  # stop without sending what is queued (non-graceful, exit)
        self._broken = None  # the error that stopped the comm thread
        self._shut_count = {}  # round -> workers that reached it (rank 0 only)
        self._go = {}  # round -> threading.Event
        self._server = ThreadPoolExecutor(
            max_workers=max(1, int(options.num_worker_threads)),
            thread_name_prefix=f"rpc-{name}",
        )
        # user callbacks of RPC futures run here, never on the comm thread
        self._callbacks = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"rpc-cb-{name}")
        self._thread = threading.Thread(target=self._loop, name=f"rpc-comm-{name}", daemon=True)
        self._thread.start()
        _install_hook()
        atexit.register(self._atexit)

    # ----- user side

    def worker(self, to, fn="rpc"):
        """WorkerInfo for `to`: a worker name, a rank or a WorkerInfo."""
        if isinstance(to, WorkerInfo):
            to = to.name
        if isinstance(to, str):
            if to not in self.by_name:
                raise RuntimeError(
                    f"name:{self.me.name},rank:{self.rank} could not find destination name {to}"
                )
            return self.infos[self.by_name[to]]
        if isinstance(to, int) and not isinstance(to, bool):
            if not 0 <= to < len(self.infos):
                raise RuntimeError(
                    f"name:{self.me.name},rank:{self.rank} could not find destination id {to}"
                )
            return self.infos[to]
        raise TypeError(
            f"{fn}: `to` must be a worker name, a rank or a WorkerInfo, got {type(to).__name__}"
        )

    def _timeout(self, timeout):
        """Seconds, or None for no limit: -1 is the agent's default, 0 means no limit."""
        t = self.default_timeout if timeout is None or timeout < 0 else float(timeout)
        return None if t == 0 else t

    def request(self, dest, kind, payload, timeout):
        """Send a request; the returned Future gets the reply's value (or the error)."""
        if self._stop:
            raise RuntimeError(f"RPC agent of {self.me.name} is shut down; no new requests")
        if self._broken is not None:
            raise RuntimeError(f"RPC agent of {self.me.name} failed: {self._broken!r}")
        fut = Future()
        rid = next(self._ids)
        dname = self.names[dest]
        fwd = self.device_maps.get(dname, {})
        # replies use the inverse map: the remote device back to ours
        back = {_device_key(v): k for k, v in fwd.items()}
        data = dumps(kind, (rid, back) + payload, dname, fwd)
        secs = self._timeout(timeout)
        with self._lock:
            self._pending[rid] = fut
            if secs is not None:
                heapq.heappush(self._deadlines, (time.monotonic() + secs, rid, secs))
        self._send(dest, data)
        return fut

    def _send(self, dest, data):
        self._outbox.put((dest, data))
        self._wake.set()

    def owned(self, key):
        """The Future of an owned RRef's value (created on first use: a fork's fetch may come
        before the creator's remote() message)."""
        with self._lock:
            f = self._owned.get(key)
            if f is None:
                f = self._owned[key] = Future()
            return f

    def new_rref_key(self):
        return (self.rank, next(self._rref_ids))

    # ----- comm thread

    def _loop(self):
        try:
            self._pump()
        except BaseException as e:  # a bug or an MPI failure: fail loudly, not a silent hang
            self._broken = e
            traceback.print_exc()
            print(f"rpc: the agent of {self.me.name} stopped: {e!r}", file=sys.stderr)
            with self._lock:
                pend, self._pending = list(self._pending.values()), {}
                self._idle.notify_all()
            for fut in pend:
                fut._complete(None, RuntimeError(f"RPC agent of {self.me.name} failed: {e!r}"))

    def _pump(self):
        MPI = None
        if self.comm is not None:
            from mpi4py import MPI
        status = MPI.Status() if MPI else None
        sends = []  # (request, bytes): the bytes live until MPI has sent them
        nap, last = 0.0001, 0.0
        while True:
            busy = False
            self._wake.clear()  # before looking: work queued from now on wakes the next nap
            while True:
                try:
                    dest, data = self._outbox.get_nowait()
                except queue.Empty:
                    break
                busy = True
                if dest == self.rank:
                    self._dispatch(dest, data)
                else:
                    sends.append((self.comm.Isend([data, MPI.BYTE], dest, _TAG), data))
            if sends:
                sends = [s for s in sends if not s[0].Test()]
            if self.comm is not None:
                while self.comm.Iprobe(MPI.ANY_SOURCE, _TAG, status):
                    n, src = status.Get_count(MPI.BYTE), status.Get_source()
                    buf = bytearray(n)
                    self.comm.Recv([buf, MPI.BYTE], src, _TAG)
                    self._dispatch(src, memoryview(buf))
                    busy = True
            self._expire()
            if self._stop and (self._hard or (not sends and self._outbox.empty())):
                return
            now = time.monotonic()
            if busy:
                nap, last = 0.0001, now
            else:
                self._wake.wait(nap)
                # Back off to 2 ms when idle. While a reply is awaited, or within 50 ms of the
                # last message (a caller in a loop of rpc_sync), poll every 0.2 ms at most:
                # the round trip is bounded by the two naps.
                hot = self._pending or now - last < 0.05
                nap = min(nap * 2, 0.0002 if hot else 0.002)

    def _expire(self):
        now = time.monotonic()
        expired = []
        with self._lock:
            while self._deadlines and self._deadlines[0][0] <= now:
                _, rid, secs = heapq.heappop(self._deadlines)
                fut = self._pending.pop(rid, None)
                if fut is not None:
                    expired.append((fut, secs))
            if expired and not self._pending:
                self._idle.notify_all()
        for fut, secs in expired:
            self._finish(fut, None, timeout_error(secs))

    def _finish(self, fut, value, exc):
        """Complete an RPC future; its callbacks (user code, may block) run off this thread."""
        fut._complete(value, exc, self._callbacks.submit)

    def _dispatch(self, src, data):
        kind = bytes(data[:1])
        if kind == _RET:
            try:
                rid, ok, value = pickle.loads(data[1:])
            except Exception as e:  # a reply this process cannot rebuild
                print(f"rpc: dropped an unreadable reply from {src}: {e!r}", file=sys.stderr)
                return
            with self._lock:
                fut = self._pending.pop(rid, None)
                if not self._pending:
                    self._idle.notify_all()
            if fut is None:  # it timed out already
                return
            if ok:
                self._finish(fut, value, None)
            else:
                self._finish(fut, None, value.rebuild())
        elif kind == _SHUT:
            rnd = data[1]
            with self._lock:
                n = self._shut_count[rnd] = self._shut_count.get(rnd, 0) + 1
            if n == len(self.names):
                for r in range(len(self.names)):
                    self._send(r, _GO + bytes([rnd]))
        elif kind == _GO:
            self._go_event(data[1]).set()
        else:
            with self._lock:
                self._running += 1
            self._server.submit(self._serve, src, data)

    def _go_event(self, rnd):
        with self._lock:
            return self._go.setdefault(rnd, threading.Event())

    # ----- server side (pool threads)

    def _serve(self, src, data):
        kind = bytes(data[:1])
        rid, back = None, {}
        try:
            msg = pickle.loads(data[1:])
            rid, back = msg[0], msg[1]
            if kind == _CALL:
                func, args, kwargs = msg[2:]
                self._run(src, rid, back, func, args, kwargs, None)
            elif kind == _REMOTE:
                key, func, args, kwargs = msg[2:]
                self._run(src, rid, back, func, args, kwargs, self.owned(key))
            elif kind == _FETCH:
                (key,) = msg[2:]
                self.owned(key).add_done_callback(
                    lambda f: self._reply_future(src, rid, back, f, wrap=False)
                )
        except Exception as e:
            if rid is not None:
                self._reply(src, rid, back, False, self._remote_error(e))
            else:
                print(f"rpc: dropped an unreadable request from {src}: {e!r}", file=sys.stderr)
        finally:
            with self._lock:
                self._running -= 1
                self._idle.notify_all()

    def _remote_error(self, e):
        # PyTorch's text: where, repr, and the remote traceback (also printed there).
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        text = f"On {self.me}:\n{e!r}\n{tb}"
        print(text, file=sys.stderr)
        return RemoteError(type(e), text)

    def _run(self, src, rid, back, func, args, kwargs, store):
        try:
            if not callable(func):
                raise TypeError(f"rpc: {func!r} is not callable")
            result = func(*(args or ()), **(kwargs or {}))
        except Exception as e:
            err = self._remote_error(e)
            if store is not None:
                store._complete(None, err.rebuild())
                self._reply(src, rid, back, True, None)
            else:
                self._reply(src, rid, back, False, err)
            return
        if getattr(func, "_wrapped_async_rpc_function", None) is not None or getattr(
            result, "_rpc_async_reply", False
        ):
            if not isinstance(result, Future):
                err = RemoteError(
                    RuntimeError,
                    f"On {self.me}:\n@rpc.functions.async_execution function "
                    f"{getattr(func, '__name__', func)} must return a Future, "
                    f"got {type(result).__name__}",
                )
                self._reply(src, rid, back, False, err)
                return
            with self._lock:  # the reply waits for the future: count it as running work
                self._running += 1
            result.add_done_callback(lambda f: self._async_done(src, rid, back, f, store))
            return
        if store is not None:
            store._complete(result, None)
            self._reply(src, rid, back, True, None)
        else:
            self._reply(src, rid, back, True, result)

    def _async_done(self, src, rid, back, fut, store):
        try:
            if store is not None:
                store._complete(fut._value, fut._exc)
                self._reply(src, rid, back, True, None)
            else:
                self._reply_future(src, rid, back, fut, wrap=True)
        finally:
            with self._lock:
                self._running -= 1
                self._idle.notify_all()

    def _reply_future(self, src, rid, back, fut, wrap):
        """Answer with a done Future's value or error (wrap: describe the error as raised
        here; else it is an RRef's stored error, already described by its owner)."""
        exc = fut._exc
        if exc is None:
            self._reply(src, rid, back, True, fut._value)
            return
        if wrap:
            err = self._remote_error(exc)
        else:
            err = RemoteError(type(exc), str(exc.args[0]) if exc.args else str(exc))
        self._reply(src, rid, back, False, err)

    def _reply(self, dest, rid, back, ok, value):
        try:
            data = dumps(_RET, (rid, ok, value), self.names[dest], back)
        except Exception as e:  # the result cannot travel (unpicklable, gpu without a map)
            try:
                raise RuntimeError(f"rpc: the result could not be sent back: {e}") from e
            except RuntimeError as e2:
                data = dumps(_RET, (rid, False, self._remote_error(e2)), self.names[dest], {})
        self._send(dest, data)

    # ----- shutdown

    def wait_idle(self, deadline):
        """Wait until no request of ours is pending and none is being served here."""
        with self._idle:
            while self._pending or self._running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise RuntimeError(
                        f"rpc.shutdown: timed out waiting for {len(self._pending)} outstanding "
                        f"RPCs and {self._running} requests being served on {self.me.name}"
                    )
                self._idle.wait(0.05 if left is None else min(left, 0.05))

    def barrier(self, rnd, deadline):
        """All workers reach round `rnd` (rank 0 counts, then tells everyone)."""
        self._send(0, _SHUT + bytes([rnd]))
        ev = self._go_event(rnd)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not ev.wait(left):
            raise RuntimeError(
                f"rpc.shutdown: timed out waiting for the other workers to shut down "
                f"({self.me.name})"
            )

    def stop(self, graceful):
        """Stop the comm thread; without graceful, pending futures fail."""
        self._hard = not graceful
        self._stop = True
        self._wake.set()
        self._thread.join()
        self._server.shutdown(wait=graceful)
        self._callbacks.shutdown(wait=graceful)
        with self._lock:
            pend, self._pending = list(self._pending.values()), {}
        for fut in pend:
            if not fut.done():
                fut._complete(None, RuntimeError("RPC agent shut down before the reply came"))
        if graceful and self.comm is not None:
            self.comm.Free()
        atexit.unregister(self._atexit)

    def _atexit(self):
        """The script ends with the agent running (shutdown() was not called).

        After an uncaught exception the peers may wait on this worker forever, and MPI's
        finalize would wait for them: the job is aborted (non-zero exit), as a timed-out
        collective does. Otherwise the script just forgot shutdown(): do a graceful one (the
        peers' shutdown waits for ours), bounded by the rpc timeout, then abort if it fails."""
        if not self._thread.is_alive():
            return
        from . import _shutdown_from_exit

        if not _UNCAUGHT[0]:
            try:
                _shutdown_from_exit(self.default_timeout or 60.0)
                return
            except Exception as e:
                print(f"rpc: shutdown at exit failed ({e}); aborting the job", file=sys.stderr)
        self._hard = True
        self._stop = True
        self._wake.set()
        self._thread.join(5)
        if self.comm is not None:
            from mpi4py import MPI

            sys.stderr.flush()
            MPI.COMM_WORLD.Abort(1)


_UNCAUGHT = [False]


def _install_hook():
    """Record an uncaught exception: it decides how exit treats a running agent (_atexit)."""
    if getattr(sys.excepthook, "_ember_rpc", False):
        return
    prev = sys.excepthook

    def hook(*exc_info):
        _UNCAUGHT[0] = True
        prev(*exc_info)

    hook._ember_rpc = True
    sys.excepthook = hook


def env_int(name):
    v = os.environ.get(name)
    return int(v) if v not in (None, "") else None
