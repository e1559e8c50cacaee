"""Fused neural-network ops: one graph node where composing small ops would cost
speed (every node is Python bookkeeping) or numerics (log of a softmax that
underflowed, exp of a large logit).

Losses take ``reduction`` ("mean", "sum" or "none"); targets and class weights
that need no gradient ride along as attributes (arrays), not as inputs.
"""

from __future__ import annotations

import math

import numpy as np

from .. import function
from ..function import Op
from .dims import normalize_dim
from .linalg import MatMul
from .reduce import Sum
from .shape import Permute

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)  # GELU's tanh form: tanh(k (x + c x³))
_TANH_C = 0.044715


def _erf(x):
    """The error function, elementwise (numpy has none; scipy's is used when present)."""
    try:
        from scipy.special import erf
    except ImportError:  # exact, but one Python call per element
        erf = np.vectorize(math.erf, otypes=[np.float64])
    return erf(x).astype(x.dtype, copy=False)


def _const(array):
    """A Tensor around ``array`` that needs no gradient (no copy)."""
    return function.Tensor._make(array, None)


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


class Linear(Op):
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


class LeakyRelu(Op):
    """z = a where a > 0, else s·a.   dz/da = 1 where a > 0, else s"""

    __slots__ = ()

    def forward(self, a, negative_slope=0.01):
        slope = np.where(a > 0, 1, negative_slope).astype(a.dtype, copy=False)
        self.saved = (slope,)
        return a * slope

    def backward(self, g):
        return (g * _const(self.saved[0]),)


class Gelu(Op):
    """z = x Φ(x) (Φ the standard normal CDF; or its tanh approximation).
    dz/dx = Φ(x) + x φ(x), itself an op so second derivatives work."""

    __slots__ = ("approximate",)

    def forward(self, x, approximate="none"):
        self.approximate = approximate
        if approximate == "tanh":
            return 0.5 * x * (1 + np.tanh(_TANH_K * (x + _TANH_C * x**3)))
        return 0.5 * x * (1 + _erf(x / _SQRT_2))

    def backward(self, g):
        return (g * GeluGrad.apply(self.inputs[0], approximate=self.approximate),)


class GeluGrad(Op):
    """d = GELU'(x) = Φ(x) + x φ(x).   dd/dx = φ(x)(2 - x²)
    (tanh form, u = k(x + c x³), t = tanh u: d = ½(1 + t) + ½ x (1 - t²) u',
    dd/dx = (1 - t²)(u' - x t u'² + ½ x u''))"""

    __slots__ = ("approximate",)

    def forward(self, x, approximate="none"):
        self.approximate = approximate
        if approximate == "tanh":
            t = np.tanh(_TANH_K * (x + _TANH_C * x**3))
            du = _TANH_K * (1 + 3 * _TANH_C * x * x)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
        return 0.5 * (1 + _erf(x / _SQRT_2)) + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI

    def backward(self, g):
        (x,) = self.inputs
        if self.approximate == "tanh":
            t = ((x + x**3 * _TANH_C) * _TANH_K).tanh()
            du = (x * x * (3 * _TANH_C) + 1) * _TANH_K
            ddu = x * (6 * _TANH_C * _TANH_K)
            return (g * (1 - t * t) * (du - x * t * du * du + x * ddu * 0.5),)
        pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
        return (g * pdf * (2 - x * x),)


# --------------------------------------------------------------------------- losses


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


class MSELoss(RegressionLoss):
    """f(d) = d².   f'(d) = 2d"""

    __slots__ = ()

    def pointwise(self, d):
        return d * d

    def derivative(self, d):
        return d * 2

    def name(self) -> str:
        return "MseLossBackward0"


class L1Loss(RegressionLoss):
    """f(d) = |d|.   f'(d) = sign(d)  (0 at d = 0)"""

    __slots__ = ()

    def pointwise(self, d):
        return np.abs(d)

    def derivative(self, d):
        return d.sign()


class HuberLoss(RegressionLoss):
    """f(d) = ½d² where |d| < δ, else δ(|d| - ½δ).   f'(d) = clamp(d, -δ, δ)"""

    __slots__ = ()

    def pointwise(self, d):
        a = np.abs(d)
        return np.where(a < self.delta, 0.5 * d * d, self.delta * (a - 0.5 * self.delta))

    def derivative(self, d):
        return d.clamp(-self.delta, self.delta)


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
        if np.isneginf(values).any():  # a -inf log-probability where q = 0 counts 0, not nan
            values = np.where(self.q != 0, values, 0)
        if self.reduction == "none":
            return -(self.q * values).sum(axis=self.dim)
        if self.empty:
            return np.full((), np.nan, values.dtype)
        return np.asarray(-np.vdot(self.q, values), dtype=values.dtype)

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
        total = _const(q.sum(axis=self.dim, keepdims=True))
        p = x.softmax(self.dim)
        gx = gg = None
        if self.needs_input_grad[0]:
            v = u * (g.unsqueeze(self.dim) if self.reduction == "none" else g) * total
            gx = p * (v - (v * p).sum(self.dim, keepdim=True))
        if self.needs_input_grad[1]:
            gg = (u * (p * total - _const(q))).sum(self.dim)
        return gx, gg


class NLL(ClassLoss):
    """L = -Σ_c q_c x_c (x holds log-probabilities).   dL/dx = -q"""

    __slots__ = ()

    def forward(self, x, q=None, dim=1, reduction="mean", empty=False):
        self.setup(x, q, dim, reduction, empty)
        return self.reduce(x)

    def backward(self, g):
        return (self.spread(g) * _const(-self.q),)

    def name(self) -> str:
        return "NllLossBackward0"


class BinaryCrossEntropy(Op):
    """L = -w (y log x + (1 - y) log(1 - x)), logs clamped at -100 as PyTorch.
    dL/dx = w (x - y) / max(x (1 - x), 1e-12),  dL/dy = w (log(1 - x) - log x)"""

    __slots__ = ("weight", "reduction")

    def forward(self, x, y, weight=None, reduction="mean"):
        if np.any((x < 0) | (x > 1)):
            raise ValueError("all elements of input should be between 0 and 1")
        self.weight, self.reduction = weight, reduction
        with np.errstate(divide="ignore"):
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
            g = g * self.weight
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
            g = g * self.weight
        pw = self.pos_weight
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
