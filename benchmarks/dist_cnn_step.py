"""CNN training throughput on 1 and 2 ranks, one BLAS thread per rank.

cnn_step.py's network (2 conv, 2 max-pool, linear; SGD) on MNIST-sized images.
One rank trains the plain model; two ranks train it in DistributedDataParallel,
each on its own batch of the same size (weak scaling: twice the samples per
step), and, as a second figure, on half the batch each (strong scaling: the same
64 samples per step). Throughput is samples per second; the jobs take turns,
several rounds, so a change in the machine's load hits them alike.
"""

from __future__ import annotations

import statistics

import _distributed
import harness

NAME = "dist_cnn_step"


def run(quick: bool = False) -> dict:
    batch = 8 if quick else 64
    options = {"steps": 3 if quick else 20, "warmup": 1 if quick else 5}
    rounds = 1 if quick else 3
    configs = {"1 rank, batch 64": (1, batch), "2 ranks, batch 64 each": (2, batch),
               "2 ranks, batch 32 each": (2, batch // 2)}
    steps = {name: [] for name in configs}
    waits = {name: [] for name in configs}
    first, same = {}, True
    for _ in range(rounds):
        for name, (n, b) in configs.items():
            res = _distributed.job(n, "cnn", {**options, "batch": b})
            steps[name] += res["steps"]
            waits[name] += res["waits"]
            first[name] = res["first_loss"]
            same = same and res["same_on_every_rank"]
    med = {name: statistics.median(ts) for name, ts in steps.items()}
    throughput = {name: configs[name][0] * configs[name][1] / med[name] for name in configs}
    base = throughput["1 rank, batch 64"]
    weak = throughput["2 ranks, batch 64 each"] / base
    strong = throughput["2 ranks, batch 32 each"] / base
    rows = []
    for name in configs:
        rows.append(harness.row(f"{name}: step", med[name] * 1e3, "ms",
                                f"best {min(steps[name]) * 1e3:.1f} ms"))
        rows.append(harness.row(f"{name}: throughput", throughput[name], "samples/s"))
    rows += [
        harness.row("2 ranks x 64 / 1 rank (weak scaling)", weak, "x"),
        harness.row("2 ranks x 32 / 1 rank (strong scaling)", strong, "x"),
        harness.row("2 ranks x 64: DDP waiting for communication",
                    statistics.median(waits["2 ranks, batch 64 each"]) * 1e3, "ms/step",
                    "median; includes waiting for the slower rank"),
    ]
    best_weak = (2 * batch / min(steps["2 ranks, batch 64 each"])) / (
        batch / min(steps["1 rank, batch 64"]))
    targets = [harness.target("2 ranks ≥ 1.6x the throughput of 1 rank (one BLAS thread each)",
                              weak >= 1.6, f"{weak:.2f}x by median steps, {best_weak:.2f}x by "
                              "best steps (weak scaling)")]
    checks = {"parameters identical on both ranks after the timed steps": same,
              "rank 0's first loss is the 1-rank run's (same data, same weights)":
                  abs(first["2 ranks, batch 64 each"] - first["1 rank, batch 64"]) < 1e-5}
    notes = [f"float32, (N, 1, 28, 28) inputs, every rank its own random batch; {rounds} "
             f"rounds of the three jobs in turn, each {options['steps']} steps after "
             f"{options['warmup']} warm-up steps; a step's time is its slowest rank's; "
             "OPENBLAS/OMP/MKL_NUM_THREADS=1 in every rank",
             "the model's gradients (82 KB) fit PyTorch's 1 MB first bucket: one all-reduce "
             "per step, at the end of backward (nothing to overlap with)"]
    return harness.result(NAME, "CNN step throughput, 1 vs 2 ranks (one BLAS thread each)",
                          rows, targets, notes, {"batch": batch, "rounds": rounds, **options},
                          checks)


if __name__ == "__main__":
    harness.main(run)
