"""The benchmarks still run (at tiny sizes) and their implementations agree.

No timing is asserted: only that each benchmark produces a well-formed report
whose side-by-side implementations computed the same thing, and that the runner
selects benchmarks and rewrites RESULTS.md sections in place.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
CORE = sorted(p.stem for p in BENCHMARKS.glob("core_*.py"))
NN = ["cnn_step", "nn_mlp_step", "train_digits"]  # nn, optim and the train command
SEQUENCE = ["lstm_step", "transformer_lm_step", "lm_quality"]  # sequence models, the LM job
# devices: the GPU steps (run on the CPU here, checking the contenders agree) and the
# seam's CPU cost (three revisions of chaingrad from git, side by side)
DEVICES = ["gpu_step", "seam_cpu"]


@pytest.fixture(scope="module", autouse=True)
def benchmarks_on_path():
    sys.path.insert(0, str(BENCHMARKS))
    yield
    sys.path.remove(str(BENCHMARKS))


def test_the_four_core_benchmarks_exist():
    assert CORE == ["core_deep_chain", "core_mlp_step", "core_op_overhead", "core_scalar_mlp"]


def test_the_nn_benchmarks_exist_and_the_runner_finds_them():
    assert all((BENCHMARKS / f"{name}.py").exists() for name in NN)
    assert set(NN) <= set(importlib.import_module("run").available())


def test_the_sequence_benchmarks_exist():
    assert set(SEQUENCE) <= set(importlib.import_module("run").available())


@pytest.mark.parametrize("name", CORE + NN + SEQUENCE + DEVICES)
def test_benchmark_runs_quick_and_agrees(name):
    if name == "train_digits":
        pytest.importorskip("sklearn")  # the digits ship with scikit-learn
    res = importlib.import_module(name).run(quick=True)
    assert res["name"] == name
    json.dumps(res)  # run.py reads it back as JSON
    assert res["rows"] and res["targets"]
    for row in res["rows"]:
        assert row["value"] is None or row["value"] >= 0, row
        assert row["value"] is not None or row["note"], f"unmeasured row without a reason: {row}"
    assert res["checks"], "a benchmark compares its implementations"
    assert all(res["checks"].values()), res["checks"]


def test_deep_chain_frees_the_graph():
    chain = importlib.import_module("core_deep_chain")
    mem = chain.measure("scalar", 2000, "memory")
    assert mem["graph"] > 100 * 2000  # the graph was really held...
    assert mem["after_del"] < 0.05 * mem["graph"]  # ...and is gone after backward + del


def test_runner_selects_by_name_and_pattern():
    run = importlib.import_module("run")
    assert set(CORE) <= set(run.available())
    assert "harness" not in run.available()
    assert run.select(["core_*"]) == CORE
    assert run.select(["core_mlp_step", "core_*"])[0] == "core_mlp_step"
    with pytest.raises(SystemExit, match="no benchmark matches"):
        run.select(["no_such_benchmark"])


def _fake_result(name, value):
    return {"name": name, "title": "t", "rows": [{"label": "x", "value": value,
                                                  "unit": "ms", "note": ""}],
            "targets": [{"text": "fast", "met": True, "detail": "1x"}], "notes": [],
            "params": {}, "checks": {"same": True}, "elapsed": 1.0, "load": (0.1, 0.2)}


def test_runner_replaces_its_section_and_keeps_the_rest(tmp_path, monkeypatch):
    run = importlib.import_module("run")
    results = tmp_path / "RESULTS.md"
    monkeypatch.setattr(run, "RESULTS", results)
    run.update_results({"a": run.to_markdown(_fake_result("a", 1.5), "cmd")})
    run.update_results({"b": run.to_markdown(_fake_result("b", 2.5), "cmd")})
    results.write_text(results.read_text() + "\nhand-written analysis\n")
    run.update_results({"a": run.to_markdown(_fake_result("a", 7.25), "cmd")})
    text = results.read_text()
    assert text.count("<!-- begin a -->") == 1 and "| x | 7.25 | ms |" in text
    assert "| x | 1.5 | ms |" not in text and "| x | 2.5 | ms |" in text
    assert text.index("<!-- begin a -->") < text.index("<!-- begin b -->")
    assert "hand-written analysis" in text


def test_runner_command_line_quick():
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--quick",
                           "core_op_overhead"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "core_op_overhead" in proc.stdout and "µs/op" in proc.stdout
