"""Losses, each one fused op: one graph node where composing small ops would
cost speed (every node is Python bookkeeping) or numerics (log of a softmax that
underflowed, exp of a large logit).

Losses take ``reduction`` ("mean", "sum" or "none"); targets and class weights
that need no gradient ride along as attributes (arrays), not as inputs.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Op, constant
from .dims import normalize_dim


def reduce_loss(loss, reduction):
    """The per-element ``loss`` array reduced as ``reduction`` asks."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def spread_loss_grad(g, reduction, count):
    """The gradient of each element of a loss reduced over ``count`` elements."""
    return g / count if reduction == "mean" else g


class RegressionLoss(Op):
    """Base of losses of the difference d = x - y, summed elementwise:
    L = reduce(f(d)).   dL/dx = reduce'(G) · f'(d),  dL/dy = -dL/dx"""

    __slots__ = ("reduction", "delta")

    def forward(self, x, y, reduction="mean", delta=1.0):
        self.reduction, self.delta = reduction, delta
        return reduce_loss(self.pointwise(x - y), reduction)

    def backward(self, g):
        x, y = self.inputs
        gx = spread_loss_grad(g, self.reduction, x.data.size) * self.derivative(x - y)
        return gx, (-gx if self.needs_input_grad[1] else None)

    def pointwise(self, d):
        raise NotImplementedError

    def derivative(self, d):
        raise NotImplementedError


class MSELossOp(RegressionLoss):
    """f(d) = d².   f'(d) = 2d"""

    __slots__ = ()

    def pointwise(self, d):
        return d * d

    def derivative(self, d):
        return d * 2

    def name(self) -> str:
        return "MseLossBackward0"


class L1LossOp(RegressionLoss):
    """f(d) = |d|.   f'(d) = sign(d)  (0 at d = 0)"""

    __slots__ = ()

    def pointwise(self, d):
        return np.abs(d)

    def derivative(self, d):
        return d.sign()


class HuberLossOp(RegressionLoss):
    """f(d) = ½d² where |d| < δ, else δ(|d| - ½δ).   f'(d) = clamp(d, -δ, δ)"""

    __slots__ = ()

    def pointwise(self, d):
        a = np.abs(d)
        return np.where(a < self.delta, 0.5 * d * d, self.delta * (a - 0.5 * self.delta))

    def derivative(self, d):
        # d inside (-δ, δ), else ±δ: at |d| = δ exactly the curvature is 0, as PyTorch's
        # (clamp would pass d's gradient at its bounds)
        return d.where(d.abs() < self.delta, d.sign() * self.delta)


class ClassLoss(Op):
    """Base of the losses over a class dim that read a target distribution ``q``
    (one row per sample: weighted one-hot, smoothed, or given probabilities,
    already divided by the mean's denominator). L = -Σ_c q_c · f(x)_c summed.
    ``empty``: a mean over no targets (all ignored), nan as in PyTorch (0/0),
    with a zero gradient (q is all zero)."""

    __slots__ = ("dim", "q", "reduction", "empty")

    def setup(self, x, q, dim, reduction, empty):
        self.dim = normalize_dim(dim, x.ndim, self.op_name())
        self.q = q
        self.reduction = reduction
        self.empty = empty

    def reduce(self, values):
        """-Σ_c q_c · values_c per sample, then summed unless reduction is "none"."""
        # a non-finite value (-inf log-probability, a nan input to nll_loss) where q = 0
        # counts 0, not nan, as PyTorch picks its classes (on a GPU always masked:
        # looking first would wait for the device)
        if not backend.is_cpu(values) or not np.isfinite(values).all():
            values = np.where(self.q != 0, values, 0)
        if self.reduction == "none":
            return -(self.q * values).sum(axis=self.dim)
        total = backend.as_array(-np.vdot(self.q, values), values.dtype)
        if self.empty is False:
            return total
        if self.empty is True:
            return backend.full((), np.nan, values.dtype, like=values)
        return np.where(self.empty, np.nan, total).astype(values.dtype)  # a device flag

    def spread(self, g):
        """``g`` ready to broadcast over the class dim."""
        return g.unsqueeze(self.dim) if self.reduction == "none" else g


class CrossEntropy(ClassLoss):
    """L = -Σ_c q_c log softmax(x)_c.   dL/dx = (Σ_c q_c) softmax(x) - q"""

    __slots__ = ()

    def forward(self, x, q=None, dim=1, reduction="mean", empty=False):
        self.setup(x, q, dim, reduction, empty)
        shifted = x - x.max(axis=self.dim, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=self.dim, keepdims=True)
        self.saved = (e / total,)  # softmax(x), for backward
        return self.reduce(shifted - np.log(total))

    def backward(self, g):
        return (CrossEntropyGrad.apply(self.inputs[0], g, p=self.saved[0], q=self.q,
                                       dim=self.dim, reduction=self.reduction),)

    def name(self) -> str:
        return "NllLossBackward0"


class CrossEntropyGrad(Op):
    """The cross-entropy's backward as one op: d = G ((Σ_c q_c) p - q), p = softmax(x).
    Its own rule (for second derivatives), for an incoming U:
    dx = p ⊙ (v - Σ_c v_c p_c) with v = U G Σ_c q_c (softmax's rule),  dG = Σ U ⊙ d/G"""

    __slots__ = ("dim", "q", "reduction")

    def forward(self, x, g, p=None, q=None, dim=1, reduction="mean"):
        self.dim, self.q, self.reduction = dim, q, reduction
        if reduction == "none":
            g = np.expand_dims(g, dim)
        return g * (p * q.sum(axis=dim, keepdims=True) - q)

    def backward(self, u):
        x, g = self.inputs
        q = self.q
        total = constant(q.sum(axis=self.dim, keepdims=True))
        p = x.softmax(self.dim)
        gx = gg = None
        if self.needs_input_grad[0]:
            v = u * (g.unsqueeze(self.dim) if self.reduction == "none" else g) * total
            gx = p * (v - (v * p).sum(self.dim, keepdim=True))
        if self.needs_input_grad[1]:
            gg = (u * (p * total - constant(q))).sum(self.dim)
        return gx, gg


class NLL(ClassLoss):
    """L = -Σ_c q_c x_c (x holds log-probabilities).   dL/dx = -q"""

    __slots__ = ()

    def forward(self, x, q=None, dim=1, reduction="mean", empty=False):
        self.setup(x, q, dim, reduction, empty)
        return self.reduce(x)

    def backward(self, g):
        return (self.spread(g) * constant(-self.q),)

    def name(self) -> str:
        return "NllLossBackward0"


class BinaryCrossEntropy(Op):
    """L = -w (y log x + (1 - y) log(1 - x)), logs clamped at -100 as PyTorch.
    dL/dx = w (x - y) / max(x (1 - x), 1e-12),  dL/dy = w (log(1 - x) - log x)"""

    __slots__ = ("weight", "reduction")

    def forward(self, x, y, weight=None, reduction="mean"):
        # off the CPU, never wait to look: an input outside [0, 1] makes its log, and so
        # the loss, NaN there (PyTorch's CUDA kernel asserts on the device instead); on
        # the CPU a nan is outside too, as in PyTorch
        if backend.is_cpu(x) and not np.all((x >= 0) & (x <= 1)):
            raise ValueError("all elements of input should be between 0 and 1")
        self.weight, self.reduction = weight, reduction
        with np.errstate(divide="ignore", invalid="ignore"):  # off the CPU: the NaN above
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        loss = -(y * log_x + (1 - y) * log_1mx)
        if weight is not None:
            loss = loss * weight
        return reduce_loss(loss, self.reduction)

    def backward(self, g):
        x, y = self.inputs
        g = spread_loss_grad(g, self.reduction, x.data.size)
        if self.weight is not None:
            g = g * constant(self.weight)
        gx = g * (x - y) / (x * (1 - x)).clamp(min=1e-12) if self.needs_input_grad[0] else None
        gy = None
        if self.needs_input_grad[1]:
            gy = g * ((1 - x).log().clamp(min=-100) - x.log().clamp(min=-100))
        return gx, gy

    @classmethod
    def explain(cls, err, *inputs, **attrs):
        if "between 0 and 1" in str(err):
            return RuntimeError(f"binary_cross_entropy: {err}")
        return super().explain(err, *inputs, **attrs)


class BinaryCrossEntropyWithLogits(Op):
    """L = w ((1 - y) x + l · softplus(-x)),  l = 1 + (p - 1) y (p the pos_weight),
    softplus(-x) = max(-x, 0) + log1p(e^-|x|) never overflows.
    dL/dx = w ((1 - y) - l σ(-x)),  dL/dy = w (-x + (p - 1) softplus(-x))"""

    __slots__ = ("weight", "pos_weight", "reduction")

    def forward(self, x, y, weight=None, pos_weight=None, reduction="mean"):
        self.weight, self.pos_weight, self.reduction = weight, pos_weight, reduction
        softplus_neg = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
        if pos_weight is None:
            loss = (1 - y) * x + softplus_neg
        else:
            loss = (1 - y) * x + (1 + (pos_weight - 1) * y) * softplus_neg
        if weight is not None:
            loss = loss * weight
        return reduce_loss(loss, self.reduction)

    def backward(self, g):
        x, y = self.inputs
        g = spread_loss_grad(g, self.reduction, x.data.size)
        if self.weight is not None:
            g = g * constant(self.weight)
        pw = None if self.pos_weight is None else constant(self.pos_weight)
        gx = gy = None
        if self.needs_input_grad[0]:
            if pw is None:
                gx = g * (x.sigmoid() - y)
            else:
                gx = g * ((1 - y) - (y * (pw - 1) + 1) * (-x).sigmoid())
        if self.needs_input_grad[1]:
            gy = -x
            if pw is not None:
                gy = gy + (pw - 1) * ((-x).relu() + (-x.abs()).exp().log1p())
            gy = g * gy
        return gx, gy
