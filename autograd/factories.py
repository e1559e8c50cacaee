"""Functions that make new tensors: ``zeros``, ``randn``, ``arange`` and friends.

Each takes PyTorch's arguments and ``dtype=None, device=None,
requires_grad=False``; sizes may be varargs or one sequence (``zeros(2, 3)`` or
``zeros((2, 3))``). ``device`` is a string or an ``autograd.device`` (default:
the CPU; the ``*_like`` functions default to their argument's device).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import backend
from .backend import random
from .function import constant
from .tensor import Tensor, _int_dims, float32, int64, numeric_dtype


def _finish(array: Any, requires_grad: bool) -> Tensor:
    numeric_dtype(array.dtype)  # a complex or string dtype= is refused
    t = constant(array)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data: Any, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """A new Tensor from ``data`` (copied), as ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def zeros(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    array = backend.zeros(_int_dims(size), dtype or float32, device=device)
    return _finish(array, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    return _finish(backend.ones(_int_dims(size), dtype or float32, device=device), requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    array = backend.empty(_int_dims(size), dtype or float32, device=device)
    return _finish(array, requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = float32 if isinstance(fill_value, float) else (
            np.bool_ if isinstance(fill_value, bool) else int64)
    array = backend.full(_int_dims((size,)), fill_value, dtype, device=device)
    return _finish(array, requires_grad)


def _like(t: Tensor, device: Any) -> dict:
    """Where a ``*_like`` result goes: ``device`` if given, else ``t``'s device."""
    return {"device": device} if device is not None else {"like": t.data}


def zeros_like(t: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    array = backend.zeros(t.shape, dtype or t.dtype, **_like(t, device))
    return _finish(array, requires_grad)


def ones_like(t: Tensor, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return _finish(backend.ones(t.shape, dtype or t.dtype, **_like(t, device)), requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    array = backend.full(t.shape, fill_value, dtype or t.dtype, **_like(t, device))
    return _finish(array, requires_grad)


def randn(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    draw = random.randn(_int_dims(size), dtype or float32, device)
    return _finish(draw, requires_grad)


def rand(*size: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    return _finish(random.rand(_int_dims(size), dtype or float32, device), requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers on [low, high); ``randint(high, size)`` starts at 0, as in PyTorch."""
    if high is None or isinstance(high, (tuple, list)):
        low, high, size = 0, low, size if high is None else high
    if low >= high:
        raise RuntimeError(f"randint: expects low < high, got low={low}, high={high}")
    draw = random.randint(low, high, _int_dims((size,)), dtype or int64, device)
    return _finish(draw, requires_grad)


def randperm(n: int, dtype: Any = None, device: Any = None) -> Tensor:
    return _finish(random.randperm(n, dtype or int64, device), False)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, end, step))
        dtype = float32 if floats else int64
    # counted in float64 and converted, so float32 ranges end where PyTorch's do
    array = backend.arange(start, end, step, np.float64, device=device).astype(dtype)
    return _finish(array, requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    array = backend.linspace(start, end, steps, device=device).astype(dtype or float32)
    return _finish(array, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    return _finish(backend.eye(n, m, dtype or float32, device=device), requires_grad)
