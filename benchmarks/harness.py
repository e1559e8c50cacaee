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

from autograd.allocator import tune_unless_disabled


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


def step_ratio_target(text: str, times: dict, ours: str, theirs: str, limit: float,
                      judge: str = "median") -> dict:
    """:func:`target` "``ours`` takes at most ``limit`` times ``theirs``" from
    :func:`interleaved_times`'s totals, judged by the ratio of the median steps or
    (``judge="best"``) of the best, least disturbed ones.

    Judge torch by best steps: numpy's OpenBLAS workers spin for up to ~0.1 s after
    numpy's turn and take a core from torch's 2 threads, which inflates torch's median
    (up to ~4x on 2 cores; with ``OPENBLAS_THREAD_TIMEOUT=4`` it matches torch alone).
    """
    if theirs not in times:
        return target(text, None, f"{theirs} not measured")
    by = {"median": _step_ratio(times, ours, theirs, statistics.median),
          "best": _step_ratio(times, ours, theirs, min)}
    return target(text, by[judge] <= limit,
                  f"{by['median']:.2f}x {theirs} by medians, {by['best']:.2f}x by best steps")


def _step_ratio(times: dict, ours: str, theirs: str, statistic: Callable) -> float:
    """``statistic`` of our step totals over ``statistic`` of theirs."""
    return statistic(times[ours][-1]) / statistic(times[theirs][-1])


def noise_notes(times: dict) -> list:
    """A note when some contender's median step (of :func:`interleaved_times`'s totals)
    is far above its best one: the load changed during the run, or (torch) numpy's
    OpenBLAS threads took a core from it (see :func:`step_ratio_target`)."""
    spread = {name: statistics.median(ts[-1]) / min(ts[-1]) for name, ts in times.items()}
    if max(spread.values()) <= 1.3:
        return []
    return ["noisy run (median/best step: " + ", ".join(
        f"{name} {r:.2f}" for name, r in spread.items()) + "): the machine's load changed "
        "during it, or (torch) numpy's spinning OpenBLAS threads took a core from torch's; "
        "trust the best-step ratios more than the medians"]


def spread_note(times: dict, unit: float = 1e3, label: str = "ms") -> str:
    """One note with every contender's whole-step spread (of :func:`interleaved_times`'s
    totals): best, lower quartile, median, upper quartile and worst."""
    parts = []
    for name, ts in times.items():
        steps = ts[-1] if len(ts[-1]) > 1 else ts[-1] * 2
        q1, q2, q3 = statistics.quantiles(steps, n=4, method="inclusive")
        parts.append(f"{name} {min(ts[-1]) * unit:.3g} / {q1 * unit:.3g} / {q2 * unit:.3g} / "
                     f"{q3 * unit:.3g} / {max(ts[-1]) * unit:.3g}")
    return (f"spread of the whole step ({label}; best / lower quartile / median / upper "
            f"quartile / worst, {len(next(iter(times.values()))[-1])} steps each): "
            + "; ".join(parts))


def training_phases(forward: Callable, optimizer: Any) -> list:
    """The phases of one training step whose ``forward()`` returns the loss (chaingrad's
    or torch's): forward, ``loss.backward()``, then the optimizer's step and zero_grad,
    returning the loss as a float."""
    def backward(loss: Any) -> Any:
        loss.backward()
        return loss

    def update(loss: Any) -> float:
        optimizer.step()
        optimizer.zero_grad()
        return float(loss.item())

    return [forward, backward, update]


def first_outputs(phases: list, n: int) -> list:
    """What the last phase returns (e.g. the loss) on each of ``n`` untimed runs of the
    chain: the numbers a benchmark compares across contenders before timing them."""
    return [_run_phases(phases, None) for _ in range(n)]


def contenders(chaingrad_step: Callable, numpy_step: Callable,
               torch_step: Callable) -> tuple[dict, Any]:
    """The builders to race: chaingrad, numpy and, when installed, torch at 2
    threads (``torch_step(torch, problem)``). Returns ``(builders, torch or None)``."""
    builders = {"chaingrad": chaingrad_step, "numpy": numpy_step}
    torch = optional("torch")
    if torch is not None:
        torch.set_num_threads(2)
        builders["torch"] = lambda problem: torch_step(torch, problem)
    return builders, torch


def check_and_time(builders: dict, problem: Any, check_steps: int, rounds: int,
                   per_round: int, warmup: int) -> tuple[dict, dict, dict]:
    """Build each contender twice from ``problem``: once to record its first
    ``check_steps`` outputs (the numbers compared before any time counts), once to
    time it in turns with the others. Returns ``(outputs, raw, medians)``: ``raw`` as
    :func:`interleaved_times` gives it, ``medians[name]`` the median of each phase
    and, last, of the whole step."""
    outputs = {name: first_outputs(build(problem), check_steps)
               for name, build in builders.items()}
    contenders = {name: build(problem) for name, build in builders.items()}
    raw = interleaved_times(contenders, rounds, per_round, warmup)
    medians = {name: [statistics.median(t) for t in ts] for name, ts in raw.items()}
    return outputs, raw, medians


def _run_phases(phases: list, times: list | None) -> Any:
    out = None
    stamps = [time.perf_counter()]
    for k, phase in enumerate(phases):
        out = phase() if k == 0 else phase(out)
        stamps.append(time.perf_counter())
    if times is not None:
        for k in range(len(phases)):
            times[k].append(stamps[k + 1] - stamps[k])
        times[-1].append(stamps[-1] - stamps[0])
    return out


def optional(module: str) -> Any:
    """``import module``, or None when it is not installed (its rows are then skipped)."""
    try:
        return __import__(module)
    except ImportError:
        return None


def row(label: str, value: float | None, unit: str, note: str = "") -> dict:
    """One measured number; ``value`` None means "not measured" (say why in ``note``)."""
    return {"label": label, "value": value, "unit": unit, "note": note}


def step_rows(step: str, who: str, times: list, phases: tuple) -> list:
    """A training step's row (ms/step) and, indented beneath it, one row (ms) per
    phase: ``times`` is :func:`check_and_time`'s per-phase medians, the whole step
    last; ``phases`` names the first ones, each row read as "``who`` ``phase``"."""
    return [row(step, times[-1] * 1e3, "ms/step")] + [
        row(f"  {who} {phase}", t * 1e3, "ms") for phase, t in zip(phases, times)]


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
    tune_unless_disabled()  # as chaingrad train does (autograd/allocator.py)
    res = run(quick=args.quick)
    if args.json:
        sys.stdout.write(json.dumps(res) + "\n")
    else:
        print(format_text(res))
