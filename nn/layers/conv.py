"""``Conv2d``: a learned 2-D convolution over (N, C, H, W) images."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd import backend
from autograd.function import constant
from autograd.ops.window import pair
from autograd.tensor import Tensor

from .. import init
from ..functional.conv import conv2d
from ..module import Module
from ..parameter import Parameter


class Conv2d(Module):
    """z = conv2d(x, weight) + bias with ``weight`` (out_channels, in_channels/groups,
    kh, kw) and ``bias`` (out_channels,), initialised as PyTorch does:
    kaiming_uniform_(a=√5) on the weight (U(-1/√fan_in, 1/√fan_in)), the same
    bound on the bias, fan_in = in_channels/groups · kh · kw."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str) and padding not in ("valid", "same"):
            raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                             "{'valid', 'same'}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = pair(stride, "stride", "Conv2d")
        if padding == "same" and self.stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding",
                                                                        "Conv2d")
        self.dilation = pair(dilation, "dilation", "Conv2d")
        self.groups = groups
        dtype = np.dtype(dtype or np.float32)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(constant(backend.empty(shape, dtype)))
        if bias:
            self.bias = Parameter(constant(backend.empty(out_channels, dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """kaiming_uniform_(a=√5) on the weight, U(-1/√fan_in, 1/√fan_in) on the bias."""
        init.layer_defaults_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return conv2d(input, self.weight, self.bias, self.stride, self.padding,
                      self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
