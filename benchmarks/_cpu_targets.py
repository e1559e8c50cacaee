"""Issue 13's targets measured in CPU time, for a shared machine.

    OPENBLAS_NUM_THREADS=1 python benchmarks/_cpu_targets.py

The benchmarks proper (``run.py``) time wall clock, which on a machine other
processes keep busy mostly measures waiting for a core. This script times the
same contenders with ``time.process_time`` (this process's CPU seconds), taking
turns, and prints min and median ratios. With one BLAS thread CPU time is the
work done; it is a cross-check, not a replacement for a quiet-machine run.
(A name starting with ``_``: ``run.py`` does not run it.)
"""

from __future__ import annotations

import gc
import random
import statistics
import time

import cnn_step
import core_mlp_step
import core_op_overhead
import core_scalar_mlp
import harness
import numpy as np

import autograd
from autograd import allocator

clock = time.process_time


def race(contenders: dict, turns: int, per_turn: int, warmup: int = 4) -> dict:
    """name -> (min, median) CPU seconds per call, the contenders taking turns (a
    contender that returns a float has timed itself: that is its time)."""
    for run in contenders.values():
        for _ in range(warmup):
            run()
    times: dict = {name: [] for name in contenders}
    for _ in range(turns):
        for name, run in contenders.items():
            for _ in range(per_turn):
                start = clock()
                took = run()
                times[name].append(took if isinstance(took, float) else clock() - start)
    return {name: (min(t), statistics.median(t)) for name, t in times.items()}


def report(title: str, res: dict, ours: str, theirs: str, scale: float, unit: str) -> None:
    (a_min, a_med), (b_min, b_med) = res[ours], res[theirs]
    print(f"{title}: {ours} {a_min * scale:.3g} / {a_med * scale:.3g} {unit}, {theirs} "
          f"{b_min * scale:.3g} / {b_med * scale:.3g} {unit} (min / median): "
          f"{a_min / b_min:.2f}x by min, {a_med / b_med:.2f}x by median")


def scalar() -> None:
    micrograd = harness.optional("micrograd")
    if micrograd is None:
        print("Scalar: micrograd not installed")
        return
    from micrograd import nn as mg_nn
    from micrograd.engine import Value

    xs, ys = core_scalar_mlp.moons(100)
    ours = core_scalar_mlp.MLP(2, [16, 16, 1], random.Random(core_scalar_mlp.SEED))
    random.seed(core_scalar_mlp.SEED)
    theirs = mg_nn.MLP(2, [16, 16, 1])
    step = [0]

    def ours_step() -> float:  # GC on, as it comes; earlier garbage collected untimed
        gc.collect()
        start = clock()
        core_scalar_mlp.train_step(ours, autograd.Scalar, xs, ys, step[0] % 100)
        return clock() - start

    def theirs_step() -> float:  # GC off in the step, the garbage collected untimed
        gc.collect()
        gc.disable()
        try:
            start = clock()
            core_scalar_mlp.train_step(theirs, Value, xs, ys, step[0] % 100)
            return clock() - start
        finally:
            gc.enable()

    res = race({"chaingrad": ours_step, "micrograd_gc_off": theirs_step}, 10, 2, warmup=1)
    (a_min, a_med), (b_min, b_med) = res["chaingrad"], res["micrograd_gc_off"]
    print(f"Scalar moons step (as core_scalar_mlp.py: gc.collect() untimed): chaingrad "
          f"{a_min * 1e3:.1f} / {a_med * 1e3:.1f} ms, micrograd GC off {b_min * 1e3:.1f} / "
          f"{b_med * 1e3:.1f} ms: {b_min / a_min:.2f}x as fast by min, "
          f"{b_med / a_med:.2f}x by median")


def small_ops() -> None:
    torch = harness.optional("torch")
    rng = np.random.default_rng(0)
    x0 = (0.5 * rng.standard_normal(10)).astype(np.float32)
    a0 = (0.1 * rng.standard_normal(10)).astype(np.float32)
    b0 = (0.95 + 0.1 * rng.random(10)).astype(np.float32)
    chain, n = core_op_overhead._chain, 1000
    x = autograd.tensor(x0, requires_grad=True)
    ops = core_op_overhead._tensor_ops(autograd.tensor(a0), autograd.tensor(b0))

    def eager() -> None:
        chain(ops, x, n).sum().backward()
        x.grad = None

    def step() -> object:
        x.grad = None
        loss = chain(ops, x, n).sum()
        loss.backward()
        return loss

    contenders = {"eager": eager, "compiled": autograd.compile(step),
                  "numpy_by_hand": lambda: core_op_overhead._numpy_forward_backward(
                      x0, a0, b0, n)}
    if torch is not None:
        torch.set_num_threads(2)
        tx = torch.tensor(x0, requires_grad=True)
        tops = core_op_overhead._tensor_ops(torch.tensor(a0), torch.tensor(b0))

        def torch_step() -> None:
            chain(tops, tx, n).sum().backward()
            tx.grad = None

        contenders["torch"] = torch_step
    res = race(contenders, 10, 4)
    if torch is not None:
        report("small ops, per op", res, "eager", "torch", 1e6 / n, "µs")
    report("small ops, per op", res, "compiled", "numpy_by_hand", 1e6 / n, "µs")


def phases(run: list) -> object:
    def call() -> object:
        out = None
        for k, phase in enumerate(run):
            out = phase() if k == 0 else phase(out)
        return out
    return call


def mlp() -> None:
    problem = core_mlp_step.make_problem(False)
    res = race({"numpy": core_mlp_step.numpy_step(problem)[0],
                "compiled": core_mlp_step.compiled_step(problem)[0],
                "eager": phases(core_mlp_step.chaingrad_step(problem))}, 15, 5)
    report("Tensor-op MLP step", res, "compiled", "numpy", 1e3, "ms")
    report("Tensor-op MLP step", res, "eager", "numpy", 1e3, "ms")


def cnn() -> None:
    allocator.tune_allocator()  # as cnn_step.py's run does
    problem = cnn_step._problem(False)
    res = race({"eager": phases(cnn_step.chaingrad_step(problem)),
                "compiled": cnn_step.compiled_step(problem)[0]}, 10, 3)
    report("CNN step", res, "compiled", "eager", 1e3, "ms")


if __name__ == "__main__":
    scalar()
    small_ops()
    mlp()
    cnn()
