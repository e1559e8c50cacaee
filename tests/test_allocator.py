"""The glibc allocator setting is opt-in: importing chaingrad leaves the process's
allocator alone, and ``tune_allocator()`` changes it when asked."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="mallopt tuning applies to glibc only")

# RSS before and after freeing a 96 MiB array, in MiB (from /proc/self/statm)
PROBE = """
import os, numpy as np
import autograd, nn, optim
from autograd import allocator
{setup}
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page / 2**20
a = np.ones(96 << 17)  # 96 MiB of float64
held = rss()
del a
print(allocator.allocator_tuned(), round(held - rss()))
"""


def probe(setup: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup)],
                         capture_output=True, text=True, check=True)
    tuned, returned = out.stdout.split()
    return tuned, int(returned)


def test_importing_chaingrad_leaves_the_allocator_alone():
    tuned, returned = probe("")
    assert tuned == "False"
    assert returned > 80, f"only {returned} MiB of a freed 96 MiB array went back to the OS"


def test_tune_allocator_keeps_freed_memory_for_reuse():
    tuned, returned = probe("assert allocator.tune_allocator()")
    assert tuned == "True"
    assert returned < 16, f"{returned} MiB went back to the OS although the allocator was tuned"
