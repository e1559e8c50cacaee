"""How good and how fast the second main job is: the default
``chaingrad train --task lm`` against the corpus's trigram baseline.

The benchmark runs the real command (``python -m autograd train --task lm
--no-progress --out <tmp>``) in a fresh interpreter and reads its
``metrics.json``: the validation loss every 100 steps and the wall time at
each, in nats per character. The trigram baseline is computed here, by plain
counting (``collections.Counter``), independently of the job's own numbers:
P(c | a b) = (count(a b c) + k) / (count(a b) + k V), the best of a few k on
the validation split (the baseline at its best). Target: the default run goes
below it within 10 minutes on 2 cores.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import harness

from autograd.data import datasets

NAME = "lm_quality"
ROOT = Path(__file__).resolve().parents[1]
SMOOTHING = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
LIMIT = 600.0  # seconds: the target's 10 minutes


def trigram_nats(train: str, val: str, vocab: int) -> tuple[float, float]:
    """(best validation loss, its k) of an add-k character trigram counted on train."""
    grams = Counter(zip(train, train[1:], train[2:]))
    contexts = Counter(itertools.pairwise(train[:-1]))  # the pairs that start a trigram
    queries = list(zip(val, val[1:], val[2:]))
    best = None
    for k in SMOOTHING:
        nats = -sum(math.log((grams[q] + k) / (contexts[q[:2]] + k * vocab))
                    for q in queries) / len(queries)
        if best is None or nats < best[0]:
            best = (nats, k)
    return best


def run(quick: bool = False) -> dict:
    train = datasets.text(8, "train")
    corpus = datasets.help_topics()
    cut = len(train.data)
    trigram, k = trigram_nats(corpus[:cut], corpus[cut:], train.vocab_size)
    extra = (["--steps", "20", "--eval-every", "10", "--d-model", "32", "--layers", "1",
              "--block-size", "16", "--eval-batches", "2"] if quick else [])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        command = [sys.executable, "-m", "autograd", "train", "--task", "lm", "--no-progress",
                   "--out", str(out), *extra]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"chaingrad train --task lm failed:\n{done.stderr}")
        metrics = json.loads((out / "metrics.json").read_text())
    history = metrics["history"]
    below = next(((step, s, cpu) for step, s, cpu, v in zip(
        history["step"], history["seconds"], history["cpu_seconds"], history["val_loss"])
        if v < trigram), None)
    rows = [
        harness.row("trigram baseline (validation, computed here)", trigram, "nats/char",
                    f"add-k, k={k}"),
        harness.row("job's own trigram baseline", metrics["baselines"]["trigram"]["nats"],
                    "nats/char"),
        harness.row("bigram baseline (job's)", metrics["baselines"]["bigram"]["nats"],
                    "nats/char"),
        harness.row("final validation loss", metrics["final_val_loss"], "nats/char",
                    f"after {metrics['steps_done']} steps"),
        harness.row("training time (steps and evaluations)", metrics["seconds"], "s"),
        harness.row("  of which CPU time of the process", metrics["cpu_seconds"], "s"),
        harness.row("whole command (data, baselines, training, sample, files)", wall, "s"),
        harness.row("time to below the trigram baseline", below[1] if below else None, "s",
                    f"at step {below[0]} (CPU {below[2]:.0f} s)" if below else
                    "never went below it"),
    ]
    checks = {"the job's trigram baseline equals the one counted here": bool(
        math.isclose(metrics["baselines"]["trigram"]["nats"], trigram, rel_tol=1e-9)),
        "the run finished": bool(metrics["finished"])}
    met = None if quick else (below is not None and below[1] <= LIMIT)
    targets = [harness.target("default run below the trigram baseline within 10 minutes", met,
                              f"at {below[1]:.0f} s (step {below[0]})" if below else
                              "not below it" + (" (quick run: not judged)" if quick else ""))]
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset (OpenBLAS picks)")
    notes = [f"command: python -m autograd train --task lm --no-progress --out <tmp> "
             f"{' '.join(extra)}".rstrip(),
             f"OPENBLAS_NUM_THREADS={threads}; validation loss measured every "
             f"{history['step'][0]} steps, so the time to the baseline is the first "
             "evaluation below it",
             f"sample from the run: {metrics['sample'][:120]!r}"]
    return harness.result(NAME, "default chaingrad train --task lm vs the trigram baseline",
                          rows, targets, notes, {"quick": quick}, checks)


if __name__ == "__main__":
    harness.main(run)
