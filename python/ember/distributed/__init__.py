"""ember.distributed: PyTorch's torch.distributed on MPI (through mpi4py).

Processes are started by `python -m ember.distributed.run --nproc-per-node N script.py` (it runs
MPI's `mpiexec` for you and sets torchrun's RANK / LOCAL_RANK / WORLD_SIZE / MASTER_ADDR /
MASTER_PORT) or directly by `mpirun -n N python script.py`. The backend names "gloo" and "nccl"
are accepted for scripts written for PyTorch; they run on MPI, ember's one engine.
"""

from . import rpc  # noqa: F401
from ._collectives import (  # noqa: F401
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    all_to_all,
    all_to_all_single,
    barrier,
    broadcast,
    broadcast_object_list,
    gather,
    gather_object,
    irecv,
    isend,
    recv,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    scatter_object_list,
    send,
)
from ._state import (  # noqa: F401
    Backend,
    DistBackendError,
    DistError,
    DistNetworkError,
    GroupMember,
    ProcessGroup,
    ReduceOp,
    Work,
    default_pg_timeout,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    is_torchelastic_launched,
    new_group,
)

group = GroupMember
