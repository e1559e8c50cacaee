"""One training step of a 784-256-256-10 ReLU MLP on a batch of 128.

The model is written with autograd Tensor ops only (no nn, no optim), run eagerly
and through ``autograd.compile`` (traced once, replayed as a flat program of
numpy calls)::

    logits = relu(relu(x @ W1 + b1) @ W2 + b2) @ W3 + b3
    loss   = -logits.log_softmax(1)[rows, labels].mean()
    v = 0.9 v + g;  p -= lr v          (SGD with momentum, in place on .data)

and held against the same math hand-written in numpy (forward, manual backward,
the same update: the floor any numpy engine can reach) and against torch with 2
threads (the same tensor ops and the same manual update). Data are fixed random
arrays; all three start from the same weights, and their losses are compared.
"""

from __future__ import annotations

import itertools

import harness
import numpy as np

import autograd

NAME = "core_mlp_step"
LR, MOMENTUM = 0.01, 0.9


def make_problem(quick: bool) -> dict:
    """Fixed random data and Kaiming-normal weights, each W as (in, out), for every contender."""
    sizes = (784, 32, 32, 10) if quick else (784, 256, 256, 10)
    batch = 16 if quick else 128
    rng = np.random.default_rng(0)
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):  # Kaiming normal for ReLU
        weights.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in))
                       .astype(np.float32))
        weights.append(np.zeros(fan_out, np.float32))
    return {"x": rng.standard_normal((batch, sizes[0])).astype(np.float32),
            "labels": rng.integers(0, sizes[-1], batch), "weights": weights,
            "sizes": sizes, "batch": batch}


def _momentum_update(params: list, grads: list, velocities: list) -> None:
    """v = 0.9 v + g;  p -= lr v, in place on numpy arrays."""
    for p, g, v in zip(params, grads, velocities):
        v *= MOMENTUM
        v += g
        p -= LR * v


# --------------------------------------------------------------------------- chaingrad
def chaingrad_step(problem: dict) -> list:
    """The phases of one step (forward, backward, update) as functions."""
    x = autograd.tensor(problem["x"])
    rows, labels = np.arange(problem["batch"]), problem["labels"]
    params = [autograd.tensor(w.copy(), requires_grad=True) for w in problem["weights"]]
    velocities = [np.zeros_like(w) for w in problem["weights"]]
    w1, b1, w2, b2, w3, b3 = params

    def forward():
        logits = ((x @ w1 + b1).relu() @ w2 + b2).relu() @ w3 + b3
        return -logits.log_softmax(1)[rows, labels].mean()

    def backward(loss):
        loss.backward()
        return loss

    def update(loss):
        with autograd.no_grad():
            _momentum_update([p.data for p in params], [p.grad.data for p in params],
                             velocities)
        for p in params:
            p.grad = None
        return float(loss.item())

    return [forward, backward, update]


def compiled_step(problem: dict) -> list:
    """The same step as one function given to ``autograd.compile``: the velocities
    live in Tensors (a trace sees only Tensors' arrays), updated by the same numpy
    calls on ``.data``. One phase: the replay has no graph to split."""
    x = autograd.tensor(problem["x"])
    rows, labels = np.arange(problem["batch"]), problem["labels"]
    params = [autograd.tensor(w.copy(), requires_grad=True) for w in problem["weights"]]
    velocities = [autograd.zeros_like(p) for p in params]
    w1, b1, w2, b2, w3, b3 = params

    def train_step(x):
        for p in params:
            p.grad = None
        logits = ((x @ w1 + b1).relu() @ w2 + b2).relu() @ w3 + b3
        loss = -logits.log_softmax(1)[rows, labels].mean()
        loss.backward()
        with autograd.no_grad():
            _momentum_update([p.data for p in params], [p.grad.data for p in params],
                             [v.data for v in velocities])
        return loss

    compiled = autograd.compile(train_step)
    return [lambda: float(compiled(x).item())]


# --------------------------------------------------------------------------- numpy
def numpy_step(problem: dict) -> list:
    """The same step with a hand-written backward (one phase: no graph to split)."""
    x, labels = problem["x"], problem["labels"]
    rows = np.arange(problem["batch"])
    params = [w.copy() for w in problem["weights"]]
    velocities = [np.zeros_like(w) for w in params]
    w1, b1, w2, b2, w3, b3 = params

    def step():
        z1 = x @ w1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ w2 + b2
        h2 = np.maximum(z2, 0)
        logits = h2 @ w3 + b3
        shifted = logits - logits.max(1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
        loss = -log_probs[rows, labels].mean()
        # d loss / d logits = (softmax - onehot) / batch
        d_logits = np.exp(log_probs)
        d_logits[rows, labels] -= 1
        d_logits /= len(rows)
        d_h2 = d_logits @ w3.T
        d_z2 = d_h2 * (z2 > 0)
        d_h1 = d_z2 @ w2.T
        d_z1 = d_h1 * (z1 > 0)
        grads = [x.T @ d_z1, d_z1.sum(0), h1.T @ d_z2, d_z2.sum(0),
                 h2.T @ d_logits, d_logits.sum(0)]
        _momentum_update(params, grads, velocities)
        return float(loss)

    return [step]


# --------------------------------------------------------------------------- torch
def torch_step(torch, problem: dict) -> list:
    x = torch.tensor(problem["x"])
    rows, labels = torch.arange(problem["batch"]), torch.tensor(problem["labels"])
    params = [torch.tensor(w.copy(), requires_grad=True) for w in problem["weights"]]
    velocities = [torch.zeros_like(p) for p in params]
    w1, b1, w2, b2, w3, b3 = params

    def forward():
        logits = ((x @ w1 + b1).relu() @ w2 + b2).relu() @ w3 + b3
        return -logits.log_softmax(1)[rows, labels].mean()

    def backward(loss):
        loss.backward()
        return loss

    def update(loss):
        with torch.no_grad():
            for p, v in zip(params, velocities):
                v.mul_(MOMENTUM).add_(p.grad)
                p.sub_(LR * v)
                p.grad = None
        return float(loss.item())

    return [forward, backward, update]


def run(quick: bool = False) -> dict:
    rounds, per_round, warmup = (1, 2, 1) if quick else (20, 10, 10)
    problem = make_problem(quick)
    ms = 1e3
    check_steps = 3

    builders, torch = harness.contenders(chaingrad_step, numpy_step, torch_step)
    builders["compiled"] = compiled_step
    losses, raw, times = harness.check_and_time(builders, problem, check_steps, rounds,
                                                per_round, warmup)

    ours, t_numpy = times["chaingrad"], times["numpy"][-1]
    rows = [
        harness.row("numpy, hand-written backward (floor)", t_numpy * ms, "ms/step"),
        harness.row("chaingrad compiled step (autograd.compile)", times["compiled"][-1] * ms,
                    "ms/step"),
        *harness.step_rows("chaingrad step", "chaingrad", ours,
                           ("forward (incl. loss)", "backward", "momentum update")),
    ]
    steps = rounds * per_round
    notes = [f"batch {problem['batch']}, layers {problem['sizes']}, float32; median of "
             f"{steps} steps each after {warmup} warm-up steps, the contenders taking turns "
             f"({per_round} steps at a time); the losses of the first {check_steps} steps "
             f"are compared (step {check_steps}: chaingrad {losses['chaingrad'][-1]:.6f}, "
             f"numpy {losses['numpy'][-1]:.6f})"]
    notes += harness.noise_notes(raw)
    checks = {f"losses match {name}'s": bool(np.allclose(losses["chaingrad"], other,
                                                          rtol=1e-4))
              for name, other in losses.items() if name not in ("chaingrad", "compiled")}
    if torch is not None:
        rows += harness.step_rows("torch step (2 threads)", "torch", times["torch"],
                                  ("forward (incl. loss)", "backward", "momentum update"))
    else:
        rows.append(harness.row("torch step (2 threads)", None, "ms/step", "torch not installed"))

    checks["compiled losses equal eager's (bitwise)"] = losses["compiled"] == losses[
        "chaingrad"]
    targets = [
        harness.step_ratio_target("compiled step ≤ 1.05x hand-written numpy", raw,
                                  "compiled", "numpy", 1.05),
        harness.step_ratio_target("chaingrad step ≤ 1.15x hand-written numpy", raw,
                                  "chaingrad", "numpy", 1.15),
        harness.step_ratio_target("chaingrad step no slower than torch (2 threads), best steps",
                                  raw, "chaingrad", "torch", 1.0, judge="best"),
    ]
    return harness.result(NAME, "784-256-256-10 MLP training step, batch 128", rows,
                          targets, notes, {"steps": steps, "warmup": warmup,
                                           "batch": problem["batch"],
                                           "sizes": problem["sizes"]}, checks)


if __name__ == "__main__":
    harness.main(run)
