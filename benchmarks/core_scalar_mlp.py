"""micrograd's demo loop on Scalars: MLP(2, 16, 16, 1) on 100 moons-like points.

Each step builds the whole graph from scratch, one Scalar per number (about
65,000 nodes), so the time is per-node cost: creating a value and its node in
forward, one derivative rule per node in backward. The loop is the one in
micrograd's ``demo.ipynb``: max-margin loss ``relu(1 - y·score)`` averaged, plus
L2 regularisation ``1e-4 Σ p²``, then SGD with ``lr = 1 - 0.9 k / 100``.

Both models start from the same weights (the same ``random.uniform(-1, 1)``
draws in the same order as micrograd's ``MLP``), so their losses must agree.
Both are timed with the GC on (as they come) and with ``gc.disable()`` around
each step. The contenders take turns step by step, and an untimed
``gc.collect()`` before every step clears the cyclic garbage micrograd's
closures leave, so no step pays for another's garbage (this flatters
micrograd's "GC on" number a little: its garbage is never collected on the clock).
"""

from __future__ import annotations

import gc
import random
import time

import harness
import numpy as np

from autograd import Scalar

NAME = "core_scalar_mlp"
SEED = 1337


# --------------------------------------------------------------------------- the model
class Neuron:
    """act = b + Σ wᵢ xᵢ, then relu unless it is an output neuron."""

    def __init__(self, n_in: int, nonlin: bool, rng: random.Random) -> None:
        self.w = [Scalar(rng.uniform(-1, 1)) for _ in range(n_in)]
        self.b = Scalar(0.0)
        self.nonlin = nonlin

    def __call__(self, x: list) -> Scalar:
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list:
        return [*self.w, self.b]


class Layer:
    def __init__(self, n_in: int, n_out: int, nonlin: bool, rng: random.Random) -> None:
        self.neurons = [Neuron(n_in, nonlin, rng) for _ in range(n_out)]

    def __call__(self, x: list) -> list | Scalar:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list:
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    """ReLU layers, a linear last layer (micrograd's ``MLP(n_in, n_outs)``)."""

    def __init__(self, n_in: int, n_outs: list, rng: random.Random) -> None:
        sizes = [n_in, *n_outs]
        self.layers = [Layer(sizes[i], sizes[i + 1], i != len(n_outs) - 1, rng)
                       for i in range(len(n_outs))]

    def __call__(self, x: list) -> Scalar:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list:
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


# --------------------------------------------------------------------------- data and loop
def moons(n: int, seed: int = 0) -> tuple:
    """Two interleaved half circles with noise 0.1; labels ±1 (as Python floats)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    upper = np.arange(n) < n // 2
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, y], 1) + 0.1 * rng.standard_normal((n, 2))
    return points.tolist(), np.where(upper, -1.0, 1.0).tolist()


def train_step(model, value_cls, xs: list, ys: list, k: int) -> float:
    """One iteration of micrograd's demo loop; returns the loss."""
    inputs = [[value_cls(v) for v in row] for row in xs]
    scores = [model(x) for x in inputs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
    total = data_loss + reg_loss
    model.zero_grad()
    total.backward()
    lr = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= lr * p.grad
    return total.data


class Trainer:
    """One contender: a fresh model trained step by step, each step timed."""

    def __init__(self, model, value_cls, gc_off: bool) -> None:
        self.model, self.value_cls, self.gc_off = model, value_cls, gc_off
        self.times, self.losses = [], []

    def step(self, xs: list, ys: list, k: int) -> None:
        if self.gc_off:
            gc.disable()
        start = time.perf_counter()
        self.losses.append(train_step(self.model, self.value_cls, xs, ys, k))
        self.times.append(time.perf_counter() - start)
        gc.enable()

    def median_ms(self) -> float:
        return float(np.median(self.times)) * 1e3

    def best_ms(self) -> float:
        return min(self.times) * 1e3


def train_interleaved(trainers: dict, xs: list, ys: list, steps: int) -> None:
    """Step k of every contender, then step k + 1...: a change in the machine's load
    hits all alike. Between steps, untimed, ``gc.collect()`` clears the last step's
    cyclic garbage, so each step is billed only for the GC work it triggers itself."""
    for k in range(steps):
        for trainer in trainers.values():
            gc.collect()
            trainer.step(xs, ys, k)
    gc.collect()


def run(quick: bool = False) -> dict:
    n_points, hidden, steps = (10, 4, 2) if quick else (100, 16, 20)
    xs, ys = moons(n_points)
    sizes = [hidden, hidden, 1]

    def ours_model():
        return MLP(2, sizes, random.Random(SEED))

    trainers = {"ours": Trainer(ours_model(), Scalar, gc_off=False),
                "ours_off": Trainer(ours_model(), Scalar, gc_off=True)}
    micrograd = harness.optional("micrograd")
    if micrograd is not None:
        from micrograd import nn as mg_nn
        from micrograd.engine import Value

        def micrograd_model():
            random.seed(SEED)  # micrograd's Neuron draws from the module-level random
            return mg_nn.MLP(2, sizes)

        trainers["mg"] = Trainer(micrograd_model(), Value, gc_off=False)
        trainers["mg_off"] = Trainer(micrograd_model(), Value, gc_off=True)
    train_interleaved(trainers, xs, ys, steps)

    ours_ms = trainers["ours"].median_ms()
    ours_losses = trainers["ours"].losses
    rows = [harness.row("chaingrad Scalar, GC on (default)", ours_ms, "ms/step"),
            harness.row("chaingrad Scalar, GC off in the step",
                        trainers["ours_off"].median_ms(), "ms/step")]
    notes = [f"MLP(2, {sizes}) on {n_points} points; median over {steps} steps of the "
             "demo loop (forward, loss, zero_grad, backward, SGD update); the four "
             "contenders take turns step by step, with an untimed gc.collect() before "
             "each step (so no step pays for another's garbage)"]
    checks = {"losses the same with the GC off": ours_losses == trainers["ours_off"].losses}
    mg_ms = mg_off_ms = None
    if micrograd is not None:
        mg_ms, mg_off_ms = trainers["mg"].median_ms(), trainers["mg_off"].median_ms()
        mg_losses = trainers["mg"].losses
        rows += [harness.row("micrograd 0.1.0, GC on", mg_ms, "ms/step"),
                 harness.row("micrograd 0.1.0, GC off in the step", mg_off_ms, "ms/step")]
        checks["losses match micrograd's at every step"] = bool(
            np.allclose(ours_losses, mg_losses, rtol=1e-9))
        notes.append(f"loss at step {steps}: chaingrad {ours_losses[-1]:.6f}, "
                     f"micrograd {mg_losses[-1]:.6f}")
    else:
        rows.append(harness.row("micrograd 0.1.0", None, "ms/step", "micrograd not installed"))

    speedup, speedup_off = harness.ratio(mg_ms, ours_ms), harness.ratio(mg_off_ms, ours_ms)

    def detail(speed: float | None, rival: str) -> str:
        if speed is None:
            return "n/a"
        best = trainers[rival].best_ms() / trainers["ours"].best_ms()
        return f"{speed:.2f}x as fast by medians, {best:.2f}x by best steps"

    targets = [
        harness.target("≥ 2x faster than micrograd's loop (GC on both)",
                       None if speedup is None else speedup >= 2, detail(speedup, "mg")),
        harness.target("≥ 1.5x faster (GC on) than micrograd with GC off",
                       None if speedup_off is None else speedup_off >= 1.5,
                       detail(speedup_off, "mg_off")),
    ]
    return harness.result(NAME, "Scalar MLP(2,16,16,1), micrograd's demo loop", rows,
                          targets, notes, {"points": n_points, "sizes": sizes,
                                           "steps": steps}, checks)


if __name__ == "__main__":
    harness.main(run)
