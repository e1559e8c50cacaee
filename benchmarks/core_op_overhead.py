"""Per-op overhead: a chain of 1,000 elementwise ops on 10-element float32 tensors.

At 10 elements the arithmetic is free, so the time is the framework's own
bookkeeping per op: wrapping, recording the node, and in backward, sorting and
running one derivative rule. The same op sequence runs on chaingrad (forward and
backward, eagerly and through ``autograd.compile``), raw numpy (forward only,
and forward with the backward written by hand: the floors) and torch (2 threads,
forward and backward). The cycle ``+a, *b, exp, log, -a, tanh`` keeps values and gradients
in a normal float range over the whole chain (no subnormals to slow anything).
"""

from __future__ import annotations

import harness
import numpy as np

import autograd

NAME = "core_op_overhead"
CYCLE = ("add", "mul", "exp", "log", "sub", "tanh")


def _tensor_ops(a: object, b: object) -> list:
    """The cycle as functions of z, for anything with Tensor-style methods."""
    return [lambda z: z + a, lambda z: z * b, lambda z: z.exp(), lambda z: z.log(),
            lambda z: z - a, lambda z: z.tanh()]


def _numpy_ops(a: np.ndarray, b: np.ndarray) -> list:
    return [lambda z: z + a, lambda z: z * b, np.exp, np.log, lambda z: z - a, np.tanh]


def _chain(ops: list, z: object, n_ops: int) -> object:
    for i in range(n_ops):
        z = ops[i % len(ops)](z)
    return z


def _numpy_forward_backward(x: np.ndarray, a: np.ndarray, b: np.ndarray,
                            n_ops: int) -> tuple:
    """The chain and its gradient by hand: forward keeping what backward needs,
    then the chain rule op by op (the floor for forward + backward)."""
    saved = []
    z = x
    for i in range(n_ops):
        kind = CYCLE[i % len(CYCLE)]
        if kind == "add":
            z = z + a
        elif kind == "mul":
            z = z * b
        elif kind == "exp":
            z = np.exp(z)
            saved.append(z)
        elif kind == "log":
            saved.append(z)
            z = np.log(z)
        elif kind == "sub":
            z = z - a
        else:
            z = np.tanh(z)
            saved.append(z)
    g = np.ones_like(z)
    for i in reversed(range(n_ops)):
        kind = CYCLE[i % len(CYCLE)]
        if kind == "mul":
            g = g * b
        elif kind == "exp":
            g = g * saved.pop()
        elif kind == "log":
            g = g / saved.pop()
        elif kind == "tanh":
            t = saved.pop()
            g = g * (1 - t * t)
    return z, g


def run(quick: bool = False) -> dict:
    n_ops, rounds, per_round = (60, 1, 2) if quick else (1000, 8, 5)
    rng = np.random.default_rng(0)
    x0 = (0.5 * rng.standard_normal(10)).astype(np.float32)
    a0 = (0.1 * rng.standard_normal(10)).astype(np.float32)
    b0 = (0.95 + 0.1 * rng.random(10)).astype(np.float32)
    per_op = 1e6 / n_ops  # seconds per chain -> µs per op

    np_ops = _numpy_ops(a0, b0)
    x = autograd.tensor(x0, requires_grad=True)
    ops = _tensor_ops(autograd.tensor(a0), autograd.tensor(b0))

    def ours_backward(z):
        z.sum().backward()
        x.grad = None

    @autograd.no_grad()
    def ours_no_grad():
        return _chain(ops, x, n_ops)

    def step():
        x.grad = None
        z = _chain(ops, x, n_ops).sum()
        z.backward()
        return z

    compiled = autograd.compile(step)
    contenders = {"numpy": [lambda: _chain(np_ops, x0, n_ops)],
                  "numpy_fwd_bwd": [lambda: _numpy_forward_backward(x0, a0, b0, n_ops)],
                  "no_grad": [ours_no_grad],
                  "ours": [lambda: _chain(ops, x, n_ops), ours_backward],
                  "compiled": [compiled]}
    torch = harness.optional("torch")
    if torch is not None:
        torch.set_num_threads(2)
        tx = torch.tensor(x0, requires_grad=True)
        t_ops = _tensor_ops(torch.tensor(a0), torch.tensor(b0))

        def torch_backward(z):
            z.sum().backward()
            tx.grad = None

        contenders["torch"] = [lambda: _chain(t_ops, tx, n_ops), torch_backward]
    raw = harness.interleaved_times(contenders, rounds, per_round, warmup=3)  # compile: 3
    times = {name: [float(np.median(t)) for t in ts] for name, ts in raw.items()}
    ours = times["ours"]
    rows = [
        harness.row("numpy forward (floor)", times["numpy"][-1] * per_op, "µs/op"),
        harness.row("numpy forward+backward, by hand (floor)",
                    times["numpy_fwd_bwd"][-1] * per_op, "µs/op"),
        harness.row("chaingrad compiled forward+backward (autograd.compile)",
                    times["compiled"][-1] * per_op, "µs/op"),
        harness.row("chaingrad forward, no_grad", times["no_grad"][-1] * per_op, "µs/op"),
        harness.row("chaingrad forward (recording)", ours[0] * per_op, "µs/op"),
        harness.row("chaingrad backward", ours[1] * per_op, "µs/op"),
        harness.row("chaingrad forward+backward", ours[2] * per_op, "µs/op"),
    ]
    notes = [f"{n_ops} ops in the cycle {', '.join(CYCLE)}, then sum() and backward; "
             f"median of {rounds * per_round} chains each, the contenders taking turns "
             f"({per_round} chains at a time); µs/op = chain time / {n_ops}"]

    x.grad = None
    z = _chain(ops, x, n_ops)
    z.sum().backward()
    by_hand = _numpy_forward_backward(x0, a0, b0, n_ops)
    checks = {"forward matches numpy's": bool(
        np.allclose(z.data, _chain(np_ops, x0, n_ops), rtol=1e-5, atol=1e-6)),
        "x.grad matches numpy's by hand": bool(
            np.allclose(x.grad.data, by_hand[1], rtol=1e-4, atol=1e-6))}
    eager_grad = x.grad.data.copy()
    compiled()
    checks["compiled x.grad equals eager's (bitwise)"] = bool(
        np.array_equal(x.grad.data, eager_grad))
    if torch is not None:
        theirs = times["torch"]
        rows += [
            harness.row("torch forward (recording)", theirs[0] * per_op, "µs/op"),
            harness.row("torch backward", theirs[1] * per_op, "µs/op"),
            harness.row("torch forward+backward", theirs[2] * per_op, "µs/op"),
        ]
        _chain(t_ops, tx, n_ops).sum().backward()
        checks["x.grad matches torch's"] = bool(
            np.allclose(x.grad.data, tx.grad.numpy(), rtol=1e-3, atol=1e-6))
    else:
        rows.append(harness.row("torch forward+backward", None, "µs/op", "torch not installed"))

    targets = [
        harness.step_ratio_target("chaingrad fwd+bwd per op no slower than torch's", raw,
                                  "ours", "torch", 1.0),
        harness.step_ratio_target("compiled fwd+bwd per op ≤ 2x numpy's by hand", raw,
                                  "compiled", "numpy_fwd_bwd", 2.0),
    ]
    return harness.result(NAME, "per-op overhead, 10-element float32, fwd+bwd", rows,
                          targets, notes, {"n_ops": n_ops, "chains": rounds * per_round},
                          checks)


if __name__ == "__main__":
    harness.main(run)
