"""``F.scaled_dot_product_attention`` and the multi-head attention behind
``nn.MultiheadAttention``, composed of existing ops (matmul, masked_fill,
softmax, dropout), so the graph of attention can be drawn and stepped.

    attention(Q, K, V) = softmax(Q Kᵀ · scale + bias) V

where ``bias`` is 0 where a query may look at a key and -inf where it may not
(the causal mask, a bool mask, a key padding mask) or any float mask added.
A query that may look at no key at all gets all-zero weights (output 0,
gradient 0) as PyTorch's ``scaled_dot_product_attention`` gives; PyTorch's
``MultiheadAttention`` with ``need_weights=True`` gives NaN there instead, and
so does ours (``safe=False``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autograd
from autograd import backend
from autograd.function import constant
from autograd.tensor import Tensor, expect_tensor

from .dropout import dropout as _dropout
from .linear import linear

_NEG_INF = float("-inf")


def causal_mask(target: int, source: int, like: Any = None) -> Any:
    """(target, source) bool array, True where query i may look at key j (j ≤ i), on
    the device of the array ``like``."""
    return np.tril(backend.ones((target, source), bool, like=like))


def _mask_array(mask: Any, name: str, like: Any) -> Any:
    """``mask`` as an array on the device of ``like`` (a Tensor that needs a gradient
    stays a Tensor)."""
    if isinstance(mask, Tensor):
        if mask.requires_grad:
            return mask
        mask = mask.data
    mask = backend.asarray(mask, like=like)
    if mask.dtype != bool and mask.dtype.kind != "f":
        raise TypeError(f"{name}: only bool and floating types of masks are supported, got "
                        f"{mask.dtype}")
    return mask


def _apply_masks(scores: Tensor, allowed: list, additive: list) -> Tensor:
    """``scores`` with -inf wherever some bool mask in ``allowed`` is False, and
    every float mask in ``additive`` added."""
    if allowed:
        keep = allowed[0]
        for mask in allowed[1:]:
            keep = keep & mask
        scores = scores.masked_fill(~keep, _NEG_INF)
    for mask in additive:
        scores = scores + (mask if isinstance(mask, Tensor) else constant(
            mask.astype(scores.dtype, copy=False)))
    return scores


def attention(query: Tensor, key: Tensor, value: Tensor, allowed: list, additive: list,
              dropout_p: float, training: bool, scale: float, safe: bool = True,
              causal: bool = False) -> tuple[Tensor, Tensor]:
    """(softmax(Q Kᵀ · scale, masked) V, the attention weights). ``safe``: rows whose
    every score is -inf get weights 0 (not NaN). ``causal``: ``allowed[0]`` is the
    causal mask, which leaves no row empty (key 0 is always visible)."""
    scores = _apply_masks((query * scale) @ key.mT, allowed, additive)
    empty = None
    if safe and (additive or len(allowed) > causal):
        rows = np.isneginf(scores.data).all(-1, keepdims=True)
        # softmax of all -inf is 0/0: make it a finite 0 both ways. Whether any row
        # is empty is looked at on the CPU only (on a GPU the look waits for it)
        if not backend.is_cpu(rows) or rows.any():
            empty = rows
            scores = scores.masked_fill(empty, 0.0)
    weights = scores.softmax(-1)
    if empty is not None:
        weights = weights.masked_fill(empty, 0.0)
    if dropout_p > 0.0 and training:
        weights = _dropout(weights, dropout_p, True)
    return weights @ value, weights


def _check_attention_inputs(query: Tensor, key: Tensor, value: Tensor) -> None:
    for name, t in (("query", query), ("key", key), ("value", value)):
        expect_tensor(t, "scaled_dot_product_attention", name, kinds="f")
        if t.ndim < 2:
            raise RuntimeError(f"scaled_dot_product_attention: {name} must have at least 2 "
                               f"dims (..., sequence, features), got shape {tuple(t.shape)}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"scaled_dot_product_attention: query {tuple(query.shape)}, key {tuple(key.shape)} "
            f"and value {tuple(value.shape)} do not fit: query and key need the same last dim, "
            "key and value the same sequence length")
    if not query.dtype == key.dtype == value.dtype:
        raise RuntimeError(
            f"scaled_dot_product_attention: expected query, key and value to have the same "
            f"dtype, got {query.dtype}, {key.dtype} and {value.dtype}")


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Any = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None) -> Tensor:
    """softmax(Q Kᵀ · scale + mask) V over the last two dims, batch dims broadcast.

    ``query`` (..., L, E), ``key`` (..., S, E), ``value`` (..., S, Ev) give (..., L, Ev).
    ``attn_mask`` broadcasts to (..., L, S): a bool mask is True where a query may
    attend (False entries become -inf), a float mask is added to the scores.
    ``is_causal`` lets query i see keys j ≤ i only (and excludes ``attn_mask``).
    ``scale`` defaults to 1/√E. ``dropout_p`` drops attention weights (always, as
    PyTorch: pass 0.0 in evaluation).
    """
    _check_attention_inputs(query, key, value)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    target, source = query.shape[-2], key.shape[-2]
    allowed, additive = [], []
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("scaled_dot_product_attention: Explicit attn_mask should not be "
                               "set when is_causal=True")
        allowed.append(causal_mask(target, source, like=query.data))
    if attn_mask is not None:
        mask = _mask_array(attn_mask, "scaled_dot_product_attention", query.data)
        (allowed if mask.dtype == bool else additive).append(mask)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    out, _ = attention(query, key, value, allowed, additive, dropout_p, True, scale,
                       causal=is_causal)
    return out


def multi_head_attention(query: Tensor, key: Tensor, value: Tensor, num_heads: int,
                         in_proj: tuple, out_proj: tuple, bias_kv: tuple | None = None,
                         add_zero_attn: bool = False, key_padding_mask: Any = None,
                         need_weights: bool = True, attn_mask: Any = None,
                         average_attn_weights: bool = True, is_causal: bool = False,
                         dropout_p: float = 0.0, training: bool = True) -> tuple:
    """Multi-head attention on batch-first inputs: query (N, L, E), key and value
    (N, S, kdim/vdim). ``in_proj`` holds (weight, bias) pairs for q, k and v (or one
    packed (3E, E) weight and (3E,) bias when all three share E); ``out_proj`` the
    output projection. Masks follow ``nn.MultiheadAttention``: a bool
    ``attn_mask`` or ``key_padding_mask`` is True where attention is *not*
    allowed; float masks are added to the scores. Returns (output (N, L, E),
    weights (N, L, S) averaged over heads, or (N, heads, L, S), or None)."""
    batch, target, embed = query.shape
    head_dim = embed // num_heads
    if len(in_proj) == 2:  # one packed (3E, E) projection
        weight, bias = in_proj
        if query is key and key is value:  # self-attention: one matmul for all three
            q, k, v = linear(query, weight, bias).chunk(3, -1)
        else:
            ws = weight.chunk(3, 0)
            bs = bias.chunk(3, 0) if bias is not None else (None,) * 3
            q, k, v = (linear(x, w, b) for x, w, b in zip((query, key, value), ws, bs))
    else:
        (wq, bq), (wk, bk), (wv, bv) = in_proj
        q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    if bias_kv is not None:  # one learned extra key and value at the end
        bias_k, bias_v = bias_kv
        k = autograd.cat([k, bias_k.expand(batch, 1, embed)], 1)
        v = autograd.cat([v, bias_v.expand(batch, 1, embed)], 1)

    def heads(x: Tensor) -> Tensor:  # (N, S, E) -> (N, heads, S, head_dim)
        return x.reshape(batch, x.shape[1], num_heads, head_dim).transpose(1, 2)

    q, k, v = heads(q), heads(k), heads(v)
    if add_zero_attn:  # one extra all-zero key and value
        zeros = autograd.zeros((batch, num_heads, 1, head_dim), dtype=k.dtype, device=k.device)
        k, v = autograd.cat([k, zeros], -2), autograd.cat([v, zeros], -2)
    source = k.shape[-2]
    extra = source - key.shape[1]  # columns added by bias_kv and add_zero_attn

    allowed, additive = [], []
    causal = attn_mask is None and is_causal
    if causal:  # ours: PyTorch requires the mask with the hint
        allowed.append(causal_mask(target, source, like=q.data))
    for mask, kind in ((attn_mask, "attn_mask"), (key_padding_mask, "key_padding_mask")):
        if mask is None:
            continue
        mask = _mask_array(mask, "multi_head_attention", q.data)
        if extra:
            mask = _pad_columns(mask, extra)
        if kind == "attn_mask":
            mask = _heads_mask(mask, batch, num_heads, target, source)
        else:
            if tuple(mask.shape) != (batch, source):
                raise RuntimeError(f"multi_head_attention: expected key_padding_mask of shape "
                                   f"{(batch, source - extra)}, got {tuple(mask.shape)}")
            mask = mask.reshape(batch, 1, 1, source)
        if mask.dtype == bool:
            allowed.append(~mask)
        else:
            additive.append(mask)
    # as PyTorch: NaN weights for a query that sees no key when they are returned,
    # zeros (its scaled_dot_product_attention) when they are not
    out, weights = attention(q, k, v, allowed, additive, dropout_p, training,
                             1.0 / math.sqrt(head_dim), safe=not need_weights, causal=causal)
    out = out.transpose(1, 2).reshape(batch, target, embed)
    out = linear(out, *out_proj)
    if not need_weights:
        return out, None
    return out, (weights.mean(1) if average_attn_weights else weights)


def _pad_columns(mask: Any, extra: int) -> Any:
    """``mask`` with ``extra`` columns that never block (False / 0.0) added at the end."""
    if isinstance(mask, Tensor):
        return mask.pad((0, extra))
    return np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, extra)])


def _heads_mask(mask: Any, batch: int, num_heads: int, target: int, source: int) -> Any:
    """An ``attn_mask`` of shape (L, S) or (N·heads, L, S) as broadcastable to
    (N, heads, L, S)."""
    if mask.ndim == 2:
        if tuple(mask.shape) != (target, source):
            raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(mask.shape)}, but "
                               f"should be {(target, source)}.")
        return mask
    if mask.ndim == 3:
        if tuple(mask.shape) != (batch * num_heads, target, source):
            raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(mask.shape)}, but "
                               f"should be {(batch * num_heads, target, source)}.")
        return mask.reshape(batch, num_heads, target, source)
    raise RuntimeError(f"attn_mask's dimension {mask.ndim} is not supported")
