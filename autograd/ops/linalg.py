"""Linear algebra: matrix products with numpy's batched broadcasting, and the
fused affine map of a linear layer."""

from __future__ import annotations

import numpy as np

from ..function import Op
from .reduce import Sum
from .shape import Permute


class MatMul(Op):
    """Z = A @ B.   dZ/dA · G = G @ Bᵀ,  dZ/dB · G = Aᵀ @ G
    (1-D operands are treated as a row or column, then squeezed back)"""

    __slots__ = ()

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError(
                f"matmul: both arguments need at least 1 dimension, got shapes "
                f"{tuple(a.shape)} and {tuple(b.shape)}"
            )
        return np.matmul(a, b)

    def backward(self, g):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:  # dot product: g is a scalar
            return (g * b if need_a else None), (g * a if need_b else None)
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        if a.ndim == 1:
            g = g.unsqueeze(-2)
        if b.ndim == 1:
            g = g.unsqueeze(-1)
        ga = gb = None
        if need_a:
            ga = g @ b2.mT
            if a.ndim == 1:
                ga = ga.sum_to_size((1, a.shape[0])).reshape(a.shape)
        if need_b:
            gb = a2.mT @ g
            if b.ndim == 1:
                gb = gb.sum_to_size((b.shape[0], 1)).reshape(b.shape)
        return ga, gb

    @classmethod
    def explain(cls, err, a, b):
        if isinstance(err, RuntimeError):
            return err
        sa = "x".join(map(str, a.shape)) or "scalar"
        sb = "x".join(map(str, b.shape)) or "scalar"
        return RuntimeError(
            f"matmul: mat1 and mat2 shapes cannot be multiplied ({sa} and {sb})"
        )

    def name(self) -> str:
        return "MmBackward0"


class LinearOp(Op):
    """y = x Wᵀ + b.   dL/dx = G W,  dL/dW = Gᵀ x (over all batch dims),  dL/db = Σ G"""

    __slots__ = ()

    def forward(self, x, w, *bias):
        if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
            raise ValueError("shapes")
        if x.dtype != w.dtype:
            raise TypeError("dtypes")
        out = x @ w.T
        if bias:
            out += bias[0]
        return out

    def backward(self, g):
        # The ops are called directly (not through Tensor methods): this rule runs on
        # every training step and the methods' argument checks cost more than the math.
        x, w = self.inputs[0], self.inputs[1]
        gx = MatMul.apply(g, w) if self.needs_input_grad[0] else None
        if x.ndim != 2:  # fold every batch dim into one
            g, x = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
        gw = MatMul.apply(Permute.apply(g, dims=(1, 0)), x) if self.needs_input_grad[1] else None
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (Sum.apply(g, dim=0, keepdim=False) if self.needs_input_grad[2] else None)

    @classmethod
    def explain(cls, err, x, w, *bias):
        if str(err) == "dtypes":
            return RuntimeError(
                f"linear: mat1 and mat2 must have the same dtype, but got {x.dtype} (input) "
                f"and {w.dtype} (weight); convert one, e.g. x.float() or model.double()"
            )
        if str(err) == "shapes":
            rows = "x".join(map(str, x.shape[:-1])) or "1"
            cols = x.shape[-1] if x.ndim else "scalar"
            wt = "x".join(map(str, w.shape[::-1]))
            return RuntimeError(
                f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and {wt})"
            )
        bias_shape = tuple(bias[0].shape) if bias else None
        return RuntimeError(
            f"linear: bias of shape {bias_shape} does not fit weight of shape "
            f"{tuple(w.shape)} ({err})"
        )

    def name(self) -> str:
        return "AddmmBackward0"
