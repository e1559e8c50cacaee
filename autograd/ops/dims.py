"""Checking and normalising ``dim`` arguments, with PyTorch's error text."""

from __future__ import annotations

from typing import Any


def normalize_dim(dim: int, ndim: int, op: str = "") -> int:
    """``dim`` as a non-negative axis of an ``ndim``-dimensional array."""
    if not isinstance(dim, (int,)) or isinstance(dim, bool):
        if hasattr(dim, "__index__"):
            dim = int(dim)
        else:
            raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    low, high = (-ndim, ndim - 1) if ndim > 0 else (-1, 0)
    if not low <= dim <= high:
        prefix = f"{op}: " if op else ""
        raise IndexError(
            f"{prefix}Dimension out of range (expected to be in range of "
            f"[{low}, {high}], but got {dim})"
        )
    return dim % ndim if ndim > 0 else 0


def normalize_dims(dim: Any, ndim: int, op: str = "") -> tuple[int, ...]:
    """``dim`` (None, an int or a sequence) as a sorted tuple of axes; None means all."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        axes = tuple(normalize_dim(d, ndim, op) for d in dim)
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"{op}: dim {tuple(dim)} appears multiple times in the list of dims")
        axes = tuple(sorted(axes))
    else:
        axes = (normalize_dim(dim, ndim, op),)
    # as in PyTorch, dim 0 or -1 of a 0-d tensor is the tensor itself: no axis to reduce
    return axes if ndim else ()


def keepdim_shape(shape: tuple, axes: tuple) -> tuple:
    """``shape`` with each reduced axis kept as size 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))
