"""All-reduce time against message size, at 2 and 4 ranks on this machine.

A blocking SUM all-reduce of float32 data, 4 KB to 16 MB: chaingrad's
``dist.all_reduce`` on a Tensor, mpi4py's ``Allreduce`` on a numpy array (the
floor: the same MPI call with nothing around it) and torch.distributed on its
gloo backend (the reference), taking turns, a barrier before every call; a
call's time is its slowest rank's. The bus bandwidth is what a ring all-reduce
moves per rank, 2(N-1)/N of the message, over the time (nccl-tests' measure);
docs/distributed.md plugs these numbers into a cost model.
"""

from __future__ import annotations

import statistics

import _distributed
import harness

NAME = "dist_allreduce"
SIZES = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20]


def label(nbytes: int) -> str:
    return f"{nbytes >> 20} MB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KB"


def run(quick: bool = False) -> dict:
    sizes = SIZES[:2] if quick else SIZES
    options = {"sizes": sizes, "reps": 3 if quick else 30, "warmup": 1 if quick else 5}
    ranks = [2] if quick else [2, 4]
    rows, checks, overheads = [], {}, []
    for n in ranks:
        res = _distributed.job(n, "allreduce", options)
        checks.update({f"{n} ranks: {k}": v for k, v in res["checks"].items()})
        for nbytes in sizes:
            times = res["times"][str(nbytes)]
            med = {name: statistics.median(ts) for name, ts in times.items()}
            ours = med["chaingrad"]
            bus = 2 * (n - 1) / n * nbytes / ours / 1e9
            best = min(times["chaingrad"]) * 1e6
            rows.append(harness.row(f"{n} ranks, {label(nbytes)}: chaingrad", ours * 1e6, "µs",
                                    f"bus bandwidth {bus:.2f} GB/s; best {best:.0f} µs"))
            rows.append(harness.row(f"{n} ranks, {label(nbytes)}: mpi4py Allreduce",
                                    med["mpi4py"] * 1e6, "µs"))
            if "torch gloo" in med:
                rows.append(harness.row(f"{n} ranks, {label(nbytes)}: torch gloo",
                                        med["torch gloo"] * 1e6, "µs"))
            overheads.append((n, nbytes, ours - med["mpi4py"], ours / med["mpi4py"],
                              min(times["chaingrad"]) / min(times["mpi4py"])))
    big = [o for o in overheads if o[1] >= 1 << 20]
    worst_big = max(big, key=lambda o: o[3]) if big else None
    worst_small = max(o[2] for o in overheads)
    targets = [
        harness.target("chaingrad's all_reduce within 1.2x of mpi4py's Allreduce from 1 MB",
                       None if worst_big is None else worst_big[3] <= 1.2,
                       "n/a in --quick" if worst_big is None else
                       f"worst {worst_big[3]:.2f}x by medians ({worst_big[0]} ranks, "
                       f"{label(worst_big[1])}); worst by best calls "
                       f"{max(o[4] for o in big):.2f}x"),
    ]
    notes = [f"float32, SUM, median of {options['reps']} calls after {options['warmup']} "
             "warm-up calls per size; every rank has one BLAS thread; ranks on one machine "
             "talk through shared memory (Open MPI's vader BTL)",
             f"chaingrad's own cost per call (Tensor checks, in-place bookkeeping) is the "
             f"difference to mpi4py: at most {worst_small * 1e6:.0f} µs here",
             "4 ranks on a 2-core machine are oversubscribed (two ranks per core): those rows "
             "show the time-sharing, not a 4-core machine's all-reduce"]
    return harness.result(NAME, "all-reduce time vs message size (2 and 4 ranks)", rows,
                          targets, notes, {"sizes": sizes, "ranks": ranks, **options}, checks)


if __name__ == "__main__":
    harness.main(run)
