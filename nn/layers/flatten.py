"""``Flatten`` merges a range of dims into one; ``Unflatten`` splits one dim."""

from __future__ import annotations

from autograd.tensor import Tensor, expect_tensor

from ..module import Module


class Flatten(Module):
    """Dims ``start_dim`` to ``end_dim`` merged into one (the batch dim 0 is kept)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        expect_tensor(input, "flatten")
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Dim ``dim`` split into ``unflattened_size`` (e.g. (N, 64) -> (N, 1, 8, 8))."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        expect_tensor(input, "unflatten")
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
