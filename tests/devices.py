"""The device the device-aware tests run on, from ``CHAINGRAD_TEST_DEVICE``:
``cpu`` (default), ``strict`` (the test-only device of ``strict_device.py``,
which fails on any stray host call) or ``cuda`` (a real GPU through CuPy).

CI runs the op registry tests and the nn/optim device tests twice: on ``cpu`` and
with ``CHAINGRAD_TEST_DEVICE=strict``.
"""

from __future__ import annotations

import os

from strict_device import StrictLibrary

from autograd import backend

if "strict" not in backend._libraries:
    backend.register(StrictLibrary())

#: resolved to an index ("cuda" is "cuda:0"), as tensors report their device
DEVICE = backend.as_device(os.environ.get("CHAINGRAD_TEST_DEVICE", "cpu"))
ON_CPU = DEVICE.type == "cpu"
