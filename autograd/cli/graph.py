"""``chaingrad graph``: compute a formula of named scalars, backpropagate, draw it.

    $ chaingrad graph "tanh(x*w + b)" --x 0.5 --w -1.2 --b 0.3 --out graph.svg

Each name in the formula gets its value from a ``--NAME VALUE`` option after
the formula; the command prints the value and the gradient with respect to
each name, and writes the picture of the graph to ``--out`` (``.svg``, ``.png``
or ``.pdf`` through Graphviz's ``dot``; ``.dot`` is the DOT text itself).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..scalar import Scalar
from .formula import FUNCTIONS, evaluate, names, parse

RENDERED = ("svg", "png", "pdf")


def _options() -> argparse.ArgumentParser:
    """The named options, also accepted after the formula (among the values)."""
    parser = argparse.ArgumentParser(prog="chaingrad graph", add_help=False, allow_abbrev=False)
    parser.add_argument("--out", type=Path, default=None,
                        help="picture to write: .svg, .png or .pdf (needs Graphviz's dot), "
                        "or .dot (the DOT text)")
    parser.add_argument("--rankdir", choices=["LR", "TB"], default="LR",
                        help="draw left to right (LR) or top to bottom (TB)")
    return parser


#: Names the formula cannot take a value for: the options own them.
RESERVED = {"out", "rankdir", "help"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "graph",
        parents=[_options()],
        allow_abbrev=False,
        help="draw and backpropagate a formula of named scalars",
        description="Compute a formula such as \"tanh(x*w + b)\" of named scalars, run "
        "backward, print the value and each gradient, and draw the graph. Formulas use "
        "numbers, names, + - * / ** (Python's precedence), parentheses and the functions "
        f"{', '.join(FUNCTIONS)}.",
        epilog="example: chaingrad graph \"tanh(x*w + b)\" --x 0.5 --w -1.2 --b 0.3 "
        "--out graph.svg   (a formula starting with '-' goes after '--')",
    )
    p.add_argument("formula", help="the formula, quoted")
    p.add_argument("values", nargs=argparse.REMAINDER, metavar="--NAME VALUE",
                   help="the value of each name in the formula, e.g. --w -1.2")
    p.set_defaults(print_help=p.print_help)


def run(args: argparse.Namespace) -> int:
    """Exit status 0 on success, 2 for a bad formula or option, 1 when the
    numbers are right but the picture could not be written."""
    # options given after the formula arrive among the values; take them out first
    args, pairs = _options().parse_known_args(args.values, namespace=args)
    if any(item in ("-h", "--help") for item in pairs):
        args.print_help()
        return 0
    try:
        tree = parse(args.formula)
        values = parse_values(pairs)
        check_names(names(tree), values)
        fmt = None if args.out is None else picture_format(args.out)
        leaves = {name: Scalar(value, label=name) for name, value in values.items()}
        root = evaluate(tree, leaves, args.formula)
    except ValueError as error:  # FormulaError is one
        return _fail(error, 2)
    if root.requires_grad:
        root.backward(retain_graph=True)  # the picture shows the ops and what they saved
    report(args.formula, root, [leaves[name] for name in names(tree)])
    if fmt is not None:
        try:
            write_picture(root, args.out, fmt, args.rankdir)
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:  # from dot
            return _fail(error, 1)
        print(f"wrote {args.out}")
    return 0


def picture_format(out: Path) -> str:
    """The picture format that ``out``'s suffix names."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt != "dot" and fmt not in RENDERED:
        raise ValueError(f"--out {out}: unknown picture format {out.suffix!r} "
                         "(use .svg, .png, .pdf or .dot)")
    return fmt


def parse_values(pairs: list[str]) -> dict[str, float]:
    """``{"w": -1.2}`` from ``["--w", "-1.2"]`` (``--w=-1.2`` works too)."""
    values, i = {}, 0
    while i < len(pairs):
        option = pairs[i]
        if not option.startswith("--"):
            raise ValueError(f"expected --NAME VALUE after the formula, got {option!r}")
        name, has_value, text = option[2:].partition("=")
        if not has_value:
            if i + 1 == len(pairs):
                raise ValueError(f"{option} needs a value, e.g. {option} 1.5")
            i += 1
            text = pairs[i]
        i += 1
        if not name.isidentifier() or not name.isascii():
            raise ValueError(f"{option}: {name!r} is not a name (a letter or _, then letters, "
                             "digits or _)")
        if name in values:
            raise ValueError(f"--{name} is given twice")
        try:
            values[name] = float(text)
        except ValueError:
            raise ValueError(f"--{name}: expected a number, got {text!r}") from None
    return values


def check_names(used: list[str], values: dict[str, float]) -> None:
    """Every value belongs to a name of the formula, and no name is an option's."""
    for name in used:
        if name in RESERVED:
            raise ValueError(f"the name {name!r} is taken by the option --{name}: "
                             "rename it in the formula")
    for name in values:
        if name not in used:
            known = ", ".join(used) or "none"
            raise ValueError(f"--{name}: the formula has no name {name!r} (its names: {known})")


def report(formula: str, root: Any, leaves: list) -> None:
    """Print ``f`` and ``d f / d name`` for each name, their ``=`` signs aligned."""
    rows = [("f", root.data)] + [(f"d f / d {leaf.label}", leaf.grad) for leaf in leaves]
    width = max(len(left) for left, _ in rows)
    print(f"f = {formula}\n")
    for left, number in rows:
        print(f"{left:>{width}} = {number: .8g}")


def write_picture(root: Any, out: Path, fmt: str, rankdir: str) -> None:
    """Draw the graph behind ``root`` to ``out`` as ``fmt`` (dot, svg, png or pdf)."""
    from .. import viz

    # a formula was typed by hand: draw it whatever its size
    if fmt == "dot":
        data = viz.to_dot(root, show_grad=True, rankdir=rankdir, max_nodes=None).encode()
    else:
        if shutil.which("dot") is None:
            raise RuntimeError(
                f"--out {out}: writing .{fmt} needs Graphviz's `dot` program, which is not "
                "installed; install it (e.g. `apt-get install graphviz`, `brew install "
                f"graphviz`) or write the DOT text with --out {out.with_suffix('.dot')}")
        data = viz.draw(root, show_grad=True, rankdir=rankdir, max_nodes=None).pipe(format=fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)


def _fail(error: Exception, status: int) -> int:
    print(f"chaingrad graph: error: {error}", file=sys.stderr)
    return status
