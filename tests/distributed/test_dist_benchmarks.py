"""The distributed benchmarks still run (tiny sizes, 2 ranks) and their contenders
agree; timing is never asserted."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
NAMES = ["dist_allreduce", "dist_cnn_step", "dist_mlp_overlap"]


@pytest.fixture(scope="module", autouse=True)
def benchmarks_on_path():
    sys.path.insert(0, str(BENCHMARKS))
    yield
    sys.path.remove(str(BENCHMARKS))


def test_the_runner_finds_them():
    assert set(NAMES) <= set(importlib.import_module("run").available())
    assert "_distributed" not in importlib.import_module("run").available()


@pytest.mark.parametrize("name", NAMES)
def test_distributed_benchmark_runs_quick_and_agrees(need_mpi, name):
    if name == "dist_mlp_overlap":
        pytest.importorskip("sklearn")  # the digits
    res = importlib.import_module(name).run(quick=True)
    json.dumps(res)
    assert res["name"] == name and res["rows"] and res["targets"]
    assert all(r["value"] is None or r["value"] >= 0 for r in res["rows"])
    assert res["checks"] and all(res["checks"].values()), res["checks"]
