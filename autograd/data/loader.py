"""DataLoader: a dataset served in batches, as ``torch.utils.data.DataLoader``.

The batch size picks the flavour of gradient descent the training loop runs:

* ``batch_size=len(dataset)``: **batch** gradient descent, one exact gradient per
  epoch (smooth, but one step per pass over the data);
* ``batch_size=1``: **stochastic** gradient descent, one noisy step per sample;
* anything between: **mini-batch** gradient descent, the usual compromise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ..backend import array_module
from ..function import constant
from ..random import default_generator
from ..tensor import Tensor
from .dataset import Dataset, Subset, TensorDataset


def default_collate(samples: list) -> Any:
    """Merge a list of samples into one batch, as PyTorch's ``default_collate``.

    Tensors and numpy arrays are stacked along a new first dimension; Python
    floats become a float64 Tensor and ints an int64 one (bools a bool one), numpy
    scalars keep their dtype; tuples, lists and dicts are collated field by field
    (a tuple batch for tuple samples); strings stay a list.
    """
    first = samples[0]
    if isinstance(first, Tensor):
        arrays = [s.data for s in samples]
        return constant(array_module(arrays[0]).stack(arrays))
    if isinstance(first, (np.ndarray, np.generic)):
        return constant(np.stack(samples))
    if isinstance(first, bool):
        return constant(np.array(samples, dtype=bool))
    if isinstance(first, int):
        return constant(np.array(samples, dtype=np.int64))
    if isinstance(first, float):
        return constant(np.array(samples, dtype=np.float64))
    if isinstance(first, str):
        return list(samples)
    if isinstance(first, Mapping):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise RuntimeError("default_collate: each sample in the batch must have the same "
                               f"number of fields, got {sorted({len(s) for s in samples})}")
        fields = [default_collate(list(field)) for field in zip(*samples)]
        if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
            return type(first)(*fields)
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(
        "default_collate: a batch must hold Tensors, numpy arrays, numbers, strings, "
        f"dicts, tuples or lists; found {type(first).__name__}"
    )


def _tensor_rows(dataset: Dataset) -> tuple[tuple[Tensor, ...], np.ndarray | None] | None:
    """``(tensors, rows)`` when every sample of ``dataset`` is a row of some tensors
    (a TensorDataset, or Subsets of one; ``rows`` maps sample index to row, None
    for the identity), else None."""
    rows = None
    while isinstance(dataset, Subset):
        indices = np.asarray(dataset.indices, dtype=np.int64)
        rows = indices if rows is None else indices[rows]
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset:  # a subclass may override __getitem__
        return None
    return dataset.tensors, rows


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples.

    ``batch_size=len(dataset)`` is batch gradient descent, ``1`` stochastic, and
    anything between mini-batch. Each pass (``for batch in loader``) is one epoch;
    the last batch is smaller when ``batch_size`` does not divide the dataset,
    unless ``drop_last=True`` drops it. ``shuffle=True`` draws a fresh order every
    epoch, from ``numpy.random.default_rng(seed)`` (made once per loader) when
    ``seed`` is given, else from the generator ``autograd.manual_seed`` seeds.

    ``sampler`` (instead of ``shuffle``) picks the indices and their order, e.g. a
    :class:`~autograd.data.DistributedSampler` for this rank's share of the data.

    A TensorDataset (or a Subset of one) is served fast: each batch is one fancy
    index into each tensor's array, a tuple of Tensors that need no grad. Any
    other dataset is read sample by sample and merged with ``collate_fn``
    (default :func:`default_collate`).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        *,
        sampler: Iterable[int] | None = None,
        collate_fn: Callable[[list], Any] | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(
                f"DataLoader: batch_size should be a positive integer value, but got "
                f"batch_size={batch_size!r}"
            )
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.collate_fn = collate_fn
        self._rng = None if seed is None else np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def generator(self) -> np.random.Generator:
        """The generator the shuffles draw from (one permutation per epoch, drawn when
        iteration starts): this loader's own when ``seed`` was given, else the one
        ``autograd.manual_seed`` seeds. Save and restore its ``bit_generator.state``
        to resume an epoch in the same order."""
        return self._rng if self._rng is not None else default_generator()

    def _order(self) -> np.ndarray:
        if self.sampler is not None:
            return np.fromiter(self.sampler, dtype=np.int64)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return self.generator.permutation(n)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        tensor_rows = None if self.collate_fn is not None else _tensor_rows(self.dataset)
        if tensor_rows is not None:
            tensors, rows = tensor_rows
            if rows is not None:
                order = rows[order]
            for start in range(0, stop, self.batch_size):
                index = order[start:start + self.batch_size]
                yield tuple(constant(t.data[index]) for t in tensors)
            return
        collate = self.collate_fn or default_collate
        for start in range(0, stop, self.batch_size):
            index = order[start:start + self.batch_size].tolist()
            yield collate([self.dataset[i] for i in index])
