"""The one seam between ops and array libraries.

Ops call numpy functions on their input arrays. numpy's ``__array_ufunc__`` and
``__array_function__`` protocols hand those calls to the array's own library
(CuPy implements both), so ops need no change to run on another backend. What
the protocols cannot dispatch, making a fresh array from nothing, goes through
:func:`array_module` here.
"""

from __future__ import annotations

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
