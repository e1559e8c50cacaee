"""The LSTM step's pointwise part as one node.

Composed of elementwise ops, the step after its two matmuls is 13 graph nodes
(an add, a chunk, three sigmoids, two tanh, three products, a sum). On numpy each
node costs more in Python bookkeeping than its arithmetic on a (32, 256) array:
``benchmarks/lstm_step.py`` measured the composed LSTM at about 3x PyTorch's
step (the target is 2x). Fused, the step is one node whose forward is plain
numpy and whose backward is six Tensor ops on arrays the forward kept.

The rule is written with Tensor ops like every other, so second derivatives
work: while a graph is being recorded (``create_graph=True``) the values it
reads are recomputed from the node's inputs with Tensor ops, instead of taken
from the arrays kept, so the gradient is a differentiable composition.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..engine import _mode
from ..function import MultiOutputOp, constant
from .shape import Cat, Split


class LSTMCellOp(MultiOutputOp):
    """(h', c') from the gate pre-activations a = x_part + h_part (..., 4H, gates in
    PyTorch's order i, f, g, o) and the cell state c (..., H):

        i, f, g, o = σ(aᵢ), σ(a_f), tanh(a_g), σ(aₒ);   c' = f c + i g;   h' = o tanh(c')

    With t = tanh(c') and δ = dc' + dh' · o (1 - t²), both parts of a get
        da = [δ · g i(1-i),  δ · c f(1-f),  δ · i (1-g²),  dh' · t o(1-o)],   and dc = δ f"""

    __slots__ = ()

    def forward(self, x_part, h_part, c):
        a = x_part + h_part
        n = c.shape[-1]
        act = backend.sigmoid(a)
        i, f, o = act[..., :n], act[..., n:2 * n], act[..., 3 * n:]
        g = np.tanh(a[..., 2 * n:3 * n])
        c_next = f * c + i * g
        t = np.tanh(c_next)
        # each gate's local derivative times what it multiplies (the bracket above)
        md = np.concatenate([g * i * (1 - i), c * f * (1 - f), i * (1 - g * g),
                             t * o * (1 - o)], axis=-1)
        self.saved = (f, o, 1 - t * t, md)
        return o * t, c_next

    def backward(self, grads):
        dh, dc = grads
        f, o, slope, md = self.kept()
        delta = None if dh is None else dh * o * slope
        if dc is not None:
            delta = dc if delta is None else delta + dc
        if dh is None:
            dh = constant(backend.zeros_like(delta.data))
        da = Cat.apply(delta, delta, delta, dh, dim=-1) * md
        x_part, h_part, _ = self.inputs
        shared = x_part.grad_fn is None and h_part.grad_fn is None and all(
            self.needs_input_grad[:2])
        return da, (da.clone() if shared else da), delta * f  # two leaves never share a .grad

    def kept(self) -> tuple:
        """(f, o, 1 - t², md) as the rule reads them: the arrays the forward kept, or,
        while a graph is recorded, recomputed from the inputs with Tensor ops."""
        if not _mode.enabled:
            return tuple(constant(v) for v in self.saved)
        x_part, h_part, c = self.inputs
        a = x_part + h_part
        n = c.shape[-1]
        a_i, a_f, a_g, a_o = Split.apply(a, dim=a.ndim - 1, sizes=(n,) * 4)
        i, f, g, o = a_i.sigmoid(), a_f.sigmoid(), a_g.tanh(), a_o.sigmoid()
        t = (f * c + i * g).tanh()
        md = Cat.apply(g * i * (1 - i), c * f * (1 - f), i * (1 - g * g), t * o * (1 - o),
                       dim=a.ndim - 1)
        return f, o, 1 - t * t, md
