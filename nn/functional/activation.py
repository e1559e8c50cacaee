"""Activation functions: ``F.relu``, ``F.gelu``, ``F.softmax``... (as ``torch.nn.functional``)."""

from __future__ import annotations

import warnings
from typing import Any

from autograd.ops import elementwise
from autograd.tensor import Tensor, expect_tensor


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0). ``inplace`` is accepted for PyTorch code; the result is a new tensor."""
    expect_tensor(input, "relu")
    return input.relu()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else ``negative_slope``·x."""
    expect_tensor(input, "leaky_relu", kinds="f")
    return elementwise.LeakyReluOp.apply(input, negative_slope=negative_slope)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Φ(x) (``approximate="none"``, the exact erf form) or its tanh approximation."""
    expect_tensor(input, "gelu", kinds="f")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return elementwise.GeluOp.apply(input, approximate=approximate)


def tanh(input: Tensor) -> Tensor:
    expect_tensor(input, "tanh")
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    expect_tensor(input, "sigmoid")
    return input.sigmoid()


def _softmax_dim(name: str, ndim: int, dim: Any) -> int:
    """PyTorch's legacy choice when no ``dim`` is given (with its warning)."""
    if dim is not None:
        return dim
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """exp(x) / Σ exp(x) along ``dim`` (max-shifted, so large logits are fine)."""
    expect_tensor(input, "softmax")
    x = input if dtype is None else input.to(dtype)
    expect_tensor(x, "softmax", kinds="f")  # after dtype=, which may make it float
    return x.softmax(_softmax_dim("softmax", x.ndim, dim))


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """x - log Σ exp(x) along ``dim``, computed stably in one op."""
    expect_tensor(input, "log_softmax")
    x = input if dtype is None else input.to(dtype)
    expect_tensor(x, "log_softmax", kinds="f")  # after dtype=, which may make it float
    return x.log_softmax(_softmax_dim("log_softmax", x.ndim, dim))
