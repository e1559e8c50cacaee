"""DataLoader, TensorDataset, Subset and random_split semantics, and the seed
articles' linear regression by batch, stochastic and mini-batch gradient descent."""

import numpy as np
import pytest

import autograd
from autograd.data import (
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    datasets,
    default_collate,
    random_split,
)


def _indexed(n=10):
    """A TensorDataset whose x row i holds i, so batches reveal the indices."""
    x = autograd.arange(n, dtype=autograd.float32).reshape(n, 1) * autograd.ones(1, 3)
    return TensorDataset(x, autograd.arange(n))


def _epoch_indices(loader):
    return np.concatenate([y.numpy() for _, y in loader])


class Squares(Dataset):
    """A generic dataset: (tensor feature, int label, float target)."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return autograd.tensor([i, i * i], dtype=autograd.float32), i, float(i) / 2


# ---------------------------------------------------------------- TensorDataset
def test_tensor_dataset_items_are_tuples_of_rows():
    ds = _indexed(4)
    x, y = ds[2]
    assert len(ds) == 4
    assert isinstance(x, autograd.Tensor) and x.shape == (3,) and y.item() == 2
    np.testing.assert_array_equal(x.numpy(), [2, 2, 2])


def test_tensor_dataset_size_mismatch_names_sizes():
    with pytest.raises(ValueError, match=r"size mismatch.*\[5, 4\]"):
        TensorDataset(autograd.zeros(5, 2), autograd.zeros(4))


def test_tensor_dataset_rejects_empty_and_0d():
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-dimensional"):
        TensorDataset(autograd.zeros(3), autograd.tensor(1.0))


def test_tensor_dataset_accepts_numpy_keeping_dtype():
    ds = TensorDataset(np.zeros((3, 2)), np.arange(3))
    assert ds.tensors[0].dtype == np.float64 and ds.tensors[1].dtype == np.int64


def test_dataset_base_is_abstract():
    with pytest.raises(NotImplementedError):
        len(Dataset())
    with pytest.raises(NotImplementedError):
        Dataset()[0]


# ---------------------------------------------------------------- DataLoader basics
def test_batches_shapes_and_last_partial_batch():
    loader = DataLoader(_indexed(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 == len(batches)
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    np.testing.assert_array_equal(_epoch_indices(loader), np.arange(10))
    x, y = batches[0]
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert not x.requires_grad and x.grad_fn is None


def test_drop_last():
    loader = DataLoader(_indexed(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [y.shape[0] for _, y in loader] == [4, 4]
    assert len(DataLoader(_indexed(8), batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(_indexed(3), batch_size=4, drop_last=True)) == 0
    assert list(DataLoader(_indexed(3), batch_size=4, drop_last=True)) == []


@pytest.mark.parametrize("n, bs", [(10, 1), (10, 3), (10, 10), (10, 11), (1, 1)])
def test_len_matches_torch(n, bs):
    torch = pytest.importorskip("torch")
    tds = torch.utils.data.TensorDataset(torch.zeros(n))
    for drop_last in (False, True):
        ours = DataLoader(_indexed(n), batch_size=bs, drop_last=drop_last)
        theirs = torch.utils.data.DataLoader(tds, batch_size=bs, drop_last=drop_last)
        assert len(ours) == len(theirs) == len(list(ours))


def test_batch_size_len_gives_one_batch():
    ds = datasets.linear(n=50)
    (batch,) = list(DataLoader(ds, batch_size=len(ds), shuffle=True, seed=1))
    assert batch[0].shape == (50, 1)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_indexed(), batch_size=bad)


def test_batches_are_copies():
    ds = _indexed(4)
    x, _ = next(iter(DataLoader(ds, batch_size=4)))
    x.data[...] = -1
    assert ds.tensors[0].numpy().min() == 0


# ---------------------------------------------------------------- shuffling
def test_shuffle_covers_each_index_once_and_changes_per_epoch():
    loader = DataLoader(_indexed(50), batch_size=7, shuffle=True, seed=3)
    first, second = _epoch_indices(loader), _epoch_indices(loader)
    for epoch in (first, second):
        np.testing.assert_array_equal(np.sort(epoch), np.arange(50))
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.arange(50))


def test_same_seed_same_orders():
    a = DataLoader(_indexed(30), batch_size=4, shuffle=True, seed=7)
    b = DataLoader(_indexed(30), batch_size=4, shuffle=True, seed=7)
    c = DataLoader(_indexed(30), batch_size=4, shuffle=True, seed=8)
    for _ in range(2):
        order_a = _epoch_indices(a)
        np.testing.assert_array_equal(order_a, _epoch_indices(b))
        assert not np.array_equal(order_a, _epoch_indices(c))


def test_manual_seed_makes_unseeded_shuffle_reproducible():
    loader = DataLoader(_indexed(30), batch_size=4, shuffle=True)
    autograd.manual_seed(0)
    first = [_epoch_indices(loader) for _ in range(2)]
    autograd.manual_seed(0)
    again = [_epoch_indices(loader) for _ in range(2)]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[0], first[1])
    autograd.manual_seed(1)
    assert not np.array_equal(_epoch_indices(loader), first[0])


def test_seeded_loader_ignores_manual_seed():
    a = DataLoader(_indexed(30), batch_size=4, shuffle=True, seed=5)
    autograd.manual_seed(0)
    order = _epoch_indices(a)
    autograd.manual_seed(1)
    np.testing.assert_array_equal(order, _epoch_indices(
        DataLoader(_indexed(30), batch_size=4, shuffle=True, seed=5)))


def test_drop_last_with_shuffle_drops_a_random_tail():
    loader = DataLoader(_indexed(10), batch_size=4, shuffle=True, drop_last=True, seed=0)
    seen = _epoch_indices(loader)
    assert len(seen) == 8 and len(set(seen.tolist())) == 8


# ---------------------------------------------------------------- Subset, random_split
def test_subset_and_loader_fast_path_agree_with_items():
    ds = _indexed(10)
    sub = Subset(Subset(ds, [9, 7, 5, 3, 1]), [4, 0, 2])
    assert len(sub) == 3 and sub[0][1].item() == 1
    (x, y), = list(DataLoader(sub, batch_size=3))
    np.testing.assert_array_equal(y.numpy(), [1, 9, 5])
    np.testing.assert_array_equal(x.numpy()[:, 0], [1, 9, 5])


def test_random_split_counts_and_fractions():
    ds = _indexed(10)
    parts = random_split(ds, [7, 3], seed=0)
    assert [len(p) for p in parts] == [7, 3]
    seen = sorted(i for p in parts for i in p.indices)
    assert seen == list(range(10))
    assert [len(p) for p in random_split(_indexed(11), [0.5, 0.5], seed=0)] == [6, 5]
    assert [len(p) for p in random_split(_indexed(10), [0.8, 0.2], seed=0)] == [8, 2]
    again = random_split(ds, [7, 3], seed=0)
    assert parts[1].indices == again[1].indices


def test_random_split_fraction_lengths_match_torch():
    torch = pytest.importorskip("torch")
    for n, fracs in [(11, [0.5, 0.5]), (10, [0.3, 0.3, 0.4]), (7, [0.25, 0.25, 0.5])]:
        theirs = torch.utils.data.random_split(range(n), fracs)
        ours = random_split(_indexed(n), fracs, seed=0)
        assert [len(p) for p in ours] == [len(p) for p in theirs]


def test_random_split_unseeded_follows_manual_seed():
    autograd.manual_seed(4)
    a = random_split(_indexed(20), [10, 10])
    autograd.manual_seed(4)
    b = random_split(_indexed(20), [10, 10])
    assert a[0].indices == b[0].indices


def test_random_split_bad_lengths():
    with pytest.raises(ValueError, match=r"sum of input lengths \(9\).*\(10\)"):
        random_split(_indexed(10), [5, 4])
    with pytest.raises(ValueError, match="non-negative integers"):
        random_split(_indexed(10), [5.5, 4.5])


# ---------------------------------------------------------------- generic datasets
def test_generic_dataset_collates_fields():
    loader = DataLoader(Squares(), batch_size=2)
    batches = list(loader)
    assert len(batches) == len(loader) == 3
    x, label, target = batches[1]
    np.testing.assert_array_equal(x.numpy(), [[2, 4], [3, 9]])
    assert x.dtype == np.float32
    assert label.dtype == np.int64 and label.tolist() == [2, 3]
    assert target.dtype == np.float64 and target.tolist() == [1.0, 1.5]
    assert batches[2][0].shape == (1, 2)


def test_generic_dataset_shuffle_is_seeded():
    a = [b[1].tolist() for b in DataLoader(Squares(), batch_size=5, shuffle=True, seed=2)]
    b = [b[1].tolist() for b in DataLoader(Squares(), batch_size=5, shuffle=True, seed=2)]
    assert a == b and sorted(a[0]) == [0, 1, 2, 3, 4]


def test_default_collate_matches_torch_structure():
    batch = default_collate([
        {"x": np.ones(2, dtype=np.float64), "n": np.int32(3), "name": "a", "ok": True},
        {"x": np.zeros(2, dtype=np.float64), "n": np.int32(4), "name": "b", "ok": False},
    ])
    assert batch["x"].shape == (2, 2) and batch["x"].dtype == np.float64
    assert batch["n"].dtype == np.int32 and batch["name"] == ["a", "b"]
    assert batch["ok"].dtype == np.bool_
    lists = default_collate([[1, 2.0], [3, 4.0]])
    assert isinstance(lists, list) and lists[0].tolist() == [1, 3]


def test_default_collate_errors():
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="same number of fields"):
        default_collate([(1, 2), (1,)])


def test_custom_collate_fn_is_used_for_tensor_datasets():
    loader = DataLoader(_indexed(4), batch_size=2, collate_fn=len)
    assert list(loader) == [2, 2]


# ---------------------------------------------------------------- the seed articles
def _fit_linear(loader, lr, epochs, decay=0.0):
    """y ≈ w·x + b by plain autograd: MSE, backward, a manual step under no_grad."""
    w = autograd.zeros(1, requires_grad=True)
    b = autograd.zeros(1, requires_grad=True)
    for epoch in range(epochs):
        step = lr / (1 + decay * epoch)
        for x, y in loader:
            loss = ((x * w + b - y) ** 2).mean()
            loss.backward()
            with autograd.no_grad():
                w -= step * w.grad
                b -= step * b.grad
            w.grad = b.grad = None
    return w.item(), b.item()


@pytest.fixture(scope="module")
def regression():
    ds = datasets.linear(n=100, seed=0)
    x, y = (t.numpy().astype(np.float64) for t in ds.tensors)
    (w_ls, b_ls), *_ = np.linalg.lstsq(np.hstack([x, np.ones_like(x)]), y[:, 0], rcond=None)
    return ds, w_ls, b_ls


@pytest.mark.parametrize(
    "kind, batch_size, lr, epochs, decay, tol",
    [
        ("batch", None, 0.3, 300, 0.0, 1e-3),
        # a decaying step tames the noise of small batches; over seeds 0..9 these
        # land within 0.05 of least squares
        ("stochastic", 1, 0.02, 20, 0.3, 0.15),
        ("mini-batch", 16, 0.2, 60, 0.3, 0.15),
    ],
)
def test_linear_regression_by_gradient_descent(regression, kind, batch_size, lr, epochs,
                                               decay, tol):
    ds, w_ls, b_ls = regression
    loader = DataLoader(ds, batch_size=batch_size or len(ds), shuffle=True, seed=0)
    w, b = _fit_linear(loader, lr, epochs, decay)
    assert abs(w - w_ls) < tol and abs(b - b_ls) < tol, (kind, w, b, w_ls, b_ls)
    assert abs(w - 3) < 0.5 and abs(b - 4) < 0.5  # the line the data came from
