"""``F.embedding``: look rows of a weight matrix up by integer index."""

from __future__ import annotations

from typing import Any

from autograd import backend
from autograd.ops.embedding import EmbeddingOp
from autograd.tensor import Tensor, expect_tensor


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows ``weight[input]``: ``input`` an integer Tensor of any shape, ``weight``
    (num_embeddings, embedding_dim); the result has shape
    ``(*input.shape, embedding_dim)``. Rows used more than once get the sum of their gradients;
    the ``padding_idx`` row gets none."""
    expect_tensor(weight, "embedding", "weight")
    indices = input.data if isinstance(input, Tensor) else input
    if getattr(indices, "dtype", None) is None or indices.dtype.kind not in "iu":
        kind = getattr(indices, "dtype", type(indices).__name__)
        raise RuntimeError(f"embedding: expected indices of an integer dtype (int64 or "
                           f"int32), got {kind}")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: expected weight of shape (num_embeddings, "
                           f"embedding_dim), got {tuple(weight.shape)}")
    rows = weight.shape[0]
    backend.check(_check_rows, indices, rows)  # a compiled step checks at every replay
    if padding_idx is not None:
        padding_idx = normalize_padding_idx(padding_idx, rows)
    return EmbeddingOp.apply(weight, indices=indices, padding_idx=padding_idx)


def _check_rows(indices: Any, rows: int) -> None:
    """Raise PyTorch's IndexError unless every index is in [0, rows): numpy's take
    would wrap a negative one silently."""
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        bad = indices.min() if indices.min() < 0 else indices.max()
        raise IndexError(f"embedding: index {int(bad)} is out of range for a weight of "
                         f"{rows} rows (index out of range in self)")


def normalize_padding_idx(padding_idx: int, rows: int) -> int:
    """``padding_idx`` as a row number (negative counts from the end), checked."""
    if not -rows <= padding_idx < rows:
        raise ValueError(f"Padding_idx must be within num_embeddings (got padding_idx="
                         f"{padding_idx} for {rows} embeddings)")
    return padding_idx % rows
