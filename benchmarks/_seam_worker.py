"""One timing pass for ``seam_cpu.py``, run in its own interpreter with one
revision of chaingrad first on ``sys.path``.

Only the public API that every revision since the first release has (``autograd``
tensors and ops, ``nn`` layers, ``optim.SGD``), so the same workloads time the
code before and after the backend seam. Prints one JSON line: workload -> median
seconds per step (or per op).

    python benchmarks/_seam_worker.py [--quick]
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time

import numpy as np

import autograd
import nn
import nn.functional as F
import optim

try:  # after the seam the allocator setting is opt-in (before, import applied it)
    from autograd.allocator import tune_allocator
except ImportError:
    tune_allocator = None


def median_seconds(step, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    gc.collect()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def op_overhead(quick: bool) -> tuple:
    """Forward + backward of a chain of 50 elementwise ops on 10 floats, per op."""
    x = autograd.tensor(np.linspace(-1, 1, 10, dtype=np.float32), requires_grad=True)
    ops = 50

    def step():
        y = x
        for _ in range(ops // 2):
            y = (y * 0.9 + 0.1).tanh()
        y.sum().backward()
        x.grad = None

    return step, ops


def _training_step(model, optimizer, x, y):
    """A function running one training step of ``model`` on (x, y); it returns the loss."""
    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def mlp_step(quick: bool) -> tuple:
    """784-256-256-10 MLP, batch 128, nn + optim.SGD(momentum) (tiny when quick)."""
    rng = np.random.default_rng(0)
    hidden, batch = (32, 16) if quick else (256, 128)
    autograd.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                          nn.ReLU(), nn.Linear(hidden, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = autograd.tensor(rng.standard_normal((batch, 784)).astype(np.float32))
    y = autograd.tensor(rng.integers(0, 10, batch))

    return _training_step(model, optimizer, x, y), 1


def cnn_step(quick: bool) -> tuple:
    """cnn_step's CNN on 64 images of 28x28, SGD (4 images when quick)."""
    rng = np.random.default_rng(0)
    batch = 4 if quick else 64
    autograd.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1568, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    x = autograd.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = autograd.tensor(rng.integers(0, 10, batch))

    return _training_step(model, optimizer, x, y), 1


WORKLOADS = {"op_overhead": (op_overhead, 200, 20), "mlp_step": (mlp_step, 60, 10),
             "cnn_step": (cnn_step, 20, 5)}


def main() -> None:
    quick = "--quick" in sys.argv
    if tune_allocator is not None:
        tune_allocator()
    out = {}
    for name, (make, repeats, warmup) in WORKLOADS.items():
        step, per = make(quick)
        out[name] = median_seconds(step, 3 if quick else repeats, 1 if quick else warmup) / per
    out["_where"] = autograd.__file__
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
