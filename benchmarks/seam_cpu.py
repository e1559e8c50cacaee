"""The CPU cost of the backend seam: the same workloads on chaingrad just before
the seam landed, right after it, and as it is now, side by side in one run.

The seam (issue 8) routed every array creation, scatter and random draw of the
ops, layers and optimizers through ``autograd.backend`` so the same code runs on
a GPU. On the CPU that is an extra Python call here and there; this measures
whether it shows. Revisions:

    before   the parent of dc71233, the commit that made the seam real
    seam     af3c1ea, the seam with its fix-ups after rebasing
    now      this working tree (everything landed since, incl. other issues' work)

Each revision's packages come from ``git archive`` (the working tree for "now")
and run in a fresh interpreter (``_seam_worker.py``: a chain of small
elementwise ops, the 784-256-256-10 MLP step, cnn_step's CNN step, with public
API only). The revisions take turns, ``rounds`` times in a rotating order, so a
change in the machine's load hits each alike; each row is the median over the
rounds, with the best and worst round beside it. "now" differs from "before" by
every landed issue, not only the seam: the "seam" column isolates the seam.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import harness

NAME = "seam_cpu"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: label -> git revision (None: the working tree)
REVISIONS = {"before": "dc71233^", "seam": "af3c1ea", "now": None}
UNITS = {"op_overhead": ("per-op forward+backward, 10 floats", 1e6, "µs/op"),
         "mlp_step": ("784-256-256-10 MLP step, nn + optim", 1e3, "ms/step"),
         "cnn_step": ("CNN step (cnn_step's), batch 64", 1e3, "ms/step")}


def extract(revision: str, into: Path) -> Path | None:
    """The packages of ``revision`` in a folder of ``into`` (None if git lacks it)."""
    archive = into / "tree.tar"
    with open(archive, "wb") as f:
        done = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "autograd", "nn",
                               "optim"], stdout=f, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        return None
    tree = into / revision.replace("^", "_parent")
    with tarfile.open(archive) as tar:
        tar.extractall(tree)  # our own repository's files
    return tree


def time_once(tree: Path, quick: bool) -> dict:
    """One pass of the worker with ``tree``'s packages first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, str(HERE / "_seam_worker.py"), *(["--quick"] if quick else [])]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env=env, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if not out.pop("_where").startswith(str(tree)):
        raise RuntimeError(f"the worker imported chaingrad from elsewhere than {tree}")
    return out


def run(quick: bool = False) -> dict:
    rounds = 1 if quick else 7
    rows, notes, checks = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        trees, missing = {}, {}
        for label, revision in REVISIONS.items():
            tree = ROOT if revision is None else extract(revision, Path(tmp))
            if tree is None:
                missing[label] = f"revision {revision} is not in this clone's history"
            else:
                trees[label] = tree
        samples: dict = {label: [] for label in trees}
        order = list(trees)
        for r in range(rounds):
            for label in order[r % len(order):] + order[:r % len(order)]:
                samples[label].append(time_once(trees[label], quick))
    for workload, (title, scale, unit) in UNITS.items():
        medians = {}
        for label in REVISIONS:
            if label in missing:
                rows.append(harness.row(f"{title}: {label}", None, unit, missing[label]))
                continue
            values = [s[workload] * scale for s in samples[label]]
            medians[label] = statistics.median(values)
            rows.append(harness.row(f"{title}: {label}", medians[label], unit,
                                    f"best {min(values):.3g}, worst {max(values):.3g}"))
        for label in ("seam", "now"):
            if label in medians and "before" in medians:
                rows.append(harness.row(f"{title}: {label} / before", harness.ratio(
                    medians[label], medians["before"]), "x"))
        checks[f"{workload}: every revision present ran"] = all(
            len(samples[label]) == rounds for label in trees)
    targets = []
    for workload, (title, _, _) in UNITS.items():
        if "before" not in samples or "seam" not in samples:
            targets.append(harness.target(f"{title}: the seam no slower than noise", None,
                                          "a revision is missing"))
            continue
        before = [s[workload] for s in samples["before"]]
        seam = statistics.median(s[workload] for s in samples["seam"])
        noise = max(before) / statistics.median(before)
        ratio = seam / statistics.median(before)
        targets.append(harness.target(
            f"{title}: the seam no slower than noise", ratio <= noise,
            f"seam/before {ratio:.3f} by medians; before's own worst round is {noise:.3f}x "
            "its median"))
    notes.append(f"{rounds} rounds, the revisions taking turns in rotating order; each round "
                 "a fresh interpreter per revision, which times each workload to its median "
                 "(op chain 200 steps, MLP 60, CNN 20, after warm-up); float32; "
                 f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    return harness.result(NAME, "CPU cost of the backend seam: before / seam / now",
                          rows, targets, notes, {"rounds": rounds,
                                                 "revisions": dict(REVISIONS)}, checks)


if __name__ == "__main__":
    harness.main(run)
