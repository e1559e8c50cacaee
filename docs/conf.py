"""Sphinx configuration of chaingrad's reference site.

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

The API pages are generated from the docstrings (autodoc); the notebooks are shown
as pages with their stored outputs (MyST-NB, never re-executed here).
"""

from __future__ import annotations

import inspect
import pathlib
import shutil
import sys
from importlib import import_module
from typing import ClassVar

from docutils.parsers.rst import Directive, directives

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the packages, importable without an install

project = "chaingrad"
author = "the chaingrad authors"
copyright = "chaingrad authors"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "notebooks/README.md", "Thumbs.db", ".DS_Store"]

# autodoc: members in source order, signatures with their type hints
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = False
napoleon_numpy_docstring = False

# MyST: $math$ in the notebooks' text; notebooks shown as stored, never executed
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"
nb_mime_priority_overrides = [("html", "image/svg+xml", 5)]  # the crisp picture first

html_theme = "furo"
html_title = "chaingrad"
html_static_path: list[str] = []


def copy_notebooks(app: object) -> None:
    """The course's notebooks become pages: copied next to these sources (Sphinx
    reads only files below its source folder; docs/notebooks/ is git-ignored)."""
    target = DOCS / "notebooks"
    target.mkdir(exist_ok=True)
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        copy = target / notebook.name
        if not copy.exists() or copy.read_bytes() != notebook.read_bytes():
            shutil.copyfile(notebook, copy)
    for stale in target.glob("*.ipynb"):
        if not (ROOT / "notebooks" / stale.name).exists():
            stale.unlink()


OURS = ("autograd", "nn", "optim")


def public_members(module_name: str) -> list[tuple[str, object]]:
    """``(name, object)`` for what a module exports (its ``__all__``, else its public
    names) that is defined in chaingrad itself: numpy's dtypes and submodules are
    documented elsewhere."""
    module = import_module(module_name)
    exported = getattr(module, "__all__", None)
    names = exported or [n for n in vars(module) if not n.startswith("_")]
    # without __all__, what the module (or a submodule of it) defines, not its imports
    home = OURS if exported else (module_name,)
    out = []
    for name in names:
        obj = getattr(module, name)
        defined_in = getattr(obj, "__module__", None) or ""
        if inspect.ismodule(obj) or not any(
                defined_in == h or defined_in.startswith(h + ".") for h in home):
            continue
        out.append((name, obj))
    return out


class MembersOf(Directive):
    """``.. members-of:: nn`` documents what ``nn`` exports, one autodoc entry each,
    so a layer, op or function added to a package shows up without editing the docs.
    ``:exclude:`` names members documented elsewhere on the page."""

    required_arguments = 1
    option_spec: ClassVar[dict] = {"exclude": directives.unchanged}

    def run(self) -> list:
        module = self.arguments[0]
        exclude = set((self.options.get("exclude") or "").replace(",", " ").split())
        lines = []
        for name, obj in public_members(module):
            if name in exclude:
                continue
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                lines += [f".. autoexception:: {module}.{name}", ""]
            elif inspect.isclass(obj):
                lines += [f".. autoclass:: {module}.{name}", ""]
            elif callable(obj):
                lines += [f".. autofunction:: {module}.{name}", ""]
        self.state_machine.insert_input(lines, f"<members of {module}>")
        return []


def setup(app: object) -> None:
    app.connect("builder-inited", copy_notebooks)
    app.add_directive("members-of", MembersOf)
