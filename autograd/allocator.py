"""An opt-in setting of glibc's allocator for numpy-heavy training loops.

Nothing in chaingrad calls this on import: a library must not change process-wide
allocator settings as a side effect of being imported. ``chaingrad train`` and the
benchmarks call :func:`tune_unless_disabled` (``CHAINGRAD_NO_MALLOPT=1`` opts
out); a script can call :func:`tune_allocator` itself::

    from autograd.allocator import tune_allocator
    tune_allocator()          # before the training loop

The trade (measured in a 2-core VM): the CNN step of ``benchmarks/cnn_step.py``
took half the CPU time (34 -> 17 ms), because glibc stopped returning and
re-faulting the same large temporaries every step; in exchange the process keeps
up to ``threshold`` bytes of freed memory instead of returning it to the OS (a
500,000-op Scalar chain left RSS at 118 MB after ``del`` with it, 52 MB without).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_tuned = [False]


def tune_allocator(threshold: int = 256 << 20) -> bool:
    """Let glibc keep freed memory up to ``threshold`` bytes for reuse.

    By default glibc serves a large allocation with fresh pages from the OS and
    gives them back on ``free``; a training step that frees and re-allocates the
    same large temporaries (im2col matrices, activations) then page-faults all of
    them back in, every step. Raising ``M_MMAP_THRESHOLD`` and
    ``M_TRIM_THRESHOLD`` keeps them in the process heap instead. The setting
    lasts for the rest of the process. Off glibc it does nothing. Returns whether
    the settings were applied.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        return False
    # glibc documents 32 MiB as the largest mmap threshold; newer versions take more
    ok = bool(mallopt(_M_MMAP_THRESHOLD, threshold) or mallopt(_M_MMAP_THRESHOLD, 32 << 20))
    ok = ok and bool(mallopt(_M_TRIM_THRESHOLD, threshold))
    _tuned[0] = _tuned[0] or ok
    return ok


def allocator_tuned() -> bool:
    """True once :func:`tune_allocator` has applied its settings in this process."""
    return _tuned[0]


def tune_unless_disabled() -> bool:
    """:func:`tune_allocator`, unless the environment sets ``CHAINGRAD_NO_MALLOPT=1``
    (what ``chaingrad train`` and the benchmarks call). Returns whether it applied."""
    if os.environ.get("CHAINGRAD_NO_MALLOPT", "") in ("1", "true", "yes"):
        return False
    return tune_allocator()
