"""``Embedding``: a learned lookup table of vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd import backend
from autograd.engine import no_grad
from autograd.function import constant
from autograd.tensor import Tensor

from .. import init
from ..functional.embedding import embedding, normalize_padding_idx
from ..module import Module
from ..parameter import Parameter


class Embedding(Module):
    """Row ``i`` of ``weight`` (num_embeddings, embedding_dim) for each index ``i`` of
    the input, initialised N(0, 1) as in PyTorch; the ``padding_idx`` row starts at
    zero and gets no gradient."""

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        if padding_idx is not None:
            padding_idx = normalize_padding_idx(padding_idx, num_embeddings)
        self.padding_idx = padding_idx
        shape = (num_embeddings, embedding_dim)
        self.weight = Parameter(constant(backend.empty(shape, np.dtype(dtype or np.float32))))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0.0

    def forward(self, input: Tensor) -> Tensor:
        return embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
