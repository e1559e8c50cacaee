"""How much of a data-parallel step is communication that backward did not hide.

``chaingrad train``'s default step (the digits MLP 64-128-10 with the
standardiser, Adam, cross-entropy, batch 32 per rank) run as the train command
runs it on 2 ranks (each rank its share of a global batch, DistributedDataParallel),
against the same step on 1 rank. Per step, DDP records how long the rank waited
for communication after backward's last rule (``ddp.last_stats.wait_s``: the last
bucket's all-reduce, the wait for the others, and any wait for the slower rank).
"""

from __future__ import annotations

import statistics

import _distributed
import harness

NAME = "dist_mlp_overlap"


def run(quick: bool = False) -> dict:
    options = {"batch": 32, "steps": 20 if quick else 300, "warmup": 5 if quick else 30}
    rounds = 1 if quick else 3
    one, two, same = [], [], True
    for _ in range(rounds):
        one += _distributed.job(1, "mlp", options)["ranks"][0]["steps"]
        res = _distributed.job(2, "mlp", options)
        two.append(res["ranks"])
        same = same and res["same_on_every_rank"]
    ranks = [{key: [v for r in two for v in r[k][key]] for key in ("steps", "waits")}
             for k in range(2)]
    med_step = [statistics.median(r["steps"]) for r in ranks]
    med_wait = [statistics.median(r["waits"]) for r in ranks]
    share_median = [w / s for w, s in zip(med_wait, med_step)]
    share_total = [sum(r["waits"]) / sum(r["steps"]) for r in ranks]
    rows = [harness.row("1 rank: step", statistics.median(one) * 1e3, "ms",
                        f"best {min(one) * 1e3:.3f} ms")]
    for k in range(2):
        rows += [
            harness.row(f"2 ranks, rank {k}: step", med_step[k] * 1e3, "ms",
                        f"best {min(ranks[k]['steps']) * 1e3:.3f} ms"),
            harness.row(f"2 ranks, rank {k}: waiting for communication", med_wait[k] * 1e3,
                        "ms/step", "median"),
            harness.row(f"2 ranks, rank {k}: non-overlapped share (medians)",
                        100 * share_median[k], "%"),
            harness.row(f"2 ranks, rank {k}: non-overlapped share (totals)",
                        100 * share_total[k], "%", "sum of waits / sum of steps: "
                        "every stall counts"),
        ]
    share = max(share_median)
    targets = [harness.target(
        "non-overlapped communication ≤ 10% of the digits MLP step at 2 ranks",
        share <= 0.10, f"{100 * share:.1f}% (worse rank, median wait / median step); "
        f"{100 * max(share_total):.1f}% by totals")]
    checks = {"parameters identical on both ranks": same}
    notes = [f"{rounds} rounds of the 1-rank and the 2-rank job in turn, each "
             f"{options['steps']} steps after {options['warmup']} warm-up steps; one BLAS "
             "thread per rank",
             "the MLP's gradients (39 KB) are one bucket, all-reduced after backward's last "
             "rule with MPI's blocking all-reduce: this step has nothing to overlap with, so "
             "the share is the all-reduce itself plus the ranks' skew",
             "on a loaded machine a rank that loses its core for a scheduler slice stalls "
             "the other: the totals show such stalls, the medians a typical step"]
    return harness.result(NAME, "non-overlapped communication in the digits MLP step, 2 ranks",
                          rows, targets, notes, {"rounds": rounds, **options}, checks)


if __name__ == "__main__":
    harness.main(run)
