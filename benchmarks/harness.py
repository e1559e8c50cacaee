"""What every benchmark shares: timing, the result record and the command line.

A benchmark is one file ``benchmarks/<name>.py`` with a function
``run(quick: bool = False) -> dict`` that returns :func:`result` and ends with
``if __name__ == "__main__": harness.main(run)``. Run alone it prints a table;
with ``--json`` it prints the result as one JSON line (what ``run.py`` reads).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def median_phases(phases: list, repeats: int, warmup: int = 1) -> list:
    """Median seconds of each phase and of their sum, over ``repeats`` runs of the chain
    ``phases[0]() -> phases[1](out) -> ...`` (after ``warmup`` untimed runs).

    Returns ``[median of phase 0, median of phase 1, ..., median of the total]``.
    Timing starts after a ``gc.collect()``, so earlier garbage is not billed here.
    """
    return interleaved_phases({"": phases}, 1, repeats, warmup)[""]


def interleaved_phases(contenders: dict, rounds: int, per_round: int,
                       warmup: int = 1) -> dict:
    """:func:`median_phases` for several contenders (name -> phases) taking turns:
    ``per_round`` runs of each, ``rounds`` times over, so that a change in the load
    of a shared machine hits every contender alike."""
    times = interleaved_times(contenders, rounds, per_round, warmup)
    return {name: [statistics.median(t) for t in ts] for name, ts in times.items()}


def interleaved_times(contenders: dict, rounds: int, per_round: int, warmup: int = 1) -> dict:
    """The raw seconds behind :func:`interleaved_phases`: name -> one list per phase,
    then one of the totals."""
    for phases in contenders.values():
        for _ in range(warmup):
            _run_phases(phases, None)
    gc.collect()
    times = {name: [[] for _ in range(len(phases) + 1)]
             for name, phases in contenders.items()}
    for _ in range(rounds):
        for name, phases in contenders.items():
            for _ in range(per_round):
                _run_phases(phases, times[name])
    return times


def _run_phases(phases: list, times: list | None) -> None:
    out = None
    stamps = [time.perf_counter()]
    for k, phase in enumerate(phases):
        out = phase() if k == 0 else phase(out)
        stamps.append(time.perf_counter())
    if times is not None:
        for k in range(len(phases)):
            times[k].append(stamps[k + 1] - stamps[k])
        times[-1].append(stamps[-1] - stamps[0])


def optional(module: str) -> Any:
    """``import module``, or None when it is not installed (its rows are then skipped)."""
    try:
        return __import__(module)
    except ImportError:
        return None


def row(label: str, value: float | None, unit: str, note: str = "") -> dict:
    """One measured number; ``value`` None means "not measured" (say why in ``note``)."""
    return {"label": label, "value": value, "unit": unit, "note": note}


def target(text: str, met: bool | None, detail: str) -> dict:
    """A goal the numbers are held against (reported, never asserted)."""
    return {"text": text, "met": met, "detail": detail}


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def result(name: str, title: str, rows: list, targets: list, notes: list, params: dict,
           checks: dict) -> dict:
    """A benchmark's report. ``checks`` maps "what was compared" to True/False: the
    implementations side by side must compute the same thing (the smoke test asserts it)."""
    return {"name": name, "title": title, "rows": rows, "targets": targets,
            "notes": notes, "params": params, "checks": checks}


def format_value(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def format_text(res: dict) -> str:
    """The result as a plain-text table (what a terminal shows)."""
    width = max(len(r["label"]) for r in res["rows"])
    lines = [f"== {res['name']}: {res['title']}"]
    for r in res["rows"]:
        note = f"  ({r['note']})" if r["note"] else ""
        lines.append(f"  {r['label']:<{width}}  {format_value(r['value']):>10} {r['unit']}{note}")
    for t in res["targets"]:
        mark = {True: "MET ", False: "MISS", None: "n/a "}[t["met"]]
        lines.append(f"  [{mark}] {t['text']}: {t['detail']}")
    lines += [f"  check: {text}: {ok}" for text, ok in res["checks"].items()]
    lines += [f"  note: {n}" for n in res["notes"]]
    return "\n".join(lines)


def main(run: Callable[..., dict]) -> None:
    parser = argparse.ArgumentParser(description=(run.__module__ or "").strip())
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    res = run(quick=args.quick)
    if args.json:
        sys.stdout.write(json.dumps(res) + "\n")
    else:
        print(format_text(res))
