"""Gradient clipping (as ``torch.nn.utils``)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from autograd import backend
from autograd.engine import no_grad
from autograd.function import constant
from autograd.tensor import Tensor


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at
    most ``max_norm``; returns that norm (before clipping) as a Tensor.

    The scale is max_norm / (norm + 1e-6), capped at 1, as PyTorch computes it.
    It is computed where the gradients are: on a GPU nothing waits for the device
    (unless ``error_if_nonfinite``, which has to look at the norm).
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    norm_type = float(norm_type)
    dtype = grads[0].dtype
    if norm_type == math.inf:
        per_grad = [np.abs(g.data).max() if g.data.size else
                    backend.zeros((), dtype, like=g.data) for g in grads]
        total = np.stack(per_grad).max()
    else:
        per_grad = [np.linalg.norm(g.data.ravel(), norm_type) for g in grads]
        total = np.linalg.norm(np.stack(per_grad), norm_type)
    total = backend.as_array(total, dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    scale = np.minimum(float(max_norm) / (total.astype(np.float64) + 1e-6), 1.0)
    with no_grad():
        for g in grads:
            g.mul_(scale)
    return constant(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.copy_(np.clip(g.data, -clip_value, clip_value))
