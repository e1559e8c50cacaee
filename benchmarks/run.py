"""Run benchmarks, each in a fresh subprocess; print a table; update RESULTS.md.

    python benchmarks/run.py                 # every benchmark
    python benchmarks/run.py core_mlp_step   # by name
    python benchmarks/run.py 'core_*'        # by pattern
    python benchmarks/run.py --quick --no-write

A benchmark is any ``benchmarks/<name>.py`` that follows ``harness.py``'s
protocol (``run(quick)`` and ``harness.main(run)``); adding a file adds it here.
Each run replaces that benchmark's section of RESULTS.md (between its
``<!-- begin NAME -->`` / ``<!-- end NAME -->`` markers); text outside the
markers is left as it is.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import harness

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
NOT_BENCHMARKS = {"run", "harness"}
HEADER = """# Benchmark results

Written by `python benchmarks/run.py` (see README.md): each section below is
replaced when its benchmark runs again; text outside the markers is kept.
"""


def available() -> list:
    return sorted(p.stem for p in HERE.glob("*.py")
                  if p.stem not in NOT_BENCHMARKS and not p.stem.startswith("_"))


def select(patterns: list) -> list:
    names = available()
    if not patterns:
        return names
    chosen = []
    for pattern in patterns:
        matched = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not matched:
            raise SystemExit(f"run.py: no benchmark matches {pattern!r}; have {names}")
        chosen += [n for n in matched if n not in chosen]
    return chosen


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    return (f"{platform.platform()}, {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"numpy {_version('numpy')}, torch {_version('torch')}, "
            f"micrograd {_version('micrograd')}")


def run_one(name: str, quick: bool) -> dict:
    """Run ``benchmarks/<name>.py --json`` in a fresh interpreter; its result plus context."""
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    cmd = [sys.executable, str(HERE / f"{name}.py"), "--json", *(["--quick"] if quick else [])]
    # the working tree's packages, whether or not (or however) they are installed
    path = os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=HERE.parent,
                          env={**os.environ, "PYTHONPATH": path})
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {proc.returncode}):\n{proc.stderr}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update(elapsed=elapsed, load=(load_before, os.getloadavg()[0]))
    return res


def to_markdown(res: dict, command: str) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load0, load1 = res["load"]
    cores = os.cpu_count() or 1
    shared = (f" Other processes were running on this shared {cores}-core machine "
              f"(1-min load average {load0:.2f} before, {load1:.2f} after), so "
              "numbers may be pessimistic." if max(load0, load1) > 0.5 else
              f" 1-min load average {load0:.2f} before, {load1:.2f} after.")
    lines = [
        f"<!-- begin {res['name']} -->",
        f"## {res['name']}: {res['title']}",
        "",
        f"- Machine: {machine()}",
        f"- Date: {when}; took {res['elapsed']:.1f} s.{shared}",
        f"- Command: `{command}`",
        "",
        "| measurement | value | unit | note |",
        "|---|---:|---|---|",
    ]
    lines += [f"| {r['label'].strip()} | {harness.format_value(r['value'])} | {r['unit']} | "
              f"{r['note']} |" for r in res["rows"]]
    if res["targets"]:
        lines += ["", "Targets (reported, not asserted):", ""]
        marks = {True: "met", False: "**missed**", None: "not measured"}
        lines += [f"- {t['text']}: {marks[t['met']]} ({t['detail']})" for t in res["targets"]]
    if res["notes"] or res["checks"]:
        lines += ["", "Notes:", ""]
        lines += [f"- {n}" for n in res["notes"]]
        lines += [f"- check, {text}: {ok}" for text, ok in res["checks"].items()]
    lines.append(f"<!-- end {res['name']} -->")
    return "\n".join(lines)


def update_results(sections: dict) -> None:
    """Replace (or append) each named section of RESULTS.md."""
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    for name, body in sections.items():
        begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            text = head + body + rest.split(end, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + body + "\n"
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run chaingrad's benchmarks.")
    parser.add_argument("names", nargs="*", help=f"names or patterns; from {available()}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    command = shlex.join(["python", "benchmarks/run.py", *sys.argv[1:]])
    sections, failed = {}, []
    for name in select(args.names):
        print(f"running {name} ...", flush=True)
        try:
            res = run_one(name, args.quick)
        except RuntimeError as err:
            print(err, file=sys.stderr)
            failed.append(name)
            continue
        print(harness.format_text(res), f"\n  ({res['elapsed']:.1f} s)\n", flush=True)
        sections[name] = to_markdown(res, command)
    if sections and not args.quick and not args.no_write:
        update_results(sections)
        print(f"updated {RESULTS.relative_to(HERE.parent)}")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
