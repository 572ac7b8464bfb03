"""Worker for tests/test_rpc.py, started N times by `python -m ember.distributed.run`.

    rpc_worker.py api DEVICE       3 workers: calls, remote/RRefs, errors, timeouts, shutdown
    rpc_worker.py ps DEVICE OUT    1 parameter server + 2 trainers, synchronous SGD; the server
                                   saves the final weights to OUT/ps.npz
    rpc_worker.py crash            rank 1 raises before shutdown: the job must end, not hang

Every check is an assert: a failure exits non-zero and the test prints this rank's output.
The functions below are called remotely by name (pickle), so they live at module level.
"""

import operator
import os
import sys
import threading
import time

import numpy as np

import ember
import ember.distributed.rpc as rpc
from ember.futures import Future


def scaled_sum(a, b, scale=1.0):
    return (a + b) * scale


def whoami():
    return rpc.get_worker_info().name


def fail(x):
    raise ValueError(f"rpc_worker.fail got {x}")


def slow(seconds, value):
    time.sleep(seconds)
    return value


def device_of(t):
    return str(t.device)


def fetch_from(rref):
    # runs on a worker that does not own `rref`: a user RRef fetches the value from its owner
    assert not rref.is_owner()
    return rref.to_here() * 10


def owner_side(rref):
    # runs on the owner: the RRef that arrives is the owner's, with the value itself
    assert rref.is_owner()
    return rref.local_value().total


class Counter:
    def __init__(self, start):
        self.total = start

    def add(self, t):
        self.total = self.total + t
        return self.total

    def get(self):
        return self.total

    @rpc.functions.async_execution
    def add_later(self, t):
        # the reply goes out when the Future completes, from another thread, 50 ms later
        fut = Future()
        threading.Timer(0.05, lambda: fut.set_result(self.add(t))).start()
        return fut


def _eq(got, want, what):
    got = got.cpu().numpy() if isinstance(got, ember.Tensor) else np.asarray(got)
    assert got.shape == np.shape(want) and np.allclose(got, want), f"{what}: {got} != {want}"


def api(device):
    rank = int(os.environ["RANK"])
    opts = rpc.TensorPipeRpcBackendOptions(num_worker_threads=4, rpc_timeout=30)
    if device != "cpu":
        # gpu tensors travel only through a device map (PyTorch's rule for cuda)
        for peer in ("w0", "w1", "w2"):
            opts.set_device_map(peer, {device: device})
    rpc.init_rpc(f"w{rank}", rank=rank, world_size=3, rpc_backend_options=opts)
    me = rpc.get_worker_info()
    assert me.name == f"w{rank}" and me.id == rank, me
    assert rpc.get_worker_info("w2") == rpc.WorkerInfo("w2", 2)
    if rank == 0:
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        b = np.full((2, 3), 0.5, np.float32)
        ta, tb = ember.from_numpy(a).to(device), ember.from_numpy(b).to(device)
        # builtins and module functions, to a name, a rank and a WorkerInfo
        _eq(rpc.rpc_sync("w1", ember.add, args=(ta, tb)), a + b, "rpc_sync ember.add")
        _eq(rpc.rpc_sync(2, scaled_sum, args=(ta, tb), kwargs={"scale": 3.0}), (a + b) * 3, "kw")
        assert rpc.rpc_sync(rpc.get_worker_info("w2"), operator.mul, args=(6, 7)) == 42
        assert [rpc.rpc_sync(i, whoami) for i in range(3)] == ["w0", "w1", "w2"]
        # a tensor arrives on the mapped device (cpu stays cpu)
        want_dev = "cpu" if device == "cpu" else str(ta.device)
        assert rpc.rpc_sync("w1", device_of, args=(ta,)) == want_dev
        # many concurrent rpc_async; then() chains run after the reply
        futs = [rpc.rpc_async(1 + k % 2, ember.mul, args=(ta, k)) for k in range(40)]
        chained = futs[3].then(lambda f: f.value().sum().item() + 1)
        for k, f in enumerate(futs):
            _eq(f.wait(), a * k, f"rpc_async {k}")
        assert chained.wait() == float(a.sum() * 3 + 1)
        all_done = ember.futures.collect_all(futs[:5]).wait()
        assert [f.done() for f in all_done] == [True] * 5
        # remote: the object lives on w1, proxies call its methods there
        c = rpc.remote("w1", Counter, args=(ta,))
        assert not c.is_owner() and c.owner() == rpc.WorkerInfo("w1", 1)
        assert c.owner_name() == "w1"
        _eq(c.rpc_sync().add(tb), a + b, "proxy rpc_sync")
        _eq(c.rpc_async().add(tb).wait(), a + 2 * b, "proxy rpc_async")
        _eq(c.rpc_sync().add_later(tb), a + 3 * b, "proxy to an @async_execution method")
        _eq(c.rpc_sync().add(-tb), a + 2 * b, "proxy rpc_sync")
        total = c.remote().get()
        assert total.owner_name() == "w1"
        _eq(total.to_here(), a + 2 * b, "proxy remote + to_here")
        assert c.confirmed_by_owner()
        # an RRef handed on: user RRef on w2 (fetches from w1), owner RRef on w1
        _eq(rpc.rpc_sync("w2", fetch_from, args=(total,)), (a + 2 * b) * 10, "forked rref")
        _eq(rpc.rpc_sync("w1", owner_side, args=(c,)), a + 2 * b, "owner rref")
        try:
            c.local_value()
            raise AssertionError("local_value on a user RRef must raise")
        except RuntimeError as e:
            assert "its owner is w1" in str(e), e
        # a local RRef
        mine = rpc.RRef(ta)
        assert mine.is_owner() and mine.owner_name() == "w0" and mine.confirmed_by_owner()
        _eq(mine.to_here(), a, "local rref")
        _eq(rpc.rpc_sync("w2", fetch_from, args=(mine,)), a * 10, "rref owned by the caller")
        # remote errors: same type, remote worker and traceback in the text
        for call in (
            lambda: rpc.rpc_sync("w2", fail, args=(7,)),
            lambda: rpc.rpc_async("w2", fail, args=(7,)).wait(),
            lambda: rpc.remote("w2", fail, args=(7,)).to_here(),
        ):
            try:
                call()
                raise AssertionError("the remote ValueError was not raised")
            except ValueError as e:
                s = str(e)
                assert s.startswith("On WorkerInfo(id=2, name=w2):"), s
                assert "rpc_worker.fail got 7" in s and "Traceback" in s and "in fail" in s, s
        # timeouts: PyTorch's message; the agent keeps working afterwards
        t0 = time.monotonic()
        try:
            rpc.rpc_sync("w1", slow, args=(1.0, 1), timeout=0.2)
            raise AssertionError("no timeout")
        except RuntimeError as e:
            assert "RPC ran for more than set timeout (200 ms)" in str(e), e
        assert time.monotonic() - t0 < 0.9
        try:
            rpc.remote("w1", slow, args=(1.0, 1), timeout=0.2).to_here()
            raise AssertionError("no timeout")
        except RuntimeError as e:
            assert "RPC ran for more than set timeout (200 ms)" in str(e), e
        assert rpc.rpc_sync("w1", operator.add, args=(2, 3), timeout=0) == 5
        try:
            rpc.rpc_sync("w9", operator.add, args=(1, 2))
            raise AssertionError("unknown name accepted")
        except RuntimeError as e:
            assert "could not find destination name w9" in str(e), e
    if rank == 1:
        # graceful shutdown: w1 returns from shutdown only after w2 has answered this call,
        # which takes 0.5 s and is still running when w1 calls shutdown.
        late = rpc.rpc_async("w2", slow, args=(0.5, ember.ones(2)))
        t0 = time.monotonic()
        rpc.shutdown()
        assert late.done() and time.monotonic() - t0 >= 0.4
        _eq(late.value(), np.ones(2), "rpc answered during shutdown")
    else:
        rpc.shutdown()
    try:
        rpc.rpc_sync("w0", operator.add, args=(1, 2))
        raise AssertionError("rpc after shutdown")
    except RuntimeError as e:
        assert "RPC has not been initialized" in str(e), e
    print(f"rank {rank}: api ok", flush=True)


# ----- parameter server: synchronous SGD, the batching pattern of pytorch/examples


class ParameterServer:
    """Averages one gradient from each trainer, takes an SGD step, answers all of them."""

    def __init__(self, n_trainers, dim, lr):
        self.w = ember.zeros(dim)
        self.n, self.lr = n_trainers, lr
        self.lock = threading.Lock()
        self.acc, self.count = ember.zeros(dim), 0
        self.next_w = Future()

    @staticmethod
    @rpc.functions.async_execution
    def step(ps_rref, grad):
        self = ps_rref.local_value()
        with self.lock:
            self.acc = self.acc + grad
            self.count += 1
            fut = self.next_w
            if self.count == self.n:
                self.w = self.w - self.lr * self.acc / self.n
                self.acc, self.count = ember.zeros_like(self.acc), 0
                self.next_w = Future()
                fut.set_result(self.w)
        return fut

    def weights(self):
        return self.w


def ps_data(k, dim=4, n=16):
    """Trainer k's data (the test recomputes the same arrays)."""
    rng = np.random.default_rng(k)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 3.0, 0.5], np.float32) + 0.1).astype(np.float32)
    return x, y


def train(ps_rref, k, steps, device):
    x, y = ps_data(k)
    x, y = ember.from_numpy(x).to(device), ember.from_numpy(y).to(device)
    w = ps_rref.rpc_sync().weights()
    for _ in range(steps):
        wd = w.to(device).requires_grad_()
        loss = ((x @ wd - y) ** 2).mean()
        loss.backward()
        w = rpc.rpc_sync(ps_rref.owner(), ParameterServer.step, args=(ps_rref, wd.grad.cpu()))
    return k


def ps(device, out):
    rank = int(os.environ["RANK"])
    rpc.init_rpc("ps" if rank == 0 else f"trainer{rank}", rank=rank, world_size=3)
    if rank == 0:
        server = ParameterServer(2, 4, 0.1)
        ps_rref = rpc.RRef(server)
        futs = [rpc.rpc_async(f"trainer{k}", train, args=(ps_rref, k, 10, device)) for k in (1, 2)]
        assert ember.futures.wait_all(futs) == [1, 2]
        np.savez(os.path.join(out, "ps.npz"), w=server.w.numpy())
    rpc.shutdown()
    print(f"rank {rank}: ps ok", flush=True)


def crash():
    rank = int(os.environ["RANK"])
    rpc.init_rpc(f"w{rank}", rank=rank, world_size=2)
    if rank == 1:
        raise RuntimeError("rank 1 fails before shutdown")
    rpc.shutdown()  # waits for rank 1, which never comes: the abort must end the job


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "api":
        api(sys.argv[2])
    elif mode == "ps":
        ps(sys.argv[2], sys.argv[3])
    elif mode == "crash":
        crash()
