"""Functions that make new tensors: ``zeros``, ``randn``, ``arange`` and friends.

Each takes PyTorch's arguments and ``dtype=None, requires_grad=False``; sizes may
be varargs or one sequence (``zeros(2, 3)`` or ``zeros((2, 3))``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .function import constant
from .random import default_generator
from .tensor import Tensor, _int_dims, float32, int64, numeric_dtype


def _finish(array: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    if dtype is not None:
        array = array.astype(numeric_dtype(dtype), copy=False)
    numeric_dtype(array.dtype)  # a complex or string dtype= is refused
    t = constant(array)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new Tensor from ``data`` (copied), as ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(_int_dims(size), dtype=dtype or float32), None, requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(_int_dims(size), dtype=dtype or float32), None, requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.empty(_int_dims(size), dtype=dtype or float32), None, requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = float32 if isinstance(fill_value, float) else (
            np.bool_ if isinstance(fill_value, bool) else int64)
    return _finish(np.full(_int_dims((size,)), fill_value, dtype=dtype), None, requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(t.shape, dtype=dtype or t.dtype), None, requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(t.shape, dtype=dtype or t.dtype), None, requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None,
              requires_grad: bool = False) -> Tensor:
    return _finish(np.full(t.shape, fill_value, dtype=dtype or t.dtype), None, requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    dtype = np.dtype(dtype or float32)
    draw = default_generator().standard_normal(_int_dims(size), dtype=np.float64)
    return _finish(draw.astype(dtype), None, requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    dtype = np.dtype(dtype or float32)
    return _finish(default_generator().random(_int_dims(size)).astype(dtype), None,
                   requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Integers on [low, high); ``randint(high, size)`` starts at 0, as in PyTorch."""
    if high is None or isinstance(high, (tuple, list)):
        low, high, size = 0, low, size if high is None else high
    if low >= high:
        raise RuntimeError(f"randint: expects low < high, got low={low}, high={high}")
    draw = default_generator().integers(low, high, size=_int_dims((size,)))
    return _finish(draw.astype(dtype or int64), None, requires_grad)


def randperm(n: int, dtype: Any = None) -> Tensor:
    return _finish(default_generator().permutation(n).astype(dtype or int64), None, False)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, end, step))
        dtype = float32 if floats else int64
    return _finish(np.arange(start, end, step, dtype=np.float64).astype(dtype), None,
                   requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None,
             requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    return _finish(np.linspace(start, end, steps).astype(dtype or float32), None, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.eye(n, m, dtype=dtype or float32), None, requires_grad)
