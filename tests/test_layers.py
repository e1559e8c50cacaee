"""The architecture as tests: imports run one way down DESIGN.md's layer list, no
module imports another inside a function to dodge a cycle, and no op class
shares its name with a layer."""

from __future__ import annotations

import ast
import inspect
import pkgutil
from importlib import import_module
from pathlib import Path

import pytest

import autograd.ops
import nn
from autograd.function import Op

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("autograd", "nn", "optim")

#: DESIGN.md's layers, top to bottom; a module may import from its own layer and
#: the layers above it in this list (longest prefix decides a module's layer).
LAYERS = [
    ["autograd.backend", "autograd.allocator"],
    ["autograd.random", "autograd.cuda"],
    ["autograd.engine"],
    ["autograd.function"],
    ["autograd.ops"],
    ["autograd.printing", "autograd.tensor", "autograd.tensor_functions",
     "autograd.factories"],
    ["autograd.scalar"],
    ["autograd.functional", "autograd.gradcheck"],
    # compile: records the array calls of the layers above (optim marks its step)
    ["autograd.tracer"],
    ["autograd.viz"],
    # DistributedSampler (data) asks the process group for rank and world size
    ["autograd.distributed"],
    ["autograd.data"],
    ["nn"],
    ["optim"],
    ["autograd.cli", "autograd.__main__"],
]

#: Imports inside functions that are not about cycles: optional dependencies
#: (imported only when used) and the CLI loading nn/optim only for the command run.
LAZY_OK = ("autograd.cli.",)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> list[tuple[str, Path]]:
    return sorted((module_name(p), p) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def is_package(name: str) -> bool:
    return (ROOT / Path(*name.split(".")) / "__init__.py").exists()


def resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The project modules an import statement in ``module`` names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] in PACKAGES]
    if node.level:
        base = module.split(".")
        if not is_package(module):
            base = base[:-1]
        base = base[: len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] not in PACKAGES:
        return []
    names = [f"{target}.{a.name}" for a in node.names]
    # ``from pkg import module`` names a module; ``from module import thing`` does not
    return [n for n in names if (ROOT / Path(*n.split("."))).with_suffix(".py").exists()
            or is_package(n)] or [target]


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(module: str, path: Path) -> tuple[list[str], list[tuple[int, str]]]:
    """(module-level project imports, (line, name) of project imports inside functions)."""
    tree = ast.parse(path.read_text())
    top, lazy = [], []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child):
                continue  # typing only: never executed
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for name in resolve(module, child):
                    (lazy.append((child.lineno, name)) if in_function else top.append(name))
            inner = in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, inner)

    visit(tree, False)
    return top, lazy


def layer(name: str) -> int:
    best, rank = -1, None
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    return rank


GRAPH = {m: imports(m, p) for m, p in sources()}


@pytest.mark.parametrize("module", [m for m in GRAPH if layer(m) is not None])
def test_imports_run_down_the_layer_list(module: str) -> None:
    upward = [t for t in GRAPH[module][0] if layer(t) is not None and layer(t) > layer(module)]
    assert not upward, f"{module} imports from a higher layer: {upward}"


def test_no_import_cycles() -> None:
    """Among the modules (package __init__ files, the public facades, aside)."""
    graph = {m: {t for t in top if t in GRAPH and not is_package(t)}
             for m, (top, _) in GRAPH.items() if not is_package(m)}
    done, path = set(), []

    def visit(m: str) -> None:
        if m in path:
            cycle = [*path[path.index(m):], m]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if m in done:
            return
        path.append(m)
        for t in sorted(graph.get(m, ())):
            visit(t)
        path.pop()
        done.add(m)

    for m in sorted(graph):
        visit(m)


def test_no_function_local_project_imports() -> None:
    found = [f"{m}:{line} imports {name}" for m, (_, lazy) in GRAPH.items()
             if not m.startswith(LAZY_OK) for line, name in lazy]
    assert not found, "imports inside functions: " + "; ".join(found)


def test_every_module_is_placed_in_a_layer() -> None:
    unplaced = [m for m in GRAPH if layer(m) is None and m not in PACKAGES]
    assert not unplaced, f"add these to LAYERS (and DESIGN.md): {unplaced}"


def op_classes() -> list[type]:
    found = []
    for info in pkgutil.iter_modules(autograd.ops.__path__):
        module = import_module(f"autograd.ops.{info.name}")
        found += [c for _, c in inspect.getmembers(module, inspect.isclass)
                  if issubclass(c, Op) and c.__module__ == module.__name__]
    return found


def test_no_op_class_shares_a_name_with_a_layer() -> None:
    layers = {n.lower() for n, c in vars(nn).items() if isinstance(c, type)}
    clashes = [c.__name__ for c in op_classes() if c.__name__.lower() in layers]
    assert not clashes, f"op classes named like nn layers (add the suffix Op): {clashes}"


def test_no_internal_module_shares_a_name_with_a_package() -> None:
    clashes = [m for m in GRAPH if m.startswith("autograd.")
               and m.split(".")[-1] in PACKAGES and m.count(".") > 1]
    assert not clashes, clashes
