"""The documentation site builds from the docstrings with warnings as errors, and a
reader sees it: the API reference page, opened in headless Chromium, lists
``Tensor.backward``."""

from __future__ import annotations

import html
import pathlib
import re
import subprocess
import sys

import pytest

from tests.needs import CHROMIUM, need, need_module

for _module in ("sphinx", "myst_nb", "furo"):
    need_module(_module)

ROOT = pathlib.Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("docs") / "html"
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html",
         str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert done.returncode == 0, f"the docs build failed:\n{done.stdout}\n{done.stderr}"
    assert "WARNING" not in done.stderr, done.stderr
    return out


def text_of(page: pathlib.Path) -> str:
    """The page's text as a reader sees it: tags dropped (highlighting splits code into
    spans), entities decoded, runs of white space made one space."""
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
    return " ".join(text.split())


def test_every_page_is_built(site: pathlib.Path) -> None:
    for page in ("index", "getting-started", "tour", "jobs", "semantics", "notebooks",
                 "api/autograd", "api/nn", "api/optim"):
        assert (site / f"{page}.html").is_file(), page
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.stem for p in (site / "notebooks").glob("*.html")) == notebooks
    # the README's two commands, included (not copied) into getting started
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    started = text_of(site / "getting-started.html")
    for line in commands.strip().splitlines():
        command = " ".join(line.split("#")[0].split())
        assert command in started, command


def test_api_reference_comes_from_the_docstrings(site: pathlib.Path) -> None:
    import autograd
    import nn
    import optim

    api = (site / "api" / "autograd.html").read_text(encoding="utf-8")
    for name in ("autograd.Tensor.backward", "autograd.grad", "autograd.Scalar",
                 "autograd.viz.BackwardStepper", "autograd.viz.draw", "autograd.data.DataLoader",
                 "autograd.functional.hessian", "autograd.zeros", "autograd.cat"):
        assert f'id="{name}"' in api, name
    first_line = autograd.Tensor.backward.__doc__.strip().splitlines()[0]
    assert " ".join(first_line.split()[:4]) in text_of(site / "api" / "autograd.html")
    nn_page = (site / "api" / "nn.html").read_text(encoding="utf-8")
    for name in ("nn.Module", "nn.Linear", "nn.CrossEntropyLoss", "nn.functional.relu",
                 "nn.init.kaiming_uniform_", "nn.utils.clip_grad_norm_"):
        assert f'id="{name}"' in nn_page, name
    assert all(f'id="optim.{name}"' in (site / "api" / "optim.html").read_text(encoding="utf-8")
               for name in optim.__all__ if name != "lr_scheduler")
    assert nn.Linear.__doc__ and optim.Adam.__doc__


def test_a_reader_sees_tensor_backward_in_the_api_reference(site: pathlib.Path) -> None:
    need(CHROMIUM, "no chromium browser (apt-get install chromium)")
    sync_api = need_module("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((site / "api" / "autograd.html").as_uri() + "#autograd.Tensor.backward")
            entry = page.locator('[id="autograd.Tensor.backward"]')
            entry.wait_for(state="visible", timeout=30_000)
            assert entry.inner_text().strip().startswith("backward(")
            box = entry.bounding_box()
            assert box is not None and 0 <= box["y"] < 900, box  # scrolled to, in view
            assert "Tensor" in page.title() or "autograd" in page.title()
            page.screenshot(path=str(ARTIFACTS / "docs_tensor_backward.png"))
            nav = page.locator(".sidebar-tree").inner_text()
            for title in ("Getting started", "A 30-second tour", "The main jobs", "autograd"):
                assert title in nav, title
        finally:
            browser.close()
