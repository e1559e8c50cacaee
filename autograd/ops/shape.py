"""Shape and indexing ops. They move numbers around without changing them, so
each backward moves the gradient back: reshape undoes reshape, a scatter-add
undoes indexing (summing where an index repeats), slicing undoes concatenation."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .. import backend
from ..function import MultiOutputOp, Op, constant
from .dims import normalize_dim


class Reshape(Op):
    """z = x viewed with a new shape.   dz/dx: the gradient reshaped back"""

    __slots__ = ("in_shape",)

    def forward(self, x, shape=(), view=False):
        self.in_shape = x.shape
        out = x.reshape(shape)
        if view and x.size and not backend.array_module(x).may_share_memory(out, x):
            # numpy copied: no strides give this shape over x's memory (PyTorch's rule)
            raise RuntimeError(
                f"view: shape {tuple(shape)} is not compatible with the input's size and "
                f"stride (input of shape {tuple(x.shape)}, strides "
                f"{tuple(n // x.itemsize for n in x.strides)}: at least one dimension spans "
                "across two contiguous subspaces). Use .reshape(...) instead."
            )
        return out

    def backward(self, g):
        return (g.reshape(self.in_shape),)

    @classmethod
    def explain(cls, err, x, shape=(), view=False):
        return RuntimeError(
            f"{'view' if view else 'reshape'}: shape {tuple(shape)} is invalid for input "
            f"of shape {tuple(x.shape)} ({x.numel()} elements)"
        )

    def name(self) -> str:
        return "ViewBackward0"


class Permute(Op):
    """z = x with its dims reordered.   dz/dx: the gradient with the inverse order"""

    __slots__ = ("dims",)

    def forward(self, x, dims=()):
        if sorted(dims) != list(range(x.ndim)):
            raise RuntimeError(
                f"permute: dims {tuple(dims)} must be a reordering of 0..{x.ndim - 1} "
                f"for a tensor of shape {tuple(x.shape)}"
            )
        self.dims = tuple(dims)
        return x.transpose(dims)

    def backward(self, g):
        return (g.permute(*np.argsort(self.dims).tolist()),)


class BroadcastTo(Op):
    """z = x repeated along broadcast dims.   dz/dx: the gradient summed back"""

    __slots__ = ()

    def forward(self, x, shape=()):
        return np.broadcast_to(x, shape)

    def backward(self, g):
        return (g.sum_to_size(self.inputs[0].shape),)

    @classmethod
    def explain(cls, err, x, shape=()):
        return RuntimeError(
            f"expand: the expanded size {tuple(shape)} must match the existing size "
            f"{tuple(x.shape)} at each non-singleton dimension"
        )

    def name(self) -> str:
        return "ExpandBackward0"


def is_basic_index(index: Any) -> bool:
    """True for indices made of ints, slices, None and Ellipsis (numpy views)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or (isinstance(i, (int, slice, np.integer))
        and not isinstance(i, bool))
        for i in items
    )


def ints_first(index: Any) -> tuple | None:
    """PyTorch applies an index's ints before its arrays; numpy applies them
    together, so an int apart from an array moves the array's dims to the front.
    Returns ``(ints_part, arrays_part)`` to apply one after the other, or None
    when the index has no int beside an array (numpy and PyTorch agree)."""
    if not isinstance(index, tuple):
        return None

    def is_int(i: Any) -> bool:
        return isinstance(i, (int, np.integer)) and not isinstance(i, bool)

    if not (any(map(is_int, index)) and any(backend.is_array(i) for i in index)):
        return None
    first, then = [], []
    for i in index:
        if backend.is_array(i):  # kept for the second step; a mask spans its ndim dims
            first += [slice(None)] * (i.ndim if i.dtype == bool else 1)
            then.append(i)
        elif is_int(i):  # its dim is gone after the first step
            first.append(i)
        elif i is Ellipsis:
            first.append(i)
            then.append(i)
        else:  # a slice, or None (whose new dim the second step keeps)
            first.append(i)
            then.append(slice(None))
    return tuple(first), tuple(then)


class GetItem(Op):
    """z = x[index].   dz/dx: the gradient scattered back to where it was taken,
    summed where an index repeats"""

    __slots__ = ("index",)

    def forward(self, x, index=None):
        self.index = index
        try:
            return x[index]
        except IndexError as err:  # apply() rewrites only ValueError and TypeError
            raise self.explain(err, x, index) from None

    def backward(self, g):
        return (g._index_add_into(self.inputs[0].shape, self.index),)

    @classmethod
    def explain(cls, err, x, index=None):
        return IndexError(f"index: {err} (tensor of shape {tuple(x.shape)})")

    def name(self) -> str:
        return "IndexBackward0"


class IndexAdd(Op):
    """z = zeros(shape) with g added at x's index (repeats accumulate).
    dz/dg: z's gradient read at the same index"""

    __slots__ = ("index",)

    def forward(self, g, shape=(), index=None):
        self.index = index
        out = backend.zeros(shape, g.dtype, like=g)
        if is_basic_index(index):
            out[index] = g
        else:
            backend.scatter_add(out, index, g)
        return out

    def backward(self, g):
        return (g[self.index],)


def check_index(index: Any, size: int, op: str, dim: int, kind: type = RuntimeError) -> None:
    """Raise PyTorch's error (of type ``kind`` for a value out of range) unless
    ``index`` holds integers in [0, size): numpy would silently wrap a negative one."""
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index, got {index.dtype}")
    backend.check(_check_range, index, size, op, dim, kind)  # compiled: at every replay


def _check_range(index: Any, size: int, op: str, dim: int, kind: type) -> None:
    if index.size and (index.min() < 0 or index.max() >= size):
        bad = index.min() if index.min() < 0 else index.max()
        raise kind(f"{op}(): index {bad} is out of bounds for dimension {dim} "
                   f"with size {size}")


class Gather(Op):
    """z = x picked along dim at ``index`` (torch.gather).
    dz/dx: the gradient added back at the same places"""

    __slots__ = ("dim", "index")

    def forward(self, x, dim=0, index=None):
        self.dim = normalize_dim(dim, x.ndim, "gather")
        if index.size == 0:  # nothing to pick: PyTorch checks no shapes either
            self.index = index
            return backend.zeros(index.shape, x.dtype, like=x)
        if x.ndim <= 1 and index.ndim <= 1 and (x.ndim == 0 or index.ndim == 0):
            # as in PyTorch, a 0-d input or index gathers as a 1-d one of one element
            check_index(index, x.shape[0] if x.ndim else 1, "gather", dim)
            self.index = index
            return x.reshape(-1)[index]
        if index.ndim != x.ndim or any(
            i != self.dim and m > n for i, (m, n) in enumerate(zip(index.shape, x.shape))
        ):
            raise RuntimeError(
                f"gather: index of shape {tuple(index.shape)} must have the input's number "
                f"of dims and be no larger than the input {tuple(x.shape)} apart from "
                f"dim {dim}"
            )
        check_index(index, x.shape[self.dim], "gather", dim)
        self.index = index
        # as torch.gather, an index smaller than x in the other dims reads x's corner
        corner = tuple(slice(None) if i == self.dim else slice(0, m)
                       for i, m in enumerate(index.shape))
        return np.take_along_axis(x[corner], index, axis=self.dim)

    def backward(self, g):
        (x,) = self.inputs
        if self.index.size == 0:  # zeros, made from g (empty: sums to 0) to stay in the graph
            return (g.sum().broadcast_to(x.shape),)
        if x.ndim == 0 or self.index.ndim == 0:  # the 0-d case of forward
            flat = g.reshape(-1)._index_add_into((max(x.numel(), 1),), self.index.reshape(-1))
            return (flat.reshape(x.shape),)
        zeros = _zeros(g, x.shape)
        return (ScatterAdd.apply(zeros, g, dim=self.dim, index=self.index),)


class ScatterAdd(Op):
    """z = x with src added along dim at ``index`` (torch.scatter_add; for dim 0,
    z[index[i, j], j] += src[i, j], repeats accumulating; only the index-shaped
    corner of src is read).
    dz/dx = 1,  dz/dsrc: the gradient gathered at ``index`` (zero outside the corner)"""

    __slots__ = ("dim", "index")

    def forward(self, x, src, dim=0, index=None):
        self.dim = d = normalize_dim(dim, x.ndim, "scatter_add")
        if x.dtype != src.dtype:
            raise RuntimeError(f"scatter_add(): expected self.dtype to be equal to src.dtype, "
                               f"got {x.dtype} and {src.dtype}")
        self.index = index
        if index.size == 0:  # nothing to add: PyTorch checks no shapes either
            return x.copy()
        if index.ndim != x.ndim or src.ndim != x.ndim:
            raise RuntimeError(
                f"scatter_add(): index {tuple(index.shape)}, self {tuple(x.shape)} and src "
                f"{tuple(src.shape)} must have the same number of dimensions"
            )
        if any(m > s or (i != d and m > n)
               for i, (m, n, s) in enumerate(zip(index.shape, x.shape, src.shape))):
            raise RuntimeError(
                f"scatter_add(): expected index {list(index.shape)} to be no larger than self "
                f"{list(x.shape)} apart from dimension {d} and to be no larger than src "
                f"{list(src.shape)}"
            )
        check_index(index, x.shape[d], "scatter_add", dim)
        grid = backend.open_grid(index.shape, like=index)
        grid[d] = index
        out = x.copy()
        backend.scatter_add(out, tuple(grid), src[tuple(slice(0, m) for m in index.shape)])
        return out

    def backward(self, g):
        src = self.inputs[1]
        gsrc = None
        if self.needs_input_grad[1] and self.index.size == 0:  # no element of src was read
            gsrc = _zeros(g, src.shape)
        elif self.needs_input_grad[1]:
            gsrc = Gather.apply(g, dim=self.dim, index=self.index)
            if gsrc.shape != src.shape:  # the part of src the index never reached
                widths = [w for m, n in zip(gsrc.shape[::-1], src.shape[::-1]) for w in (0, n - m)]
                gsrc = Pad.apply(gsrc, pad=tuple(widths), value=0.0)
        return g, gsrc


class IndexSelect(Op):
    """z = the slices of x along dim listed in ``index`` (1-D, repeats allowed).
    dz/dx: the gradient added back into those slices, summed where an index repeats"""

    __slots__ = ("dim", "index")

    def forward(self, x, dim=0, index=None):
        if index.ndim > 1:
            raise IndexError(f"index_select(): Index is supposed to be a vector, got shape "
                             f"{tuple(index.shape)}")
        self.dim = d = normalize_dim(dim, x.ndim, "index_select")
        if x.ndim >= 2 and x.shape[d] == 0 and index.size:
            raise RuntimeError(f"index_select(): self indexing axis dim should be positive "
                               f"(dim {dim} of a tensor of shape {tuple(x.shape)} is empty)")
        if x.ndim == 0 and index.size != 1:  # a 0-d tensor takes one index, 0
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, "
                               f"got {index.size} value(s)")
        check_index(index, x.shape[d] if x.ndim else 1, "index_select", dim, IndexError)
        self.index = index.reshape(-1)
        if x.ndim == 0:  # as PyTorch: ... and stays 0-d
            return x.copy()
        return np.take(x, self.index, axis=d)

    def backward(self, g):
        (x,) = self.inputs
        if x.ndim == 0:
            return (g,)
        where = (slice(None),) * self.dim + (self.index,)
        return (IndexAdd.apply(g, shape=x.shape, index=where),)


class Cat(Op):
    """z = the inputs joined along dim.   dz/dx_k: the k-th slice of the gradient"""

    __slots__ = ("dim", "sizes")

    def forward(self, *xs, dim=0):
        self.dim = normalize_dim(dim, xs[0].ndim, "cat")
        self.sizes = [x.shape[self.dim] for x in xs]
        return np.concatenate(xs, axis=self.dim)

    def backward(self, g):
        grads, start = [], 0
        for size, needed in zip(self.sizes, self.needs_input_grad):
            index = (slice(None),) * self.dim + (slice(start, start + size),)
            grads.append(g[index] if needed else None)
            start += size
        return tuple(grads)

    @classmethod
    def explain(cls, err, *xs, dim=0):
        shapes = ", ".join(str(tuple(x.shape)) for x in xs)
        return RuntimeError(f"cat: tensors must have the same shape except in dim {dim}, "
                            f"got shapes {shapes}")


def _zeros(like: Any, shape: tuple) -> Any:
    """A constant Tensor of zeros with ``like``'s dtype and array library."""
    return constant(backend.zeros(shape, like.dtype, like=like.data))


def _piece_shape(shape: tuple, dim: int, size: int | None) -> tuple:
    """``shape`` with dim ``dim`` set to ``size`` (None: removed)."""
    rest = () if size is None else (size,)
    return (*shape[:dim], *rest, *shape[dim + 1:])


class Split(MultiOutputOp):
    """(z_0, ..., z_k) = consecutive pieces of x along dim, of the given sizes (views).
    dz/dx: the pieces' gradients joined along dim (zeros for a piece that got none)"""

    __slots__ = ("dim", "sizes")

    def forward(self, x, dim=0, sizes=()):
        self.dim, self.sizes = dim, tuple(sizes)
        lead = (slice(None),) * dim
        # slices, not np.split: its split points would be a host array, which a
        # device array refuses to mix with
        starts = itertools.accumulate(sizes, initial=0)
        return tuple(x[(*lead, slice(start, start + size))]
                     for start, size in zip(starts, sizes))

    def backward(self, grads):
        (x,) = self.inputs
        parts = [g if g is not None else _zeros(x, _piece_shape(x.shape, self.dim, size))
                 for g, size in zip(grads, self.sizes)]
        return (Cat.apply(*parts, dim=self.dim),)


class Unbind(MultiOutputOp):
    """(z_0, ..., z_{n-1}) = the slices of x along dim, that dim removed (views).
    dz/dx: the slices' gradients stacked along dim (zeros for a slice that got none)"""

    __slots__ = ("dim",)

    def forward(self, x, dim=0):
        self.dim = dim
        lead = (slice(None),) * dim
        return tuple(x[(*lead, i)] for i in range(x.shape[dim]))

    def backward(self, grads):
        (x,) = self.inputs
        parts = [g if g is not None else _zeros(x, _piece_shape(x.shape, self.dim, None))
                 for g in grads]
        return (Stack.apply(*parts, dim=self.dim),)


class Stack(Op):
    """z = the inputs (of one shape) joined along a new dim.
    dz/dx_k: the k-th slice of the gradient along that dim"""

    __slots__ = ("dim",)

    def forward(self, *xs, dim=0):
        self.dim = dim
        return np.stack(xs, axis=dim)

    def backward(self, g):
        return Unbind.apply(g, dim=self.dim)


def _padded(x: Any, widths: list, value: Any) -> Any:
    """``x`` with ``widths`` (lo, hi) per dim added as ``value``s, negative ones cut off."""
    x = x[tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, x.shape))]
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    return np.pad(x, grow, constant_values=value) if any(map(any, grow)) else x.copy()


class Pad(Op):
    """z = x with constant borders (torch.nn.functional.pad order: last dim first).
    dz/dx: the gradient with the borders cut off"""

    __slots__ = ("widths",)

    def forward(self, x, pad=(), value=0.0):
        if len(pad) % 2:
            raise ValueError(f"Padding length must be divisible by 2, got {len(pad)}")
        if len(pad) // 2 > x.ndim:
            raise ValueError(f"Padding length should be less than or equal to two times the "
                             f"input dimension but got padding length {len(pad)} and input "
                             f"of dimension {x.ndim}")
        widths = [(0, 0)] * x.ndim
        for i in range(len(pad) // 2):
            widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
        for (lo, hi), n in zip(widths, x.shape):
            if n + min(lo, 0) + min(hi, 0) < 0:  # negative widths crop, as in PyTorch
                raise ValueError(f"narrow(): length must be non-negative (a dim of size {n} "
                                 f"cropped by ({lo}, {hi}))")
        self.widths = widths
        return _padded(x, widths, value)

    def backward(self, g):
        # the borders added cut off, and what was cropped put back as zeros
        return (Pad.apply(g, pad=tuple(-w for lo, hi in self.widths[::-1] for w in (lo, hi)),
                          value=0.0),)

    @classmethod
    def explain(cls, err, x, pad=(), value=0.0):
        return RuntimeError(f"pad: {err} (input shape {tuple(x.shape)}, pad {tuple(pad)})")
