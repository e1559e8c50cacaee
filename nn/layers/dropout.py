"""``Dropout``: randomly zero activations while training."""

from __future__ import annotations

from autograd.tensor import Tensor

from ..functional.dropout import check_probability, dropout
from ..module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` while training and scale the kept
    ones by 1/(1 - p) (inverted dropout); the identity in eval mode. Masks come
    from ``autograd.random.default_generator()``, so ``autograd.manual_seed``
    makes them reproducible."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        check_probability(p)
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
