"""``F.conv2d``, ``F.max_pool2d``, ``F.avg_pool2d``: argument checking with
PyTorch's messages, then one graph node each (the ops live in
``autograd/ops/conv.py`` and ``autograd/ops/pool.py``).

Inputs are (N, C, H, W), or (C, H, W) for one unbatched image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autograd import backend
from autograd.ops import conv as conv_ops
from autograd.ops import pool as pool_ops
from autograd.ops.window import Window2d, pair
from autograd.tensor import Tensor, expect_tensor


def _size(shape: tuple) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _check_rank(input: Tensor, op: str, expected: str) -> None:
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Expected {expected} input to {op}, but got input of size: "
                           f"{_size(input.shape)}")


def _batched(input: Tensor, run: Callable[[Tensor], Tensor]) -> Tensor:
    """``run`` on a 4-D batch; a 3-D input is treated as a batch of one."""
    if input.ndim == 4:
        return run(input)
    return run(input.unsqueeze(0)).squeeze(0)


def _conv_padding(padding: Any, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    """(top, bottom, left, right) from an int, a pair, "valid" or "same"."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise RuntimeError(f"conv2d: Invalid padding string: {padding!r} "
                               "(expected 'valid' or 'same')")
        if stride != (1, 1):
            raise RuntimeError("conv2d: padding='same' is not supported for strided "
                               "convolutions")
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        # an even kernel pads one more on the bottom/right, as PyTorch does
        return (total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2)
    ph, pw = pair(padding, "padding", "conv2d")
    return (ph, ph, pw, pw)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``: ``input`` (N, C, H, W)
    or (C, H, W), ``weight`` (O, C/groups, kh, kw), ``bias`` (O,); ``padding`` an int,
    a pair, ``"valid"`` or ``"same"``."""
    expect_tensor(input, "conv2d", kinds="fiu")
    expect_tensor(weight, "conv2d", "weight", kinds="fiu")
    if bias is not None:
        expect_tensor(bias, "conv2d", "bias")
    if weight.ndim != 4:
        raise RuntimeError(f"conv2d: expected weight to be 4-dimensional (out_channels, "
                           f"in_channels/groups, kH, kW), but got weight of size "
                           f"{_size(weight.shape)}")
    stride = pair(stride, "stride", "conv2d")
    dilation = pair(dilation, "dilation", "conv2d")
    pads = _conv_padding(padding, weight.shape[2:], stride, dilation)
    out_channels, group_channels = weight.shape[:2]
    if groups < 1 or out_channels % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                           f"{groups} at dimension 0, but got weight of size "
                           f"{_size(weight.shape)} instead")
    if bias is not None and bias.shape != (out_channels,):
        raise RuntimeError(f"Given weight of size {_size(weight.shape)}, expected bias to be "
                           f"1-dimensional with {out_channels} elements, but got bias of "
                           f"size {_size(bias.shape)} instead")

    def run(x: Tensor) -> Tensor:
        if x.shape[1] != group_channels * groups:
            raise RuntimeError(
                f"Given groups={groups}, weight of size {_size(weight.shape)}, expected "
                f"input{_size(x.shape)} to have {group_channels * groups} channels, but got "
                f"{x.shape[1]} channels instead")
        dtypes = {t.dtype for t in (x, weight, bias) if t is not None}
        if len(dtypes) > 1:
            raise RuntimeError(f"conv2d: input, weight and bias must have the same dtype, got "
                               f"input {x.dtype}, weight {weight.dtype}"
                               + (f", bias {bias.dtype}" if bias is not None else ""))
        window = Window2d("conv2d", x.shape[2:], weight.shape[2:], stride, pads, dilation)
        inputs = (x, weight) if bias is None else (x, weight, bias)
        return conv_ops.Conv2dOp.apply(*inputs, window=window, groups=groups)

    _check_rank(input, "conv2d", "3D (unbatched) or 4D (batched)")
    return _batched(input, run)


def _pool_window(op: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, ceil_mode: bool) -> Window2d:
    """The pooling geometry; ``ceil_mode`` adds bottom/right padding so the last
    window that starts inside the (left/top padded) input is kept, as PyTorch."""
    expect_tensor(input, op, kinds="f" if op == "avg_pool2d" else "fiu")
    _check_rank(input, op, "3D or 4D (batch mode)")
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or stride == [] else pair(stride, "stride", op)
    pads = pair(padding, "padding", op)
    dilation = pair(dilation, "dilation", op)
    extra = [0, 0]
    for axis, (pad, k, d, s) in enumerate(zip(pads, kernel, dilation, stride)):
        if pad > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, "
                               f"but got pad={pad}, kernel_size={k} and dilation={d}")
        if ceil_mode and s > 0:
            size, span = input.shape[-2 + axis] + 2 * pad, d * (k - 1) + 1
            out = -(-(size - span) // s) + 1
            if (out - 1) * s >= size - pad:  # the last window would start in the padding
                out -= 1
            extra[axis] = max(0, (out - 1) * s + span - size)
    return Window2d(op, input.shape[-2:], kernel, stride,
                    (pads[0], pads[0] + extra[0], pads[1], pads[1] + extra[1]), dilation)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Tensor:
    """The maximum of each ``kernel_size`` window (``stride`` defaults to the kernel
    size; padding is -inf). The gradient goes to the first maximal element of each
    window, as in PyTorch."""
    window = _pool_window("max_pool2d", input, kernel_size, stride, padding, dilation,
                          ceil_mode)
    return _batched(input, lambda x: pool_ops.MaxPool2dOp.apply(x, window=window))


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """The mean of each ``kernel_size`` window (``stride`` defaults to the kernel size).
    Zero padding counts in the divisor unless ``count_include_pad=False`` (the part
    of a ``ceil_mode`` window beyond the padding never does); ``divisor_override``
    replaces the divisor."""
    window = _pool_window("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    top, bottom, left, right = window.padding
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("avg_pool2d: divisor must be not zero")
        divisor: Any = float(divisor_override)
    elif (count_include_pad or not any(window.padding)) and (bottom, right) == (top, left):
        divisor = float(window.offsets)
    else:  # count, per window, the pixels that are real (or symmetric padding)
        counted = backend.zeros(window.padded_size, input.dtype, like=input.data)
        if count_include_pad:
            counted[:window.in_size[0] + 2 * top, :window.in_size[1] + 2 * left] = 1
        else:
            window.crop(counted)[...] = 1
        divisor = sum(counted[rows, cols] for rows, cols in window.slices())
    return _batched(input, lambda x: pool_ops.AvgPool2dOp.apply(x, window=window, divisor=divisor))
