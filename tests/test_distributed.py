"""ember.distributed on MPI: collectives on 2 and 4 processes, DDP == one process, errors.

The multi-process cases start tests/dist_worker.py through `python -m ember.distributed.run`
(which runs Open MPI's mpiexec) on this machine (loopback) and check its exit code; the
worker asserts each collective's result against numpy values. DistributedSampler is checked
in-process against index lists computed by hand from PyTorch's algorithm.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mpi_launch import launch

import ember
from ember.utils.data import DistributedSampler

pytest.importorskip("mpi4py")

HERE = Path(__file__).resolve().parent
WORKER = str(HERE / "dist_worker.py")
ROOT = HERE.parent


def _launch(nproc, *args, timeout=240):
    return launch(WORKER, nproc, *args, timeout=timeout)


@pytest.mark.parametrize("nproc", [2, 4])
def test_collectives(device, nproc):
    rc, out, _ = _launch(nproc, "collectives", device)
    assert rc == 0, out
    for r in range(nproc):
        assert f"rank {r}: collectives ok" in out, out


def test_ddp_matches_one_process_full_batch(device, tmp_path):
    """MLP and the demo CNN (cpu), 20 steps: 2 processes x 8 samples == 1 process x 16."""
    pytest.importorskip("sklearn")
    rc, out, _ = _launch(2, "ddp", device, str(tmp_path))
    assert rc == 0, out
    sys.path.insert(0, str(HERE))
    try:
        import dist_worker
    finally:
        sys.path.remove(str(HERE))
    for kind in dist_worker.kinds(device) + ("mlp_buckets",):
        ref = dist_worker.train(kind.split("_")[0], device, 0, 1, None)
        got = np.load(tmp_path / f"{kind}.npz")
        sd = ref.state_dict()
        assert sorted(got.files) == sorted("module." + k for k in sd)
        for k, v in sd.items():
            want = v.cpu().numpy()
            # The two runs differ only in float32 summation order.
            np.testing.assert_allclose(got["module." + k], want, rtol=2e-4, atol=2e-5, err_msg=k)
        # and training moved the weights (a no-op run would also "match" the init)
        ember.manual_seed(0)
        init = (dist_worker.CNN() if kind == "cnn" else dist_worker.MLP()).state_dict()
        moved = np.abs(init["fc2.weight"].numpy() - got["module.fc2.weight"]).max()
        assert moved > 1e-3, moved


def test_timeout_raises_instead_of_hanging():
    rc, out, secs = _launch(2, "timeout", timeout=120)
    assert "rank 0 raised after" in out and "timed out after 2 s" in out, out
    assert rc != 0 and secs < 60, (rc, secs, out)


def test_dead_rank_ends_the_job():
    rc, out, secs = _launch(2, "dead", timeout=120)
    assert rc != 0 and secs < 60, (rc, secs, out)
    assert "all_reduce returned without its peer" not in out, out


def test_init_without_launcher_names_the_launcher():
    # A torchrun-style WORLD_SIZE=2 in a process that MPI did not start must not hang.
    code = (
        "import ember.distributed as d\n"
        "try:\n"
        "    d.init_process_group('gloo', init_method='env://')\n"
        "except RuntimeError as e:\n"
        "    print('ERR', e)\n"
    )
    env = dict(os.environ, RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT="29511")
    env["PYTHONPATH"] = str(ROOT / "python")
    p = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert "ERR init_process_group: world_size is 2" in p.stdout, p.stdout + p.stderr
    assert "ember.distributed.run --nproc-per-node 2" in p.stdout


def test_backend_names_and_uninitialized_errors():
    import ember.distributed as dist

    assert dist.is_available() and not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="unknown backend 'ucc'"):
        dist.init_process_group("ucc")
    assert dist.Backend("GLOO") == "gloo"
    assert dist.ReduceOp.SUM == dist.ReduceOp.RedOpType.SUM


# ----- DistributedSampler: expected index lists worked out by hand from PyTorch's rules (and
# confirmed by hand with PyTorch 2.15's DistributedSampler, whose output these lists are)


def test_distributed_sampler_padding_and_drop_last():
    ds = list(range(10))
    # no shuffle, 3 replicas: 10 -> padded to 12 with indices 0, 1
    got = [list(DistributedSampler(ds, 3, r, shuffle=False)) for r in range(3)]
    assert got == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    assert len(DistributedSampler(ds, 3, 0, shuffle=False)) == 4
    # drop_last: ceil((10 - 3) / 3) = 3 samples each, the tail (index 9) is dropped
    got = [list(DistributedSampler(ds, 3, r, shuffle=False, drop_last=True)) for r in range(3)]
    assert got == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    # more padding than data: 2 items on 5 replicas repeat the list
    got = [list(DistributedSampler([0, 1], 5, r, shuffle=False)) for r in range(5)]
    assert got == [[0], [1], [0], [1], [0]]
    with pytest.raises(ValueError, match="Invalid rank 3"):
        DistributedSampler(ds, 3, 3)


def test_distributed_sampler_shuffle_partitions_each_epoch():
    ds = list(range(20))
    samplers = [DistributedSampler(ds, 4, r, shuffle=True, seed=3) for r in range(4)]
    e0 = [list(s) for s in samplers]
    assert sorted(sum(e0, [])) == ds  # disjoint shares covering the dataset
    assert e0 == [list(s) for s in samplers]  # same epoch, same order
    for s in samplers:
        s.set_epoch(1)
    e1 = [list(s) for s in samplers]
    assert sorted(sum(e1, [])) == ds and e1 != e0
    # the order is randperm(n) from a generator seeded with seed + epoch
    g = ember.Generator()
    g.manual_seed(3 + 1)
    perm = ember.randperm(20, generator=g).tolist()
    assert e1[2] == perm[2::4]


def test_launcher_two_nodes_rendezvous_on_loopback(tmp_path):
    """--nnodes 2: node 1 registers with node 0 at MASTER_ADDR:MASTER_PORT, node 0 runs one
    mpiexec over both hosts, and both launchers exit with the job's code. (Both "nodes" are
    127.0.0.1 here, so Open MPI places all 4 ranks on one host.)"""
    script = tmp_path / "job.py"
    script.write_text(
        "import os, ember, ember.distributed as d\n"
        "d.init_process_group('gloo')\n"
        "t = ember.ones(2) * (d.get_rank() + 1)\n"
        "d.all_reduce(t)\n"
        "print('rank', d.get_rank(), 'of', d.get_world_size(), t.tolist(), flush=True)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    common = [sys.executable, "-m", "ember.distributed.run", "--nnodes", "2",
              "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", "29613"]  # fmt: skip
    node1 = subprocess.Popen(
        common + ["--node-rank", "1", str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    p0 = subprocess.run(
        common + ["--node-rank", "0", str(script)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert node1.wait(timeout=60) == 0 and p0.returncode == 0, p0.stdout + p0.stderr
    for r in range(4):
        assert f"rank {r} of 4 [10.0, 10.0]" in p0.stdout, p0.stdout


def test_example_train_ddp(tmp_path):
    pytest.importorskip("sklearn")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2",
           str(ROOT / "examples" / "train_ddp.py"), "--epochs", "4", "--out", str(tmp_path)]  # fmt: skip
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 processes, 1347 training images, 674 per process" in p.stdout
    acc = float(p.stdout.split("test accuracy ")[1].split("%")[0])
    assert acc > 90, p.stdout
    sd = ember.load(tmp_path / "digits_cnn_ddp.pt")
    assert sorted(sd) == sorted(["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                 "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])  # fmt: skip


def test_launcher_rejects_what_mpi_cannot_do():
    from ember.distributed import run

    for argv, msg in [
        (["--max-restarts", "2", "x.py"], "--max-restarts is not supported"),
        (["--nnodes", "1:4", "x.py"], "elastic --nnodes 1:4 is not supported"),
        (["--nproc-per-node", "0", "x.py"], "--nproc-per-node must be >= 1, got 0"),
        (["--nnodes", "2", "--node-rank", "2", "x.py"], "--node-rank 2 is not in [0, 2)"),
    ]:
        with pytest.raises(SystemExit, match=msg.replace("[", r"\[").replace(")", r"\)")):
            run.main(argv)
