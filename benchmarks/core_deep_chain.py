"""A deep chain: 10^6 Scalar ops and 10^5 Tensor ops, ``z = z * 1.0000001 + 0.0``.

Shows that the engine is iterative (no recursion limit), how long forward and
backward take per op at depth, that graph memory grows linearly with the number
of ops, and that the graph is freed once backward has run and the output is
dropped (no reference cycles: reference counting frees it, no GC pass needed).

Each (kind, size) runs in a fresh subprocess twice: once timed (with the peak
RSS growth from ``getrusage``), once under ``tracemalloc`` for exact Python
heap numbers: after forward (the graph), the peak, after backward (the output
still held: what the graph keeps while its output lives) and after ``del`` of
the output.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import harness
import numpy as np

import autograd

NAME = "core_deep_chain"
FACTOR = 1.0000001
MB = 2**20
FREE_LIST_SLACK = 256 * 1024


def build(kind: str, n_ops: int) -> tuple:
    """The leaf and the end of a chain of ``n_ops`` ops (half mul, half add)."""
    if kind == "scalar":
        leaf = autograd.Scalar(0.5)
    else:
        leaf = autograd.tensor(np.full(10, 0.5, np.float32), requires_grad=True)
    z = leaf
    for _ in range(n_ops // 2):
        z = z * FACTOR
        z = z + 0.0
    return leaf, z if kind == "scalar" else z.sum()


def _grad(leaf: object) -> float:
    g = leaf.grad
    return float(g if isinstance(g, float) else g.data.ravel()[0])


def child(kind: str, n_ops: int, mode: str) -> None:
    """Measure one chain in this (fresh) process and print the numbers as JSON."""
    out: dict = {}
    _, warm = build(kind, 100)  # first-call caches (imports, numpy internals) are not graph
    warm.backward()
    del warm
    if mode == "memory":
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        leaf, z = build(kind, n_ops)
        out["graph"] = tracemalloc.get_traced_memory()[0] - base
        z.backward()
        out["after_backward"] = tracemalloc.get_traced_memory()[0] - base
        del z
        current, peak = tracemalloc.get_traced_memory()
        out["after_del"] = current - base
        out["peak"] = peak - base
    else:
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        leaf, z = build(kind, n_ops)
        t1 = time.perf_counter()
        z.backward()
        t2 = time.perf_counter()
        # ru_maxrss is in KiB on Linux
        out["peak_rss"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) * 1024
        out["forward"], out["backward"] = t1 - t0, t2 - t1
    factor = FACTOR if kind == "scalar" else float(np.float32(FACTOR))  # as the op sees it
    out["grad"], out["expected"] = _grad(leaf), factor ** (n_ops // 2)
    print(json.dumps(out))


def measure(kind: str, n_ops: int, mode: str) -> dict:
    """:func:`child` in a fresh interpreter (so peaks and heaps start clean)."""
    code = f"import core_deep_chain as m; m.child({kind!r}, {n_ops}, {mode!r})"
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} chain of {n_ops} ops ({mode}) failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _kind_rows(kind: str, sizes: list) -> tuple:
    """Rows for one kind: timing at the largest size, memory at every size."""
    label = "Scalar" if kind == "scalar" else "Tensor (10 float32)"
    n = sizes[-1]
    timed = measure(kind, n, "time")
    mems = {size: measure(kind, size, "memory") for size in sizes}
    top = mems[n]
    rows = [
        harness.row(f"{label} {n:,} ops: forward", timed["forward"], "s"),
        harness.row(f"{label} {n:,} ops: backward", timed["backward"], "s"),
        harness.row(f"{label} {n:,} ops: peak RSS growth", timed["peak_rss"] / MB, "MiB"),
        harness.row(f"{label} {n:,} ops: graph (tracemalloc)", top["graph"] / MB, "MiB"),
        harness.row(f"{label} {n:,} ops: peak (tracemalloc)", top["peak"] / MB, "MiB"),
        harness.row(f"{label} {n:,} ops: held after backward", top["after_backward"] / 1024,
                    "KiB", "the output still alive"),
        harness.row(f"{label} {n:,} ops: held after del", top["after_del"] / 1024, "KiB"),
    ]
    rows += [harness.row(f"{label} graph bytes/op at {size:,} ops", mems[size]["graph"] / size,
                         "B/op") for size in sizes]
    per_op = [mems[size]["graph"] / size for size in sizes]
    linear = max(per_op) <= 1.25 * min(per_op)
    # CPython's free lists (up to 2000 tuples of each length...) keep a bounded amount
    freed = top["after_del"] <= max(0.01 * top["graph"], FREE_LIST_SLACK)
    rtol = 1e-9 if kind == "scalar" else 1e-3  # float32 rounds once per op
    grads_ok = all(bool(np.isclose(m["grad"], m["expected"], rtol=rtol))
                   for m in [timed, *mems.values()])
    target = harness.target(
        f"{label}: completes, memory linear, freed after backward", linear and freed,
        f"bytes/op {min(per_op):.0f}-{max(per_op):.0f} across sizes; "
        f"{top['after_del'] / 1024:.1f} KiB of {top['graph'] / MB:.1f} MiB held after "
        "backward+del")
    return rows, target, grads_ok


def run(quick: bool = False) -> dict:
    scalar_sizes = [100, 1000] if quick else [10**4, 10**5, 10**6]
    tensor_sizes = [100, 1000] if quick else [10**3, 10**4, 10**5]
    rows, targets, checks = [], [], {}
    for kind, sizes in (("scalar", scalar_sizes), ("tensor", tensor_sizes)):
        kind_rows, target, grads_ok = _kind_rows(kind, sizes)
        rows += kind_rows
        targets.append(target)
        checks[f"{kind} chain: leaf gradient = factor ** (n / 2)"] = grads_ok
    notes = ["each size in a fresh subprocess; times without tracemalloc, memory with it; "
             "the GC left on (default); 'held after del' is measured without gc.collect(), "
             "after one small warm-up chain (first-call caches are not graph)"]
    return harness.result(NAME, "deep chains: time, memory, freeing", rows, targets, notes,
                          {"scalar_sizes": scalar_sizes, "tensor_sizes": tensor_sizes}, checks)


if __name__ == "__main__":
    harness.main(run)
