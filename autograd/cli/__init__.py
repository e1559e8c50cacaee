"""The ``chaingrad`` command (also ``python -m autograd``).

The commands are applications built on all three packages (``autograd``,
``nn``, ``optim``); they live here only so that ``python -m autograd`` works,
and each imports what it needs when it runs, so importing ``autograd`` never
pulls in ``nn`` or ``optim``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import data_parallel, graph, train

COMMANDS = {"train": train, "graph": graph}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaingrad",
        description="chaingrad: a small reverse-mode autodiff engine that imports like PyTorch.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chaingrad`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    status = data_parallel.launch_if_asked(args, argv)  # --nproc N: rerun under mpirun
    if status is not None:
        return status
    return int(COMMANDS[args.command].run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
