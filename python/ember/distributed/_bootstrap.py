"""Child side of `python -m ember.distributed.run`: one per MPI process, started by mpiexec.

It turns the MPI launcher's rank variables into torchrun's environment (RANK, LOCAL_RANK,
WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT), so scripts that read them
before init_process_group work unchanged, then runs the user's script or module as __main__.
Usage (built by run.py): python -m ember.distributed._bootstrap ADDR PORT NODE_RANK(unused)
    (-m MODULE | SCRIPT) ARGS...
"""

import os
import runpy
import sys


def _first(*names):
    for n in names:
        v = os.environ.get(n)
        if v not in (None, ""):
            return int(v)
    raise RuntimeError(
        "ember.distributed._bootstrap: no MPI rank variables (OMPI_COMM_WORLD_RANK / PMIX_RANK / "
        "PMI_RANK); it must be started by mpiexec, normally through ember.distributed.run"
    )


def main(argv):
    addr, port, rest = argv[0], argv[1], argv[3:]
    env = os.environ
    env["RANK"] = str(_first("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"))
    env["WORLD_SIZE"] = str(_first("OMPI_COMM_WORLD_SIZE", "PMI_SIZE"))
    env["LOCAL_RANK"] = str(_first("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "RANK"))
    env["LOCAL_WORLD_SIZE"] = str(_first("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"))
    # One mpiexec starts every node's processes, so the node index comes from the rank.
    env["GROUP_RANK"] = str(int(env["RANK"]) // int(env["LOCAL_WORLD_SIZE"]))
    env["MASTER_ADDR"], env["MASTER_PORT"] = addr, port
    if rest[0] == "-m":
        sys.argv = [rest[1]] + rest[2:]
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = rest
        # Like `python script.py`: the script's folder comes first on sys.path.
        sys.path.insert(0, os.path.dirname(os.path.abspath(rest[0])))
        runpy.run_path(rest[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
