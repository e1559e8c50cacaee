"""Linear algebra: matrix products with numpy's batched broadcasting."""

from __future__ import annotations

import numpy as np

from ..function import Op


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
