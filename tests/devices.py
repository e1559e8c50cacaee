"""The device the device-aware tests run on, from ``CHAINGRAD_TEST_DEVICE``:
``cpu`` (default), ``strict`` (the test-only device of ``strict_device.py``,
which fails on any stray host call) or ``cuda`` (a real GPU through CuPy).

CI runs the op registry tests and the nn/optim device tests twice: on ``cpu`` and
with ``CHAINGRAD_TEST_DEVICE=strict``.
"""

from __future__ import annotations

import os
from typing import Any

from strict_device import StrictLibrary, Synchronized
from strict_device import no_sync as strict_no_sync

from autograd import backend

if "strict" not in backend._libraries:
    backend.register(StrictLibrary())

#: resolved to an index ("cuda" is "cuda:0"), as tensors report their device
DEVICE = backend.as_device(os.environ.get("CHAINGRAD_TEST_DEVICE", "cpu"))
ON_CPU = DEVICE.type == "cpu"


def no_sync() -> Any:
    """A context in which reading a device value on the host raises: the strict
    device's :func:`strict_device.no_sync`, CuPy's ``cupyx.allow_synchronize(False)``
    on a GPU. None on the CPU, where there is nothing to wait for."""
    if DEVICE.type == "strict":
        return strict_no_sync()
    if DEVICE.type == "cuda":
        import cupyx

        return cupyx.allow_synchronize(False)
    return None


def sync_errors() -> tuple:
    """What :func:`no_sync` raises on a host read of a device value."""
    if DEVICE.type == "cuda":
        import cupyx

        return (Synchronized, cupyx.DeviceSynchronized)
    return (Synchronized,)
