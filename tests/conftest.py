"""Shared test set-up: this folder's helpers (``devices``, ``op_registry``,
``strategies``...) importable from every test folder, and the device under test
(``CHAINGRAD_TEST_DEVICE``) registered before any test runs."""

import devices  # noqa: F401  (registers the strict test device)
