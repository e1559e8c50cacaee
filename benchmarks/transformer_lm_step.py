"""One AdamW training step of the character-level Transformer language model.

    token + position embeddings, 4 pre-norm TransformerEncoderLayer blocks
    (d_model 128, 4 heads, feed-forward 512, ReLU, causal), LayerNorm, Linear to the
    vocabulary; cross-entropy on the next character; AdamW; batch 32 x context 128

chaingrad's model is the one ``chaingrad train --task lm`` trains
(``autograd.cli.lm.build_model``); torch's is the same network from torch.nn
(2 threads) with the same weights (loaded from our ``state_dict``). Their losses
are compared before any time counts.
"""

from __future__ import annotations

import harness
import numpy as np

import autograd
import nn.functional as F
from autograd.cli import lm

NAME = "transformer_lm_step"
VOCAB = 103  # the help topics' characters


def _problem(quick: bool) -> dict:
    batch, block, width, layers, heads = (2, 8, 16, 2, 2) if quick else (32, 128, 128, 4, 4)
    config = {"model": "transformer", "vocab_size": VOCAB, "block_size": block,
              "d_model": width, "layers": layers, "heads": heads, "dropout": 0.0,
              "vocab": "".join(chr(32 + i) for i in range(VOCAB))}
    autograd.manual_seed(0)
    model = lm.build_model(config)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, VOCAB, (batch, block + 1))
    return {"config": config, "state": {k: v.numpy().copy() for k, v in
                                        model.state_dict().items()},
            "x": ids[:, :-1], "y": ids[:, 1:], "sizes": (batch, block, width, layers, heads)}


def _optimizer_options() -> dict:
    return {"lr": 1e-3, "betas": (0.9, 0.99), "weight_decay": 0.1}


# --------------------------------------------------------------------------- chaingrad
def chaingrad_step(problem: dict) -> list:
    model = lm.build_model(problem["config"])
    model.load_state_dict(problem["state"])
    optimizer = lm.build_optimizer(model, "adamw", 1e-3)
    x, y = autograd.tensor(problem["x"]), autograd.tensor(problem["y"])

    def forward():
        logits = model(x)
        return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))

    return harness.training_phases(forward, optimizer)


def inference_step(problem: dict) -> list:
    """Our forward pass with no graph recorded: what the arithmetic alone costs."""
    model = lm.build_model(problem["config"])
    model.load_state_dict(problem["state"])
    x, y = autograd.tensor(problem["x"]), autograd.tensor(problem["y"])

    def step():
        with autograd.no_grad():
            logits = model(x)
            return float(F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1)).item())

    return [step]


# --------------------------------------------------------------------------- torch
def torch_step(torch, problem: dict) -> list:
    tnn = torch.nn
    c = problem["config"]

    class CharTransformer(tnn.Module):  # the same names as ours, so the state_dict loads
        def __init__(self) -> None:
            super().__init__()
            width = c["d_model"]
            self.token = tnn.Embedding(VOCAB, width)
            self.position = tnn.Embedding(c["block_size"], width)
            self.dropout = tnn.Dropout(0.0)
            layer = tnn.TransformerEncoderLayer(width, c["heads"], 4 * width, 0.0,
                                                batch_first=True, norm_first=True)
            self.encoder = tnn.TransformerEncoder(layer, c["layers"], norm=tnn.LayerNorm(width),
                                                  enable_nested_tensor=False)
            self.head = tnn.Linear(width, VOCAB)

        def forward(self, idx):
            steps = idx.shape[1]
            h = self.token(idx) + self.position(torch.arange(steps))
            mask = tnn.Transformer.generate_square_subsequent_mask(steps)
            return self.head(self.encoder(self.dropout(h), mask=mask, is_causal=True))

    model = CharTransformer()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in problem["state"].items()})
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "token" not in n
             and "position" not in n]
    rest = [p for n, p in model.named_parameters() if not any(p is q for q in decay)]
    options = _optimizer_options()
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                   {"params": rest, "weight_decay": 0.0}],
                                  lr=options["lr"], betas=options["betas"])
    x, y = torch.from_numpy(problem["x"]), torch.from_numpy(problem["y"])

    def forward():
        logits = model(x)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))

    return harness.training_phases(forward, optimizer)


def run(quick: bool = False) -> dict:
    rounds, per_round, warmup = (1, 2, 1) if quick else (5, 2, 2)
    problem = _problem(quick)
    ms = 1e3
    check_steps = 3
    builders = {"chaingrad": chaingrad_step, "inference": inference_step}
    torch = harness.optional("torch")
    if torch is not None:
        torch.set_num_threads(2)
        builders["torch"] = lambda p: torch_step(torch, p)
    losses, raw, times = harness.check_and_time(builders, problem, check_steps, rounds,
                                                per_round, warmup)
    ours = times["chaingrad"]
    rows = [
        *harness.step_rows("chaingrad step", "chaingrad", ours,
                           ("forward (incl. loss)", "backward", "AdamW update")),
        harness.row("chaingrad forward alone, no graph (inference)",
                    times["inference"][-1] * ms, "ms"),
    ]
    checks = {"the loss without a graph equals the training forward's": bool(
        np.allclose(losses["inference"][0], losses["chaingrad"][0], rtol=1e-5))}
    if torch is not None:
        rows += harness.step_rows("torch step (2 threads)", "torch", times["torch"],
                                  ("forward (incl. loss)", "backward", "AdamW update"))
        checks["losses match torch's (3 steps, same weights)"] = bool(
            np.allclose(losses["chaingrad"], losses["torch"], rtol=1e-4))
    else:
        rows.append(harness.row("torch step (2 threads)", None, "ms/step", "torch not installed"))
    targets = [harness.step_ratio_target("chaingrad step ≤ 1.5x torch (2 threads), best steps",
                                         raw, "chaingrad", "torch", 1.5, judge="best")]
    batch, block, width, layers, heads = problem["sizes"]
    notes = [f"batch {batch} x context {block}, d_model {width}, {layers} layers, {heads} "
             f"heads, feed-forward {4 * width}, vocabulary {VOCAB}, float32, dropout 0; median "
             f"of {rounds * per_round} steps after {warmup} warm-up steps, taking turns "
             f"({per_round} at a time); losses of the first {check_steps} steps compared",
             harness.spread_note(raw), *harness.noise_notes(raw)]
    return harness.result(NAME, "Transformer LM training step (4 x d128, context 128, batch 32)",
                          rows, targets, notes, {"sizes": list(problem["sizes"])}, checks)


if __name__ == "__main__":
    harness.main(run)
