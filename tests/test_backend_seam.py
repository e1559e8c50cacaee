"""The backend seam holds: no file in the op, tensor, nn or optim layers makes an
array from nothing or scatters with numpy directly (those arrays would land on
the CPU whatever the device); they ask ``autograd.backend`` or the module of
their inputs instead. Nor do they call autograd's factories without saying on
which device."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = [*sorted((ROOT / "autograd" / "ops").rglob("*.py")),
           *sorted((ROOT / "autograd").glob("tensor*.py")),
           ROOT / "autograd" / "factories.py",
           *sorted((ROOT / "nn").rglob("*.py")),
           *sorted((ROOT / "optim").rglob("*.py"))]

#: numpy functions that make a new array from nothing (or from host data): on a
#: GPU they would give a host array. Math on existing arrays (np.exp(x),
#: np.where(m, a, b), np.stack(xs)...) dispatches to the inputs' library and is fine.
CREATION = {
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like",
    "eye", "identity", "tri", "arange", "linspace", "logspace", "geomspace", "indices",
    "array", "asarray", "asanyarray", "asfarray", "frombuffer", "fromiter", "fromfunction",
    "copy", "meshgrid", "mgrid", "ogrid",
    # copies that do not dispatch on their argument either: a GPU (or a traced)
    # array would come back as a plain host array (use backend.contiguous)
    "ascontiguousarray", "asfortranarray", "require",
}


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    numpy_names = {"numpy"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            numpy_names |= {a.asname or a.name for a in node.names if a.name == "numpy"}
        elif isinstance(node, ast.ImportFrom) and node.module == "numpy":
            bad = [a.name for a in node.names if a.name in CREATION or a.name == "random"]
            found += [f"{node.lineno}: from numpy import {n}" for n in bad]

    def root(expr: ast.AST) -> str | None:
        return expr.id if isinstance(expr, ast.Name) else None

    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        value = node.value
        # np.zeros(...), np.asarray(...)
        if root(value) in numpy_names and node.attr in CREATION:
            found.append(f"{node.lineno}: np.{node.attr}")
        # np.random.anything
        elif root(value) in numpy_names and node.attr == "random":
            found.append(f"{node.lineno}: np.random")
        # np.add.at(...), np.maximum.at(...): scatter
        elif (node.attr == "at" and isinstance(value, ast.Attribute)
              and root(value.value) in numpy_names):
            found.append(f"{node.lineno}: np.{value.attr}.at")
    return found


#: autograd's factories: without ``device=`` they make CPU tensors, so a layer that
#: calls one for a state, mask or buffer (``autograd.zeros(shape)``) would mix
#: devices as soon as its input lives on a GPU
FACTORIES = {"zeros", "ones", "empty", "full", "arange", "linspace", "eye", "rand", "randn",
             "randint", "randperm", "tensor", "as_tensor"}


def factory_calls_without_device(path: Path) -> list[str]:
    """``autograd.zeros(...)`` and the like (also imported by name) called without a
    ``device=`` keyword."""
    tree = ast.parse(path.read_text())
    imported = {a.asname or a.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom)
                and node.module in ("autograd", "autograd.factories")
                for a in node.names if a.name in FACTORIES}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        name = None
        if (isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name)
                and fn.value.id in ("autograd", "factories") and fn.attr in FACTORIES):
            name = f"{fn.value.id}.{fn.attr}"
        elif isinstance(fn, ast.Name) and fn.id in imported:
            name = fn.id
        if name and not any(k.arg == "device" for k in node.keywords):
            found.append(f"{node.lineno}: {name}(...) without device=")
    return found


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: str(p.relative_to(ROOT)))
def test_factories_name_their_device(path: Path) -> None:
    found = factory_calls_without_device(path)
    assert not found, (f"{path.relative_to(ROOT)} makes tensors on the CPU whatever its "
                       f"inputs' device (pass device=x.device): " + "; ".join(found))


def test_the_factory_scan_finds_what_it_forbids(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import autograd\nfrom autograd import zeros as z\n"
                      "a = autograd.zeros(3)\nb = z(2)\nc = autograd.ones(2, device=a.device)\n"
                      "d = autograd.zeros_like(a)\n")
    assert [v.split(": ")[1] for v in factory_calls_without_device(sample)] == [
        "autograd.zeros(...) without device=", "z(...) without device="]


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_direct_numpy_creation_or_scatter(path: Path) -> None:
    found = violations(path)
    assert not found, (f"{path.relative_to(ROOT)} makes arrays with numpy directly (use "
                       f"autograd.backend): " + "; ".join(found))


def test_the_scan_finds_what_it_forbids(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import numpy as np\nfrom numpy import zeros\n"
                      "a = np.zeros(3)\nnp.add.at(a, [0], 1)\nb = np.random.rand(2)\n"
                      "c = np.exp(a)\n")
    assert [v.split(": ")[1] for v in violations(sample)] == [
        "from numpy import zeros", "np.zeros", "np.add.at", "np.random"]


def test_nothing_imports_cupy_until_a_gpu_is_asked_for():
    """A CPU training step (and the device API short of "cuda") leaves CuPy alone,
    whether or not it is installed; asking for "cuda" is what loads it."""
    code = (
        "import sys\n"
        "import autograd, nn, optim\n"
        "import nn.functional as F\n"
        "model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to('cpu')\n"
        "opt = optim.Adam(model.parameters())\n"
        "F.cross_entropy(model(autograd.randn(5, 3)), autograd.tensor([0, 1, 0, 1, 1]))"
        ".backward()\n"
        "opt.step()\n"
        "autograd.device('cuda'), autograd.zeros(2).cpu(), str(autograd.ones(1).device)\n"
        "assert not any(m.split('.')[0] in ('cupy', 'cupyx') for m in sys.modules), "
        "sorted(m for m in sys.modules if m.startswith('cupy'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
