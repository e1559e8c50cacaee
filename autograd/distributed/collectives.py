"""The default process group and the collectives, as ``torch.distributed``'s.

Every collective works in place on a Tensor's array and hands that array to MPI
as it is (no copy) when it is C-contiguous, as arrays made by ops and layers are;
a strided view is reduced through a contiguous copy that is written back. With
``async_op=True`` it returns a :class:`Work` at once and the result is there
after ``work.wait()``; otherwise it returns None when the result is there.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import mark_modified
from ..tensor import Tensor
from .group import (
    MPIGroup,
    ProcessGroup,
    ReduceOp,
    SingleProcessGroup,
    abort_on_uncaught,
    import_mpi,
    launched_size,
)

_NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to "
                    "call init_process_group.")
# what MPI reduces: integers and the float types it has (no float16, no bool)
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _World:
    group: ProcessGroup | None = None


_world = _World()


class Work:
    """The handle of a collective started with ``async_op=True``.

    ``wait()`` blocks until the result is in the tensor(s); ``is_completed()``
    asks without blocking (and lets MPI move the operation along: Open MPI
    advances non-blocking collectives only while the process is inside an MPI
    call).
    """

    __slots__ = ("_request", "_finish", "_done", "_buffers")

    def __init__(self, request: Any, finish: Callable[[], None] | None,
                 buffers: tuple) -> None:
        self._request = request
        self._finish = finish
        self._done = False
        self._buffers = buffers  # the arrays MPI reads and writes, alive until done

    def wait(self) -> bool:
        """Block until the operation is complete; returns True. (No timeout: MPI
        cannot cancel a collective; a rank that died ends the job instead.)"""
        if not self._done:
            self._request.Wait()
            self._complete()
        return True

    def is_completed(self) -> bool:
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def _complete(self) -> None:
        self._done = True
        self._buffers = ()
        if self._finish is not None:
            self._finish()

    def __repr__(self) -> str:
        return f"<Work {'completed' if self._done else 'in flight'}>"


# --------------------------------------------------------------------------- the group


def is_available() -> bool:
    """Whether groups of more than one process can be made (mpi4py is installed).

    A world of one process needs nothing and is always available.
    """
    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    return _world.group is not None


def init_process_group(backend: str | None = None, *, world_size: int = -1,
                       rank: int = -1) -> None:
    """Make the default process group.

    In a process started by ``mpirun -n N`` (or another MPI launcher) the group
    is MPI's world of N processes; started on its own, the process is a world of
    size 1 and needs no MPI. ``world_size`` and ``rank``, if given, are checked
    against what the launcher says. Once there are several ranks, an uncaught
    exception in any of them aborts the whole job (``MPI_Abort``) instead of
    leaving the others waiting forever.
    """
    if _world.group is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if backend not in (None, "mpi"):
        raise ValueError(
            f"init_process_group: chaingrad's collectives run on MPI, backend='mpi'; got "
            f"backend={backend!r}"
        )
    size = launched_size()
    if size is None and world_size not in (-1, 1):
        raise ValueError(
            f"init_process_group: world_size={world_size} asked for, but this process was "
            f"not started by an MPI launcher; run it as `mpirun -n {world_size} python ...` "
            "(or `chaingrad train --nproc N`)"
        )
    if size is None or (size == 1 and not is_available()):
        group: ProcessGroup = SingleProcessGroup()
    else:
        group = MPIGroup(import_mpi(size))
    for name, asked, actual in (("world_size", world_size, group.size()),
                                ("rank", rank, group.rank())):
        if asked != -1 and asked != actual:
            group.close()
            raise ValueError(
                f"init_process_group: {name}={asked} asked for, but the MPI launcher made "
                f"this process {name} {actual}"
            )
    if isinstance(group, MPIGroup) and group.size() > 1:
        sys.excepthook = abort_on_uncaught(group)
    _world.group = group


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Forget the default group (MPI itself stays up until the process exits)."""
    current = _default(group)
    if current is _world.group:
        hook = sys.excepthook
        if getattr(hook, "previous", None) is not None:
            sys.excepthook = hook.previous
        _world.group = None
    current.close()


def _default(group: ProcessGroup | None) -> ProcessGroup:
    if group is not None:
        return group
    if _world.group is None:
        raise ValueError(_NOT_INITIALIZED)
    return _world.group


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's number in the group, 0 to ``get_world_size() - 1``."""
    return _default(group).rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    return _default(group).size()


def get_backend(group: ProcessGroup | None = None) -> str:
    return _default(group).backend


# --------------------------------------------------------------------------- collectives


def _array(op: str, tensor: Any, name: str = "tensor") -> np.ndarray:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(tensor).__name__}")
    array = tensor.data
    if type(array) is not np.ndarray:
        raise TypeError(f"{op}: MPI collectives take CPU (numpy) tensors, got "
                        f"{type(array).__module__}.{type(array).__name__}")
    if array.dtype.kind not in "iu" and array.dtype not in _FLOATS:
        raise TypeError(f"{op}: MPI cannot reduce or move dtype {array.dtype} (use float32, "
                        "float64 or an integer dtype)")
    if not array.flags.writeable:
        raise ValueError(f"{op}: {name} of shape {array.shape} is a read-only view (e.g. "
                         "made by expand); clone it first")
    return array


def _start(array: np.ndarray, launch: Callable[[np.ndarray, bool], Any],
           after: Callable[[np.ndarray], None] | None, async_op: bool) -> Work | None:
    """Run ``launch(buf, block)`` on ``array`` (or on a contiguous copy written back
    after), then ``after``: a :class:`Work` if ``async_op``, else done here (with
    MPI's blocking call)."""
    buf = array if array.flags.c_contiguous else np.ascontiguousarray(array)

    def finish() -> None:
        if after is not None:
            after(buf)
        if buf is not array:
            array[...] = buf
        mark_modified(array)

    if not async_op:
        launch(buf, True)
        finish()
        return None
    return Work(launch(buf, False), finish, (buf, array))


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM,
               group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Combine ``tensor`` across all ranks with ``op``; every rank gets the result,
    in place. ``ReduceOp.AVG`` sums, then divides by the world size."""
    g = _default(group)
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a ReduceOp (SUM, AVG, PRODUCT, MIN, MAX), "
                        f"got {op!r}")
    array = _array("all_reduce", tensor)
    after = None
    if op is ReduceOp.AVG:
        if array.dtype.kind != "f":
            raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating-point tensor, got "
                            f"dtype {array.dtype}")
        size = g.size()

        def after(buf: np.ndarray) -> None:
            buf /= size

    return _start(array, lambda buf, block: g.allreduce(buf, op, block), after, async_op)


def _check_root(op: str, src: int, g: ProcessGroup) -> int:
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not (
            0 <= src < g.size()):
        raise RuntimeError(f"{op}: invalid root rank {src!r} (ranks are 0 to {g.size() - 1})")
    return int(src)


def broadcast(tensor: Tensor, src: int, group: ProcessGroup | None = None,
              async_op: bool = False) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank, in place."""
    g = _default(group)
    root = _check_root("broadcast", src, g)
    array = _array("broadcast", tensor)
    return _start(array, lambda buf, block: g.broadcast(buf, root, block), None, async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor,
                           group: ProcessGroup | None = None,
                           async_op: bool = False) -> Work | None:
    """Rank r's ``input_tensor`` lands in the r-th block of ``output_tensor``: its
    shape is ``(world_size * n, ...)`` (concatenated) or ``(world_size, n, ...)``
    (stacked) for an input of shape ``(n, ...)``. Neither side is copied."""
    g = _default(group)
    send = _array("all_gather_into_tensor", input_tensor, "input_tensor")
    out = _array("all_gather_into_tensor", output_tensor, "output_tensor")
    size = g.size()
    if out.dtype != send.dtype or out.size != size * send.size:
        raise ValueError(
            f"all_gather_into_tensor: output_tensor must hold world_size ({size}) blocks "
            f"of the input's shape {send.shape} and dtype {send.dtype}; got shape "
            f"{out.shape} and dtype {out.dtype}")
    send = send if send.flags.c_contiguous else np.ascontiguousarray(send)
    return _start(out, lambda buf, block: g.allgather(send, buf, block), None, async_op)


def all_gather(tensor_list: list, tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Fill ``tensor_list[r]`` (in place) with rank r's ``tensor``, on every rank.

    MPI gathers into one contiguous block, copied into the list's tensors at the
    end; :func:`all_gather_into_tensor` avoids that copy.
    """
    g = _default(group)
    send = _array("all_gather", tensor)
    if not isinstance(tensor_list, list) or len(tensor_list) != g.size():
        got = len(tensor_list) if isinstance(tensor_list, list) else type(tensor_list).__name__
        raise ValueError(f"all_gather: tensor_list must be a list of world_size ({g.size()}) "
                         f"tensors, got {got}")
    outs = [_array("all_gather", t, f"tensor_list[{i}]") for i, t in enumerate(tensor_list)]
    for i, out in enumerate(outs):
        if out.shape != send.shape or out.dtype != send.dtype:
            raise ValueError(f"all_gather: tensor_list[{i}] has shape {out.shape} and dtype "
                             f"{out.dtype}; it must match tensor's {send.shape}, {send.dtype}")
    recv = np.empty((g.size(), *send.shape), send.dtype)
    send = send if send.flags.c_contiguous else np.ascontiguousarray(send)

    def scatter_to_list(buf: np.ndarray) -> None:
        for out, part in zip(outs, buf):
            out[...] = part
            mark_modified(out)

    return _start(recv, lambda buf, block: g.allgather(send, buf, block), scatter_to_list, async_op)


def barrier(group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Wait until every rank has called ``barrier``."""
    g = _default(group)
    work = Work(g.barrier(block=not async_op), None, ())
    if async_op:
        return work
    work.wait()
    return None


def all_gather_object(object_list: list, obj: Any, group: ProcessGroup | None = None) -> None:
    """Fill ``object_list`` (of world-size length) with every rank's picklable ``obj``."""
    g = _default(group)
    if not isinstance(object_list, list) or len(object_list) != g.size():
        raise ValueError(f"all_gather_object: object_list must be a list of world_size "
                         f"({g.size()}) entries")
    object_list[:] = g.allgather_object(obj)


def broadcast_object_list(object_list: list, src: int = 0,
                          group: ProcessGroup | None = None) -> None:
    """Replace ``object_list``'s entries, on every rank, with rank ``src``'s."""
    g = _default(group)
    root = _check_root("broadcast_object_list", src, g)
    if not isinstance(object_list, list):
        raise TypeError(f"broadcast_object_list: object_list must be a list, got "
                        f"{type(object_list).__name__}")
    received = g.broadcast_object(list(object_list), root)
    if len(received) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {root} sent {len(received)} objects, "
                         f"this rank's list holds {len(object_list)}")
    object_list[:] = received
