"""``F.batch_norm`` and ``F.layer_norm``: statistics and argument checks here,
the normalisation itself one fused node (``autograd/ops/norm.py``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from autograd.ops.norm import Normalize, batch_statistics
from autograd.tensor import Tensor, expect_tensor


def _affine(input: Tensor, weight: Tensor | None, bias: Tensor | None) -> tuple:
    params = tuple(t for t in (weight, bias) if t is not None)
    return (input, *params), {"has_weight": weight is not None, "has_bias": bias is not None}


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) of ``input`` (N, C, ...) as
    ``torch.nn.functional.batch_norm``.

    Training: use the batch's mean and biased variance, and (when given) update
    ``running_mean``/``running_var`` in place: r ← (1 - momentum) r + momentum s,
    with the *unbiased* variance for ``running_var``, as PyTorch does.
    Evaluation: use the running statistics.
    """
    expect_tensor(input, "batch_norm", kinds="f")
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dims (N, C, ...), "
                         f"got input of size {tuple(input.shape)}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise RuntimeError(f"{name} should contain {channels} elements not "
                               f"{math.prod(t.shape)} (input of size {tuple(input.shape)})")
    axes = (0, *range(2, input.ndim))
    view = (1, channels) + (1,) * (input.ndim - 2)
    if training:
        count = input.data.size // max(channels, 1)
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got "
                             f"input size {tuple(input.shape)}")
        mean, var, invstd = batch_statistics(input.data, axes, eps)
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(mean.reshape(channels) * momentum)
        if running_var is not None:
            unbiased = var.reshape(channels) * (count / (count - 1))
            running_var.mul_(1 - momentum).add_(unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be given "
                               "when training=False")
        mean = running_mean.data.reshape(view)
        invstd = (1.0 / np.sqrt(running_var.data + eps)).astype(input.dtype).reshape(view)
    inputs, flags = _affine(input, weight, bias)
    return Normalize.apply(*inputs, mean=mean, invstd=invstd, axes=axes, param_axes=(1,),
                           batch_stats=training, eps=eps, **flags)


def layer_norm(input: Tensor, normalized_shape: int | Sequence[int],
               weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each sample over its trailing ``normalized_shape`` dims, as
    ``torch.nn.functional.layer_norm`` (statistics from the input itself, in
    training and evaluation alike)."""
    expect_tensor(input, "layer_norm", kinds="f")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size {list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"layer_norm: expected {name} of shape {list(shape)}, got "
                               f"{list(t.shape)}")
    axes = tuple(range(input.ndim - k, input.ndim))
    mean, _, invstd = batch_statistics(input.data, axes, eps)
    inputs, flags = _affine(input, weight, bias)
    return Normalize.apply(*inputs, mean=mean, invstd=invstd, axes=axes, param_axes=axes,
                           batch_stats=True, eps=eps, **flags)
