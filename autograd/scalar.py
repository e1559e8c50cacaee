"""Scalar: one number that builds a graph, micrograd's teaching unit.

It runs on the same engine as Tensor: the same topological sort, the same
backward driver, the same hooks and the same stepper. Only the ops differ: they
work on Python floats and keep each local derivative as a number.

    >>> a, b = Scalar(2.0, label="a"), Scalar(-3.0, label="b")
    >>> c = a * b + a
    >>> c.backward()
    >>> a.grad, b.grad     # dc/da = b + 1, dc/db = a
    (-2.0, 2.0)

A Scalar made by an op is its own graph node (one object per op: see
``ops/scalar.py`` for why). Unlike a Tensor, every Scalar keeps its gradient
after backward (as in micrograd) so a picture of the graph can show each one;
it is kept apart from the gradient the driver is still summing on the node
(``_pending``), so a second backward through a retained graph adds up correctly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .engine import _mode, run_backward
from .ops.scalar import ScalarOp, record


class Scalar:
    """A Python float with a gradient; made by an op, it is also that op's graph
    node (``op``, inputs ``a`` and ``b``, local derivatives ``da`` and ``db``)."""

    __slots__ = ("data", "grad", "requires_grad", "op", "a", "b", "da", "db",
                 "_mark", "_pending", "_label", "_hooks", "_fn", "__weakref__")
    __hash__ = object.__hash__
    __array_ufunc__ = None  # numpy_number * Scalar defers to Scalar.__rmul__
    #: the engine gathers a Scalar's gradient on the Scalar itself (see engine)
    grad_on_node = True

    def __init__(self, data: float, label: str = "", requires_grad: bool = True) -> None:
        if isinstance(data, Scalar):
            data = data.data
        if not isinstance(data, (int, float)) or isinstance(data, bool):
            try:
                data = float(data)
            except (TypeError, ValueError):
                raise TypeError(
                    f"Scalar needs a real number, got {type(data).__name__}") from None
        self.data = float(data)
        self.grad = 0.0
        self.requires_grad = requires_grad
        self.op = self.a = self.b = self._mark = self._hooks = None
        self._label = label

    @property
    def grad_fn(self) -> ScalarOp | None:
        """The op that made this Scalar (None for a leaf), as in PyTorch."""
        if self.op is None:
            return None
        fn = getattr(self, "_fn", None)
        if fn is None:
            fn = self._fn = ScalarOp(self)
        return fn

    @property
    def label(self) -> str:
        """A name shown in graph pictures (empty unless given)."""
        return getattr(self, "_label", "")

    @label.setter
    def label(self, value: str) -> None:
        self._label = value

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Scalar(data={self.data:.4g}, grad={self.grad:.4g}{label})"

    # ------------------------------------------------------------------ autograd
    def backward(self, retain_graph: bool = False) -> None:
        """Add d(self)/d(x) to ``x.grad`` for every Scalar x this one depends on."""
        if not self.requires_grad:
            raise RuntimeError("backward: this Scalar does not require grad")
        run_backward([self], [1.0], retain_graph)

    def zero_grad(self) -> None:
        self.grad = 0.0

    def register_hook(self, hook: Callable) -> None:
        """Call ``hook(grad)`` when this leaf's gradient is complete."""
        if self.op is not None:
            raise RuntimeError("Scalar hooks are supported on leaves only")
        self._hooks = (self._hooks or []) + [hook]

    def _accumulate_grad(self, grad: float, create_graph: bool = False) -> None:
        self.grad += grad

    # ------------------------------------------------------------------ ops
    def __add__(self, other: Any) -> Scalar:
        if type(other) is not Scalar:  # the common case skips a call
            other = _scalar(other)
        # + and * are nearly every op of a Scalar network: recorded here, without
        # record()'s call (~5% of a micrograd-style training step)
        out = _new(Scalar)
        out.data = self.data + other.data
        out.grad = 0.0
        out._mark = None
        if (self.requires_grad or other.requires_grad) and _mode.enabled:
            out.op, out.a, out.b, out.da, out.db = "add", self, other, 1.0, 1.0
            out.requires_grad = True
        else:
            out.op = out.a = out.b = out._hooks = None
            out.requires_grad = False
        return out

    def __sub__(self, other: Any) -> Scalar:
        if type(other) is not Scalar:  # the common case skips a call
            other = _scalar(other)
        return record(Scalar, "sub", self.data - other.data, self, other, 1.0, -1.0)

    def __mul__(self, other: Any) -> Scalar:
        if type(other) is not Scalar:  # the common case skips a call
            other = _scalar(other)
        a, b = self.data, other.data
        out = _new(Scalar)
        out.data = a * b
        out.grad = 0.0
        out._mark = None
        if (self.requires_grad or other.requires_grad) and _mode.enabled:
            out.op, out.a, out.b, out.da, out.db = "mul", self, other, b, a
            out.requires_grad = True
        else:
            out.op = out.a = out.b = out._hooks = None
            out.requires_grad = False
        return out

    def __truediv__(self, other: Any) -> Scalar:
        if type(other) is not Scalar:  # the common case skips a call
            other = _scalar(other)
        a, b = self.data, other.data
        if b == 0:
            raise ZeroDivisionError(f"Scalar division by zero ({a} / 0)")
        # -a / b / b, not -a / (b * b): b * b underflows to 0 for |b| < 1e-162
        return record(Scalar, "div", a / b, self, other, 1 / b, -a / b / b)

    def __pow__(self, other: Any) -> Scalar:
        if type(other) is not Scalar:  # the common case skips a call
            other = _scalar(other)
        a, b = self.data, other.data
        try:
            out = a**b
        except ZeroDivisionError:
            raise ZeroDivisionError(f"Scalar power: 0 ** {b} is undefined") from None
        if isinstance(out, complex):
            raise ValueError(f"Scalar power: {a} ** {b} is not a real number")
        try:
            d_base = b * a ** (b - 1) if b != 0 else 0.0
        except (ZeroDivisionError, OverflowError):  # 0**(b-1) for 0 < b < 1, or a tiny a:
            d_base = b * out / a if a else math.inf  # the slope is infinite, as in torch
        d_exp = out * math.log(a) if a > 0 else 0.0
        return record(Scalar, "pow", out, self, other, d_base, d_exp)

    def __neg__(self) -> Scalar:
        return record(Scalar, "neg", -self.data, self, None, -1.0)

    def __radd__(self, other: Any) -> Scalar:
        return _scalar(other) + self

    def __rsub__(self, other: Any) -> Scalar:
        return _scalar(other) - self

    def __rmul__(self, other: Any) -> Scalar:
        return _scalar(other) * self

    def __rtruediv__(self, other: Any) -> Scalar:
        return _scalar(other) / self

    def __rpow__(self, other: Any) -> Scalar:
        return _scalar(other) ** self

    def exp(self) -> Scalar:
        try:
            out = math.exp(self.data)
        except OverflowError:
            out = math.inf
        return record(Scalar, "exp", out, self, None, out)

    def log(self) -> Scalar:
        if self.data <= 0:
            raise ValueError(f"Scalar log: needs a positive number, got {self.data}")
        return record(Scalar, "log", math.log(self.data), self, None, 1 / self.data)

    def tanh(self) -> Scalar:
        out = math.tanh(self.data)
        return record(Scalar, "tanh", out, self, None, 1 - out * out)

    def relu(self) -> Scalar:
        x = self.data
        return record(Scalar, "relu", x if x > 0 else 0.0, self, None, 1.0 if x > 0 else 0.0)

    def sigmoid(self) -> Scalar:
        x = self.data
        if x >= 0:
            out = 1 / (1 + math.exp(-x))
        else:
            e = math.exp(x)
            out = e / (1 + e)
        return record(Scalar, "sigmoid", out, self, None, out * (1 - out))


def _scalar(x: Any) -> Scalar:
    """``x`` as a Scalar; a plain number becomes a constant (no gradient)."""
    if type(x) is Scalar:
        return x
    if isinstance(x, Scalar):
        return x
    if type(x) is float or type(x) is int:
        const = _new(Scalar)
        const.data = float(x)
        const.grad = 0.0
        const.requires_grad = False
        const.op = const.a = const.b = const._mark = const._hooks = None
        return const
    return Scalar(x, requires_grad=False)


_new = object.__new__
