"""What a learner sees: notebook 01, executed and exported to HTML, opened in headless
Chromium; the screenshot must show the rendered graph of the neuron."""

from __future__ import annotations

import base64
import html as html_text
import os
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
nbconvert = pytest.importorskip("nbconvert")
image = pytest.importorskip("matplotlib.image")
for _module in ("ipykernel", "ipywidgets"):
    pytest.importorskip(_module)

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
                None)
if CHROMIUM is None:
    pytest.skip("no chromium browser (apt-get install chromium)", allow_module_level=True)
if shutil.which("dot") is None:
    pytest.skip("the Graphviz `dot` binary is not installed (apt-get install graphviz)",
                allow_module_level=True)

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
WINDOW = (1200, 2400)
PARAM_FILL = (0xCC, 0xE5, 0xF6)   # viz's fill colors: parameters, ops, the output
OP_FILL = (0xF2, 0xF2, 0xF2)
OUTPUT_FILL = (0xFD, 0xE2, 0xC0)

# Hide every cell above the first graph so it lands at the top of the window, and
# record where the browser laid it out (read back with --dump-dom).
LOCATE_GRAPH = """<script>
const graph = document.querySelector('[data-mime-type="image/svg+xml"] img');
for (let c = graph.closest('.jp-Cell').previousElementSibling; c; c = c.previousElementSibling) {
  c.style.display = 'none';
}
const box = graph.getBoundingClientRect();
document.body.dataset.graphBox = [box.left, box.top, box.width, box.height].join(',');
</script>
"""


def chromium(tmp_path: pathlib.Path, page: pathlib.Path, *args: str) -> str:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}", *args, page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def first_graph_svg(html: str) -> str:
    """The SVG text of the first graph output (nbconvert embeds SVGs as data URIs)."""
    found = re.search(r'data-mime-type="image/svg\+xml".*?src="data:image/svg\+xml;base64,'
                      r'([A-Za-z0-9+/=]+)"', html, re.S)
    assert found, "no SVG output in the exported notebook"
    return html_text.unescape(base64.b64decode(found.group(1)).decode())


def color_share(pixels: np.ndarray, rgb: tuple) -> float:
    return float(np.mean(np.all(np.abs(pixels - np.array(rgb)) <= 3, axis=-1)))


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, str]:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    notebook = nbformat.read(NOTEBOOKS / "01_scalar_backprop.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    html, _ = nbconvert.HTMLExporter().from_notebook_node(notebook)
    folder = tmp_path_factory.mktemp("browser")
    path = folder / "01_scalar_backprop.html"
    path.write_text(html.replace("</body>", LOCATE_GRAPH + "</body>", 1), encoding="utf-8")
    return path, html


def test_exported_graph_is_an_svg_of_the_neuron(page: tuple) -> None:
    svg = first_graph_svg(page[1])
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert svg.count('class="node') == 21           # 7 ops + 14 values of the neuron
    for text in ("w1 · param", "sigmoid (σ)", "L · output", "grad -0.04418"):
        assert text in svg


def test_screenshot_shows_the_graph(page: tuple, tmp_path: pathlib.Path) -> None:
    path, _ = page
    dom = chromium(tmp_path, path, "--dump-dom")
    box = re.search(r'data-graph-box="([\d.,-]+)"', dom)
    assert box, "the page script did not find the graph"
    left, top, width, height = (float(v) for v in box.group(1).split(","))
    assert width > 300 and height > 600, f"graph laid out at {width}x{height} px"

    shot = tmp_path / "notebook.png"
    chromium(tmp_path, path, f"--screenshot={shot}")
    pixels = image.imread(shot)[..., :3] * 255
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    right, bottom = min(int(left + width), WINDOW[0]), min(int(top + height), WINDOW[1])
    graph = pixels[int(top):bottom, int(left):right]
    assert graph.size, f"the graph at {box.group(1)} is outside the window"

    non_white = np.mean(np.any(graph < 235, axis=-1))
    assert non_white > 0.03, f"graph region is nearly blank ({non_white:.1%} non-white)"
    assert color_share(graph, PARAM_FILL) > 0.01, "no parameter boxes (blue fill) visible"
    assert color_share(graph, OP_FILL) > 0.005, "no op ovals (grey fill) visible"
    assert color_share(graph, OUTPUT_FILL) > 0.001, "no output box (orange fill) visible"
    # the page around the graph is not one big graph: above it, only the cell's input
    assert color_share(pixels[: max(int(top) - 5, 1)], PARAM_FILL) == 0
