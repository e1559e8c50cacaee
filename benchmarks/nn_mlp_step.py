"""The 784-256-256-10 MLP training step of ``core_mlp_step``, written with nn and optim.

    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    optimizer.zero_grad(); loss = nn.CrossEntropyLoss()(model(x), labels)
    loss.backward(); optimizer.step()          # optim.SGD(lr=0.01, momentum=0.9)

What a user writes, held against the same math hand-written in numpy (forward,
manual backward, momentum update: ``core_mlp_step``'s floor, imported from it)
and against torch.nn + torch.optim with 2 threads. Batch 128, fixed random data;
all three start from the same weights, and their losses are compared.
"""

from __future__ import annotations

import itertools

import harness
import numpy as np
from core_mlp_step import LR, MOMENTUM, make_problem, numpy_step

import autograd
import nn
import optim

NAME = "nn_mlp_step"


def _layers(nn_module, sizes: tuple) -> list:
    """Linear-ReLU-...-Linear for ``sizes``, from ``nn_module`` (chaingrad's nn or torch.nn)."""
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn_module.Linear(fan_in, fan_out), nn_module.ReLU()]
    return layers[:-1]


def _as_parameters(weights: list) -> list:
    """The problem's (in, out) matrices as Linear's (out, in) weights; biases as they are."""
    return [w.T.copy() if w.ndim == 2 else w for w in weights]


# --------------------------------------------------------------------------- chaingrad
def chaingrad_step(problem: dict) -> list:
    """The phases of one step (zero_grad + forward + loss, backward, step) as functions."""
    model = nn.Sequential(*_layers(nn, problem["sizes"]))
    with autograd.no_grad():
        for p, w in zip(model.parameters(), _as_parameters(problem["weights"])):
            p.copy_(w)
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    x, labels = autograd.tensor(problem["x"]), autograd.tensor(problem["labels"])
    return _phases(model, optimizer, loss_fn, x, labels)


def _phases(model, optimizer, loss_fn, x, labels) -> list:
    """One training step as timed phases; the same code drives chaingrad and torch,
    since both speak PyTorch's API."""

    def forward():
        optimizer.zero_grad()
        return loss_fn(model(x), labels)

    def backward(loss):
        loss.backward()
        return loss

    def update(loss):
        optimizer.step()
        return float(loss.item())

    return [forward, backward, update]


# --------------------------------------------------------------------------- torch
def torch_step(torch, problem: dict) -> list:
    model = torch.nn.Sequential(*_layers(torch.nn, problem["sizes"]))
    with torch.no_grad():
        for p, w in zip(model.parameters(), _as_parameters(problem["weights"])):
            p.copy_(torch.from_numpy(w))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, labels = torch.from_numpy(problem["x"]), torch.from_numpy(problem["labels"])

    return _phases(model, optimizer, loss_fn, x, labels)


def run(quick: bool = False) -> dict:
    rounds, per_round, warmup = (1, 2, 1) if quick else (20, 10, 10)
    problem = make_problem(quick)
    ms, check_steps = 1e3, 3

    builders, torch = harness.contenders(chaingrad_step, numpy_step, torch_step)
    losses, raw, times = harness.check_and_time(builders, problem, check_steps, rounds,
                                                per_round, warmup)

    ours, t_numpy = times["chaingrad"], times["numpy"][-1]
    rows = [
        harness.row("numpy, hand-written backward (floor)", t_numpy * ms, "ms/step"),
        *harness.step_rows("chaingrad nn + optim step", "chaingrad", ours,
                           ("zero_grad + forward + loss", "backward", "optimizer.step")),
    ]
    if torch is not None:
        rows += harness.step_rows("torch nn + optim step (2 threads)", "torch", times["torch"],
                                  ("zero_grad + forward + loss", "backward", "optimizer.step"))
    else:
        rows.append(harness.row("torch nn + optim step (2 threads)", None, "ms/step",
                                "torch not installed"))

    targets = [
        harness.step_ratio_target("chaingrad nn step ≤ 1.2x hand-written numpy", raw,
                                  "chaingrad", "numpy", 1.2),
        harness.step_ratio_target("chaingrad nn step no slower than torch (2 threads), "
                                  "best steps", raw, "chaingrad", "torch", 1.0, judge="best"),
    ]
    steps = rounds * per_round
    notes = [f"batch {problem['batch']}, layers {problem['sizes']}, float32, SGD lr {LR} "
             f"momentum {MOMENTUM}; median of {steps} steps each after {warmup} warm-up "
             f"steps, the contenders taking turns ({per_round} steps at a time); the losses "
             f"of the first {check_steps} steps are compared (step {check_steps}: chaingrad "
             f"{losses['chaingrad'][-1]:.6f}, numpy {losses['numpy'][-1]:.6f})"]
    notes += harness.noise_notes(raw)
    checks = {f"losses match {name}'s": bool(np.allclose(losses["chaingrad"], other,
                                                          rtol=1e-4))
              for name, other in losses.items() if name != "chaingrad"}
    return harness.result(NAME, "784-256-256-10 MLP step through nn + optim, batch 128",
                          rows, targets, notes, {"steps": steps, "warmup": warmup,
                                                 "batch": problem["batch"],
                                                 "sizes": problem["sizes"]}, checks)


if __name__ == "__main__":
    harness.main(run)
