"""``TransformerEncoderLayer`` and ``TransformerEncoder`` (Vaswani et al., 2017),
with PyTorch's submodule names, so a PyTorch ``state_dict`` loads unchanged."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from autograd import backend
from autograd.tensor import Tensor

from ..containers import ModuleList
from ..functional.activation import gelu, relu
from ..functional.attention import causal_mask
from ..module import Module
from .attention import MultiheadAttention
from .dropout import Dropout
from .linear import Linear
from .norm import LayerNorm

_ACTIVATIONS = {"relu": relu, "gelu": gelu}


class TransformerEncoderLayer(Module):
    """Self-attention then a two-layer feed-forward block, each with a residual
    connection, dropout and LayerNorm:

        norm_first=False (post-norm, the paper's):  x = norm1(x + SA(x));  x = norm2(x + FF(x))
        norm_first=True  (pre-norm):                x = x + SA(norm1(x));  x = x + FF(norm2(x))

    with FF(x) = linear2(dropout(activation(linear1(x)))). Called as
    ``layer(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``;
    masks as in :class:`MultiheadAttention`.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise RuntimeError(f"activation should be relu/gelu, not {activation}")
            activation = _ACTIVATIONS[activation]
        self.activation = activation

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any,
                  is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (``layers.0``, ``layers.1``...), then
    ``norm`` if given. ``enc(src, mask=None, src_key_padding_mask=None,
    is_causal=None)``; ``is_causal=None`` finds out whether ``mask`` is the causal
    mask, as PyTorch does."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        # accepted for PyTorch code; nested tensors are a PyTorch speed-up only
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool | None = None) -> Tensor:
        seq_dim = 1 if self.layers and self.layers[0].self_attn.batch_first else 0
        length = src.shape[seq_dim] if src.ndim == 3 else src.shape[0]
        is_causal = _detect_is_causal_mask(mask, is_causal, length)
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=is_causal)
        return self.norm(x) if self.norm is not None else x


def _detect_is_causal_mask(mask: Any, is_causal: bool | None, size: int) -> bool:
    """``is_causal`` if given, else whether ``mask`` is exactly the causal mask
    (bool True above the diagonal, or float -inf above it and 0 elsewhere)."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None:
        return False
    array = backend.to_host(backend.asarray(mask.data if isinstance(mask, Tensor) else mask))
    if array.shape != (size, size):
        return False
    above = ~causal_mask(size, size)
    if array.dtype == bool:
        return bool(np.array_equal(array, above))
    return bool(np.all(np.isneginf(array[above])) and np.all(array[~above] == 0))
