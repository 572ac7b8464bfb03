"""Parent side of the fuzzer: runs batches of call specs in a child process (worker.py) so
that an abort, a signal or a hang kills only the child. The worker announces each call
before running it, so the call that was running when the child died is known; the batch
then goes on in a fresh child after it. `isolate()` bisects the calls before a crash down
to the shortest run that still crashes (usually the crashing call alone): the minimal
reproducer.
"""

import json
import os
import resource
import select
import subprocess
import sys
import tempfile
import time

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
# Address-space cap for the child: huge-size calls must fail to allocate at once instead
# of being overcommitted and touching the shared machine's memory.
MEM_LIMIT_GB = 8


def _limit(gb):
    def f():
        os.setsid()
        if gb:
            lim = int(gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    return f


def _child_env(lib):
    env = dict(os.environ)
    env["RUST_BACKTRACE"] = "0"
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("RAYON_NUM_THREADS", "2")
    if lib == "torch":
        env.pop("PYTHONPATH", None)  # never let PyTorch's interpreter see ember, or vice versa
    return env


def run_once(jobs, lib, python, device, call_timeout, mem_gb, worker=WORKER):
    """Run [(index, spec)] in one child; returns ({index: result}, index_running_or_None,
    how_it_ended). Stops at the first crash or hang."""
    results = {}
    err = tempfile.TemporaryFile()
    mem = None if (device != "cpu") else mem_gb  # the GPU driver maps large address ranges
    p = subprocess.Popen(
        [python, worker, lib, device],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
        env=_child_env(lib),
        preexec_fn=_limit(mem),
    )
    p.stdin.write(json.dumps(jobs).encode())
    p.stdin.close()
    running, buf = None, b""
    deadline = time.monotonic() + call_timeout + 30  # the import counts against the first call
    ended = None
    fd = p.stdout.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.killpg(p.pid, 9)
            p.wait()
            ended = "hang"
            break
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            rc = p.wait()
            if running is not None or rc != 0:
                ended = f"signal {-rc}" if rc < 0 else f"exit {rc}"
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            rec = json.loads(line)
            if "start" in rec:
                running = rec["start"]
                deadline = time.monotonic() + call_timeout
            else:
                results[rec.pop("i")] = rec
                running = None
    err.seek(0)
    tail = err.read().decode(errors="replace")[-2000:]
    err.close()
    return results, running, ended, tail


def run_batch(
    specs,
    lib="ember",
    python=sys.executable,
    device="cpu",
    batch=150,
    call_timeout=60,
    mem_gb=MEM_LIMIT_GB,
    indices=None,
    worker=WORKER,
):
    """Results for every spec: {"status": ok|raised|panic|crashed|hang, ...}. `worker` is the
    child script (worker.py, or gradworker.py for the gradient mode)."""
    indices = list(range(len(specs))) if indices is None else indices
    out = {}
    todo = [(i, specs[i]) for i in indices]
    while todo:
        chunk, todo = todo[:batch], todo[batch:]
        while chunk:
            res, running, ended, tail = run_once(
                chunk, lib, python, device, call_timeout, mem_gb, worker
            )
            out.update(res)
            if ended is None:
                break
            if running is None:  # died between calls, or while importing
                pending = [i for i, _ in chunk if i not in out]
                if not pending:
                    break
                running = pending[0]
            status = "hang" if ended == "hang" else "crashed"
            pos = [i for i, _ in chunk].index(running)
            out[running] = {
                "status": status,
                "how": ended,
                "stderr": _last_lines(tail),
                "before": [i for i, _ in chunk[:pos]],
            }
            chunk = chunk[pos + 1 :]
    return out


def _last_lines(text, n=4):
    # Warnings from earlier calls and their source lines are noise next to the fatal message.
    lines = [
        ln
        for ln in text.splitlines()
        if ln.strip()
        and "XDG_RUNTIME_DIR" not in ln
        and "Warning" not in ln
        and not ln.startswith(" ")
        and "RUST_BACKTRACE" not in ln
    ]
    return "\n".join(lines[-n:])


def isolate(
    specs, index, before, lib="ember", python=sys.executable, device="cpu", call_timeout=60
):
    """The shortest run of calls ending in `index` that still crashes: bisects over the
    calls in `before` (those that ran before it in the same child). Returns the list of
    indices, or None when the crash does not reproduce."""

    def crashes(prefix):
        jobs = [(i, specs[i]) for i in prefix + [index]]
        res, running, ended, _ = run_once(jobs, lib, python, device, call_timeout, MEM_LIMIT_GB)
        return ended is not None and running == index

    if crashes([]):
        return [index]
    if not crashes(before):
        return None
    lo, hi = 0, len(before)  # before[lo:] crashes; find the largest such lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if crashes(before[mid:]):
            lo = mid
        else:
            hi = mid
    return before[lo:] + [index]
