"""The one seam between ops and array libraries.

Ops call numpy functions on their input arrays. numpy's ``__array_ufunc__`` and
``__array_function__`` protocols hand those calls to the array's own library
(CuPy implements both), so ops need no change to run on another backend. What
the protocols cannot dispatch, making a fresh array from nothing, goes through
:func:`array_module` here.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

ndarray = np.ndarray


def array_module(array: Any = None) -> Any:
    """The array library that owns ``array`` (numpy unless it is a CuPy array)."""
    if array is None or type(array) is np.ndarray:
        return np
    module = type(array).__module__.split(".")[0]
    if module == "cupy":
        import cupy

        return cupy
    return np


def as_array(data: Any, dtype: Any = None) -> Any:
    """``data`` as an array of the library it belongs to."""
    return array_module(data).asarray(data, dtype=dtype)


# --------------------------------------------------------------------------- allocator
_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_tuned = [False]


def tune_allocator(threshold: int = 256 << 20) -> bool:
    """Let glibc keep freed memory up to ``threshold`` bytes for reuse.

    By default glibc serves a large allocation with fresh pages from the OS and
    gives them back on ``free``; a training step that frees and re-allocates the
    same large temporaries (im2col matrices, activations) then page-faults all of
    them back in, every step. Raising ``M_MMAP_THRESHOLD`` and
    ``M_TRIM_THRESHOLD`` keeps them in the process heap instead: the CNN step of
    ``benchmarks/cnn_step.py`` took half the CPU time (34 -> 17 ms, measured in a
    2-core VM, where page faults are dear). The cost: up to ``threshold`` bytes
    of freed memory stay with the process instead of going back to the OS.

    ``import autograd`` calls this once unless the environment sets
    ``CHAINGRAD_NO_MALLOPT=1``. Off glibc it does nothing. Returns whether the
    settings were applied.
    """
    import ctypes
    import ctypes.util

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


if os.environ.get("CHAINGRAD_NO_MALLOPT", "") not in ("1", "true", "yes"):
    tune_allocator()
