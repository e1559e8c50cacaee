"""The bundled data sets: shapes, dtypes, ranges, determinism and the digits split."""

import sys

import numpy as np
import pytest

from autograd.data import TensorDataset, datasets


def _arrays(ds):
    assert isinstance(ds, TensorDataset) and len(ds.tensors) == 2
    return tuple(t.numpy() for t in ds.tensors)


# ---------------------------------------------------------------- digits
@pytest.fixture(scope="module")
def digit_splits():
    pytest.importorskip("sklearn")
    return _arrays(datasets.digits(train=True)), _arrays(datasets.digits(train=False))


def test_digits_shapes_dtypes_ranges(digit_splits):
    (x_train, y_train), (x_test, y_test) = digit_splits
    assert x_train.shape[1:] == x_test.shape[1:] == (64,)
    assert len(x_train) + len(x_test) == 1797
    assert abs(len(x_test) - 0.2 * 1797) <= 10
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0 and x_train.max() == 1
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))


def test_digits_split_is_disjoint_cover_and_sklearns_split(digit_splits):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    (x_train, y_train), (x_test, y_test) = digit_splits
    full = load_digits()
    rows = np.concatenate([x_train, x_test]) * 16
    keyed = {(tuple(r), int(t)) for r, t in zip(rows, np.concatenate([y_train, y_test]))}
    truth = {(tuple(r), int(t)) for r, t in zip(full.data, full.target)}
    assert keyed == truth  # every sample once (the set has 1797 distinct rows)
    assert len(truth) == 1797
    assert (len(y_train), len(y_test)) == (1437, 360)
    _, x_ref, _, y_ref = train_test_split(full.data, full.target, test_size=0.2, random_state=0)
    np.testing.assert_array_equal(y_test, y_ref)
    np.testing.assert_array_equal(x_test * 16, x_ref)


def test_digits_deterministic_by_seed(digit_splits):
    (_, y_test) = digit_splits[1]
    x_again, y_again = _arrays(datasets.digits(train=False, seed=0))
    np.testing.assert_array_equal(y_test, y_again)
    np.testing.assert_array_equal(digit_splits[1][0], x_again)
    x_other, _ = _arrays(datasets.digits(train=False, seed=1))
    assert x_other.shape != digit_splits[1][0].shape or not np.array_equal(
        x_other, digit_splits[1][0])
    x_half, _ = _arrays(datasets.digits(train=False, test_size=0.5))
    assert abs(len(x_half) - 898) <= 10


def test_digits_bad_test_size():
    with pytest.raises(ValueError, match="test_size"):
        datasets.digits(test_size=1.5)


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "chaingrad\[train\]".*scikit-learn'):
        datasets.digits()


# ---------------------------------------------------------------- moons, spirals
def test_moons():
    x, y = _arrays(datasets.moons())
    assert x.shape == (200, 2) and y.shape == (200,)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100, 100]
    x_clean, y_clean = _arrays(datasets.moons(n=101, noise=0.0))
    assert np.bincount(y_clean).tolist() == [50, 51]
    upper, lower = x_clean[y_clean == 0], x_clean[y_clean == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1, atol=1e-6)
    assert upper[:, 1].min() >= 0 and lower[:, 1].max() <= 0.5 + 1e-6
    # the two arcs interleave: no vertical or horizontal line separates them
    assert lower[:, 0].min() < upper[:, 0].max() and upper[:, 1].min() < lower[:, 1].max()


def test_spirals():
    x, y = _arrays(datasets.spirals())
    assert x.shape == (300, 2) and y.shape == (300,)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100, 100, 100]
    assert np.abs(x).max() <= 1
    radius = np.hypot(*x.T)
    np.testing.assert_allclose(radius[:100], np.linspace(0, 1, 100), atol=1e-6)
    x5, y5 = _arrays(datasets.spirals(n_per_class=20, classes=5, noise=0.0))
    assert x5.shape == (100, 2) and np.bincount(y5).tolist() == [20] * 5
    # noiseless arm k at radius r sits at angle 4k + 4r
    r, theta = np.hypot(*x5.T), np.arctan2(x5[:, 0], x5[:, 1])
    expected = 4 * (y5 + r)
    np.testing.assert_allclose(np.cos(theta[r > 0]), np.cos(expected[r > 0]), atol=1e-5)


@pytest.mark.parametrize("make", [datasets.moons, datasets.spirals, datasets.linear])
def test_deterministic_by_seed(make):
    a, b, c = (_arrays(make(seed=s)) for s in (0, 0, 1))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0]) or not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("call", [
    lambda: datasets.moons(n=0), lambda: datasets.moons(noise=-1),
    lambda: datasets.spirals(classes=0), lambda: datasets.spirals(n_per_class=2.5),
    lambda: datasets.linear(n=-3), lambda: datasets.linear(noise=-0.1),
])
def test_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------- linear
def test_linear_shapes_and_line():
    x, y = _arrays(datasets.linear())
    assert x.shape == y.shape == (100, 1)
    assert x.dtype == y.dtype == np.float32
    assert x.min() >= 0 and x.max() < 2
    residual = y - (4 + 3 * x)
    assert abs(residual.mean()) < 0.3 and 0.7 < residual.std() < 1.3


def test_linear_other_line_without_noise():
    x, y = _arrays(datasets.linear(n=30, w=2, b=3, noise=0.0))
    np.testing.assert_allclose(y, 2 * x + 3, rtol=1e-6)


# ---------------------------------------------------------------- text
def test_text_splits_vocab_and_windows():
    train, val = datasets.text(16, "train"), datasets.text(16, "val")
    corpus = datasets.help_topics()
    assert train.vocab == val.vocab == "".join(sorted(set(corpus)))
    assert len(train.data) + len(val.data) == len(corpus)
    assert len(train.data) == int(0.9 * len(corpus))
    assert train.decode(train.data) + val.decode(val.data) == corpus  # the 90/10 cut
    assert len(train) == len(train.data) - 16
    x, y = train[5]
    assert x.dtype == np.int64 and x.shape == y.shape == (16,)
    assert np.array_equal(x.data[1:], y.data[:-1])  # y is x one character later
    assert train.decode(x) == corpus[5:21] and train.decode(y) == corpus[6:22]
    assert val.decode(val[-1][1]) == corpus[-16:]
    assert np.array_equal(datasets.text(16).data.data, train.data.data)  # deterministic


def test_text_encode_decode_and_errors():
    ds = datasets.text(8)
    text = "def f(x):\n    return x ** 2  # square"
    assert ds.decode(ds.encode(text)) == text
    assert ds.decode(np.array(ds.encode("abc"))) == "abc"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        ds.encode("caf\u00e9\u00e8")
    with pytest.raises(ValueError, match="decode"):
        ds.decode([0, ds.vocab_size])
    with pytest.raises(ValueError, match="split"):
        datasets.text(8, "test")
    with pytest.raises(ValueError, match="block_size"):
        datasets.text(0)
    with pytest.raises(ValueError, match="block_size"):
        datasets.text(10**6, "val")
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_text_batches_through_a_dataloader():
    from autograd.data import DataLoader

    ds = datasets.text(12)
    x, y = next(iter(DataLoader(ds, batch_size=4, shuffle=True, seed=0)))
    assert x.shape == y.shape == (4, 12) and x.dtype == np.int64
    assert np.array_equal(x.data[:, 1:], y.data[:, :-1])
