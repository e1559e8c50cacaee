"""``Linear`` and ``Identity``."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd import backend
from autograd.function import constant
from autograd.tensor import Tensor

from .. import init
from ..functional.linear import linear
from ..module import Module
from ..parameter import Parameter


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are ignored)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Linear(Module):
    """y = x Wᵀ + b, with ``weight`` (out_features, in_features) and ``bias``
    (out_features,) initialised as PyTorch does: U(-1/√in, 1/√in) for both."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        dtype = np.dtype(dtype or np.float32)
        self.weight = Parameter(constant(backend.empty((out_features, in_features), dtype)))
        if bias:
            self.bias = Parameter(constant(backend.empty(out_features, dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """kaiming_uniform_(a=√5) on the weight, U(-1/√fan_in, 1/√fan_in) on the bias."""
        init.layer_defaults_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
