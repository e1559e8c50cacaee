"""Data for training, as ``torch.utils.data``: datasets, batching, bundled sets.

    >>> from autograd.data import DataLoader, datasets
    >>> loader = DataLoader(datasets.linear(n=100), batch_size=16, shuffle=True, seed=0)
    >>> x, y = next(iter(loader))
    >>> x.shape, y.shape
    ((16, 1), (16, 1))
"""

from . import datasets
from .dataset import Dataset, Subset, TensorDataset, random_split
from .loader import DataLoader, default_collate
from .sampler import DistributedSampler, Sampler

__all__ = [
    "DataLoader", "Dataset", "DistributedSampler", "Sampler", "Subset", "TensorDataset",
    "datasets", "default_collate", "random_split",
]
