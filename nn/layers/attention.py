"""``MultiheadAttention``: attention in ``num_heads`` subspaces, PyTorch's
parameters (``in_proj_weight``, ``in_proj_bias``, ``out_proj``; or
``q/k/v_proj_weight`` when ``kdim``/``vdim`` differ from ``embed_dim``) and
initialisation (Xavier-uniform projections, zero biases)."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd import backend
from autograd.function import constant
from autograd.tensor import Tensor

from .. import init
from ..functional.attention import multi_head_attention
from ..module import Module
from ..parameter import Parameter
from .linear import Linear


def _parameter(shape: tuple, dtype: Any) -> Parameter:
    return Parameter(constant(backend.empty(shape, np.dtype(dtype or np.float32))))


class MultiheadAttention(Module):
    """softmax(Q Kᵀ / √d + mask) V in each of ``num_heads`` heads of size
    d = embed_dim / num_heads, with learned projections in and out.

    ``mha(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)``: inputs
    (L, N, E) (or (N, L, E) with ``batch_first``, or unbatched (L, E)); a bool
    ``attn_mask`` (L, S) or (N·heads, L, S) and ``key_padding_mask`` (N, S) are True
    where attention is *not* allowed (float masks are added to the scores).
    ``is_causal`` with no ``attn_mask`` applies the causal mask (PyTorch raises
    then; with a mask it is a hint that the mask is causal, as in PyTorch).
    Returns ``(output, weights)``: the weights averaged over heads (N, L, S), per
    head (N, heads, L, S), or None when ``need_weights=False``.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 dtype: Any = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _parameter((3 * embed_dim, embed_dim), dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = _parameter((embed_dim, embed_dim), dtype)
            self.k_proj_weight = _parameter((embed_dim, self.kdim), dtype)
            self.v_proj_weight = _parameter((embed_dim, self.vdim), dtype)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = _parameter((3 * embed_dim,), dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = _parameter((1, 1, embed_dim), dtype)
            self.bias_v = _parameter((1, 1, embed_dim), dtype)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections in, zero biases, N(0, ·) Xavier for bias_k/v;
        ``out_proj.weight`` keeps Linear's initialisation (as in PyTorch)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Any = None, need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False) -> tuple:
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"MultiheadAttention: expected {name} to be a Tensor, got "
                                f"{type(t).__name__} (wrap arrays with autograd.tensor)")
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise AssertionError(
                f"query should be unbatched 2D or batched 3D tensor, and key and value alike; "
                f"got query {tuple(query.shape)}, key {tuple(key.shape)}, value "
                f"{tuple(value.shape)}")
        same_kv = key is value
        self_attention = query is key and same_kv
        if not batched:  # one sequence: a batch of one
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.reshape(1, -1) if isinstance(
                    key_padding_mask, Tensor) else backend.asarray(
                        key_padding_mask, like=query.data).reshape(1, -1)
        if not self.batch_first or not batched:  # (L, N, E) -> (N, L, E)
            query = query.transpose(0, 1)
            key = query if self_attention else key.transpose(0, 1)
            value = key if same_kv else value.transpose(0, 1)
        for name, t, size in (("query", query, self.embed_dim), ("key", key, self.kdim),
                              ("value", value, self.vdim)):
            if t.shape[-1] != size:
                raise AssertionError(f"was expecting {name} embedding dimension of {size}, "
                                     f"but got {t.shape[-1]}")
        if key.shape[:2] != value.shape[:2] or query.shape[0] != key.shape[0]:
            raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                                 f"{tuple(value.shape)} or query's batch {query.shape[0]}")
        if self._qkv_same_embed_dim:
            in_proj: tuple = (self.in_proj_weight, self.in_proj_bias)
        else:
            biases = (self.in_proj_bias.chunk(3) if self.in_proj_bias is not None
                      else (None,) * 3)
            in_proj = tuple(zip((self.q_proj_weight, self.k_proj_weight, self.v_proj_weight),
                                biases))
        bias_kv = (self.bias_k, self.bias_v) if self.bias_k is not None else None
        out, weights = multi_head_attention(
            query, key, value, self.num_heads, in_proj, (self.out_proj.weight, self.out_proj.bias),
            bias_kv, self.add_zero_attn, key_padding_mask, need_weights, attn_mask,
            average_attn_weights, is_causal, self.dropout, self.training)
        if not batched:
            out = out.squeeze(0)
            weights = weights.squeeze(0) if weights is not None else None
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def extra_repr(self) -> str:
        return ""
