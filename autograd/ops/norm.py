"""Normalisation (batch norm, layer norm) as one fused op.

    x̂ = (x - μ) · σ⁻¹,   σ⁻¹ = 1 / √(var + eps),   y = x̂ · γ + β

μ and var are taken over ``axes`` (batch norm: all but the channel axis; layer
norm: the trailing normalized dims). γ and β vary along ``param_axes``.

With the statistics taken from the batch itself, μ and σ depend on x, and the
gradient is the standard batch-norm formula (m = number of values averaged,
means over ``axes``):

    dx = σ⁻¹ · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ · x̂)),   dx̂ = dy · γ

With fixed statistics (batch norm in eval mode) it is just dx = dx̂ · σ⁻¹.
dγ = Σ dy · x̂ and dβ = Σ dy over every axis but ``param_axes``.
One node instead of the eight or so a composition of Tensor ops would record.
"""

from __future__ import annotations

import numpy as np

from ..engine import _mode
from ..function import Op, constant


class Normalize(Op):
    """y = (x - μ) σ⁻¹ γ + β (see the module docstring for the gradient).

    ``inputs`` are x, then γ if ``has_weight``, then β if ``has_bias``; ``mean`` and
    ``invstd`` are arrays shaped to broadcast against x; ``batch_stats`` says they
    were computed from x over ``axes`` (so they carry gradient) rather than given.
    """

    __slots__ = ("axes", "param_axes", "param_view", "batch_stats", "has_weight", "has_bias",
                 "eps")

    def forward(self, x, *params, mean=None, invstd=None, axes=(), param_axes=(),
                batch_stats=True, has_weight=False, has_bias=False, eps=1e-5):
        self.axes, self.param_axes, self.batch_stats = axes, param_axes, batch_stats
        self.has_weight, self.has_bias, self.eps = has_weight, has_bias, eps
        self.param_view = tuple(n if i in param_axes else 1 for i, n in enumerate(x.shape))
        x_hat = (x - mean) * invstd
        # a new array either way: x̂ is saved, the output must not alias it
        y = x_hat * params[0].reshape(self.param_view) if has_weight else x_hat.copy()
        if has_bias:
            y += params[-1].reshape(self.param_view)
        self.saved = (x_hat, invstd, mean)
        return y.astype(x.dtype, copy=False)

    def normalized(self):
        """x̂ and σ⁻¹ as Tensors for the rule: the saved arrays, or (when the rule is
        itself being recorded, for a higher derivative) the same values as functions
        of x."""
        x_hat, invstd, mean = self.saved
        if not _mode.enabled:
            return constant(x_hat), constant(invstd)
        x = self.inputs[0]
        if not self.batch_stats:
            invstd = constant(invstd)
            return (x - mean) * invstd, invstd
        centred = x - x.mean(self.axes, keepdim=True)
        invstd = ((centred * centred).mean(self.axes, keepdim=True) + self.eps) ** -0.5
        return centred * invstd, invstd

    def backward(self, g):
        x_hat, invstd = self.normalized()
        needs = self.needs_input_grad
        other_axes = tuple(i for i in range(g.ndim) if i not in self.param_axes)
        gx = None
        if needs[0]:
            d_hat = g * self.inputs[1].reshape(self.param_view) if self.has_weight else g
            if self.batch_stats:
                mean_d = d_hat.mean(self.axes, keepdim=True)
                mean_dx = (d_hat * x_hat).mean(self.axes, keepdim=True)
                d_hat = d_hat - mean_d - x_hat * mean_dx
            gx = d_hat * invstd
        grads = [gx]

        def per_parameter(t, shape):
            # summed over the other axes; none (every dim normalized) sums nothing, while
            # sum(()) would sum everything, as in PyTorch
            return (t.sum(other_axes) if other_axes else t).reshape(shape)

        if self.has_weight:
            grads.append(per_parameter(g * x_hat, self.inputs[1].shape) if needs[1] else None)
        if self.has_bias:
            grads.append(per_parameter(g, self.inputs[-1].shape) if needs[-1] else None)
        return tuple(grads)

    def name(self) -> str:
        return "NativeBatchNormBackward0" if 0 in self.axes else "NativeLayerNormBackward0"


def batch_statistics(x: np.ndarray, axes: tuple, eps: float) -> tuple:
    """(mean, biased variance, 1/√(var + eps)) over ``axes``, kept broadcastable."""
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    invstd = 1.0 / np.sqrt(var + eps)
    return mean, var, invstd.astype(x.dtype, copy=False)
