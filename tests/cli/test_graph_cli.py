"""``chaingrad graph`` end to end: through ``autograd.cli.main`` and as a process."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograd.cli import graph, main

TANH_ARGS = ["graph", "tanh(x*w + b)", "--x", "0.5", "--w", "-1.2", "--b", "0.3"]


def printed_numbers(out: str) -> dict[str, float]:
    """``{"f": ..., "x": ...}`` from the ``f = ...`` and ``d f / d x = ...`` lines."""
    found = {}
    results = out.split("\n\n", 1)[1]  # after the "f = FORMULA" header
    for line in results.splitlines():
        match = re.fullmatch(r"\s*(?:d f / d (\w+)|(f)) =\s+(\S+)", line)
        if match:
            found[match[1] or match[2]] = float(match[3])
    return found


def test_prints_the_value_and_each_gradient_in_order(capsys: pytest.CaptureFixture) -> None:
    assert main(TANH_ARGS) == 0
    out = capsys.readouterr().out
    t = math.tanh(0.5 * -1.2 + 0.3)
    numbers = printed_numbers(out)
    assert list(numbers) == ["f", "x", "w", "b"]  # order of first appearance
    assert numbers["f"] == pytest.approx(t, rel=1e-7)
    assert numbers["x"] == pytest.approx(-1.2 * (1 - t * t), rel=1e-7)
    assert numbers["w"] == pytest.approx(0.5 * (1 - t * t), rel=1e-7)
    assert numbers["b"] == pytest.approx(1 - t * t, rel=1e-7)
    equals_columns = {line.index(" = ") for line in out.splitlines()[2:] if line}
    assert len(equals_columns) == 1  # aligned
    assert out.startswith("f = tanh(x*w + b)\n")


def test_a_repeated_name_gets_the_sum_of_its_gradients(capsys: pytest.CaptureFixture) -> None:
    assert main(["graph", "x*x + x - exp(-y)/2", "--x", "3", "--y=-1e-1"]) == 0
    numbers = printed_numbers(capsys.readouterr().out)
    assert numbers["x"] == pytest.approx(7.0)
    assert numbers["y"] == pytest.approx(math.exp(0.1) / 2, rel=1e-7)


def test_writes_dot_text_with_every_name_and_gradient(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "sub" / "graph.dot"
    assert main([*TANH_ARGS, "--out", str(out), "--rankdir", "TB"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    dot = out.read_text()
    assert dot.startswith("digraph") and 'rankdir="TB"' in dot
    for name in ("x", "w", "b"):
        assert re.search(rf'label="{name}\b', dot), name
    assert "tanh" in dot and "grad 0.4576" in dot  # d f / d w, kept for the picture
    assert "freed" not in dot  # the picture still sees every op after backward


def test_a_long_formula_is_drawn_whole(tmp_path: Path) -> None:
    out = tmp_path / "long.dot"
    assert main(["graph", "x" + " + x" * 400, "--x", "1", "--out", str(out)]) == 0
    assert out.read_text().count("add (+)") == 400


def test_options_may_come_before_the_formula(tmp_path: Path) -> None:
    out = tmp_path / "g.dot"
    assert main(["graph", "--out", str(out), "--rankdir", "LR", "x*2", "--x", "1"]) == 0
    assert 'rankdir="LR"' in out.read_text()


def test_a_formula_of_numbers_only_has_no_gradients(capsys: pytest.CaptureFixture) -> None:
    assert main(["graph", "2**3 - 1"]) == 0
    assert printed_numbers(capsys.readouterr().out) == {"f": 7.0}


def test_formula_starting_with_minus_goes_after_double_dash(
        capsys: pytest.CaptureFixture) -> None:
    assert main(["graph", "--", "-x**2", "--x", "-3"]) == 0
    assert printed_numbers(capsys.readouterr().out) == {"f": -9.0, "x": 6.0}


def test_help_after_the_formula(capsys: pytest.CaptureFixture) -> None:
    assert main(["graph", "x", "--x", "1", "-h"]) == 0
    assert "--NAME VALUE" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["graph", "tanh(x*w + b", "--x", "1", "--w", "2", "--b", "3"], "'(' is never closed"),
    (["graph", "x*w", "--x", "1"], "no value for 'w': pass --w VALUE"),
    (["graph", "x", "--x", "1", "--y", "2"], "--y: the formula has no name 'y'"),
    (["graph", "x", "--x", "one"], "--x: expected a number, got 'one'"),
    (["graph", "x", "--x"], "--x needs a value"),
    (["graph", "x", "--x", "1", "--x", "2"], "--x is given twice"),
    (["graph", "x", "--x", "1", "2"], "expected --NAME VALUE after the formula, got '2'"),
    (["graph", "log(x)", "--x", "-1"], "Scalar log: needs a positive number"),
    (["graph", "out * 2", "--out", "3"], "the name 'out' is taken by the option --out"),
    (["graph", "x", "--x", "1", "--out", "g.jpg"], "unknown picture format '.jpg'"),
    (["graph", "__import__('os').system('touch pwned')"], "unexpected character"),
    (["graph", "foo(x)", "--x", "1"], "unknown function 'foo'"),
])
def test_errors_exit_2_with_the_message_on_stderr(argv: list, message: str,
                                                  capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.startswith("chaingrad graph: error: ")
    assert "Traceback" not in captured.err and captured.out == ""


def test_formula_errors_show_a_caret(capsys: pytest.CaptureFixture) -> None:
    assert main(["graph", "x + * y", "--x", "1", "--y", "2"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[1] == "    x + * y" and err[2] == "        ^"


def test_bad_rankdir_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["graph", "x", "--x", "1", "--rankdir", "XY"])
    assert info.value.code == 2 and "invalid choice: 'XY'" in capsys.readouterr().err


def test_option_names_are_not_abbreviated(capsys: pytest.CaptureFixture) -> None:
    # `--o 2` is the value of a name o, never a short --out
    assert main(["graph", "o * 2", "--o", "2"]) == 0
    assert printed_numbers(capsys.readouterr().out) == {"f": 4.0, "o": 2.0}


def test_missing_dot_program_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    out = tmp_path / "g.svg"
    assert main([*TANH_ARGS, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "apt-get install graphviz" in captured.err and "g.dot" in captured.err
    assert "d f / d w" in captured.out  # the numbers are printed all the same
    assert not out.exists()


# ---------------------------------------------------------------- as a process
def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograd", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_python_m_autograd_graph_writes_dot(tmp_path: Path) -> None:
    result = run_cli(*TANH_ARGS, "--out", "graph.dot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote graph.dot" in result.stdout
    assert printed_numbers(result.stdout)["w"] == pytest.approx(0.45756848, rel=1e-7)
    assert (tmp_path / "graph.dot").read_text().startswith("digraph")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_python_m_autograd_graph_writes_svg(tmp_path: Path) -> None:
    result = run_cli("graph", "relu(a) + sigmoid(b*c) + log(d)", "--a", "1", "--b", "-2",
                     "--c", "0.5", "--d", "4", "--out", "graph.svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    svg = (tmp_path / "graph.svg").read_text()
    assert "<svg" in svg and "sigmoid" in svg


def test_python_m_autograd_graph_error_exits_2_without_traceback(tmp_path: Path) -> None:
    result = run_cli("graph", "__import__('os').system('touch pwned')", "--out", "g.dot",
                     cwd=tmp_path)
    assert result.returncode == 2
    assert "unexpected character" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
