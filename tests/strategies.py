"""Hypothesis strategies shared by the op tests.

Shapes have 0-4 dims of size 1-4; values are float64 and, where an op has a
kink (abs, relu, clamp, max...), kept a finite distance from it so that central
finite differences (eps = 1e-6) never straddle it.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

#: One setting for every property test: few examples (the suite must stay fast),
#: no deadline (gradcheck time varies with the shape drawn).
FAST = settings(
    # on another device (CHAINGRAD_TEST_DEVICE) the same tests run a second time in CI:
    # fewer draws there, the CPU run has already explored the shapes
    max_examples=25 if os.environ.get("CHAINGRAD_TEST_DEVICE", "cpu") == "cpu" else 6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Broadcasting both ways: fewer dims on either side, size-1 dims on either side.
BROADCAST_EXAMPLES = [
    ((3,), (2, 3)),
    ((2, 3), (3,)),
    ((2, 1), (1, 3)),
    ((4, 1, 3), (2, 1)),
    ((), (2, 2)),
    ((2, 2), ()),
]


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[tuple]:
    """Array shapes with ``min_dims``..``max_dims`` dims of size ``min_side``..``max_side``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


@st.composite
def broadcast_pairs(draw: Any, max_dims: int = 4, max_side: int = 4,
                    min_side: int = 1) -> tuple:
    """Two shapes that broadcast together. Each is a suffix of a common shape with
    some dims set to 1, so either side may be the smaller one, in rank or in size."""
    full = draw(shapes(0, max_dims, min_side=min_side, max_side=max_side))

    def operand() -> tuple:
        rank = draw(st.integers(0, len(full)))
        tail = full[len(full) - rank:]
        return tuple(1 if draw(st.booleans()) else n for n in tail)

    return operand(), operand()


def arrays(shape: tuple, low: float = -2.0, high: float = 2.0,
           avoid: tuple = (), gap: float = 0.05) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays with values in ``[low, high]``, each at least ``gap`` away
    from every point in ``avoid`` (the op's kinks or poles). Magnitudes below 1e-6
    become exact zeros: products of tiny numbers underflow, which would test the
    float format rather than the op."""
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False).map(
        lambda v: 0.0 if abs(v) < 1e-6 else v)
    if avoid:
        elements = elements.filter(lambda v: all(abs(v - k) >= gap for k in avoid))
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def distinct_arrays(draw: Any, shape: tuple, spacing: float = 0.01) -> np.ndarray:
    """float64 arrays whose values all differ by at least ``spacing``: no ties in
    max/min/maximum, even after a finite-difference nudge."""
    n = math.prod(shape)
    ints = draw(st.lists(st.integers(-400, 400), min_size=n, max_size=n, unique=True))
    return np.array(ints, dtype=np.float64).reshape(shape) * spacing


def dim(ndim: int) -> st.SearchStrategy[int]:
    """One valid dim of an ``ndim``-dimensional tensor, negative ones included."""
    if ndim == 0:
        return st.sampled_from([0, -1])
    return st.integers(-ndim, ndim - 1)


@st.composite
def dims(draw: Any, ndim: int, allow_none: bool = True, allow_tuple: bool = True) -> Any:
    """A reduction ``dim``: None (all), one int, or a tuple of distinct dims (any sign)."""
    choices = ["int"] + (["none"] if allow_none else []) + (
        ["tuple"] if allow_tuple and ndim > 0 else [])
    kind = draw(st.sampled_from(choices))
    if kind == "none":
        return None
    if kind == "int":
        return draw(dim(ndim))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


keepdims = st.booleans()


def reduced_count(shape: tuple, dim: Any) -> int:
    """How many elements each output of a reduction over ``dim`` combines."""
    if dim is None:
        return math.prod(shape)
    axes = dim if isinstance(dim, tuple) else (dim,)
    return math.prod(shape[a] for a in axes) if shape else 1


# --------------------------------------------------------------------------- indexing


@st.composite
def _slices(draw: Any, n: int, negative_steps: bool) -> slice:
    bound = st.none() | st.integers(-n - 1, n)
    steps = [None, 1, 2] + ([-1, -2] if negative_steps else [])
    return slice(draw(bound), draw(bound), draw(st.sampled_from(steps)))


@st.composite
def _int_array(draw: Any, n: int, length: int) -> np.ndarray:
    """Integer indices into a dim of size ``n``, drawn with replacement (repeats
    happen often), negative ones included."""
    values = draw(st.lists(st.integers(-n, n - 1), min_size=length, max_size=length))
    return np.array(values, dtype=np.int64)


@st.composite
def _block(draw: Any, sizes: tuple, state: dict, negative_steps: bool) -> list:
    """Index items covering the dims of ``sizes`` one after another, with None
    inserted here and there."""
    items: list = []
    i = 0
    while i < len(sizes):
        if draw(st.integers(0, 5)) == 0:
            items.append(None)
        kinds = ["int", "slice", "slice", "skip"]
        # a mask and an integer array would have to broadcast together: one or the other
        if not state["mask"] and not state["arrays"]:
            kinds.append("mask")
        if not state["mask"] and state["arrays"] < 2:
            kinds.append("array")
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            items.append(draw(st.integers(-sizes[i], sizes[i] - 1)))
        elif kind in ("slice", "skip"):
            items.append(slice(None) if kind == "skip" else
                         draw(_slices(sizes[i], negative_steps)))
        elif kind == "mask":
            width = draw(st.integers(1, len(sizes) - i))
            items.append(draw(hnp.arrays(np.bool_, sizes[i:i + width])))
            state["mask"] = True
            i += width
            continue
        else:
            if state["array_len"] is None:
                state["array_len"] = draw(st.integers(1, 5))
            items.append(draw(_int_array(sizes[i], state["array_len"])))
            state["arrays"] += 1
        i += 1
    if draw(st.integers(0, 5)) == 0:
        items.append(None)
    return items


@st.composite
def indices(draw: Any, shape: tuple, negative_steps: bool = True) -> Any:
    """An index expression for a tensor of ``shape``: ints, slices (negative steps
    unless ``negative_steps=False``, as torch has none), None, Ellipsis, at most one
    boolean mask or up to two integer arrays of one length (so they broadcast),
    whose entries repeat."""
    state = {"mask": False, "arrays": 0, "array_len": None}
    lead = draw(st.integers(0, len(shape)))
    items = draw(_block(shape[:lead], state, negative_steps))
    if draw(st.booleans()):
        trail = draw(st.integers(0, len(shape) - lead))
        items.append(Ellipsis)
        items += draw(_block(shape[len(shape) - trail:], state, negative_steps))
    if len(items) == 1 and draw(st.booleans()):
        return items[0]
    return tuple(items)
