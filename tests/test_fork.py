"""Kernels must not hang in a fork()ed child (DataLoader workers): the rayon
pool's threads do not exist there, so ember runs single-threaded instead."""

import multiprocessing as mp
import sys

import numpy as np
import pytest

import ember


def _child(q):
    a = ember.randn(300, 300)
    b = ember.randn(300, 300)
    big = ember.randn(1 << 18)
    r = (
        float((a @ b).sum().item())
        + float(big.exp().sum().item())
        + float(big.softmax(0).sum().item())
    )
    q.put(r)


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX only")
def test_parallel_kernels_after_fork_do_not_hang():
    # Warm the thread pool in the parent first.
    x = ember.randn(512, 512)
    (x @ x).sum().item()
    ember.randn(1 << 18).exp().sum().item()
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    p.join(60)
    alive = p.is_alive()
    if alive:
        p.kill()
    assert not alive, "a kernel hung in a forked child"
    assert p.exitcode == 0
    assert np.isfinite(q.get(timeout=5))
