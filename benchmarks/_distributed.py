"""The distributed benchmarks' two sides: :func:`job` (run by ``dist_*.py``) starts a
task on N ranks, and the tasks below are what each rank runs.

    python benchmarks/_distributed.py TASK '{"option": 1}'             # one rank
    mpirun -n 2 python benchmarks/_distributed.py TASK '{"option": 1}' # two

Every rank runs with one BLAS thread and the glibc allocator setting of
``autograd.allocator`` (as ``chaingrad train``). Rank 0 prints the task's result as one JSON
line (the other ranks send it theirs first).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ONE_THREAD = dict.fromkeys(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"), "1")


def job(n: int, task: str, options: dict, timeout: float = 1800) -> dict:
    """Run ``task`` on ``n`` ranks (``n == 1``: one process, no mpirun); rank 0's result."""
    from autograd.distributed.launch import mpirun_command

    cmd = [sys.executable, str(HERE / "_distributed.py"), task, json.dumps(options)]
    if n > 1:
        cmd = mpirun_command(n, cmd)
    path = os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                          cwd=HERE.parent, env={**os.environ, **ONE_THREAD, "PYTHONPATH": path})
    if proc.returncode != 0:
        raise RuntimeError(f"{task} on {n} ranks failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def digest(params: list) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(p.data).tobytes()
                                   for p in params)).hexdigest()


def _gather(value: object) -> list:
    import autograd.distributed as dist

    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, value)
    return everyone


# --------------------------------------------------------------------------- all-reduce


def _torch_group(rank: int, size: int) -> object:
    """torch.distributed on gloo over TCP, the same ranks (or None without torch)."""
    try:
        import torch
        import torch.distributed as tdist
    except ImportError:
        return None
    import autograd.distributed as dist

    port = [None]
    if rank == 0:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port[0] = s.getsockname()[1]
    dist.broadcast_object_list(port, src=0)
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port[0]}", rank=rank,
                             world_size=size)
    return torch


def allreduce(options: dict) -> dict:
    """Seconds per blocking all-reduce (SUM, float32) of each size: chaingrad's
    ``dist.all_reduce`` on a Tensor, mpi4py's ``Allreduce`` on a numpy array (the
    floor), torch's gloo backend; the contenders take turns (in rotating order), a
    barrier before each call, and a call's time is the slowest rank's."""
    from mpi4py import MPI

    import autograd
    import autograd.distributed as dist

    dist.init_process_group()
    rank, size = dist.get_rank(), dist.get_world_size()
    comm = MPI.COMM_WORLD
    torch = _torch_group(rank, size)
    results, checks = {}, {}
    for nbytes in options["sizes"]:
        n = nbytes // 4
        ours, raw = autograd.zeros(n), np.zeros(n, np.float32)
        calls = {"chaingrad": (ours.data, lambda t=ours: dist.all_reduce(t)),
                 "mpi4py": (raw, lambda a=raw: comm.Allreduce(MPI.IN_PLACE, a))}
        if torch is not None:
            theirs = torch.zeros(n)
            calls["torch gloo"] = (theirs.numpy(),
                                   lambda t=theirs: torch.distributed.all_reduce(t))
        times: dict = {name: [] for name in calls}
        names = list(calls)
        for rep in range(options["warmup"] + options["reps"]):
            # each contender follows each other in turn: gloo's threads (or anyone's)
            # still busy after their call would otherwise always slow the same one
            k = rep % len(names)
            for name in names[k:] + names[:k]:
                array, call = calls[name]
                array[...] = rank + 1
                comm.Barrier()
                start = time.perf_counter()
                call()
                elapsed = time.perf_counter() - start
                if rep >= options["warmup"]:
                    times[name].append(elapsed)
                if rep == 0:
                    checks[f"{name} sums {nbytes} B"] = bool(
                        np.all(array == size * (size + 1) / 2))
        everyone = _gather(times)
        results[nbytes] = {name: [max(r[name][i] for r in everyone)
                                  for i in range(options["reps"])] for name in calls}
    if torch is not None:
        torch.distributed.destroy_process_group()
    all_checks = _gather(checks)
    return {"size": size, "times": results,
            "checks": {k: all(c[k] for c in all_checks) for k in checks}}


# --------------------------------------------------------------------------- CNN step


def cnn(options: dict) -> dict:
    """Steps of cnn_step.py's CNN (SGD) on this rank's own batch; DDP on several ranks."""
    import autograd
    import autograd.distributed as dist
    import nn
    import nn.functional as F
    import optim

    dist.init_process_group()
    rank, size = dist.get_rank(), dist.get_world_size()
    autograd.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1568, 10),
    )
    net = nn.parallel.DistributedDataParallel(model) if size > 1 else model
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(rank)
    batch = options["batch"]
    x = autograd.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    labels = autograd.tensor(rng.integers(0, 10, batch))
    steps, waits, losses = [], [], []
    for i in range(options["warmup"] + options["steps"]):
        start = time.perf_counter()
        loss = F.cross_entropy(net(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i >= options["warmup"]:
            steps.append(time.perf_counter() - start)
            waits.append(net.last_stats.wait_s if size > 1 else 0.0)
        losses.append(float(loss.item()))
    everyone = _gather({"steps": steps, "waits": waits, "digest": digest(model.parameters())})
    return {"size": size, "batch": batch, "first_loss": losses[0],
            "steps": [max(r["steps"][i] for r in everyone) for i in range(len(steps))],
            "waits": [statistics.mean(r["waits"][i] for r in everyone)
                      for i in range(len(steps))],
            "same_on_every_rank": len({r["digest"] for r in everyone}) == 1}


# --------------------------------------------------------------------------- digits MLP


def mlp(options: dict) -> dict:
    """``chaingrad train``'s default step (digits MLP 64-128-10, Adam, cross-entropy)
    as the train command runs it on this many ranks: per step, its time and the time
    DDP waited for communication that backward did not hide."""
    import autograd
    import nn
    import optim
    from autograd.cli import data_parallel
    from autograd.cli.train import build_model
    from autograd.data import DataLoader, datasets

    class Args:  # what data_parallel.setup reads and writes
        nproc, no_progress = 1, True

    world = data_parallel.setup(Args())
    autograd.manual_seed(0)
    train_set = datasets.digits(train=True)
    loader = DataLoader(train_set, batch_size=options["batch"] * world.size, shuffle=True,
                        seed=0, drop_last=True)
    model = build_model("mlp", 128, train_set.tensors[0])
    net = world.wrap(model)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    steps, waits, backwards = [], [], []
    total = options["warmup"] + options["steps"]
    while len(steps) < total:
        for batch in loader:
            start = time.perf_counter()
            x, y = world.share(batch)
            loss = loss_fn(net(x), y)
            optimizer.zero_grad()
            before_backward = time.perf_counter()
            world.backward(loss)
            after_backward = time.perf_counter()
            optimizer.step()
            steps.append(time.perf_counter() - start)
            backwards.append(after_backward - before_backward)
            waits.append(net.last_stats.wait_s if world.size > 1 else 0.0)
            if len(steps) == total:
                break
    cut = options["warmup"]
    mine = {"steps": steps[cut:], "waits": waits[cut:], "backwards": backwards[cut:],
            "digest": digest(model.parameters())}
    everyone = _gather(mine) if world.size > 1 else [mine]
    return {"size": world.size, "batch": options["batch"], "ranks": everyone,
            "same_on_every_rank": len({r["digest"] for r in everyone}) == 1}


def main() -> None:
    from autograd.allocator import tune_unless_disabled

    tune_unless_disabled()  # in every rank, as chaingrad train and the other benchmarks do
    task, options = sys.argv[1], json.loads(sys.argv[2])
    result = {"allreduce": allreduce, "cnn": cnn, "mlp": mlp}[task](options)
    import autograd.distributed as dist

    if not dist.is_initialized() or dist.get_rank() == 0:
        sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
