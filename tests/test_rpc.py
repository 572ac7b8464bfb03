"""ember.distributed.rpc: one process (world_size=1, in this process) and 2-3 MPI processes.

The multi-process cases start tests/rpc_worker.py through `python -m ember.distributed.run`
(Open MPI's mpiexec, loopback) and check its exit code; the worker asserts each result
against numpy values. The parameter-server run is checked here against the same synchronous
SGD done in numpy. Error texts follow PyTorch 2.15's, read by hand from its output (the
remote-error layout "On WorkerInfo(id=.., name=..):\\n<repr>\\n<traceback>", the timeout and
the not-initialized messages).
"""

import operator
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from mpi_launch import launch

import ember
import ember.distributed.rpc as rpc
from ember.futures import Future

HERE = Path(__file__).resolve().parent
WORKER = str(HERE / "rpc_worker.py")


def _launch(nproc, *args, timeout=120):
    return launch(WORKER, nproc, *args, timeout=timeout)


def _boom(x):
    raise KeyError(f"no key {x}")


def _same(t):
    return t


def _twice(t):
    return t * 2


def test_before_init_and_options():
    with pytest.raises(RuntimeError, match="RPC has not been initialized. Call"):
        rpc.rpc_sync("w0", operator.add, args=(1, 2))
    with pytest.raises(RuntimeError, match="RPC has not been initialized"):
        rpc.get_worker_info()
    with pytest.raises(RuntimeError, match="RPC has not been initialized"):
        rpc.shutdown()
    o = rpc.TensorPipeRpcBackendOptions()
    assert (o.num_worker_threads, o.rpc_timeout, o.init_method) == (16, 60.0, "env://")
    assert o.device_maps == {} and o.devices == []
    with pytest.raises(ValueError, match="only supports 1-to-1"):
        o.set_device_map("w1", {"cpu": "gpu", "gpu": "gpu"})
    assert repr(rpc.BackendType.TENSORPIPE) == "BackendType.TENSORPIPE"
    assert repr(rpc.WorkerInfo("w0", 0)) == "WorkerInfo(id=0, name=w0)"


def test_futures():
    f = Future()
    seen = []
    f.add_done_callback(lambda x: seen.append(x.value()))
    g = f.then(lambda x: x.value() + 1)
    assert not f.done()
    f.set_result(41)
    assert f.done() and f.wait() == 41 and g.wait() == 42 and seen == [41]
    with pytest.raises(RuntimeError, match="only be marked completed once"):
        f.set_result(1)
    h = Future()
    h.set_exception(ValueError("x"))
    with pytest.raises(ValueError, match="x"):
        h.wait()
    with pytest.raises(ValueError):  # then() passes the error on
        h.then(lambda x: x.value()).wait()
    assert ember.futures.wait_all([f, g]) == [41, 42]


def test_single_process(device):
    """world_size=1: no launcher; every call goes through the agent to this same process."""
    rpc.init_rpc("solo", rank=0, world_size=1)
    try:
        with pytest.raises(RuntimeError, match="RPC is already initialized"):
            rpc.init_rpc("solo")
        a = np.arange(4, dtype=np.float32)
        x = ember.from_numpy(a)
        got = rpc.rpc_sync("solo", ember.add, args=(x, 1.5))
        np.testing.assert_array_equal(got.numpy(), a + 1.5)
        # dtypes and layouts travel exactly: a transposed view, a strided slice, ints, bools,
        # float16, bfloat16 (numpy has none: it travels as float32), requires_grad kept
        base = np.arange(12, dtype=np.float32).reshape(3, 4)
        cases = [
            (ember.from_numpy(base).t(), base.T),
            (ember.from_numpy(base)[:, 1], base[:, 1]),
            (ember.arange(6).reshape(2, 3), np.arange(6).reshape(2, 3)),
            (ember.tensor([True, False]), np.array([True, False])),
            (ember.from_numpy(base).half(), base.astype(np.float16)),
            (ember.from_numpy(base).to(ember.bfloat16), base),
        ]
        for t, want in cases:
            got = rpc.rpc_sync("solo", _same, args=(t,))
            assert got.dtype == t.dtype and got.shape == t.shape
            np.testing.assert_array_equal(got.float().numpy(), want.astype(np.float32))
        g = rpc.rpc_sync("solo", _same, args=(ember.ones(2, requires_grad=True),))
        assert g.requires_grad and g.is_leaf
        fut = rpc.rpc_async(0, _twice, args=(x,))
        np.testing.assert_array_equal(fut.wait().numpy(), a * 2)
        r = rpc.remote(rpc.get_worker_info(), ember.mul, args=(x, 3))
        assert r.is_owner() and r.owner_name() == "solo"
        np.testing.assert_array_equal(r.to_here().numpy(), a * 3)
        assert r.rpc_sync().sum().item() == float(a.sum() * 3)
        with pytest.raises(KeyError, match=r"On WorkerInfo\(id=0, name=solo\)") as e:
            rpc.rpc_sync("solo", _boom, args=(3,))
        assert "no key 3" in str(e.value) and "in _boom" in str(e.value)
        with pytest.raises(RuntimeError, match=r"RPC ran for more than set timeout \(100 ms\)"):
            rpc.rpc_sync("solo", time.sleep, args=(0.4,), timeout=0.1)
        with pytest.raises(RuntimeError, match="could not find destination name nobody"):
            rpc.rpc_sync("nobody", operator.add, args=(1, 2))
        with pytest.raises(RuntimeError, match="could not find destination id 3"):
            rpc.rpc_async(3, operator.add, args=(1, 2))
        if device != "cpu":
            g = x.to(device)
            # PyTorch's rule for cuda: no device map, no device tensors over RPC
            with pytest.raises(RuntimeError, match="only supports CPU tensors by default"):
                rpc.rpc_sync("solo", _twice, args=(g,))
    finally:
        rpc.shutdown()
    with pytest.raises(RuntimeError, match="RPC has not been initialized"):
        rpc.get_worker_info()  # shut down
    if device != "cpu":
        opts = rpc.TensorPipeRpcBackendOptions(device_maps={"solo": {device: device}})
        rpc.init_rpc("solo", rank=0, world_size=1, rpc_backend_options=opts)
        try:
            got = rpc.rpc_sync("solo", _twice, args=(ember.from_numpy(a).to(device),))
            assert got.device.type == device
            np.testing.assert_array_equal(got.cpu().numpy(), a * 2)
        finally:
            rpc.shutdown()


def test_three_workers(device):
    rc, out, _ = _launch(3, "api", device)
    assert rc == 0, out
    for r in range(3):
        assert f"rank {r}: api ok" in out, out
    # the remote side prints the error it sends back, as PyTorch does
    assert "ValueError: rpc_worker.fail got 7" in out


def test_parameter_server(device, tmp_path):
    sys.path.insert(0, str(HERE))
    try:
        import rpc_worker
    finally:
        sys.path.remove(str(HERE))
    rc, out, _ = _launch(3, "ps", device, str(tmp_path))
    assert rc == 0, out
    got = np.load(tmp_path / "ps.npz")["w"]
    # the same synchronous SGD in numpy: the mean of both trainers' MSE gradients per step
    data = [rpc_worker.ps_data(k) for k in (1, 2)]
    w = np.zeros(4, np.float64)
    for _ in range(10):
        grads = [2 * x.T @ (x @ w - y) / len(y) for x, y in data]
        w = w - 0.1 * (grads[0] + grads[1]) / 2
    np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
    assert np.abs(w).max() > 0.5  # training moved the weights


def test_uncaught_exception_ends_the_job():
    rc, out, secs = _launch(2, "crash", timeout=90)
    assert "rank 1 fails before shutdown" in out, out
    assert rc != 0 and secs < 60, (rc, secs, out)


@rpc.functions.async_execution
def _async_double(t):
    fut = Future()
    threading.Timer(0.02, lambda: fut.set_result(t * 2)).start()
    return fut


@rpc.functions.async_execution
def _async_fail(x):
    fut = Future()
    fut.set_exception(ValueError(f"async failure {x}"))
    return fut


def test_async_execution_single_process():
    rpc.init_rpc("solo", rank=0, world_size=1)
    try:
        x = ember.tensor([1.0, -2.0])
        got = rpc.rpc_sync("solo", _async_double, args=(x,))
        np.testing.assert_array_equal(got.numpy(), [2.0, -4.0])
        r = rpc.remote("solo", _async_double, args=(x,))
        np.testing.assert_array_equal(r.to_here().numpy(), [2.0, -4.0])
        # the Future's error is the RPC's error, with the remote text
        with pytest.raises(ValueError, match=r"(?s)On WorkerInfo\(id=0, name=solo\).*async"):
            rpc.rpc_sync("solo", _async_fail, args=(3,))
    finally:
        rpc.shutdown()
