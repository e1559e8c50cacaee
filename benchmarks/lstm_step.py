"""One SGD training step of a one-layer LSTM over a batch of sequences.

    LSTM(input 64, hidden 256), batch 32 x 64 steps, loss = mean(output²), SGD(lr=0.01)

chaingrad's ``nn.LSTM`` (its step fused into one node, ``autograd/ops/recurrent.py``)
side by side with torch on the CPU with 2 threads (its LSTM runs oneDNN's RNN
kernel, which keeps the weights packed for its matrix products), with torch's
own LSTM without oneDNN (``torch._C._set_mkldnn_enabled(False)``: one matmul per
step, as ours), with chaingrad's LSTM built from elementary ops only (13 nodes
per step instead of one), and with the same LSTM hand-written in numpy (forward
and backpropagation through time by hand: the floor for numpy). All start from
the same weights; their losses are compared.
"""

from __future__ import annotations

import harness
import numpy as np

import autograd
import nn
import optim
from nn.layers import recurrent

NAME = "lstm_step"
LR = 0.01


def _problem(quick: bool) -> dict:
    steps, batch, n_in, hidden = (6, 4, 8, 16) if quick else (64, 32, 64, 256)
    rng = np.random.default_rng(0)
    bound = 1 / np.sqrt(hidden)

    def uniform(*shape: int) -> np.ndarray:
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    weights = [uniform(4 * hidden, n_in), uniform(4 * hidden, hidden), uniform(4 * hidden),
               uniform(4 * hidden)]
    return {"x": rng.standard_normal((steps, batch, n_in)).astype(np.float32),
            "weights": weights, "sizes": (steps, batch, n_in, hidden)}


# --------------------------------------------------------------------------- chaingrad
def chaingrad_step(problem: dict, composed: bool = False) -> list:
    """Forward (incl. loss), backward, update. ``composed``: the LSTM's step from
    elementary ops instead of the fused node."""
    _, _, n_in, hidden = problem["sizes"]
    model = nn.LSTM(n_in, hidden)
    with autograd.no_grad():
        for p, w in zip(model.parameters(), problem["weights"]):
            p.copy_(w)
    optimizer = optim.SGD(model.parameters(), lr=LR)
    x = autograd.tensor(problem["x"])

    def forward():
        fused = recurrent.lstm_step
        if composed:
            recurrent.lstm_step = recurrent.lstm_step_composed
        try:
            out, _ = model(x)
        finally:
            recurrent.lstm_step = fused
        return (out * out).mean()

    return harness.training_phases(forward, optimizer)


def composed_step(problem: dict) -> list:
    return chaingrad_step(problem, composed=True)


# --------------------------------------------------------------------------- numpy
def _sigmoid(a: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-a))


def numpy_step(problem: dict) -> list:
    """The LSTM and its backpropagation through time by hand (one phase)."""
    x = problem["x"]
    steps, batch, _, hidden = problem["sizes"]
    w_ih, w_hh, b_ih, b_hh = params = [w.copy() for w in problem["weights"]]
    n = hidden

    def step():
        xp = x @ w_ih.T + (b_ih + b_hh)  # every step's input projection at once
        h = np.zeros((batch, n), np.float32)
        c = np.zeros((batch, n), np.float32)
        hs, cs, acts = [h], [c], []
        for t in range(steps):
            a = xp[t] + h @ w_hh.T
            act = _sigmoid(a)
            act[:, 2 * n:3 * n] = np.tanh(a[:, 2 * n:3 * n])
            i, f, g, o = act[:, :n], act[:, n:2 * n], act[:, 2 * n:3 * n], act[:, 3 * n:]
            c = f * c + i * g
            h = o * np.tanh(c)
            hs.append(h)
            cs.append(c)
            acts.append(act)
        out = np.stack(hs[1:])
        loss = float((out * out).mean())
        d_out = out * (2 / out.size)
        d_a = np.empty((steps, batch, 4 * n), np.float32)
        dh = np.zeros((batch, n), np.float32)
        dc = np.zeros((batch, n), np.float32)
        for t in reversed(range(steps)):
            i, f, g, o = (acts[t][:, k * n:(k + 1) * n] for k in range(4))
            tc = np.tanh(cs[t + 1])
            dh = dh + d_out[t]
            dc = dc + dh * o * (1 - tc * tc)
            d_a[t, :, :n] = dc * g * i * (1 - i)
            d_a[t, :, n:2 * n] = dc * cs[t] * f * (1 - f)
            d_a[t, :, 2 * n:3 * n] = dc * i * (1 - g * g)
            d_a[t, :, 3 * n:] = dh * tc * o * (1 - o)
            dc = dc * f
            dh = d_a[t] @ w_hh
        flat = d_a.reshape(-1, 4 * n)
        grads = [flat.T @ x.reshape(-1, x.shape[-1]),
                 flat.T @ np.stack(hs[:-1]).reshape(-1, n), flat.sum(0), flat.sum(0)]
        for p, g in zip(params, grads):
            p -= LR * g
        return loss

    return [step]


# --------------------------------------------------------------------------- torch
def torch_step(torch, problem: dict, onednn: bool = True) -> list:
    _, _, n_in, hidden = problem["sizes"]
    model = torch.nn.LSTM(n_in, hidden)
    with torch.no_grad():
        for p, w in zip(model.parameters(), problem["weights"]):
            p.copy_(torch.from_numpy(w))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    x = torch.from_numpy(problem["x"])

    def forward():  # the graph records the kernels chosen here; backward follows them
        before = torch._C._get_mkldnn_enabled()
        torch._C._set_mkldnn_enabled(onednn)
        try:
            out, _ = model(x)
        finally:
            torch._C._set_mkldnn_enabled(before)
        return (out * out).mean()

    return harness.training_phases(forward, optimizer)


def run(quick: bool = False) -> dict:
    rounds, per_round, warmup = (1, 2, 1) if quick else (8, 3, 3)
    problem = _problem(quick)
    ms = 1e3
    check_steps = 3
    builders, torch = harness.contenders(chaingrad_step, numpy_step, torch_step)
    builders["composed"] = composed_step
    if torch is not None:
        builders["torch_native"] = lambda p: torch_step(torch, p, onednn=False)
    losses, raw, times = harness.check_and_time(builders, problem, check_steps, rounds,
                                                per_round, warmup)
    ours, t_numpy = times["chaingrad"], times["numpy"][-1]
    rows = [
        harness.row("numpy, hand-written LSTM + BPTT", t_numpy * ms, "ms/step"),
        *harness.step_rows("chaingrad step (nn.LSTM, fused step)", "chaingrad", ours,
                           ("forward (incl. loss)", "backward", "SGD update")),
        harness.row("chaingrad, step composed of elementary ops", times["composed"][-1] * ms,
                    "ms/step"),
        harness.row("chaingrad / numpy (medians; no target)", ours[-1] / t_numpy, "x"),
    ]
    checks = {"losses match numpy's": bool(np.allclose(losses["chaingrad"], losses["numpy"],
                                                       rtol=1e-4)),
              "fused and composed losses match": bool(np.allclose(
                  losses["chaingrad"], losses["composed"], rtol=1e-5))}
    targets = []
    if torch is not None:
        rows += harness.step_rows("torch step (2 threads, oneDNN LSTM)", "torch",
                                  times["torch"], ("forward (incl. loss)", "backward"))
        rows.append(harness.row("torch step without oneDNN (2 threads)",
                                times["torch_native"][-1] * ms, "ms/step"))
        checks["losses match torch's"] = bool(
            np.allclose(losses["chaingrad"], losses["torch"], rtol=1e-4))
        checks["torch with and without oneDNN agree"] = bool(
            np.allclose(losses["torch_native"], losses["torch"], rtol=1e-4))
    else:
        rows.append(harness.row("torch step (2 threads)", None, "ms/step", "torch not installed"))
    targets.append(harness.step_ratio_target(
        "chaingrad step ≤ 2x torch (2 threads), best steps", raw, "chaingrad", "torch", 2.0,
        judge="best"))
    targets.append(harness.step_ratio_target(
        "fused step faster than the composed one", raw, "chaingrad", "composed", 1.0))
    steps, batch, n_in, hidden = problem["sizes"]
    notes = [f"sequence {steps} x batch {batch}, input {n_in}, hidden {hidden}, float32; "
             f"median of {rounds * per_round} steps after {warmup} warm-up steps, the "
             f"implementations taking turns ({per_round} steps at a time); losses of the "
             f"first {check_steps} steps compared",
             "numpy's matrix products (OpenBLAS) repack the 1024 x 256 recurrent weight on "
             "every one of the 3 x 64 small products of a step; oneDNN's LSTM keeps it "
             "packed, which torch's own per-step matmul path (the 'without oneDNN' row) "
             "does not",
             harness.spread_note(raw), *harness.noise_notes(raw)]
    return harness.result(NAME, "LSTM(64, 256) training step, batch 32 x 64 steps", rows,
                          targets, notes, {"sizes": list(problem["sizes"])}, checks)


if __name__ == "__main__":
    harness.main(run)
