"""Scalar: one number that builds a graph, micrograd's teaching unit.

It runs on the same engine as Tensor: the same topological sort, the same
backward driver, the same hooks and the same stepper. Only the ops differ: they
work on Python floats and keep each local derivative as a number.

    >>> a, b = Scalar(2.0, label="a"), Scalar(-3.0, label="b")
    >>> c = a * b + a
    >>> c.backward()
    >>> a.grad, b.grad     # dc/da = b + 1, dc/db = a
    (-2.0, 2.0)

Unlike a Tensor, every Scalar keeps its gradient after backward (as in
micrograd) so a picture of the graph can show each one; it is kept apart from
the gradients the driver is still summing, so a second backward through a
retained graph adds up correctly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .engine import run_backward
from .ops.scalar import record


class Scalar:
    """A Python float with a gradient and the op that made it."""

    __slots__ = ("data", "_grad", "grad_fn", "requires_grad", "_label", "_hooks", "__weakref__")
    __hash__ = object.__hash__
    __array_ufunc__ = None  # numpy_number * Scalar defers to Scalar.__rmul__

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
        self._grad = 0.0
        self.grad_fn = None
        self.requires_grad = requires_grad
        self._label = label
        self._hooks = None

    @property
    def grad(self) -> float:
        """d(root)/d(self) from the last backward (accumulated, as in PyTorch)."""
        node = self.grad_fn
        return self._grad if node is None else node.out_grad

    @grad.setter
    def grad(self, value: float) -> None:
        node = self.grad_fn
        if node is None:
            self._grad = value
        else:
            node.out_grad = value

    @property
    def label(self) -> str:
        """A name shown in graph pictures (empty unless given)."""
        return getattr(self, "_label", "")

    @label.setter
    def label(self, value: str) -> None:
        self._label = value

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

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
        if self.grad_fn is not None:
            raise RuntimeError("Scalar hooks are supported on leaves only")
        self._hooks = (self._hooks or []) + [hook]

    def _accumulate_grad(self, grad: float, create_graph: bool = False) -> None:
        self._grad += grad

    # ------------------------------------------------------------------ ops
    def __add__(self, other: Any) -> Scalar:
        other = _scalar(other)
        return record(Scalar, "add", self.data + other.data, self, other, 1.0, 1.0)

    def __sub__(self, other: Any) -> Scalar:
        other = _scalar(other)
        return record(Scalar, "sub", self.data - other.data, self, other, 1.0, -1.0)

    def __mul__(self, other: Any) -> Scalar:
        other = _scalar(other)
        return record(Scalar, "mul", self.data * other.data, self, other, other.data, self.data)

    def __truediv__(self, other: Any) -> Scalar:
        other = _scalar(other)
        a, b = self.data, other.data
        if b == 0:
            raise ZeroDivisionError(f"Scalar division by zero ({a} / 0)")
        # -a / b / b, not -a / (b * b): b * b underflows to 0 for |b| < 1e-162
        return record(Scalar, "div", a / b, self, other, 1 / b, -a / b / b)

    def __pow__(self, other: Any) -> Scalar:
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
        const._grad = 0.0
        const.grad_fn = None
        const.requires_grad = False
        const._hooks = None
        return const
    return Scalar(x, requires_grad=False)


_new = object.__new__
