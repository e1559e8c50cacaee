"""Data-parallel training on MPI, as ``torch.distributed`` (import as ``dist``).

    >>> import autograd
    >>> import autograd.distributed as dist
    >>> dist.init_process_group()          # under `mpirun -n 4`: rank 0..3 of 4
    >>> dist.get_rank(), dist.get_world_size()   # started alone: a world of one
    (0, 1)
    >>> t = autograd.ones(3)
    >>> dist.all_reduce(t)                  # in place: the sum over all ranks
    >>> work = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    >>> work.wait()
    True

MPI (through ``mpi4py``, the optional extra ``chaingrad[distributed]``) starts
the processes, on one machine or many (``mpirun -H host1:2,host2:2`` or a
hostfile), and moves the bytes; ``nn.parallel.DistributedDataParallel`` and
``autograd.data.DistributedSampler`` are built on this package, and
``docs/distributed.md`` says how to run it and what it costs.
"""


from .collectives import (
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
)
from .group import ProcessGroup, ReduceOp

__all__ = [
    "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor",
    "all_gather_object", "all_reduce", "barrier", "broadcast", "broadcast_object_list",
    "destroy_process_group", "get_backend", "get_rank", "get_world_size",
    "init_process_group", "is_available", "is_initialized",
]
