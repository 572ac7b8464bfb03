"""Worker for tests/test_distributed.py, started N times by `python -m ember.distributed.run`.

    dist_worker.py collectives DEVICE      every collective, checked against numpy values
    dist_worker.py ddp DEVICE OUTDIR       MLP + digits CNN, 20 DDP steps; rank 0 saves params
    dist_worker.py timeout                 rank 1 never joins: rank 0 must raise, not hang
    dist_worker.py dead                    rank 1 dies before a collective

Every check is an assert: a failure exits non-zero and the test prints this rank's output.
"""

import os
import sys
import time
from datetime import timedelta

import numpy as np

import ember
import ember.distributed as dist
import ember.nn as nn
import ember.nn.functional as F
from ember.utils.data import DataLoader, DistributedSampler, TensorDataset

DTYPES = [(ember.float32, np.float32), (ember.float64, np.float64), (ember.int64, np.int64)]


def _base(r, shape, npd):
    """The value rank r contributes: distinct per rank, exact in every dtype."""
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) % 7 + 1 + 10 * r).astype(npd)


def _t(a, device, noncontig):
    """A tensor holding a; the non-contiguous one is a transposed view of a buffer."""
    if noncontig:
        t = ember.from_numpy(np.ascontiguousarray(a.T)).to(device).t()
        assert not t.is_contiguous()
        return t
    # a copy: from_numpy shares memory (as in PyTorch), and the collectives write into t
    return ember.from_numpy(np.array(a, order="C")).to(device)


def _eq(t, a, what):
    got = t.cpu().numpy()
    assert got.shape == a.shape and got.dtype == a.dtype, (what, got.shape, got.dtype, a.shape)
    assert np.array_equal(got, a), f"{what}: got {got}, expected {a}"


def collectives(device):
    dist.init_process_group("gloo", timeout=timedelta(seconds=60))
    r, w = dist.get_rank(), dist.get_world_size()
    assert dist.is_initialized() and dist.get_backend() == "gloo"
    assert os.environ["RANK"] == str(r) and os.environ["WORLD_SIZE"] == str(w)
    assert os.environ["LOCAL_RANK"] == str(r) and os.environ["MASTER_PORT"] == "29500"
    shape = (3, 4)
    allv = np.stack([_base(i, shape, np.int64) for i in range(w)])
    # The gpu device has no float64 (WGSL has no 64-bit floats); it is checked on cpu.
    dtypes = DTYPES if device == "cpu" else [d for d in DTYPES if d[1] != np.float64]
    for edt, npd in dtypes:
        for nc in (False, True):
            tag = f"{npd.__name__} noncontig={nc}"
            mine = _base(r, shape, npd)
            every = allv.astype(npd)
            expect = {
                dist.ReduceOp.SUM: every.sum(0),
                dist.ReduceOp.MAX: every.max(0),
                dist.ReduceOp.MIN: every.min(0),
                dist.ReduceOp.PRODUCT: every.prod(0),
            }
            if npd != np.int64:
                expect[dist.ReduceOp.AVG] = every.sum(0) / npd(w)
            for op, want in expect.items():
                t = _t(mine, device, nc)
                dist.all_reduce(t, op=op)
                _eq(t, want.astype(npd), f"all_reduce {op} {tag}")
            # async_op: the tensor is updated by wait()
            t = _t(mine, device, nc)
            work = dist.all_reduce(t, async_op=True)
            assert work.wait() and work.is_completed()
            _eq(t, every.sum(0), f"async all_reduce {tag}")
            # broadcast from the last rank
            t = _t(mine, device, nc)
            dist.broadcast(t, src=w - 1)
            _eq(t, every[w - 1], f"broadcast {tag}")
            # reduce to rank 1: only the destination's tensor changes
            t = _t(mine, device, nc)
            dist.reduce(t, dst=1, op=dist.ReduceOp.MAX)
            _eq(t, every.max(0) if r == 1 else mine, f"reduce {tag}")
            # all_gather into a list (list elements non-contiguous too)
            outs = [_t(np.zeros(shape, npd), device, nc) for _ in range(w)]
            dist.all_gather(outs, _t(mine, device, nc))
            for i in range(w):
                _eq(outs[i], every[i], f"all_gather[{i}] {tag}")
            # all_gather_into_tensor: concatenated along dim 0, and stacked
            cat = ember.zeros(w * shape[0], shape[1], dtype=edt, device=device)
            dist.all_gather_into_tensor(cat, _t(mine, device, nc))
            _eq(cat, every.reshape(w * shape[0], shape[1]), f"all_gather_into_tensor {tag}")
            st = ember.zeros(w, *shape, dtype=edt, device=device)
            work = dist.all_gather_into_tensor(st, _t(mine, device, nc), async_op=True)
            work.wait()
            _eq(st, every, f"all_gather_into_tensor stacked {tag}")
            # reduce_scatter: rank i gets the sum over ranks of their i-th inputs
            ins = [_t(_base(r + i, shape, npd), device, nc) for i in range(w)]
            out = _t(np.zeros(shape, npd), device, nc)
            dist.reduce_scatter(out, ins)
            want = sum(_base(j + r, shape, np.int64) for j in range(w)).astype(npd)
            _eq(out, want, f"reduce_scatter {tag}")
            big = np.concatenate([_base(r + i, shape, npd) for i in range(w)])
            out = ember.zeros(*shape, dtype=edt, device=device)
            dist.reduce_scatter_tensor(out, _t(big, device, False))
            _eq(out, want, f"reduce_scatter_tensor {tag}")
            # gather to rank 0, scatter from rank 0
            gl = [_t(np.zeros(shape, npd), device, nc) for _ in range(w)] if r == 0 else None
            dist.gather(_t(mine, device, nc), gl, dst=0)
            if r == 0:
                for i in range(w):
                    _eq(gl[i], every[i], f"gather[{i}] {tag}")
            sl = [_t(_base(i + 5, shape, npd), device, nc) for i in range(w)] if r == 0 else None
            t = _t(np.zeros(shape, npd), device, nc)
            dist.scatter(t, sl, src=0)
            _eq(t, _base(r + 5, shape, npd), f"scatter {tag}")
            # send/recv in a ring; recv with src=None reports the sender
            t = _t(np.zeros(shape, npd), device, nc)
            nxt, prv = (r + 1) % w, (r - 1) % w
            sw = dist.isend(_t(mine, device, nc), dst=nxt, tag=3)
            assert dist.recv(t, tag=3) == prv
            sw.wait()
            _eq(t, _base(prv, shape, npd), f"send/recv {tag}")
            rw = dist.irecv(t, src=prv)
            dist.send(_t(_base(r + 9, shape, npd), device, nc), dst=nxt)
            rw.wait()
            _eq(t, _base(prv + 9, shape, npd), f"isend/irecv {tag}")
            # all_to_all_single, equal splits: slot j of rank i's input goes to rank j, slot i
            rows = np.concatenate([_base(r * w + j, (2, 3), npd) for j in range(w)])
            out = ember.zeros(2 * w, 3, dtype=edt, device=device)
            dist.all_to_all_single(out, _t(rows, device, False))
            want = np.concatenate([_base(i * w + r, (2, 3), npd) for i in range(w)])
            _eq(out, want, f"all_to_all_single {tag}")
            # uneven splits: rank i sends i + j + 1 rows to rank j
            sizes_in = [r + j + 1 for j in range(w)]
            sizes_out = [i + r + 1 for i in range(w)]
            src = np.concatenate(
                [np.full((k, 2), 100 * r + j, npd) for j, k in enumerate(sizes_in)]
            )
            out = ember.zeros(sum(sizes_out), 2, dtype=edt, device=device)
            work = dist.all_to_all_single(
                out, _t(src, device, nc), sizes_out, sizes_in, async_op=True
            )
            work.wait()
            want = np.concatenate(
                [np.full((k, 2), 100 * i + r, npd) for i, k in enumerate(sizes_out)]
            )
            _eq(out, want, f"all_to_all_single uneven {tag}")
            # all_to_all with lists of different shapes
            ins = [_t(_base(r + 3 * j, (j + 2, 2), npd), device, nc) for j in range(w)]
            outs = [ember.zeros(r + 2, 2, dtype=edt, device=device) for _ in range(w)]
            dist.all_to_all(outs, ins)
            for i in range(w):
                _eq(outs[i], _base(i + 3 * r, (r + 2, 2), npd), f"all_to_all[{i}] {tag}")
    dist.barrier()
    dist.barrier(async_op=True).wait()
    # object collectives
    objs = [None] * w
    dist.all_gather_object(objs, {"rank": r, "name": "x" * r})
    assert objs == [{"rank": i, "name": "x" * i} for i in range(w)], objs
    lst = [1, "two", {3: 4}] if r == 0 else [None, None, None]
    dist.broadcast_object_list(lst, src=0)
    assert lst == [1, "two", {3: 4}], lst
    gl = [None] * w if r == 1 else None
    dist.gather_object(r * r, gl, dst=1)
    if r == 1:
        assert gl == [i * i for i in range(w)], gl
    out = [None]
    dist.scatter_object_list(out, [f"s{i}" for i in range(w)] if r == 0 else None, src=0)
    assert out == [f"s{r}"], out
    # a sub-group of the odd ranks: ranks outside it get rank -1 and skip its collectives
    odd = dist.new_group([i for i in range(w) if i % 2 == 1])
    t = ember.full((2,), float(r), device=device)
    dist.all_reduce(t, group=odd)
    if r % 2 == 1:
        assert dist.get_rank(odd) == r // 2 and dist.get_world_size(odd) == w // 2
        _eq(t, np.full(2, float(sum(range(1, w, 2))), np.float32), "all_reduce in new_group")
        t = ember.full((2,), float(r), device=device)
        dist.broadcast(t, src=w - 1, group=odd)  # src is a global rank, as in PyTorch
        _eq(t, np.full(2, float(w - 1), np.float32), "broadcast in new_group")
    else:
        assert dist.get_rank(odd) == -1
        _eq(t, np.full(2, float(r), np.float32), "non-member unchanged")
    # errors: mismatched shapes and dtypes are reported on every rank, naming both
    try:
        dist.all_reduce(ember.zeros(r + 1, device=device))
        raise AssertionError("mismatched shapes did not raise")
    except RuntimeError as e:
        assert "all_reduce" in str(e) and "rank 0: shape (1,)" in str(e), e
        assert "rank 1: shape (2,)" in str(e), e
    try:
        dt = ember.float32 if r == 0 else ember.int64
        dist.broadcast(ember.zeros(2, dtype=dt, device=device), src=0)
        raise AssertionError("mismatched dtypes did not raise")
    except RuntimeError as e:
        assert "float32" in str(e) and "int64" in str(e), e
    try:  # rank 0 expects 2 rows from rank 1 but rank 1 sends 1 row to each rank
        x = ember.zeros(w, 2, device=device)
        o = ember.zeros(w + (1 if r == 0 else 0), 2, device=device)
        dist.all_to_all_single(o, x, [1, 2] + [1] * (w - 2) if r == 0 else None)
        raise AssertionError("mismatched all_to_all splits did not raise")
    except RuntimeError as e:
        if r == 0:
            assert "rank 1 sends 2 elements to rank 0, which expects 4" in str(e), e
        else:
            assert "all_to_all_single: split sizes disagree across ranks" in str(e), e
    try:
        dist.all_reduce(ember.zeros(2, dtype=ember.int64), op=dist.ReduceOp.AVG)
        raise AssertionError("AVG on int64 did not raise")
    except RuntimeError as e:
        assert "AVG" in str(e) and "int64" in str(e), e
    dist.destroy_process_group()
    assert not dist.is_initialized()
    print(f"rank {r}: collectives ok", flush=True)


# ----- DDP: the same steps run by tests/test_distributed.py in one process, on the full batch


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 32)
        self.fc2 = nn.Linear(32, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class CNN(nn.Module):
    """The demo's network (examples/train_digits.py)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(64 * 2 * 2, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


GLOBAL_BATCH, N_SAMPLES, STEPS = 16, 64, 20


def data(kind):
    rng = np.random.default_rng(0)
    if kind == "mlp":
        x = rng.standard_normal((N_SAMPLES, 10)).astype(np.float32)
        y = (np.abs(x[:, :3]).argmax(1)).astype(np.int64)
    else:
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.images[:N_SAMPLES] / 16.0).astype(np.float32)[:, None]
        y = d.target[:N_SAMPLES].astype(np.int64)
    return TensorDataset(ember.tensor(x), ember.tensor(y))


def kinds(device):
    # On software Vulkan (llvmpipe) the CNN runs ~2.5 s a step (50 s for 20 steps): the gpu
    # case trains the MLP (the gradients still go gpu -> host -> MPI -> gpu), the CNN runs on cpu.
    return ("mlp", "cnn") if device == "cpu" else ("mlp",)


def train(kind, device, rank, world, wrap):
    """STEPS steps; each rank sees GLOBAL_BATCH / world samples of DistributedSampler's order."""
    # Other ranks start from other weights: DDP must broadcast rank 0's.
    ember.manual_seed(0 if rank == 0 else 100 + rank)
    model = (MLP() if kind == "mlp" else CNN()).to(device)
    if wrap is not None:
        model = wrap(model)
    opt = (
        ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        if kind == "mlp"
        else ember.optim.Adam(model.parameters(), lr=1e-3)
    )
    ds = data(kind)
    sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, seed=7)
    loader = DataLoader(ds, batch_size=GLOBAL_BATCH // world, sampler=sampler)
    step, epoch = 0, 0
    while step < STEPS:
        sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            loss.backward()
            opt.step()
            step += 1
            if step == STEPS:
                break
        epoch += 1
    return model


def ddp(device, outdir):
    dist.init_process_group("nccl")
    r, w = dist.get_rank(), dist.get_world_size()
    DDP = nn.parallel.DistributedDataParallel
    for kind in kinds(device):
        model = train(kind, device, r, w, DDP)
        sd = model.state_dict()
        assert all(k.startswith("module.") for k in sd), list(sd)
        params = {k: v.cpu().numpy() for k, v in sd.items()}
        # every rank ends with the same parameters
        sums = [None] * w
        dist.all_gather_object(sums, {k: float(np.abs(v).sum()) for k, v in params.items()})
        assert all(s == sums[0] for s in sums), sums
        if r == 0:
            np.savez(os.path.join(outdir, f"{kind}.npz"), **params)
    # many small buckets (one per parameter here): launched in order while backward runs
    model = train("mlp", device, r, w, lambda m: DDP(m, bucket_cap_mb=0.0003))
    assert len(model._buckets) == 4, len(model._buckets)
    if r == 0:
        sd = model.state_dict()
        np.savez(
            os.path.join(outdir, "mlp_buckets.npz"), **{k: v.cpu().numpy() for k, v in sd.items()}
        )
    # no_sync(): two local micro-batches accumulate, the third backward averages the sum
    ember.manual_seed(0)
    model = DDP(MLP().to(device))
    ds = data("mlp")
    xs = [ds[8 * (3 * r + i) : 8 * (3 * r + i + 1)] for i in range(3)]
    with model.no_sync():
        for x, y in xs[:2]:
            F.cross_entropy(model(x.to(device)), y.to(device)).backward()
    x, y = xs[2]
    F.cross_entropy(model(x.to(device)), y.to(device)).backward()
    ref = MLP().to(device)
    ref.load_state_dict(model.module.state_dict())
    for x, y in xs:
        F.cross_entropy(ref(x.to(device)), y.to(device)).backward()
    for p, q in zip(model.module.parameters(), ref.parameters()):
        g = q.grad.clone()
        dist.all_reduce(g, op=dist.ReduceOp.AVG)
        np.testing.assert_allclose(p.grad.cpu().numpy(), g.cpu().numpy(), rtol=1e-5, atol=1e-6)
    dist.destroy_process_group()
    print(f"rank {r}: ddp ok", flush=True)


def timeout():
    dist.init_process_group("mpi", timeout=timedelta(seconds=2))
    if dist.get_rank() == 1:
        time.sleep(60)  # never joins; the abort after rank 0's error ends this process
    t0 = time.monotonic()
    try:
        dist.all_reduce(ember.ones(4))
    except dist.DistBackendError as e:
        print(f"rank 0 raised after {time.monotonic() - t0:.1f}s: {e}", flush=True)
        sys.exit(3)
    print("rank 0: all_reduce returned without its peer", flush=True)


def dead():
    dist.init_process_group("mpi", timeout=timedelta(seconds=30))
    if dist.get_rank() == 1:
        os._exit(5)
    dist.all_reduce(ember.ones(4))
    print("rank 0: all_reduce returned without its peer", flush=True)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "collectives":
        collectives(sys.argv[2])
    elif what == "ddp":
        ddp(sys.argv[2], sys.argv[3])
    elif what == "timeout":
        timeout()
    else:
        dead()
