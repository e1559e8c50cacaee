"""How the ``chaingrad`` commands fail: one line on stderr, never a traceback.

A bad argument, a missing optional dependency or an unusable path raises
:class:`UsageError` (exit status 2, as argparse's own errors); Ctrl-C exits with
130, the shell's status for SIGINT.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

USAGE = 2
INTERRUPTED = 130


class UsageError(Exception):
    """A command cannot run as asked; the message is the one line the user sees."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but its errors are one line (the usage text stays in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
