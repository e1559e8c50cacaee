"""``F.linear``: the affine map behind ``nn.Linear``."""

from __future__ import annotations

from autograd.ops.linalg import LinearOp
from autograd.tensor import Tensor, expect_tensor


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b for ``input`` (..., in_features), ``weight`` (out_features,
    in_features) and ``bias`` (out_features,): one graph node."""
    expect_tensor(input, "linear", kinds="fiu")
    expect_tensor(weight, "linear", "weight", kinds="fiu")
    if bias is None:
        return LinearOp.apply(input, weight)
    expect_tensor(bias, "linear", "bias")
    return LinearOp.apply(input, weight, bias)
