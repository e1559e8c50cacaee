"""Datasets, as ``torch.utils.data``: an indexable collection of samples.

A :class:`Dataset` answers ``len(ds)`` and ``ds[i]``; :class:`TensorDataset` wraps
tensors that share a first dimension; :class:`Subset` and :func:`random_split`
select samples by index without copying the data.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..random import default_generator
from ..tensor import Tensor


class Dataset:
    """An indexable collection of samples: subclasses define ``__getitem__`` and
    ``__len__``. ``ds[i]`` is one sample (a Tensor, a number, or a tuple of them)."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are rows of tensors that share their first dimension.

    ``TensorDataset(x, y)[i]`` is the tuple ``(x[i], y[i])``. numpy arrays are
    accepted and wrapped as Tensors (dtype kept).
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors)
        for position, t in enumerate(tensors):
            if t.ndim == 0:
                raise ValueError(
                    f"TensorDataset: tensor {position} is 0-dimensional; every tensor "
                    "needs a first (sample) dimension"
                )
        sizes = [t.shape[0] for t in tensors]
        if any(size != sizes[0] for size in sizes):
            raise ValueError(
                f"TensorDataset: size mismatch between tensors: first dimensions are {sizes}"
            )
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (no copy)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def _split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    """Integer lengths from ``lengths``: counts as given, or fractions of ``n``
    (floored, the remainder handed out one by one from the first)."""
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        if any(not 0 <= frac <= 1 for frac in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {list(lengths)}")
        counts = [math.floor(n * frac) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(
                    f"random_split: length of split at index {i} is 0; this leads to an "
                    "empty dataset",
                    stacklevel=3,
                )
        return counts
    if any(int(length) != length or length < 0 for length in lengths):
        raise ValueError(
            f"random_split: lengths must be non-negative integers or fractions summing to 1, "
            f"got {list(lengths)}"
        )
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length "
            f"of the input dataset ({n})"
        )
    return [int(length) for length in lengths]


def random_split(
    dataset: Dataset, lengths: Sequence[float], seed: int | None = None
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing
    to 1 (``[0.8, 0.2]``), as in PyTorch. The permutation comes from
    ``numpy.random.default_rng(seed)``, or from the generator that
    ``autograd.manual_seed`` seeds when ``seed`` is None.
    """
    counts = _split_lengths(len(dataset), lengths)
    rng = default_generator() if seed is None else np.random.default_rng(seed)
    order = rng.permutation(len(dataset)).tolist()
    ends = np.cumsum(counts).tolist()
    return [Subset(dataset, order[end - count:end]) for count, end in zip(counts, ends)]
