"""The ops of ``Scalar``: Python floats, with each local derivative kept as a
number (so a backward step is one multiplication per input, and the stepper can
print the numbers).

    z = f(a, b)      da, db = dz/da, dz/db      backward: a gets g·da, b gets g·db

A Scalar made by an op is its own graph node: it holds its one or two inputs and
their local derivatives in slots, so an op costs one object. CPython's cyclic
garbage collector scans every live object again and again while a graph grows,
and with one object per op (instead of a value and a separate node) a training
step of a Scalar MLP leaves the collector half the work, and no full collection.

``ScalarOp`` is what ``scalar.grad_fn`` shows of that node: a view made on first
request, for pictures, the stepper and users; the engine never needs it.
"""

from __future__ import annotations

import weakref
from typing import Any

from ..engine import Node, _mode

#: op name -> (symbol shown in pictures, the derivative rule in words)
RULES = {
    "add": ("+", "d(a+b)/da = 1, d(a+b)/db = 1"),
    "sub": ("-", "d(a-b)/da = 1, d(a-b)/db = -1"),
    "mul": ("*", "d(a*b)/da = b, d(a*b)/db = a"),
    "div": ("/", "d(a/b)/da = 1/b, d(a/b)/db = -a/b²"),
    "pow": ("**", "d(a**b)/da = b·a**(b-1), d(a**b)/db = a**b·ln a"),
    "neg": ("-", "d(-a)/da = -1"),
    "exp": ("exp", "d(exp a)/da = exp a"),
    "log": ("log", "d(ln a)/da = 1/a"),
    "tanh": ("tanh", "d(tanh a)/da = 1 - tanh² a"),
    "relu": ("relu", "d(relu a)/da = 1 if a > 0 else 0"),
    "sigmoid": ("σ", "d(σ(a))/da = σ(a)·(1 - σ(a))"),
}


class ScalarOp(Node):
    """The op that made a Scalar, as ``grad_fn`` shows it: which op, its inputs and
    their local derivatives. It reads them from the Scalar (held weakly, so the
    Scalar, which caches this view, is not part of a reference cycle)."""

    __slots__ = ("_ref",)
    hooks = None  # Scalar hooks live on leaves only

    def __init__(self, scalar: Any) -> None:
        self._ref = weakref.ref(scalar)

    @property
    def scalar(self) -> Any:
        """The Scalar this op made (None once it is gone)."""
        return self._ref()

    @property
    def inputs(self) -> tuple | None:
        """The input Scalars, or None once backward has freed them."""
        s = self._ref()
        if s is None or s.a is None:
            return None
        return (s.a,) if s.b is None else (s.a, s.b)

    @property
    def local_grads(self) -> tuple | None:
        """The local derivatives, or None once backward has freed the graph."""
        s = self._ref()
        if s is None or s.a is None:
            return None
        return (s.da,) if s.b is None else (s.da, s.db)

    def vjp(self, grad: float) -> tuple:
        """The gradients this op hands its inputs for ``grad`` (what backward does)."""
        s = self._ref()
        if s is None or s.a is None:
            raise RuntimeError("this Scalar op was freed by backward")
        return (grad * s.da,) if s.b is None else (grad * s.da, grad * s.db)

    def release(self) -> None:
        s = self._ref()
        if s is not None:
            s.a = s.b = None

    def name(self) -> str:
        s = self._ref()
        return s.op if s is not None else "freed"

    @property
    def symbol(self) -> str:
        return RULES[self.name()][0]

    @property
    def rule(self) -> str:
        return RULES[self.name()][1]


def record(cls: Any, op: str, value: float, a: Any, b: Any, da: float, db: float = 0.0) -> Any:
    """A new ``cls`` (Scalar) holding ``value``, made by ``op`` from ``a`` (and ``b``)
    with local derivatives ``da`` (and ``db``); a constant when no input needs a
    gradient or recording is off."""
    out = _new(cls)
    out.data = value
    out.grad = 0.0
    out._mark = None
    if (a.requires_grad or (b is not None and b.requires_grad)) and _mode.enabled:
        out.op = op
        out.a = a
        out.b = b
        out.da = da
        out.db = db
        out.requires_grad = True
    else:
        out.op = out.a = out.b = out._hooks = None
        out.requires_grad = False
    return out


_new = object.__new__
