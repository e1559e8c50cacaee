"""Elementwise ops. Binary ops broadcast like numpy; the Op base class sums each
gradient back to its input's shape, so no rule here deals with broadcasting."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from ..function import Op, constant


def broadcast_error(op: str, a: Any, b: Any) -> RuntimeError:
    """PyTorch's message for shapes that do not broadcast, naming the op."""
    sa, sb = tuple(a.shape), tuple(b.shape)
    for i in range(1, max(len(sa), len(sb)) + 1):
        da = sa[-i] if i <= len(sa) else 1
        db = sb[-i] if i <= len(sb) else 1
        if da != db and 1 not in (da, db):
            dim = max(len(sa), len(sb)) - i
            return RuntimeError(
                f"{op}: the size of tensor a ({da}) must match the size of tensor b "
                f"({db}) at non-singleton dimension {dim} (shapes {sa} and {sb})"
            )
    return RuntimeError(f"{op}: shapes {sa} and {sb} cannot be broadcast together")


def mask_grad(g, mask):
    """``g`` where ``mask`` holds, else 0: one multiplication by the bool mask,
    which numpy does without first converting the mask to floats."""
    return Mul.apply(g, constant(mask))


BOOL_SUBTRACTION = ("sub: subtraction, the `-` operator, with a bool tensor is not supported; "
                    "use `^` (logical xor) or `~` (logical not) instead")


class BinaryOp(Op):
    __slots__ = ()

    @classmethod
    def explain(cls, err: Exception, *inputs: Any, **attrs: Any) -> Exception:
        if len(inputs) == 2 and "broadcast" in str(err):
            return broadcast_error(cls.op_name(), *inputs)
        return super().explain(err, *inputs, **attrs)


class Add(BinaryOp):
    """z = a + b.   dz/da = 1,  dz/db = 1"""

    __slots__ = ()

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(BinaryOp):
    """z = a - b.   dz/da = 1,  dz/db = -1"""

    __slots__ = ()

    def forward(self, a, b):
        return a - b  # bool - bool: numpy refuses (explain); bool - int: Tensor refuses

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)

    @classmethod
    def explain(cls, err: Exception, *inputs: Any, **attrs: Any) -> Exception:
        if any(t.dtype.kind == "b" for t in inputs):
            return RuntimeError(BOOL_SUBTRACTION)
        return super().explain(err, *inputs, **attrs)


class Mul(BinaryOp):
    """z = a * b.   dz/da = b,  dz/db = a"""

    __slots__ = ()

    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


class Div(BinaryOp):
    """z = a / b.   dz/da = 1/b,  dz/db = -a/b²"""

    __slots__ = ()

    def forward(self, a, b):
        return a / b

    def backward(self, g):
        a, b = self.inputs
        ga = g / b
        return ga, (-ga * a / b if self.needs_input_grad[1] else None)


class Pow(BinaryOp):
    """z = a ** b.   dz/da = b·a^(b-1),  dz/db = z·ln a"""

    __slots__ = ()

    def forward(self, a, b):
        if a.dtype.kind in "biu" and b.dtype.kind in "iu" and (b < 0).any():
            out = _integer_power(a, b)
        else:
            out = a**b
            if out.dtype.kind == "f" and backend.is_cpu(a) and np.isneginf(a).any():
                out = _power_of_minus_infinity(a, b, out)
        self.saved = (out,)
        return out

    def backward(self, g):
        a, b = self.inputs
        ga = gb = None
        if self.needs_input_grad[0]:  # 0 where b = 0 (a^0 is 1 for every a), as PyTorch
            ga = (g * b * a ** (b - 1)).where(b != 0, 0.0)
        if self.needs_input_grad[1]:
            # where a == 0 and b >= 0 the limit of z·ln a is 0, as PyTorch gives
            gb = g * self.output() * a.where((a != 0) | (b < 0), 1.0).log()
        return ga, gb


def _power_of_minus_infinity(a: Any, b: Any, out: Any) -> Any:
    """``out`` (= a ** b) with C's pow where a = -inf, as PyTorch computes it (numpy gives
    nan for a fractional b): ±inf for b > 0, ±0 for b < 0, the sign by b's oddness."""
    odd = np.mod(b, 2) == 1
    c99 = np.where(b > 0, np.where(odd, -np.inf, np.inf), np.where(odd, -0.0, 0.0))
    c99 = np.where(b == 0, 1.0, np.where(np.isnan(b), np.nan, c99))
    return np.where(np.isneginf(a), c99, out).astype(out.dtype, copy=False)


def _integer_power(a: Any, b: Any) -> Any:
    """a ** b for integers, negative b included, as PyTorch computes it (numpy refuses):
    1 for a = 1, ±1 for a = -1 (by the parity of b), 0 otherwise."""
    xp = backend.array_module(a)
    negative = b < 0
    out = a ** xp.where(negative, 0, b)
    inverse = xp.where(a == 1, 1, xp.where(a == -1, xp.where(b % 2 == 0, 1, -1), 0))
    return xp.where(negative, inverse, out).astype(out.dtype, copy=False)


class PowScalar(Op):
    """z = a ** c for a constant number c.   dz/da = c·a^(c-1)"""

    __slots__ = ("exponent",)

    def forward(self, a, exponent):
        self.exponent = exponent
        return a**exponent

    def backward(self, g):
        (a,) = self.inputs
        c = self.exponent
        if c == 0:
            return (g * 0,)
        if c == 1:
            return (g,)
        if c == 2:
            return (g * a * 2,)
        if c == 0.5:  # √a's rule, as PyTorch (its sign at a = -0.0 included)
            return (g / (a.sqrt() * 2),)
        return (g * (a ** (c - 1)) * c,)

    def name(self) -> str:
        return "PowBackward0"


class Neg(Op):
    """z = -a.   dz/da = -1"""

    __slots__ = ()

    def forward(self, a):
        return -a

    def backward(self, g):
        return (-g,)


class Exp(Op):
    """z = exp(a).   dz/da = exp(a) = z"""

    __slots__ = ()

    def forward(self, a):
        out = np.exp(a)
        self.saved = (out,)
        return out

    def backward(self, g):
        return (g * self.output(),)


class Log(Op):
    """z = ln(a).   dz/da = 1/a"""

    __slots__ = ()

    def forward(self, a):
        return np.log(a)

    def backward(self, g):
        return (g / self.inputs[0],)


class Log1p(Op):
    """z = ln(1 + a).   dz/da = 1/(1 + a)"""

    __slots__ = ()

    def forward(self, a):
        return np.log1p(a)

    def backward(self, g):
        return (g / (self.inputs[0] + 1),)


class Sqrt(Op):
    """z = √a.   dz/da = 1/(2√a) = 1/(2z)"""

    __slots__ = ()

    def forward(self, a):
        out = np.sqrt(a)
        self.saved = (out,)
        return out

    def backward(self, g):
        return (g / (self.output() * 2),)


class Abs(Op):
    """z = |a|.   dz/da = sign(a)  (0 at a = 0)"""

    __slots__ = ()

    def forward(self, a):
        return np.abs(a)

    def backward(self, g):
        return (g * self.inputs[0].sign(),)


class Sign(Op):
    """z = sign(a).   dz/da = 0  (a step function)"""

    __slots__ = ()

    def forward(self, a):
        return a.copy() if a.dtype.kind == "b" else np.sign(a)  # sign(True) is True

    def backward(self, g):
        return (g * 0,)


class Sin(Op):
    """z = sin(a).   dz/da = cos(a)"""

    __slots__ = ()

    def forward(self, a):
        return np.sin(a)

    def backward(self, g):
        return (g * self.inputs[0].cos(),)


class Cos(Op):
    """z = cos(a).   dz/da = -sin(a)"""

    __slots__ = ()

    def forward(self, a):
        return np.cos(a)

    def backward(self, g):
        return (-g * self.inputs[0].sin(),)


class TanhOp(Op):
    """z = tanh(a).   dz/da = 1 - tanh²(a) = 1 - z²"""

    __slots__ = ()

    def forward(self, a):
        out = np.tanh(a)
        self.saved = (out,)
        return out

    def backward(self, g):
        return (TanhBackwardOp.apply(g, self.output()),)


class TanhBackwardOp(Op):
    """tanh's rule as one op: y = g·(1 - z²) (z = tanh a).   dy/dg = 1 - z²,  dy/dz = -2gz

    One op instead of three: backward of a small tensor is dominated by the cost
    of each op, and tanh's rule was three of them. It keeps its own rule, so
    second and higher derivatives of tanh still flow through it."""

    __slots__ = ()

    def forward(self, g, z):
        return g * (1 - z * z)

    def backward(self, gy):
        g, z = self.inputs
        need_g, need_z = self.needs_input_grad
        return ((gy * (1 - z * z) if need_g else None),
                (-2 * gy * g * z if need_z else None))


class SigmoidOp(Op):
    """z = σ(a) = 1/(1 + e^-a).   dz/da = σ(a)(1 - σ(a)) = z(1 - z)"""

    __slots__ = ()

    def forward(self, a):
        out = backend.sigmoid(a)  # 1/(1 + e^-a): an overflowing e^-a gives 0, never NaN
        self.saved = (out,)
        return out

    def backward(self, g):
        return (SigmoidBackwardOp.apply(g, self.output()),)


class SigmoidBackwardOp(Op):
    """σ's rule as one op: y = g·z·(1 - z) (z = σ(a)).   dy/dg = z(1 - z),  dy/dz = g(1 - 2z)

    One op instead of three, as :class:`TanhBackwardOp`."""

    __slots__ = ()

    def forward(self, g, z):
        return g * z * (1 - z)

    def backward(self, gy):
        g, z = self.inputs
        need_g, need_z = self.needs_input_grad
        return ((gy * z * (1 - z) if need_g else None),
                (gy * g * (1 - 2 * z) if need_z else None))


class ReluOp(Op):
    """z = max(a, 0).   dz/da = 1 where a > 0, else 0  (0 at a = 0, as PyTorch)"""

    __slots__ = ()

    def forward(self, a):
        return np.maximum(a, 0)

    def backward(self, g):
        return (mask_grad(g, self.inputs[0].data > 0),)

    def name(self) -> str:
        return "ReluBackward0"


class Clamp(Op):
    """z = min(max(a, lo), hi).   dz/da = 1 where lo ≤ a ≤ hi, else 0"""

    __slots__ = ("min", "max")

    def forward(self, a, min=None, max=None):
        self.min, self.max = min, max
        return np.clip(a, min, max)

    def backward(self, g):
        (a,) = self.inputs
        if self.min is None:
            mask = a.data <= self.max
        elif self.max is None:
            mask = a.data >= self.min
        else:
            mask = (a.data >= self.min) & (a.data <= self.max)
        return (mask_grad(g, mask),)


class Maximum(BinaryOp):
    """z = max(a, b).   dz/da = 1 where a > b, ½ where a = b, else 0 (and b alike)"""

    __slots__ = ()

    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, g):
        a, b = self.inputs
        share = ((a.data > b.data) + 0.5 * (a.data == b.data)).astype(g.dtype)
        return g * constant(share), g * constant(1 - share)


class Minimum(BinaryOp):
    """z = min(a, b).   dz/da = 1 where a < b, ½ where a = b, else 0 (and b alike)"""

    __slots__ = ()

    def forward(self, a, b):
        return np.minimum(a, b)

    def backward(self, g):
        a, b = self.inputs
        share = ((a.data < b.data) + 0.5 * (a.data == b.data)).astype(g.dtype)
        return g * constant(share), g * constant(1 - share)


class Where(BinaryOp):
    """z = a where cond else b.   dz/da = cond,  dz/db = not cond"""

    __slots__ = ()

    def forward(self, a, b, condition=None):
        self.saved = (condition,)
        return np.where(condition, a, b)

    def backward(self, g):
        (cond,) = self.saved
        return mask_grad(g, cond), mask_grad(g, ~cond)


class Cast(Op):
    """z = a converted to another dtype.   dz/da = 1 (converted back)"""

    __slots__ = ()

    def forward(self, a, dtype=None):
        return a.astype(dtype)

    def backward(self, g):
        return (g,)  # the Op base converts it back to the input's dtype

    def name(self) -> str:
        return "ToCopyBackward0"


class ToDevice(Op):
    """z = a copied to another device.   dz/da = 1 (copied back to a's device)"""

    __slots__ = ("source",)

    def forward(self, a, device=None):
        self.source = backend.device_of(a)
        return backend.to_device(a, device)

    def backward(self, g):
        return (g.to(self.source),)

    def name(self) -> str:
        return "ToCopyBackward0"


class Clone(Op):
    """z = a copied.   dz/da = 1"""

    __slots__ = ()

    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return (g,)


class MaskedFill(Op):
    """z = value where mask, else a (mask broadcast against a).
    dz/da = 0 where mask, else 1"""

    __slots__ = ("mask",)

    def forward(self, a, mask=None, value=0.0):
        self.mask = mask
        return np.where(mask, backend.scalar(value, a.dtype, like=a), a)

    def backward(self, g):
        return (mask_grad(g, ~self.mask),)

    @classmethod
    def explain(cls, err, a, mask=None, value=0.0):
        if "broadcast" in str(err):
            return broadcast_error("masked_fill", a, mask)
        return super().explain(err, a, mask=mask, value=value)


class Tril(Op):
    """z = x with the elements above the ``diagonal``-th diagonal of its last two
    dims set to 0.   dz/dx = 1 on the kept triangle, 0 elsewhere"""

    __slots__ = ("diagonal",)

    def forward(self, x, diagonal=0):
        self.check(x)
        self.diagonal = diagonal
        return np.tril(x, diagonal)

    def backward(self, g):
        return (Tril.apply(g, diagonal=self.diagonal),)

    @classmethod
    def check(cls, x):
        if x.ndim < 2:
            raise RuntimeError(f"{cls.op_name()}: input tensor must have at least 2 "
                               f"dimensions, got shape {tuple(x.shape)}")


class Triu(Tril):
    """z = x with the elements below the ``diagonal``-th diagonal of its last two
    dims set to 0.   dz/dx = 1 on the kept triangle, 0 elsewhere"""

    __slots__ = ()

    def forward(self, x, diagonal=0):
        self.check(x)
        self.diagonal = diagonal
        return np.triu(x, diagonal)

    def backward(self, g):
        return (Triu.apply(g, diagonal=self.diagonal),)


# --------------------------------------------------------------------------- activations

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)  # GELU's tanh form: tanh(k (x + c x³))
_TANH_C = 0.044715


class LeakyReluOp(Op):
    """z = a where a > 0, else s·a.   dz/da = 1 where a > 0, else s"""

    __slots__ = ()

    def forward(self, a, negative_slope=0.01):
        slope = np.where(a > 0, 1, negative_slope).astype(a.dtype, copy=False)
        self.saved = (slope,)
        return a * slope

    def backward(self, g):
        return (g * constant(self.saved[0]),)


class GeluOp(Op):
    """z = x Φ(x) (Φ the standard normal CDF; or its tanh approximation).
    dz/dx = Φ(x) + x φ(x), itself an op so second derivatives work."""

    __slots__ = ("approximate",)

    def forward(self, x, approximate="none"):
        self.approximate = approximate
        if approximate == "tanh":
            return 0.5 * x * (1 + np.tanh(_TANH_K * (x + _TANH_C * x**3)))
        return 0.5 * x * (1 + backend.erf(x / _SQRT_2))

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
        return 0.5 * (1 + backend.erf(x / _SQRT_2)) + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI

    def backward(self, g):
        (x,) = self.inputs
        if self.approximate == "tanh":
            t = ((x + x**3 * _TANH_C) * _TANH_K).tanh()
            du = (x * x * (3 * _TANH_C) + 1) * _TANH_K
            ddu = x * (6 * _TANH_C * _TANH_K)
            return (g * (1 - t * t) * (du - x * t * du * du + x * ddu * 0.5),)
        pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
        return (g * pdf * (2 - x * x),)
