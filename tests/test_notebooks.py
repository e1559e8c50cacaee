"""Every teaching notebook in notebooks/ runs top to bottom, in a fresh kernel, without
an error (the notebooks assert their own numbers: hand-derived gradients against the
engine, update rules against optim, metrics against sklearn)."""

from __future__ import annotations

import os
import pathlib
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


@pytest.fixture(autouse=True)
def one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel inherits the environment; on a small machine running tests in
    # parallel, BLAS threads only fight over the cores (10x slower matmuls)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, "1"))


def test_notebooks_exist() -> None:
    assert [p.stem[:2] for p in PATHS] == ["01", "02", "03", "04", "05", "06", "07"]


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
