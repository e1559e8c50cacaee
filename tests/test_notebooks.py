"""Every teaching notebook in notebooks/ runs top to bottom, in a fresh kernel, without
an error (the notebooks assert their own numbers: hand-derived gradients against the
engine, update rules against optim, metrics against sklearn)."""

from __future__ import annotations

import html
import os
import pathlib
import re
import shutil

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
for _module in ("ipykernel", "matplotlib", "ipywidgets", "sklearn"):
    pytest.importorskip(_module)

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def execute(path: pathlib.Path) -> nbformat.NotebookNode:
    """Run the notebook in a fresh kernel with the notebooks folder as cwd; the
    executed notebook, or pytest.fail naming the cell that raised."""
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{path.name} failed:\n{err}", pytrace=False)
    return notebook


# a decimal number as the text quotes it: 0.8699, -0.02945, 98.61%, 1.79e-01
NUMBER = re.compile(r"(?<![\w.^_{])-?\d+\.\d+(?:e[-+]?\d+)?")


def significant_digits(text: str) -> int:
    mantissa = text.lstrip("-").split("e")[0].replace(".", "")
    return len(mantissa.lstrip("0"))


def printed_text(notebook: nbformat.NotebookNode) -> str:
    """Everything the run printed or drew as text: streams, plain and HTML results,
    and the text inside SVG pictures (graph labels)."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            parts += [output.get("text", ""), data.get("text/plain", ""), data.get("text/html", "")]
            svg = data.get("image/svg+xml", "")
            parts += [html.unescape(t) for t in re.findall(r">([^<>]+)</text>", svg)]
    return "\n".join(parts)


def unprinted_numbers(notebook: nbformat.NotebookNode) -> list[str]:
    """Numbers quoted in the text (3 significant digits or more) that neither the
    code nor what the run printed contains: a quoted result that went stale."""
    printed = printed_text(notebook)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    missing = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for found in NUMBER.finditer(cell.source):
            number = found.group(0).lstrip("-")
            if significant_digits(number) >= 3 and number not in printed and number not in code:
                context = cell.source[max(found.start() - 40, 0):found.end() + 20]
                missing.append(f"{number!r} in ...{' '.join(context.split())}...")
    return missing


@pytest.fixture(autouse=True)
def one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel inherits the environment; on a small machine running tests in
    # parallel, BLAS threads only fight over the cores (10x slower matmuls)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, "1"))


def test_notebooks_exist() -> None:
    assert [p.stem[:2] for p in PATHS] == ["01", "02", "03", "04", "05", "06", "07", "08",
                                           "09"]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs(path: pathlib.Path) -> None:
    draws = any("draw(" in cell.source for cell in nbformat.read(path, as_version=4).cells)
    if draws and shutil.which("dot") is None:
        pytest.skip("the Graphviz `dot` binary is not installed (apt-get install graphviz)")
    notebook = execute(path)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            # a display formatter that fails (e.g. graphviz) prints, it does not raise
            assert not (output.get("name") == "stderr" and "Traceback" in output["text"]), (
                f"{path.name}: a cell printed a traceback:\n{output['text']}")
    # the numbers the text quotes are the ones this run printed
    missing = unprinted_numbers(notebook)
    assert not missing, f"{path.name}: the text quotes numbers this run did not print:\n" + (
        "\n".join(missing))


def test_saved_pictures_render_without_trusting_the_notebook() -> None:
    """JupyterLab renders no SVG from a notebook it does not trust (any notebook
    freshly opened from disk); a PNG beside each SVG is what it shows instead."""
    for path in PATHS:
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if "image/svg+xml" in data:
                    assert data.get("image/png"), f"{path.name}: an SVG output without a PNG"


def test_unprinted_numbers_are_found() -> None:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(0.25)", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="loss 0.1234\n")]),
        nbformat.v4.new_markdown_cell("The loss is 0.1234 after 0.5 s, not 0.1235 nor 98.61%."),
    ])
    assert [m.split()[0] for m in unprinted_numbers(notebook)] == ["'0.1235'", "'98.61'"]


def test_stored_notebooks_are_executed_and_small() -> None:
    """The notebooks are kept with their outputs (GitHub shows them), as modest PNGs."""
    total = 0
    for path in PATHS:
        notebook = nbformat.read(path, as_version=4)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        live = [c for c in code if "live" in c.metadata.get("tags", [])]
        assert all(c.execution_count for c in code if c not in live), f"{path.name} not executed"
        assert any(o.get("data", {}).get("image/png") or o.get("data", {}).get("image/svg+xml")
                   for c in code for o in c.outputs), f"{path.name} has no picture"
        assert not any(o.output_type == "error" for c in code for o in c.outputs), path.name
        total += path.stat().st_size
    assert total < 3 * 2**20, f"notebooks take {total / 2**20:.1f} MiB"
