"""Functions that make new tensors: ``zeros``, ``randn``, ``arange`` and friends.

Each takes PyTorch's arguments and ``dtype=None, device=None,
requires_grad=False``; sizes may be varargs or one sequence (``zeros(2, 3)`` or
``zeros((2, 3))``). ``device`` is a string or an ``autograd.device`` (default:
the CPU; the ``*_like`` functions default to their argument's device).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import backend
from .backend import random
from .function import constant
from .tensor import Tensor, _fill_value, _int_dims, float32, int64, numeric_dtype


def _size(size: tuple, op: str) -> tuple:
    """The size a creation function was given (varargs or one sequence), checked as
    PyTorch does: ints, none negative, and at least one argument."""
    if not size:
        raise TypeError(f"{op}() missing 1 required positional argument: \"size\"")
    shape = _int_dims(size)
    for i, n in enumerate(shape):
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise TypeError(f"{op}(): argument 'size' must be a tuple of ints, but found "
                            f"element of type {type(n).__name__} at pos {i}")
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise RuntimeError(f"{op}: Trying to create tensor with negative dimension "
                           f"{min(shape)}: {list(shape)}")
    return shape


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
    array = backend.zeros(_size(size, "zeros"), dtype or float32, device=device)
    return _finish(array, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    return _finish(backend.ones(_size(size, "ones"), dtype or float32, device=device),
                   requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    array = backend.empty(_size(size, "empty"), dtype or float32, device=device)
    return _finish(array, requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = float32 if isinstance(fill_value, float) else (
            np.bool_ if isinstance(fill_value, bool) else int64)
    fill_value = _fill_value(fill_value, dtype, "full")
    array = backend.full(_size((size,), "full"), fill_value, dtype, device=device)
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
    dtype = dtype or t.dtype
    array = backend.full(t.shape, _fill_value(fill_value, dtype, "full_like"), dtype,
                         **_like(t, device))
    return _finish(array, requires_grad)


def randn(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    draw = random.randn(_size(size, "randn"), dtype or float32, device)
    return _finish(draw, requires_grad)


def rand(*size: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    return _finish(random.rand(_size(size, "rand"), dtype or float32, device), requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers on [low, high); ``randint(high, size)`` starts at 0, as in PyTorch."""
    if high is None or isinstance(high, (tuple, list)):
        low, high, size = 0, low, size if high is None else high
    if low >= high:
        raise RuntimeError(f"randint: expects low < high, got low={low}, high={high}")
    draw = random.randint(low, high, _size((size,), "randint"), dtype or int64, device)
    return _finish(draw, requires_grad)


def randperm(n: int, dtype: Any = None, device: Any = None) -> Tensor:
    (n,) = _size((n,), "randperm")
    return _finish(random.randperm(n, dtype or int64, device), False)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0 or math.isnan(step):
        raise RuntimeError(f"arange: step must be nonzero, got {step}")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"arange: unsupported range: {start} -> {end}")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step "
                           f"sign (start {start}, end {end}, step {step})")
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, end, step))
        dtype = float32 if floats else int64
    # counted in float64 and converted, so float32 ranges end where PyTorch's do; an
    # infinite step counts ceil(span / step) = 0 elements, as PyTorch (numpy counts 1)
    stop = start if math.isinf(step) else end
    array = backend.arange(start, stop, step, np.float64, device=device).astype(dtype)
    return _finish(array, requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    # PyTorch's formula: the first half counted up from start, the second down from
    # end, so both ends are exact (and a non-finite end spreads as in PyTorch)
    i = backend.arange(0, steps, 1, np.float64, device=device)
    if steps > 1:
        step = (end - start) / (steps - 1)
        with np.errstate(invalid="ignore"):
            i = backend.array_module(i).where(i < steps // 2, start + step * i,
                                               end - step * (steps - 1 - i))
    else:
        i = i + start  # one step: start itself
    return _finish(i.astype(dtype or float32), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    _size((n,) if m is None else (n, m), "eye")
    return _finish(backend.eye(n, m, dtype or float32, device=device), requires_grad)
