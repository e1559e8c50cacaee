"""Process groups: who takes part in a collective, and the MPI calls behind it.

Two kinds, one interface: :class:`MPIGroup` runs on ``mpi4py`` when the process
was started by an MPI launcher (``mpirun``, ``mpiexec``, ``srun``), and
:class:`SingleProcessGroup` is the world of one process started on its own,
which needs no MPI at all. Both hand out *requests* (``Test()``, ``Wait()``, as
mpi4py's) so the collectives above them are written once.

MPI is the engine here: it finds the other processes (one machine or many,
from ``mpirun -H`` or a hostfile) and picks the algorithm and the transport
(shared memory, TCP, InfiniBand) for every message. Importing this module
imports no MPI; ``mpi4py.MPI`` (which initialises MPI) is imported only when a
group of more than one process is made.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable
from typing import Any

#: Environment variables by which MPI launchers tell a process it is one of many
#: (Open MPI, MPICH/Intel MPI's Hydra and PMI, PMIx as srun or prterun use it,
#: MVAPICH). The size ones say how many; PMIX_RANK alone says "launched".
_LAUNCHER_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
_LAUNCHER_VARS = (*_LAUNCHER_SIZE_VARS, "PMIX_RANK", "PMI_RANK")

INSTALL_HINT = 'pip install "chaingrad[distributed]" (mpi4py) and Open MPI\'s mpirun'


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' values, as ``torch.distributed.ReduceOp``."""

    SUM = "sum"
    AVG = "avg"  # SUM, then divided by the world size (MPI has no average)
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"

    def __repr__(self) -> str:
        return f"<ReduceOp.{self.name}>"


def launched_size() -> int | None:
    """The world size an MPI launcher announced to this process (``0`` when it
    says "launched" without a size), or None when no launcher started it."""
    for var in _LAUNCHER_SIZE_VARS:
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value)
    return 0 if any(var in os.environ for var in _LAUNCHER_VARS) else None


class _Done:
    """The request of an operation that finished when it was started."""

    __slots__ = ()

    def Test(self) -> bool:
        return True

    def Wait(self) -> None:
        return None


DONE = _Done()


class ProcessGroup:
    """The processes a collective runs over: ``rank()`` of ``size()``.

    Subclasses implement the primitives on contiguous numpy arrays, each
    returning a request with ``Test()`` and ``Wait()``: with ``block=True`` the
    operation is complete on return (MPI's blocking call, whose tuned algorithms
    beat the non-blocking ones 2-3x on large messages with Open MPI 4), else it
    runs in the background. :mod:`.collectives` checks arguments and builds the
    public functions on them.
    """

    backend = "mpi"

    def rank(self) -> int:
        raise NotImplementedError

    def size(self) -> int:
        raise NotImplementedError

    def allreduce(self, buf: Any, op: ReduceOp, block: bool = False) -> Any:
        raise NotImplementedError

    def broadcast(self, buf: Any, root: int, block: bool = False) -> Any:
        raise NotImplementedError

    def allgather(self, send: Any, recv: Any, block: bool = False) -> Any:
        raise NotImplementedError

    def barrier(self, block: bool = False) -> Any:
        raise NotImplementedError

    def allgather_object(self, obj: Any) -> list:
        raise NotImplementedError

    def broadcast_object(self, obj: Any, root: int) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the group holds (``destroy_process_group``)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} rank {self.rank()} of {self.size()}>"


class SingleProcessGroup(ProcessGroup):
    """A world of one: every collective is already complete (no MPI needed)."""

    def rank(self) -> int:
        return 0

    def size(self) -> int:
        return 1

    def allreduce(self, buf: Any, op: ReduceOp, block: bool = False) -> Any:
        return DONE  # the sum, min, max or product of one value is that value

    def broadcast(self, buf: Any, root: int, block: bool = False) -> Any:
        return DONE

    def allgather(self, send: Any, recv: Any, block: bool = False) -> Any:
        recv.reshape(send.shape)[...] = send
        return DONE

    def barrier(self, block: bool = False) -> Any:
        return DONE

    def allgather_object(self, obj: Any) -> list:
        return [obj]

    def broadcast_object(self, obj: Any, root: int) -> Any:
        return obj


def import_mpi(size: int | None) -> Any:
    """``mpi4py.MPI`` (importing it initialises MPI), or an ImportError that says
    what to install."""
    try:
        from mpi4py import MPI
    except ImportError as err:
        many = "one of several processes" if not size else f"one of {size} processes"
        raise ImportError(
            f"autograd.distributed: this process was started by an MPI launcher as {many}, "
            f"but mpi4py cannot be imported ({err}); {INSTALL_HINT}"
        ) from err
    return MPI


class MPIGroup(ProcessGroup):
    """The processes of an MPI communicator (by default a duplicate of
    ``COMM_WORLD``, so our messages never mix with the user's own MPI calls)."""

    def __init__(self, MPI: Any, comm: Any = None) -> None:
        self.MPI = MPI
        self.comm = (comm if comm is not None else MPI.COMM_WORLD).Dup()
        self._rank, self._size = self.comm.Get_rank(), self.comm.Get_size()
        self._ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
                     ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def allreduce(self, buf: Any, op: ReduceOp, block: bool = False) -> Any:
        if block:
            self.comm.Allreduce(self.MPI.IN_PLACE, buf, self._ops[op])
            return DONE
        return self.comm.Iallreduce(self.MPI.IN_PLACE, buf, self._ops[op])

    def broadcast(self, buf: Any, root: int, block: bool = False) -> Any:
        if block:
            self.comm.Bcast(buf, root)
            return DONE
        return self.comm.Ibcast(buf, root)

    def allgather(self, send: Any, recv: Any, block: bool = False) -> Any:
        if block:
            self.comm.Allgather(send, recv)
            return DONE
        return self.comm.Iallgather(send, recv)

    def barrier(self, block: bool = False) -> Any:
        if block:
            self.comm.Barrier()
            return DONE
        return self.comm.Ibarrier()

    def allgather_object(self, obj: Any) -> list:
        return self.comm.allgather(obj)

    def broadcast_object(self, obj: Any, root: int) -> Any:
        return self.comm.bcast(obj, root)

    def abort(self, code: int = 1) -> None:
        """End every process of the job now (``MPI_Abort``)."""
        self.MPI.COMM_WORLD.Abort(code)

    def close(self) -> None:
        if self.comm is not None and not self.MPI.Is_finalized():
            self.comm.Free()
        self.comm = None


def abort_on_uncaught(group: MPIGroup) -> Callable:
    """A ``sys.excepthook`` that reports the exception, then aborts the MPI job.

    Without it, a rank that dies of an exception runs mpi4py's ``MPI_Finalize``
    at exit, which waits for the other ranks, which wait in a collective for the
    dead one: the job hangs. ``MPI_Abort`` makes ``mpirun`` end every rank and
    exit non-zero instead (what ``python -m mpi4py script.py`` does too).
    """
    previous = sys.excepthook

    def hook(kind: type, value: BaseException, tb: Any) -> None:
        try:
            print(f"[rank {group.rank()} of {group.size()}] uncaught {kind.__name__}: ending "
                  "the job", file=sys.stderr)
            previous(kind, value, tb)
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            group.abort(1)

    hook.previous = previous  # type: ignore[attr-defined]
    return hook
