"""The stepper widget as a learner meets it: notebook 01 opened in a live JupyterLab in
headless Chromium, every cell run, then Next clicked three times. After each click the
current op must lie inside the visible part of the widget's picture and the status line
must name the slider's step. Screenshots land in tests/artifacts/ (git-ignored).

Chromium is Debian's (``apt-get install chromium``), driven by Playwright's Python
client; Playwright's own browser download is never used."""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.needs import CHROMIUM, need, need_module

sync_api = need_module("playwright.sync_api")
for _module in ("jupyterlab", "ipykernel", "ipywidgets"):
    need_module(_module)
need(CHROMIUM, "no chromium browser (apt-get install chromium)")
need(shutil.which("dot"), "the Graphviz `dot` binary is not installed (apt-get install graphviz)")

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = "01_scalar_backprop.ipynb"
ARTIFACTS = ROOT / "tests" / "artifacts"
VIEWPORT = {"width": 1280, "height": 900}
# JupyterLab asks on first start whether to fetch news; say no up front.
SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            '{"fetchNews": "false", "checkForUpdates": false}'}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, log: pathlib.Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as reply:
            if reply.status == 200:
                return
        time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer at {url} within 90 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """A JupyterLab server on 127.0.0.1 serving a copy of notebook 01; stopped by its
    process id at the end. Yields the notebook's URL."""
    home = tmp_path_factory.mktemp("lab")
    work = home / "notebooks"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, work)  # the browser may save it: a copy
    settings = home / "settings"
    for name, text in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(text)
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "OPENBLAS_NUM_THREADS": "1",
    }
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work}", f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
        "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                  cwd=work, start_new_session=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/status?token={token}", server, log)
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}"
    finally:
        # stop the server it started, by its process id (and its kernels, its children)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)


# The current op's box, the visible part of the picture (its window clipped to the
# notebook's scrolling panel and the browser's viewport), the slider's value and the
# status line, all read from the live page.
MEASURE = """() => {
  const widget = document.querySelector('.chaingrad-stepper');
  const windowBox = widget.querySelector('.chaingrad-window').getBoundingClientRect();
  const current = widget.querySelector('g.node.current');
  const panel = widget.closest('.jp-WindowedPanel-outer, .jp-Notebook');
  const clip = panel.getBoundingClientRect();
  const box = r => r && {left: r.left, top: r.top, right: r.right, bottom: r.bottom};
  return {
    current: box(current && current.getBoundingClientRect()),
    visible: {
      left: Math.max(windowBox.left, clip.left, 0),
      top: Math.max(windowBox.top, clip.top, 0),
      right: Math.min(windowBox.right, clip.right, window.innerWidth),
      bottom: Math.min(windowBox.bottom, clip.bottom, window.innerHeight),
    },
    slider: widget.querySelector('.widget-readout').textContent.trim(),
    status: widget.querySelector('.chaingrad-stepper-status').textContent,
  };
}"""


def test_next_keeps_the_current_op_in_view(lab: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-default-apps", "--disable-quic"],
        )
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(lab)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_function(
                "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                " && window.jupyterapp.shell.currentWidget.sessionContext"
                " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                ".connectionStatus === 'connected'", timeout=60_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            widget = page.locator(".chaingrad-stepper")
            widget.wait_for(state="visible", timeout=90_000)
            errors = page.locator(".jp-OutputArea-output[data-mime-type="
                                  "'application/vnd.jupyter.stderr'] >> text=Traceback")
            assert errors.count() == 0, errors.first.text_content()

            seen = []
            for k in (1, 2, 3):
                widget.get_by_role("button", name="Next ▶").click()
                page.wait_for_function(
                    f"() => document.querySelector('.chaingrad-stepper-status')"
                    f".textContent.includes('Step {k} of ')", timeout=30_000)
                widget.locator(".chaingrad-window").scroll_into_view_if_needed()
                page.wait_for_timeout(200)  # let the scroll settle before measuring
                state = page.evaluate(MEASURE)
                widget.screenshot(path=str(ARTIFACTS / f"stepper_step{k}.png"))
                seen.append(state)
                assert state["slider"] == str(k), state
                assert f"Step {k} of 7" in state["status"], state
                current, visible = state["current"], state["visible"]
                assert current is not None, f"step {k}: no current op in the picture"
                assert current["right"] - current["left"] > 20, f"step {k}: {current}"
                assert (visible["left"] <= current["left"] and current["right"] <= visible["right"]
                        and visible["top"] <= current["top"]
                        and current["bottom"] <= visible["bottom"]), (
                    f"step {k}: the current op at {current} is outside the visible part "
                    f"of the picture {visible}")
            page.screenshot(path=str(ARTIFACTS / "notebook01_step3.png"))
            # the current op moved from step to step, the picture followed it
            assert len({(s["current"]["left"], s["current"]["top"]) for s in seen}) >= 2
        finally:
            browser.close()
