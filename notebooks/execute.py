"""Re-run the notebooks in place and store their outputs (what GitHub shows).

    python notebooks/execute.py            # every notebook
    python notebooks/execute.py 03 05      # by number

Each notebook runs in a fresh kernel with this folder as cwd and one BLAS thread.
Cells tagged ``live`` (the stepper widget) run, but their outputs are not stored: a
saved widget shows nothing without a live kernel. Needs ``pip install -e ".[notebooks]"``.
"""

from __future__ import annotations

import os
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

FOLDER = pathlib.Path(__file__).resolve().parent


def merge_streams(outputs: list) -> list:
    """Join consecutive prints to the same stream: how the kernel happened to chunk
    them depends on timing, and the stored notebook should not."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == output.name):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def execute(path: pathlib.Path) -> float:
    """Run one notebook and write it back with its outputs; the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=120, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(FOLDER)}}).execute()
    seconds = time.perf_counter() - start
    for cell in notebook.cells:
        if "live" in cell.metadata.get("tags", []):
            cell.outputs, cell.execution_count = [], None
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
        for output in cell.get("outputs", []):
            # a graph picture's text fallback is an object address, new on every run
            if "image/svg+xml" in output.get("data", {}):
                output["data"].pop("text/plain", None)
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)
    return seconds


def main(numbers: list[str]) -> None:
    # on a small machine BLAS threads only fight over the cores (matmuls 10x slower)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for path in sorted(FOLDER.glob("*.ipynb")):
        if not numbers or path.name[:2] in numbers:
            seconds = execute(path)
            print(f"{path.name}: {seconds:.1f} s, {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main(sys.argv[1:])
