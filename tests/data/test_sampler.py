"""DistributedSampler against torch's (indices, lengths, padding, drop_last,
epochs) and DataLoader(sampler=...)."""

from __future__ import annotations

import numpy as np
import pytest

import autograd
import autograd.distributed as dist
from autograd.data import DataLoader, DistributedSampler, Sampler, TensorDataset

torch = pytest.importorskip("torch")
from torch.utils.data import DistributedSampler as TorchSampler  # noqa: E402


@pytest.mark.parametrize("n", [0, 1, 7, 10, 11])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_shards_match_torch(n, replicas, drop_last):
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) == len(list(ours))


@pytest.mark.parametrize("n, replicas", [(10, 2), (11, 2), (11, 4), (3, 4)])
def test_shuffled_shards_cover_the_data_and_agree_on_the_order(n, replicas):
    shards = [list(DistributedSampler(range(n), replicas, r, seed=5)) for r in range(replicas)]
    assert len({len(s) for s in shards}) == 1  # equal shares: every rank takes as many steps
    together = sorted(i for s in shards for i in s)
    assert set(together) == set(range(n))
    padding = len(together) - n
    assert 0 <= padding < replicas if n >= replicas else padding >= 0
    # the same seed and epoch give the same order on every rank, i.e. in every process
    assert shards[0] == list(DistributedSampler(range(n), replicas, 0, seed=5))


def test_set_epoch_reshuffles_and_drop_last_drops_the_tail():
    sampler = DistributedSampler(range(101), 2, 1, seed=3)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first
    both = DistributedSampler(range(101), 2, 0, seed=3, drop_last=True), \
        DistributedSampler(range(101), 2, 1, seed=3, drop_last=True)
    union = [i for s in both for i in s]
    assert len(union) == len(set(union)) == 100 and len(both[0]) == 50


def test_epochs_differ():
    sampler = DistributedSampler(range(50), 2, 0, seed=0)
    orders = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        orders.append(list(sampler))
    assert orders[0] != orders[1] != orders[2]


@pytest.mark.parametrize("rank", [-1, 2])
def test_invalid_rank_matches_torch(rank):
    with pytest.raises(ValueError, match=r"Invalid rank .*interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=rank)
    with pytest.raises(ValueError, match=r"Invalid rank .*interval \[0, 1\]"):
        TorchSampler(range(4), num_replicas=2, rank=rank)
    with pytest.raises(ValueError, match="num_replicas must be a positive integer"):
        DistributedSampler(range(4), num_replicas=0, rank=0)


def test_defaults_come_from_the_process_group(monkeypatch):
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    with pytest.raises(ValueError, match="has not been initialized"):
        DistributedSampler(range(4))
    dist.init_process_group()
    try:
        sampler = DistributedSampler(range(4), shuffle=False)
        assert (sampler.num_replicas, sampler.rank, list(sampler)) == (1, 0, [0, 1, 2, 3])
    finally:
        dist.destroy_process_group()


def test_data_loader_serves_the_sampler_s_indices_in_its_order():
    data = TensorDataset(autograd.arange(11))
    sampler = DistributedSampler(data, num_replicas=3, rank=2, seed=1)
    loader = DataLoader(data, batch_size=2, sampler=sampler)
    served = np.concatenate([b.numpy() for (b,) in loader]).tolist()
    assert served == list(sampler) and len(loader) == 2 == -(-len(sampler) // 2)
    assert len(DataLoader(data, batch_size=2, sampler=sampler, drop_last=True)) == 2
    generic = DataLoader(list(range(11)), batch_size=4, sampler=[10, 0, 5])
    assert [b.tolist() for b in generic] == [[10, 0, 5]]


def test_sampler_and_shuffle_are_exclusive_as_in_torch():
    data = TensorDataset(autograd.arange(4))
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(data, sampler=DistributedSampler(data, 1, 0), shuffle=True)


def test_sampler_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        iter(Sampler())
