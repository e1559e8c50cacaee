"""``autograd.cuda``: the GPUs behind the ``"cuda"`` device (as ``torch.cuda``).

Everything here works without CuPy or a GPU: ``is_available()`` is then False
and ``device_count()`` 0. Asking for a ``"cuda"`` tensor is what needs them
(and raises a RuntimeError saying what is missing).
"""

from __future__ import annotations

from typing import Any

from . import backend
from .backend import cuda as _cuda
from .backend import random as _random


def is_available() -> bool:
    """True when CuPy is installed and sees a GPU (imports CuPy if it is there)."""
    return _cuda.available()


def device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy or a GPU)."""
    return backend.device_count("cuda") if is_available() else 0


def current_device() -> int:
    """The index of the GPU a bare ``"cuda"`` means."""
    return backend.as_device("cuda").index


def synchronize(device: Any = None) -> None:
    """Wait until the GPU (default: the current one) has finished its queued work."""
    backend.synchronize(device if device is not None else "cuda")


def manual_seed(seed: int) -> None:
    """Seed every GPU's generator (``autograd.manual_seed`` seeds them too, and the
    host's). A no-op until CuPy is loaded: the seed is applied when it loads."""
    _random.manual_seed_devices(seed)


manual_seed_all = manual_seed
