"""``DistributedDataParallel``: one model replica per rank, gradients averaged
across ranks while backward is still running (``torch.nn.parallel``'s DDP, on
MPI).

How it works, as PyTorch's does:

1. When wrapped, rank 0's parameters and buffers are broadcast, so every rank
   starts from the same model.
2. The parameters that need gradients are grouped into *buckets* (flat arrays
   of one dtype, at most ``bucket_cap_mb``; the first one 1 MB so that
   communication starts early), in reverse registration order: the last layers'
   gradients are complete first in backward.
3. Each parameter gets a post-accumulate-grad hook. When the engine has summed
   its gradient into ``.grad``, the hook copies it (divided by the world size)
   into its bucket; when a bucket is full, its non-blocking all-reduce starts,
   while backward goes on computing earlier layers' gradients. (The last bucket
   has nothing left to overlap with: it uses MPI's blocking all-reduce, which
   is faster.)
4. The first hook of a backward pass queues an end-of-backward callback
   (``autograd.engine.queue_callback``); there the all-reduces are waited for,
   and every ``.grad`` becomes the average over all ranks.

Buckets are all-reduced in index order on every rank (a bucket that fills early
waits for the ones before it), so all ranks issue the same collectives in the
same order, whatever order the hooks fire in.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import weakref
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

import autograd.distributed as dist
from autograd import backend
from autograd.distributed import ReduceOp
from autograd.distributed.collectives import _default
from autograd.engine import is_grad_enabled, queue_callback
from autograd.function import constant
from autograd.tensor import Tensor

from ..module import Module

MB = 1 << 20
FIRST_BUCKET_BYTES = 1 * MB  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES


class Bucket:
    """Parameters whose gradients are all-reduced together, in one flat array."""

    __slots__ = ("params", "names", "offsets", "buffer", "ready", "pending", "work",
                 "launched_at")

    def __init__(self, params: list, names: list) -> None:
        self.params, self.names = params, names
        sizes = [p.data.size for p in params]
        self.offsets = [0, *np.cumsum(sizes).tolist()]
        self.buffer = backend.zeros(self.offsets[-1], params[0].data.dtype)  # host: MPI sends it
        self.ready = [False] * len(params)
        self.pending = len(params)
        self.work = None  # the all-reduce's request while it is in flight
        self.launched_at = 0.0

    def slot(self, i: int) -> np.ndarray:
        """Parameter ``i``'s region of the flat array."""
        return self.buffer[self.offsets[i]:self.offsets[i + 1]]

    def reset(self) -> None:
        self.ready = [False] * len(self.params)
        self.pending = len(self.params)
        self.work = None


def assign_buckets(named_params: list, first_cap: int, cap: int) -> list:
    """Group ``(name, param)`` pairs, taken in reverse registration order, into
    :class:`Bucket` s of one dtype each, closed once they hold ``cap`` bytes
    (``first_cap`` for the first one closed)."""
    open_buckets: dict = {}  # dtype -> (params, names, [bytes])
    closed: list = []
    for name, p in reversed(named_params):
        params, names, size = open_buckets.setdefault(p.data.dtype, ([], [], [0]))
        params.append(p)
        names.append(name)
        size[0] += p.data.nbytes
        if size[0] >= (cap if closed else first_cap):
            closed.append((params, names))
            del open_buckets[p.data.dtype]
    closed += [(params, names) for params, names, _ in open_buckets.values()]
    return [Bucket(params, names) for params, names in closed]


class BackwardStats(NamedTuple):
    """What the last synchronised backward pass did (``ddp.last_stats``).

    ``bucket_bytes``: the buckets' sizes, in the order they were all-reduced;
    ``launch_offsets_s``: when each bucket's all-reduce started, in seconds before
    (negative) or after the end of backward's last rule; ``wait_s``: how long this
    rank waited for communication that backward did not hide (the last bucket's
    all-reduce, which is blocking, and the wait for the others at the end),
    including any wait for a slower rank.
    """

    bucket_bytes: tuple
    launch_offsets_s: tuple
    wait_s: float


class _ParamReady:
    """The post-accumulate-grad hook of one parameter."""

    __slots__ = ("reducer", "bucket", "i", "index")

    def __init__(self, reducer: Reducer, bucket: Bucket, i: int, index: int) -> None:
        self.reducer, self.bucket, self.i, self.index = reducer, bucket, i, index

    def __call__(self, param: Tensor) -> None:
        if self.reducer.expect_hooks:
            self.reducer.mark_ready(self.bucket, self.i, self.index, param)


class Reducer:
    """The buckets of one DDP model and the state of the backward pass in flight."""

    def __init__(self, group: Any, named_params: list, bucket_cap_bytes: int,
                 find_unused_parameters: bool) -> None:
        self.group = group
        self.size = group.size()
        self.find_unused = find_unused_parameters
        self.buckets = assign_buckets(named_params, min(FIRST_BUCKET_BYTES, bucket_cap_bytes),
                                      bucket_cap_bytes)
        self.index = {id(p): k for k, (_, p) in enumerate(named_params)}
        self.used = backend.zeros(len(named_params), np.int32)  # for find_unused_parameters
        self.handles = [
            p.register_post_accumulate_grad_hook(_ParamReady(self, b, i, self.index[id(p)]))
            for b in self.buckets for i, p in enumerate(b.params)]
        self.expect_hooks = False  # set by DDP's forward (outside no_sync)
        self.callback_queued = False
        self.next_launch = 0
        self.blocked_s = 0.0  # in the last bucket's (blocking) all-reduce
        self.last_stats: BackwardStats | None = None

    # ---------------------------------------------------------------- during backward
    def mark_ready(self, bucket: Bucket, i: int, index: int, param: Tensor) -> None:
        if not self.callback_queued:
            queue_callback(self.finish)
            self.callback_queued = True
        grad = param.grad.data
        if grad.dtype != bucket.buffer.dtype:
            raise RuntimeError(
                f"DistributedDataParallel: parameter '{bucket.names[i]}' has a gradient of "
                f"dtype {grad.dtype} but was wrapped as {bucket.buffer.dtype} (convert the "
                "model before wrapping it)")
        # pre-divided, as PyTorch does: the sum over the ranks is then the average
        np.divide(grad.reshape(-1), self.size, out=bucket.slot(i))
        bucket.ready[i] = True
        self.used[index] = 1
        bucket.pending -= 1
        if bucket.pending == 0:
            self.launch_ready()
        elif self.next_launch > 0:
            self.progress()

    def launch_ready(self) -> None:
        """Start the all-reduce of every complete bucket, in index order."""
        buckets = self.buckets
        while self.next_launch < len(buckets) and buckets[self.next_launch].pending == 0:
            bucket = buckets[self.next_launch]
            bucket.launched_at = time.perf_counter()
            # the last bucket is last on every rank: nothing is left to overlap with, and
            # MPI's blocking all-reduce is faster (the ranks must match blocking with
            # blocking, which this rule, the same everywhere, guarantees)
            last = self.next_launch == len(buckets) - 1
            bucket.work = self.group.allreduce(bucket.buffer, ReduceOp.SUM, block=last)
            if last:
                self.blocked_s = time.perf_counter() - bucket.launched_at
            self.next_launch += 1

    def progress(self) -> None:
        """Let MPI move the all-reduces in flight along: Open MPI advances
        non-blocking collectives only inside MPI calls, and a test is cheap."""
        for bucket in self.buckets[:self.next_launch]:
            if bucket.work is not None:
                if not bucket.work.Test():
                    return
                bucket.work = None

    # ---------------------------------------------------------------- at the end
    def finish(self) -> None:
        """End of backward: launch what is left, wait, hand out averaged grads."""
        end = time.perf_counter()
        try:
            unready = [(b, i) for b in self.buckets for i, ok in enumerate(b.ready) if not ok]
            if unready and not self.find_unused:
                raise RuntimeError(self._unused_message(unready))
            for bucket, i in unready:  # find_unused_parameters: a zero contribution
                grad = bucket.params[i].grad
                bucket.slot(i)[...] = 0 if grad is None else grad.data.reshape(-1) / self.size
                bucket.pending -= 1
            self.launch_ready()
            for bucket in self.buckets:
                if bucket.work is not None:
                    bucket.work.Wait()
            waited = time.perf_counter() - end + self.blocked_s
            if self.find_unused:  # every rank, every time: the collectives must match
                self.group.allreduce(self.used, ReduceOp.MAX, block=True)
            for bucket in self.buckets:
                self._hand_out(bucket)
            self.last_stats = BackwardStats(
                tuple(b.buffer.nbytes for b in self.buckets),
                tuple(b.launched_at - end for b in self.buckets), waited)
        finally:
            self.reset()

    def reset(self) -> None:
        """Forget the backward pass in flight (done, or broken off by an error)."""
        for bucket in self.buckets:
            bucket.reset()
        self.used[:] = 0
        self.next_launch = 0
        self.blocked_s = 0.0
        self.callback_queued = False
        self.expect_hooks = False

    def _hand_out(self, bucket: Bucket) -> None:
        """Every parameter's ``.grad`` becomes its average: a view of a fresh copy
        of the bucket (one allocation; nothing else holds it)."""
        averaged = bucket.buffer.copy()
        for i, p in enumerate(bucket.params):
            if self.find_unused and not self.used[self.index[id(p)]]:
                continue  # no rank used it: its .grad stays as it was, as in PyTorch
            region = averaged[bucket.offsets[i]:bucket.offsets[i + 1]]
            p.grad = constant(region.reshape(p.data.shape))

    def _unused_message(self, unready: list) -> str:
        names = ", ".join(f"'{b.names[i]}'" for b, i in unready)
        return (
            f"DistributedDataParallel: on rank {self.group.rank()}, these parameters got no "
            f"gradient in this backward pass: {names}. Every parameter must take part in "
            "computing the loss, or the ranks would wait for a gradient that never comes; "
            "make sure all forward outputs are used in the loss, or pass "
            "find_unused_parameters=True to DistributedDataParallel (PyTorch's advice)."
        )


def _remove_hooks(handles: list) -> None:
    for handle in handles:
        handle.remove()


class DistributedDataParallel(Module):
    """Train ``module`` data-parallel over the ranks of the process group.

    Each rank runs forward and backward on its own batch; after ``backward()``
    every parameter's ``.grad`` is the average over all ranks, so the same
    optimizer step on each rank keeps the replicas identical. Wrap after moving
    the model to its dtype and before making the optimizer (on
    ``ddp.parameters()``, the module's own). ``init_process_group()`` comes first;
    started without ``mpirun`` it is a world of one, where this changes nothing.

    ``broadcast_buffers``: copy rank 0's buffers (e.g. BatchNorm statistics) to
    every rank at each forward. ``bucket_cap_mb``: the size of a gradient bucket.
    ``find_unused_parameters``: allow parameters that get no gradient in some
    backward passes (they count as zero); without it, such a parameter is an
    error that names it. ``no_sync()`` skips the averaging for gradient
    accumulation.
    """

    def __init__(self, module: Module, broadcast_buffers: bool = True,
                 process_group: Any = None, bucket_cap_mb: float = 25.0,
                 find_unused_parameters: bool = False) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module, got "
                            f"{type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb!r}")
        self.module = module
        self.process_group = _default(process_group)
        self.broadcast_buffers = broadcast_buffers
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self._check_same_model_everywhere()
        self._broadcast([*module.parameters(), *module.buffers()])
        self._reducer = Reducer(self.process_group, named, int(bucket_cap_mb * MB),
                                find_unused_parameters)
        # the hooks stay on the parameters (which may outlive this wrapper): take them off
        weakref.finalize(self, _remove_hooks, self._reducer.handles)

    @property
    def last_stats(self) -> BackwardStats | None:
        """:class:`BackwardStats` of the last synchronised backward pass."""
        return self._reducer.last_stats

    @property
    def bucket_names(self) -> list:
        """The parameter names in each bucket, in all-reduce order."""
        return [list(b.names) for b in self._reducer.buckets]

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers and self.process_group.size() > 1:
            self._broadcast(list(self.module.buffers()))
        if self._reducer.callback_queued:  # the last backward raised before its end
            self._reducer.reset()
        if is_grad_enabled():
            # as PyTorch: whether this forward's backward averages is decided here
            self._reducer.expect_hooks = self.require_backward_grad_sync
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes of forwards run inside only accumulate local gradients;
        the first synchronised backward after it averages the accumulated sum."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _check_same_model_everywhere(self) -> None:
        mine = [(name, tuple(t.shape), str(t.dtype)) for name, t in
                [*self.module.named_parameters(), *self.module.named_buffers()]]
        everyone = [None] * self.process_group.size()
        dist.all_gather_object(everyone, mine, group=self.process_group)
        for rank, theirs in enumerate(everyone):
            if theirs != everyone[0]:
                diff = next((a, b) for a, b in itertools.zip_longest(everyone[0], theirs)
                            if a != b)
                raise ValueError(
                    f"DistributedDataParallel: rank {rank}'s model differs from rank 0's: "
                    f"{diff[0]} on rank 0, {diff[1]} on rank {rank} ((name, shape, dtype); "
                    "None: missing)")

    def _broadcast(self, tensors: list) -> None:
        """Overwrite ``tensors`` with rank 0's values, one message per dtype."""
        if self.process_group.size() == 1 or not tensors:
            return
        by_dtype: dict = {}
        for t in tensors:
            by_dtype.setdefault(t.data.dtype, []).append(t)
        for group in by_dtype.values():
            flat = np.concatenate([t.data.reshape(-1) for t in group])
            self.process_group.broadcast(flat, 0, block=True)
            start = 0
            for t in group:
                t.data[...] = flat[start:start + t.data.size].reshape(t.data.shape)
                start += t.data.size
