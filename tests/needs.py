"""What the browser and docs tests need, skipped cleanly where it is missing, except
in CI: ``.ci/run`` sets ``CHAINGRAD_REQUIRE_BROWSER=1``, and there a missing tool fails the run
instead, so these tests can never be skipped there unnoticed."""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)


def need(condition: object, why: str) -> None:
    """Skip the calling test module unless ``condition`` holds (fail it in CI)."""
    if condition:
        return
    if os.environ.get("CHAINGRAD_REQUIRE_BROWSER"):
        pytest.fail(f"CI must run this test, but {why}", pytrace=False)
    pytest.skip(why, allow_module_level=True)


def need_module(name: str) -> ModuleType | None:
    """``import name``, or skip the calling module (fail it in CI)."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        need(False, f"{name} is not installed ({err}); pip install -e \".[test]\"")
        return None
