"""Reductions: ops that sum, average or pick along dims, and softmax's family.

A reduced gradient is spread back by reshaping it to the input's rank (reduced
axes kept as size 1) and broadcasting: that is the whole rule for ``sum``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..engine import _mode
from ..function import Op, constant
from .dims import keepdim_shape, normalize_dims


def check_nonempty(op: str, shape: tuple, dim, axes: tuple,
                   kind: type[Exception] = RuntimeError) -> None:
    """PyTorch's errors for picking an element (max, argmax...) out of nothing
    (``kind``: PyTorch's type when no dim is given; IndexError for argmax/argmin)."""
    if (dim is None or dim == () or dim == []) and 0 in shape:
        raise kind(f"{op}(): Expected reduction dim to be specified for "
                           f"input.numel() == 0 (input of shape {tuple(shape)}). Specify "
                           "the reduction dim with the 'dim' argument.")
    for a in axes:
        if shape[a] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {a} to have non-zero size "
                             f"(input of shape {tuple(shape)})")


class Reduction(Op):
    """Base of ops that reduce over ``dim`` (None: all) with ``keepdim``."""

    __slots__ = ("axes", "keepdim", "in_shape")

    def setup(self, x, dim, keepdim):
        if dim == () or dim == []:  # as in PyTorch, no dims listed reduces them all
            dim = None
        self.axes = normalize_dims(dim, x.ndim, self.op_name())
        self.keepdim = keepdim
        self.in_shape = x.shape
        return self.axes

    def spread(self, g):
        """``g`` reshaped to the input's rank, ready to broadcast against it
        (a 0-d ``g``, from reducing everything, broadcasts as it is)."""
        if not self.keepdim and g.ndim:
            g = g.reshape(keepdim_shape(self.in_shape, self.axes))
        return g

    def count(self) -> int:
        return math.prod(self.in_shape[a] for a in self.axes)


class Sum(Reduction):
    """z = Σ x over dim.   dz/dx = 1 for every summed element"""

    __slots__ = ()

    def forward(self, x, dim=None, keepdim=False):
        axes = self.setup(x, dim, keepdim)
        return x.sum(axis=axes, keepdims=keepdim)

    def backward(self, g):
        return (self.spread(g).broadcast_to(self.in_shape),)


class Mean(Reduction):
    """z = (1/n) Σ x over dim.   dz/dx = 1/n"""

    __slots__ = ()

    def forward(self, x, dim=None, keepdim=False):
        axes = self.setup(x, dim, keepdim)
        return x.mean(axis=axes, keepdims=keepdim)

    def backward(self, g):
        return ((self.spread(g) / self.count()).broadcast_to(self.in_shape),)


class Var(Reduction):
    """z = Σ (x - mean)² / (n - c) over dim.   dz/dx = 2 (x - mean) / (n - c)"""

    __slots__ = ("correction",)

    def forward(self, x, dim=None, keepdim=False, correction=1):
        axes = self.setup(x, dim, keepdim)
        self.correction = correction
        return x.var(axis=axes, ddof=correction, keepdims=keepdim)

    def backward(self, g):
        (x,) = self.inputs
        centred = x - x.mean(self.axes, keepdim=True)
        dof = self.count() - self.correction  # none left: the variance is nan, so is this
        return (self.spread(g) * centred * (2 / dof if dof > 0 else math.inf),)


class Std(Var):
    """z = √var.   dz/dx = (x - mean) / ((n - c)·z), and 0 where z = 0 (all the
    values equal), as PyTorch: no nan gradient from a constant feature"""

    __slots__ = ()

    def forward(self, x, dim=None, keepdim=False, correction=1):
        out = np.sqrt(super().forward(x, dim, keepdim, correction))
        self.saved = (out,)
        return out

    def backward(self, g):
        out = self.output()
        return super().backward((g / (out * 2)).where(out != 0, 0.0))


class SumTo(Op):
    """z = x summed down to ``shape`` (undoes broadcasting).   dz/dx = 1"""

    __slots__ = ("in_shape",)

    def forward(self, x, shape=()):
        self.in_shape = x.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1
        )
        out = x.sum(axis=axes, keepdims=True) if axes else x
        return out.reshape(shape)

    def backward(self, g):
        return (g.broadcast_to(self.in_shape),)


class Extremum(Reduction):
    """Base of amax/amin: ties share the gradient evenly, as PyTorch does."""

    __slots__ = ()

    def backward(self, g):
        (x,) = self.inputs
        picked = x.data == self.spread_array(self.saved[-1])
        share = picked / picked.sum(axis=self.axes, keepdims=True)
        return (self.spread(g) * constant(share.astype(g.dtype)),)

    def spread_array(self, out):
        return out if self.keepdim else out.reshape(keepdim_shape(self.in_shape, self.axes))

    def check_nonempty(self, x, dim):
        check_nonempty(self.op_name(), x.shape, dim, self.axes)


class Amax(Extremum):
    """z = max of x over dim.   dz/dx = 1/k on the k elements equal to the max"""

    __slots__ = ()

    def forward(self, x, dim=None, keepdim=False):
        axes = self.setup(x, dim, keepdim)
        self.check_nonempty(x, dim)
        out = x.max(axis=axes, keepdims=keepdim)
        self.saved = (out,)
        return out


class Amin(Extremum):
    """z = min of x over dim.   dz/dx = 1/k on the k elements equal to the min"""

    __slots__ = ()

    def forward(self, x, dim=None, keepdim=False):
        axes = self.setup(x, dim, keepdim)
        self.check_nonempty(x, dim)
        out = x.min(axis=axes, keepdims=keepdim)
        self.saved = (out,)
        return out


class Prod(Reduction):
    """z = Π x over dim.   dz/dx_i = Π_{j≠i} x_j  (= z / x_i when no x is 0)"""

    __slots__ = ("whole",)

    def forward(self, x, dim=None, keepdim=False):
        axes = self.setup(x, dim, keepdim)
        self.whole = dim is None
        out = x.prod(axis=axes, keepdims=keepdim)
        self.saved = (out,)
        return out

    def backward(self, g):
        (x,) = self.inputs
        g = self.spread(g)
        if x.ndim == 0:  # the product of one number is that number (inf too), as PyTorch
            return (g,)
        zeros = np.count_nonzero(x.data == 0)
        if not zeros:
            return (g * self.spread(self.output()) / x,)
        if self.whole and zeros > 1 and not _mode.enabled:
            # every product of the others holds a zero: 0, beside an inf too, as PyTorch's
            # shortcut (which it takes only here: no dim given, no graph being built)
            return (constant(backend.zeros(x.shape, g.dtype, like=g.data)),)
        # With zeros, z / x is 0/0: form each "product of the others" exactly by
        # moving the reduced axes to the end, flattening them to one axis of n,
        # and multiplying an n x n copy with ones on the diagonal.
        n = self.count()
        rest = [a for a in range(x.ndim) if a not in self.axes]
        order = rest + list(self.axes)
        flat = x.permute(*order).reshape(*[x.shape[a] for a in rest], n)
        eye = backend.eye(n, dtype=bool, like=x.data)
        others = flat.unsqueeze(-2).expand(*flat.shape[:-1], n, n).where(~eye, 1.0).prod(-1)
        back = np.argsort(order)
        others = others.reshape(*[x.shape[a] for a in order]).permute(*back.tolist())
        return (g * others,)


class LogSumExp(Reduction):
    """z = ln Σ exp(x) over dim.   dz/dx = exp(x - z) = softmax(x)"""

    __slots__ = ()

    def forward(self, x, dim=None, keepdim=False):
        axes = self.setup(x, dim, keepdim)
        # initial=-inf: the log-sum-exp of nothing is log 0 = -inf, as in PyTorch
        shift = x.max(axis=axes, keepdims=True, initial=-np.inf)
        shift = np.where(np.isfinite(shift), shift, 0)  # all -inf rows stay -inf
        with np.errstate(divide="ignore"):
            out = np.log(np.exp(x - shift).sum(axis=axes, keepdims=True)) + shift
        out = out.astype(x.dtype, copy=False)
        self.saved = (out,)
        return out if keepdim else out.reshape(
            tuple(n for i, n in enumerate(x.shape) if i not in axes)
        )

    def backward(self, g):
        (x,) = self.inputs
        z = self.spread(self.output())
        return (self.spread(g) * (x - z).exp(),)


class SoftmaxOp(Op):
    """s = exp(x) / Σ exp(x) over dim.   ds/dx · g = s ⊙ (g - Σ g⊙s)"""

    __slots__ = ("dim",)

    def forward(self, x, dim=-1):
        self.dim = normalize_dims(dim, x.ndim, "softmax")  # a tuple: () for a 0-d x
        if x.size:
            e = np.exp(x - x.max(axis=self.dim, keepdims=True))
            out = e / e.sum(axis=self.dim, keepdims=True)
        else:  # an empty dim gives an empty result, as in PyTorch
            out = x.copy()
        self.saved = (out,)
        return out

    def backward(self, g):
        s = self.output()
        return (s * (g - (g * s).sum(self.dim, keepdim=True)),)


class LogSoftmaxOp(Op):
    """y = x - ln Σ exp(x) over dim.   dy/dx · g = g - softmax(x) Σ g"""

    __slots__ = ("dim",)

    def forward(self, x, dim=-1):
        self.dim = normalize_dims(dim, x.ndim, "log_softmax")  # a tuple: () for a 0-d x
        if x.size:
            shifted = x - x.max(axis=self.dim, keepdims=True)
            out = shifted - np.log(np.exp(shifted).sum(axis=self.dim, keepdims=True))
        else:
            out = x.copy()
        self.saved = (out,)
        return out

    def backward(self, g):
        y = self.output()
        return (g - y.exp() * g.sum(self.dim, keepdim=True),)


class Cumsum(Op):
    """z_i = Σ_{j ≤ i} x_j along dim (``reverse``: Σ_{j ≥ i}).
    dz/dx · g = the cumulative sum of g the other way round, Σ_{i ≥ j} g_i"""

    __slots__ = ("dim", "reverse")

    def forward(self, x, dim=0, reverse=False):
        self.dim, self.reverse = dim, reverse
        if x.ndim == 0:
            return x.copy()
        if reverse:
            return np.flip(np.cumsum(np.flip(x, dim), axis=dim), dim).copy()
        return np.cumsum(x, axis=dim)

    def backward(self, g):
        return (Cumsum.apply(g, dim=self.dim, reverse=not self.reverse),)
