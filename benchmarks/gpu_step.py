"""Training steps on a GPU: chaingrad on CuPy side by side with torch CUDA.

Three networks, float32, cross-entropy, one SGD step each:

    mlp   784-256-256-10 ReLU MLP, batch 128, SGD lr 0.01 momentum 0.9
    wide  4096-4096-4096-10 ReLU MLP, batch 1024, the same SGD
    cnn   cnn_step's CNN (2 conv, 2 max-pool, linear), batch 64, SGD lr 0.01

A step is what a training loop does: ``zero_grad``, forward, loss, ``backward``,
``optimizer.step()`` and reading the loss with ``loss.item()``, which waits for
the GPU, so every step is timed to its end (synchronised). chaingrad runs on
``device="cuda"`` (``nn`` + ``optim``, the same code as on the CPU), torch on
``"cuda"``; for the MLPs also the same math hand-written in CuPy (forward, manual
backward, momentum update), the floor for an engine on CuPy. All start from the
same weights; their first losses are compared. The contenders take turns.

Neither library uses TF32 here (torch's ``allow_tf32`` is off by default and
CuPy's is off unless ``CUPY_TF32=1``): full float32 matrix products for all.

Without a GPU (``autograd.cuda.is_available()`` False, or torch without CUDA)
the rows say so and hold no number; ``--quick`` then runs the same code on the
CPU at tiny sizes, to check that the contenders agree.
"""

from __future__ import annotations

import itertools
import os

import cnn_step
import harness
import numpy as np

import autograd
import nn
import optim

NAME = "gpu_step"
LR, MOMENTUM = 0.01, 0.9
#: name -> (layer sizes or "cnn", batch, title)
NETWORKS = {
    "mlp": ((784, 256, 256, 10), 128, "784-256-256-10 MLP, batch 128"),
    "wide": ((4096, 4096, 4096, 10), 1024, "wide MLP 4096-4096-4096-10, batch 1024"),
    "cnn": ("cnn", 64, "CNN (cnn_step's), batch 64"),
}
QUICK = {"mlp": ((784, 32, 32, 10), 16), "wide": ((64, 64, 64, 10), 16), "cnn": ("cnn", 4)}


def gpu_here(torch) -> str | None:
    """Why there is no GPU to measure on, or None when there is one for both."""
    if not autograd.cuda.is_available():
        return "no GPU here: autograd.cuda.is_available() is False (CuPy or a GPU missing)"
    if torch is None or not torch.cuda.is_available():
        return "no GPU for torch here (torch missing or built without CUDA)"
    return None


def make_problem(name: str, quick: bool) -> dict:
    """Fixed random data and weights; Linear weights as (out, in)."""
    sizes, batch = QUICK[name] if quick else NETWORKS[name][:2]
    if sizes == "cnn":
        problem = cnn_step._problem(quick)
        return {**problem, "kind": "cnn", "batch": problem["batch"]}
    rng = np.random.default_rng(0)
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):  # Kaiming normal for ReLU
        weights.append((rng.standard_normal((fan_out, fan_in)) * np.sqrt(2 / fan_in))
                       .astype(np.float32))
        weights.append(np.zeros(fan_out, np.float32))
    return {"kind": "mlp", "sizes": sizes, "batch": batch, "weights": weights,
            "x": rng.standard_normal((batch, sizes[0])).astype(np.float32),
            "labels": rng.integers(0, sizes[-1], batch)}


def _network(nn_module, problem: dict):
    """The problem's network from ``nn_module`` (chaingrad's nn or torch.nn)."""
    if problem["kind"] == "cnn":
        return nn_module.Sequential(
            nn_module.Conv2d(1, 16, 3, padding=1), nn_module.ReLU(), nn_module.MaxPool2d(2),
            nn_module.Conv2d(16, 32, 3, padding=1), nn_module.ReLU(), nn_module.MaxPool2d(2),
            nn_module.Flatten(), nn_module.Linear(1568, 10))
    layers = []
    for fan_in, fan_out in itertools.pairwise(problem["sizes"]):
        layers += [nn_module.Linear(fan_in, fan_out), nn_module.ReLU()]
    return nn_module.Sequential(*layers[:-1])


def _momentum(problem: dict) -> float:
    return 0.0 if problem["kind"] == "cnn" else MOMENTUM


def _step(model, optimizer, loss_fn, x, labels) -> list:
    """One training step, ended by reading the loss (a wait for the device)."""
    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), labels)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return [step]


def chaingrad_step(problem: dict, device: str) -> list:
    model = _network(nn, problem)
    with autograd.no_grad():
        for p, w in zip(model.parameters(), problem["weights"]):
            p.copy_(w)
    model.to(device)
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=_momentum(problem))
    x = autograd.tensor(problem["x"], device=device)
    labels = autograd.tensor(problem["labels"], device=device)
    return _step(model, optimizer, nn.CrossEntropyLoss(), x, labels)


def torch_step(torch, problem: dict, device: str) -> list:
    model = _network(torch.nn, problem)
    with torch.no_grad():
        for p, w in zip(model.parameters(), problem["weights"]):
            p.copy_(torch.from_numpy(w))
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=_momentum(problem))
    x = torch.from_numpy(problem["x"]).to(device)
    labels = torch.from_numpy(problem["labels"]).to(device)
    return _step(model, optimizer, torch.nn.CrossEntropyLoss(), x, labels)


def handwritten_step(problem: dict, xp) -> list:
    """The MLP step in array calls of ``xp`` (CuPy on a GPU, numpy to check it):
    forward, the backward of softmax cross-entropy and each layer by hand, momentum."""
    put = (lambda a: xp.asarray(a)) if xp is not np else (lambda a: np.array(a))
    params = [put(w) for w in problem["weights"]]
    velocities = [xp.zeros_like(p) for p in params]
    x, labels = put(problem["x"]), put(problem["labels"])
    batch = problem["batch"]
    rows = xp.arange(batch)
    layers = len(params) // 2

    def step():
        acts, h = [x], x
        for i in range(layers):
            h = h @ params[2 * i].T + params[2 * i + 1]
            if i < layers - 1:
                h = xp.maximum(h, 0)
                acts.append(h)
        shifted = h - h.max(1, keepdims=True)
        log_probs = shifted - xp.log(xp.exp(shifted).sum(1, keepdims=True))
        loss = -log_probs[rows, labels].mean()
        d = xp.exp(log_probs)  # d loss / d logits = (softmax - onehot) / batch
        d[rows, labels] -= 1
        d /= batch
        grads = [None] * len(params)
        for i in reversed(range(layers)):
            grads[2 * i], grads[2 * i + 1] = d.T @ acts[i], d.sum(0)
            if i:
                d = (d @ params[2 * i]) * (acts[i] > 0)
        for p, g, v in zip(params, grads, velocities):
            v *= MOMENTUM
            v += g
            p -= LR * v
        return float(loss)

    return [step]


def _device_name(device: str) -> str:
    if device == "cpu":
        return "the CPU (no GPU here: a check of the code, not a GPU number)"
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.runtime.getDevice())
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return (f"{name} ({props['totalGlobalMem'] / 2**30:.0f} GiB), CuPy {cupy.__version__}, "
            f"CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}")


def run(quick: bool = False) -> dict:
    torch = harness.optional("torch")
    missing = gpu_here(torch)
    if missing is not None and not quick:
        return _no_gpu(missing)
    device = "cpu" if missing is not None else "cuda"
    rounds, per_round, warmup = (1, 2, 1) if quick else (10, 10, 10)
    check_steps, ms = 3, 1e3
    rows, targets, notes, checks = [], [], [], {}
    for name, (_, _, title) in NETWORKS.items():
        problem = make_problem(name, quick)
        if quick:  # the rows must not claim the full sizes
            title = f"{name} at tiny quick sizes {QUICK[name]}"
        builders = {"chaingrad": lambda p: chaingrad_step(p, device)}
        if torch is not None:
            builders["torch"] = lambda p: torch_step(torch, p, device)
        if problem["kind"] == "mlp":
            xp = np if device == "cpu" else __import__("cupy")
            builders["handwritten"] = lambda p, xp=xp: handwritten_step(p, xp)
        losses, raw, times = harness.check_and_time(builders, problem, check_steps, rounds,
                                                    per_round, warmup)
        spread = {k: (min(t[-1]) * ms, max(t[-1]) * ms) for k, t in raw.items()}
        labels = {"chaingrad": "chaingrad nn + optim", "torch": "torch",
                  "handwritten": "hand-written CuPy" if device == "cuda" else "hand-written numpy"}
        for who, label in labels.items():
            if who in times:
                lo, hi = spread[who]
                rows.append(harness.row(f"{title}: {label}", times[who][-1] * ms, "ms/step",
                                        f"best {lo:.3g}, worst {hi:.3g}"))
        if "torch" in times:
            rows.append(harness.row(f"{title}: chaingrad / torch", harness.ratio(
                times["chaingrad"][-1], times["torch"][-1]), "x"))
        for other, values in losses.items():
            if other != "chaingrad":
                checks[f"{name}: losses match {other}'s"] = bool(
                    np.allclose(losses["chaingrad"], values, rtol=1e-3))
        if name == "wide":
            targets.append(harness.step_ratio_target(
                "wide MLP step on a GPU at most 1.15x torch CUDA's (medians)", raw,
                "chaingrad", "torch", 1.15) if device == "cuda" and "torch" in raw else
                harness.target("wide MLP step on a GPU at most 1.15x torch CUDA's", None,
                               "no GPU here"))
        notes += harness.noise_notes(raw)
    notes.insert(0, f"device: {_device_name(device)}; median of {rounds * per_round} steps "
                 f"each after {warmup} warm-up steps, the contenders taking turns "
                 f"({per_round} steps at a time); each step ends with loss.item(), which "
                 f"waits for the GPU; float32, no TF32 (CUPY_TF32="
                 f"{os.environ.get('CUPY_TF32', 'unset')}"
                 + (f", torch allow_tf32={torch.backends.cuda.matmul.allow_tf32}"
                    if torch is not None else "") + ")")
    return harness.result(NAME, "training steps on a GPU: chaingrad (CuPy) vs torch CUDA",
                          rows, targets, notes, {"rounds": rounds, "per_round": per_round,
                                                 "warmup": warmup, "device": device}, checks)


def _no_gpu(why: str) -> dict:
    rows = [harness.row(f"{title}: {who}", None, "ms/step", why)
            for _, _, title in NETWORKS.values()
            for who in ("chaingrad nn + optim", "torch")]
    targets = [harness.target("wide MLP step on a GPU at most 1.15x torch CUDA's", None, why)]
    notes = [f"{why}. Nothing was measured: run `bash benchmarks/gpu_check.sh` on a "
             "machine with an NVIDIA GPU, CuPy and a CUDA build of torch"]
    return harness.result(NAME, "training steps on a GPU: chaingrad (CuPy) vs torch CUDA",
                          rows, targets, notes, {"device": None}, {})


if __name__ == "__main__":
    harness.main(run)
