"""Free-function forms (``autograd.cat``, ``autograd.where``, ``autograd.exp``...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .ops import shape
from .ops.dims import normalize_dim
from .tensor import Tensor, _operands, as_tensor


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    dtype = _common_dtype(tensors)
    # PyTorch's legacy rule: empty 1-d tensors (shape (0,)) join anything, as nothing
    others = [t for t in tensors if t.shape != (0,)]
    if not others:  # nothing but those: joined as they are, whatever the dim
        others, dim = tensors, 0
    d = normalize_dim(dim, others[0].ndim, "cat")
    ranks = {t.ndim for t in others}
    if len(ranks) > 1:
        raise RuntimeError(
            "cat: tensors must have the same number of dimensions, got shapes "
            + ", ".join(str(tuple(t.shape)) for t in others)
        )
    empty = (*others[0].shape[:d], 0, *others[0].shape[d + 1:])
    return shape.Cat.apply(*[(t if t.shape != (0,) else t._reshape(empty)).to(dtype)
                             for t in tensors], dim=dim)


def _common_dtype(tensors: list) -> Any:
    """The dtype PyTorch gives a list of tensors to join: the widest float if
    any is a float (an int64 does not widen a float32), else the widest integer."""
    dtypes = [t.dtype for t in tensors]
    floats = [d for d in dtypes if d.kind == "f"]
    return np.result_type(*(floats or dtypes))


concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dim."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    normalize_dim(dim, tensors[0].ndim + 1, "stack")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise RuntimeError(
            "stack expects each tensor to be equal size, but got "
            + ", ".join(str(tuple(t.shape)) for t in tensors)
        )
    dtype = _common_dtype(tensors)
    return shape.Stack.apply(*[t.to(dtype) for t in tensors],
                             dim=normalize_dim(dim, tensors[0].ndim + 1, "stack"))


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """``input`` where ``condition`` holds, else ``other``."""
    if not isinstance(input, Tensor):
        if isinstance(other, Tensor):
            input = _operands(other, input)[1]
        else:
            input = as_tensor(input)
    return input.where(condition, other)


def pad(input: Tensor, pad: Sequence[int], value: float = 0.0) -> Tensor:
    """Constant padding, ``pad`` listing (before, after) pairs from the last dim back."""
    return input.pad(pad, value)


def _method(name: str) -> Any:
    method = getattr(Tensor, name)

    def fn(input: Any, *args: Any, **kwargs: Any) -> Any:
        return method(as_tensor(input), *args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``autograd.{name}(x, ...)`` is ``x.{name}(...)``."
    return fn


_FUNCTION_FORMS = [
    "exp", "log", "log1p", "sqrt", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu",
    "clamp", "clip", "maximum", "minimum", "pow", "sum", "mean", "var", "std", "prod", "max",
    "min", "amax", "amin", "argmax", "argmin", "logsumexp", "softmax", "log_softmax",
    "reshape", "flatten", "transpose", "permute", "unsqueeze", "squeeze", "matmul", "dot",
    "split", "chunk", "unbind", "gather", "broadcast_to", "tril", "triu", "masked_fill", "cumsum",
    "index_select", "scatter_add", "topk", "multinomial",
]

globals().update({name: _method(name) for name in _FUNCTION_FORMS})
__all__ = ["cat", "concatenate", "stack", "where", "pad", *_FUNCTION_FORMS]
