"""The ops of ``Scalar``: Python floats, with each local derivative kept as a
number (so the backward step is one multiplication per input, and the stepper
can print the numbers).

    z = f(a, b)      local_grads = (dz/da, dz/db)      vjp(g) = (g·dz/da, g·dz/db)
"""

from __future__ import annotations

import weakref
from typing import Any

from ..engine import Node

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
    """A recorded Scalar op: which op, and its local derivatives as numbers."""

    __slots__ = ("op", "local_grads", "out")

    def vjp(self, grad: float) -> tuple:
        out = self.out()
        if out is not None:  # every Scalar shows its gradient, as in micrograd
            out.grad += grad
        return tuple([grad * d for d in self.local_grads])

    def release(self) -> None:
        self.inputs = None
        self.local_grads = None

    def name(self) -> str:
        return self.op

    @property
    def symbol(self) -> str:
        return RULES[self.op][0]

    @property
    def rule(self) -> str:
        return RULES[self.op][1]


def record(op: str, value: float, inputs: tuple, local_grads: tuple, cls: Any) -> Any:
    """A new Scalar ``value`` made by ``op`` from ``inputs``."""
    out = cls.__new__(cls)
    out.data = value
    out.grad = 0.0
    out.label = ""
    out._hooks = None
    if _mode.enabled and (inputs[0].requires_grad or (
            len(inputs) > 1 and inputs[1].requires_grad)):
        node = ScalarOp.__new__(ScalarOp)
        node.op = op
        node.inputs = inputs
        node.local_grads = local_grads
        node.hooks = None
        node.out = weakref.ref(out)
        out.grad_fn = node
        out.requires_grad = True
    else:
        out.grad_fn = None
        out.requires_grad = False
    return out


from ..engine import _mode  # noqa: E402
