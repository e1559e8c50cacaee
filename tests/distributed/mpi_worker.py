"""What each rank runs under ``mpirun`` for test_mpi.py.

    mpirun -n N python mpi_worker.py SCENARIO OUT_DIR

Each rank writes ``OUT_DIR/rank<r>.json``: a dict of named checks, each
``{"ok": bool, "detail": ...}``, plus raw values the test compares across ranks.
Scenarios: ``collectives`` (with the train command's ``World`` helpers), ``train``
(DDP against one process), ``fail`` (rank 1 raises mid-training) and ``unused`` (a
parameter that gets no gradient).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

import autograd
import autograd.distributed as dist
import nn
import nn.functional as F
import optim
from autograd.cli.data_parallel import World
from autograd.data import DistributedSampler
from nn.parallel import DistributedDataParallel as DDP

checks: dict = {}


def check(name: str, ok: bool, detail: object = None) -> None:
    checks[name] = {"ok": bool(ok), "detail": detail}


def max_diff(a: list, b: list) -> float:
    return max(float(np.abs(np.asarray(x) - np.asarray(y)).max()) for x, y in zip(a, b))


# --------------------------------------------------------------------------- collectives


def collectives(rank: int, size: int) -> None:
    ranks = np.arange(size)
    for dtype in (np.float64, np.float32, np.int64):
        base = np.arange(5).astype(dtype)
        expect = {
            dist.ReduceOp.SUM: sum(base + r for r in ranks),
            dist.ReduceOp.MAX: base + size - 1,
            dist.ReduceOp.MIN: base,
            dist.ReduceOp.PRODUCT: np.prod([base + r for r in ranks], axis=0),
        }
        if dtype != np.int64:
            expect[dist.ReduceOp.AVG] = sum(base + r for r in ranks) / size
        for op, want in expect.items():
            t = autograd.tensor(base + rank, dtype=dtype)
            array = t.data
            dist.all_reduce(t, op=op)
            check(f"all_reduce {op.name} {np.dtype(dtype).name}",
                  np.allclose(t.data, want) and t.data is array and t.dtype == dtype,
                  t.data.tolist())
    works, tensors = [], []
    for k in range(3):  # several in flight at once, waited in reverse order
        tensors.append(autograd.full((1000,), float(rank + k), dtype=autograd.float64))
        works.append(dist.all_reduce(tensors[-1], async_op=True))
    for work in reversed(works):
        work.wait()
    check("async all_reduce, three in flight",
          all(np.all(t.data == sum(r + k for r in ranks)) for k, t in enumerate(tensors))
          and all(w.is_completed() for w in works))
    strided = autograd.tensor(np.arange(12.0).reshape(3, 4) * (rank + 1)).T
    dist.all_reduce(strided)
    check("all_reduce of a strided view",
          np.array_equal(strided.data, np.arange(12.0).reshape(3, 4).T * sum(ranks + 1)))
    src = size - 1
    t = autograd.full((2, 3), float(rank), dtype=autograd.float32)
    dist.broadcast(t, src=src)
    check("broadcast from the last rank", np.all(t.data == src), t.data.tolist())
    parts = [autograd.zeros(2, dtype=autograd.int64) for _ in range(size)]
    dist.all_gather(parts, autograd.tensor([rank, 10 * rank]))
    check("all_gather", [p.data.tolist() for p in parts] == [[r, 10 * r] for r in ranks])
    out = autograd.zeros(size * 2, 3, dtype=autograd.float64)
    dist.all_gather_into_tensor(out, autograd.full((2, 3), float(rank), dtype=autograd.float64))
    check("all_gather_into_tensor", np.array_equal(out.data[:, 0], np.repeat(ranks, 2)))
    objects = [None] * size
    dist.all_gather_object(objects, {"rank": rank})
    check("all_gather_object", objects == [{"rank": r} for r in ranks])
    shared = [rank, "x"]
    dist.broadcast_object_list(shared, src=src)
    check("broadcast_object_list", shared == [src, "x"])
    sampler = DistributedSampler(range(10), shuffle=True, seed=1)
    shares = [None] * size
    dist.all_gather_object(shares, list(sampler))
    together = [i for s in shares for i in s]
    check("DistributedSampler over the group's ranks",
          sampler.num_replicas == size and sampler.rank == rank
          and set(together) == set(range(10)) and len(together) == len(shares[0]) * size,
          shares)
    dist.barrier()
    world_helpers(rank, size)


def world_helpers(rank: int, size: int) -> None:
    """The train command's per-step agreement and per-rank dropout masks."""
    world = World(rank, size)
    n = 2 * size + 1  # uneven: rank r gets rows [r n / size, (r + 1) n / size)
    world.share((autograd.arange(n),))
    rows = [(r + 1) * n // size - r * n // size for r in range(size)]
    loss, stop = world.step_outcome(float(rank + 1), stop=rank == size - 1)
    want = sum(k * (r + 1) for r, k in enumerate(rows)) / n
    check("World.step_outcome: the global batch's mean loss, stop if any rank stops",
          abs(loss - want) <= 1e-12 and stop is True, [loss, want, stop])
    _, stop = world.step_outcome(1.0)
    check("World.step_outcome: no rank stops", stop is False)

    def mask() -> list:
        return F.dropout(autograd.ones(256), 0.5).data.nonzero()[0].tolist()

    autograd.manual_seed(7)
    alone = mask()
    autograd.manual_seed(7)
    world.own_randomness(7, step=0)
    masks = [None] * size
    dist.all_gather_object(masks, mask())
    world.own_randomness(7, step=5)  # e.g. resumed at step 5: not step 0's masks again
    later = mask()
    check("World.own_randomness: a dropout mask of its own on every rank",
          len({tuple(m) for m in masks}) == size and masks[0] == alone
          and (rank == 0 or later != masks[rank]), masks)


# --------------------------------------------------------------------------- training


def small_cnn(seed: int, dtype=np.float64) -> nn.Module:
    autograd.manual_seed(seed)
    return nn.Sequential(
        nn.Unflatten(1, (1, 6, 6)), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(36, 16), nn.Tanh(), nn.Linear(16, 3),
    ).to(dtype)


def batch(step: int, n: int, dtype=np.float64) -> tuple:
    """The global batch of a step: the same on every rank."""
    rng = np.random.default_rng(1000 + step)
    return rng.standard_normal((n, 36)).astype(dtype), rng.integers(0, 3, n)


def rows(array: np.ndarray, rank: int, b: int) -> autograd.Tensor:
    return autograd.tensor(array[rank * b:(rank + 1) * b])


def matches_one_process(rank: int, size: int, b: int = 3, steps: int = 20) -> None:
    """N ranks with batch b against one process with batch N*b, float64."""
    ddp = DDP(small_cnn(seed=rank), bucket_cap_mb=0.0005)  # rank 0's weights win
    alone = small_cnn(seed=0)
    check("buckets", len(ddp.bucket_names) > 1, ddp.bucket_names)
    opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    opt_alone = optim.SGD(alone.parameters(), lr=0.1, momentum=0.9)
    for step in range(steps):
        x, y = batch(step, size * b)
        loss = F.cross_entropy(ddp(rows(x, rank, b)), rows(y, rank, b))
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_alone = F.cross_entropy(alone(autograd.tensor(x)), autograd.tensor(y))
        opt_alone.zero_grad()
        loss_alone.backward()
        opt_alone.step()
    diff = max_diff([p.data for p in ddp.parameters()], [p.data for p in alone.parameters()])
    moved = max_diff([p.data for p in alone.parameters()],
                     [p.data for p in small_cnn(seed=0).parameters()])
    check(f"{size} ranks x batch {b} == 1 process x batch {size * b}, {steps} SGD steps",
          diff <= 1e-12 and moved > 1e-3, {"max_abs_diff": diff, "moved": moved})


def identical_on_every_rank(rank: int, size: int, steps: int = 100) -> str:
    """float32, Adam, each rank its own data: the parameters' bytes after training."""
    ddp = DDP(small_cnn(seed=rank, dtype=np.float32), bucket_cap_mb=0.0005)
    opt = optim.Adam(ddp.parameters(), lr=1e-2)
    first = np.concatenate([p.data.ravel() for p in ddp.parameters()]).copy()
    for step in range(steps):
        x, y = batch(step * size + rank, 4, np.float32)  # different data on every rank
        loss = F.cross_entropy(ddp(autograd.tensor(x)), autograd.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    final = np.concatenate([p.data.ravel() for p in ddp.parameters()])
    check("parameters moved in 100 steps", np.abs(final - first).max() > 1e-2)
    return hashlib.sha256(final.tobytes()).hexdigest()


def no_sync_accumulation(rank: int, size: int, b: int = 2, k: int = 3) -> None:
    """k micro-batches per rank (k-1 inside no_sync) == one batch of N*k*b."""
    ddp = DDP(small_cnn(seed=0), bucket_cap_mb=0.0005)
    alone = small_cnn(seed=0)
    x, y = batch(77, size * k * b)
    mine = np.arange(size * k * b).reshape(k, size, b)[:, rank]  # micro-batch i: rows mine[i]
    for i in range(k):
        context = ddp.no_sync() if i < k - 1 else _nothing()
        with context:
            (F.cross_entropy(ddp(autograd.tensor(x[mine[i]])),
                             autograd.tensor(y[mine[i]])) / k).backward()
        if i == 0:  # nothing was exchanged: the gradient is this rank's own
            local = small_cnn(seed=0)
            (F.cross_entropy(local(autograd.tensor(x[mine[0]])),
                             autograd.tensor(y[mine[0]])) / k).backward()
            check("no_sync keeps the local gradient",
                  max_diff([p.grad.data for p in ddp.parameters()],
                           [p.grad.data for p in local.parameters()]) == 0)
    F.cross_entropy(alone(autograd.tensor(x)), autograd.tensor(y)).backward()
    diff = max_diff([p.grad.data for p in ddp.parameters()],
                    [p.grad.data for p in alone.parameters()])
    check(f"no_sync over {k} micro-batches == one batch of {size * k * b}", diff <= 1e-12,
          {"max_abs_diff": diff})


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def overlap(rank: int, size: int) -> None:
    """Buckets start their all-reduce while backward still has rules to run."""
    autograd.manual_seed(0)
    layers = [nn.Linear(128, 128) for _ in range(6)]
    model = nn.Sequential(*[m for layer in layers for m in (layer, nn.Tanh())])
    seen = []
    # registered before DDP's own hook: runs when the first layer's weight (the last
    # gradient backward computes) is in, before DDP has launched its bucket
    layers[0].weight.register_post_accumulate_grad_hook(
        lambda p: seen.append(ddp._reducer.next_launch))
    ddp = DDP(model, bucket_cap_mb=0.05)  # 64 kB of weight each: one layer per bucket
    x = autograd.randn(64, 128)
    offsets = []
    for _ in range(3):
        ddp(x).sum().backward()
        offsets.append(ddp.last_stats.launch_offsets_s)
    buckets = len(ddp.bucket_names)
    check("a bucket per layer", buckets == 6, ddp.bucket_names)
    check("all but the last bucket launched before the first layer's gradient was in",
          seen == [buckets - 1] * 3, seen)
    check("the first bucket's all-reduce starts before backward ends",
          all(o[0] < 0 for o in offsets), offsets)
    checks["launch_offsets_s"] = offsets


def unused_parameters(rank: int, size: int) -> None:
    """find_unused_parameters=True: rank 0 alone uses one branch, no rank the other."""

    class Branches(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.never = nn.Linear(4, 2), nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x, use_b):
            out = self.a(x).sum()
            return out + self.b(x).sum() if use_b else out

    def data(r):
        return autograd.tensor(np.random.default_rng(r).standard_normal((3, 4)))

    autograd.manual_seed(0)
    ddp = DDP(Branches().double(), find_unused_parameters=True)
    ddp(data(rank), rank == 0).backward()
    autograd.manual_seed(0)
    ref = Branches().double()
    for r in range(size):  # the average of every rank's gradient, computed here
        (ref(data(r), r == 0) / size).backward()
    diff = max_diff([ddp.module.a.weight.grad.data, ddp.module.b.weight.grad.data],
                    [ref.a.weight.grad.data, ref.b.weight.grad.data])
    check("find_unused_parameters: unused on some ranks counts as zero", diff <= 1e-12,
          {"max_abs_diff": diff})
    check("find_unused_parameters: unused everywhere keeps grad None",
          ddp.module.never.weight.grad is None)


def train(rank: int, size: int) -> dict:
    matches_one_process(rank, size)
    digest = identical_on_every_rank(rank, size)
    no_sync_accumulation(rank, size)
    overlap(rank, size)
    unused_parameters(rank, size)
    return {"digest": digest}


# --------------------------------------------------------------------------- failures


def fail(rank: int, size: int) -> None:
    ddp = DDP(small_cnn(seed=0))
    for step in range(1000):
        if rank == 1 and step == 3:
            print(f"raising at {time.time()}", flush=True)
            raise ValueError("rank 1 fails at step 3")
        x, y = batch(step, 4)
        F.cross_entropy(ddp(autograd.tensor(x)), autograd.tensor(y)).backward()
    time.sleep(60)  # not reached: rank 0 is stuck waiting for rank 1's gradients


def unused(rank: int, size: int) -> None:
    class Spare(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.spare = nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.used(x)

    ddp = DDP(Spare())
    ddp(autograd.randn(3, 4)).sum().backward()


def main() -> None:
    scenario, out = sys.argv[1], Path(sys.argv[2])
    dist.init_process_group()
    rank, size = dist.get_rank(), dist.get_world_size()
    extra = {"collectives": collectives, "train": train, "fail": fail,
             "unused": unused}[scenario](rank, size) or {}
    (out / f"rank{rank}.json").write_text(json.dumps(
        {"rank": rank, "size": size, "checks": checks, **extra}, default=str))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
