"""Runs a worker script under `python -m ember.distributed.run` (mpiexec) for the
multi-process tests (test_distributed.py, test_rpc.py)."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def launch(worker, nproc, *args, timeout):
    """(exit code, stdout + stderr, seconds) of `worker` on `nproc` ranks."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "python") + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", str(nproc)]
    t0 = time.monotonic()
    p = subprocess.run(
        cmd + [str(worker), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0
