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

from . import data_parallel, graph, sample, train
from .errors import INTERRUPTED, USAGE, OneLineParser, UsageError

COMMANDS = {"train": train, "sample": sample, "graph": graph}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
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
    try:
        check = getattr(COMMANDS[args.command], "check_arguments", None)
        if check is not None:  # option conflicts fail before any process starts
            check(args)
        status = data_parallel.launch_if_asked(args, argv)  # --nproc N: rerun under mpirun
        if status is not None:
            return status
        return int(COMMANDS[args.command].run(args) or 0)
    except UsageError as error:
        print(f"chaingrad {args.command}: error: {error}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:  # a command that saves its work on Ctrl-C says so itself
        print(f"chaingrad {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
