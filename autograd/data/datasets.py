"""Small data sets that need no network, each a :class:`TensorDataset` ``(x, y)``.

* :func:`digits`: the 8x8 handwritten digits that scikit-learn ships (real data);
* :func:`moons`, :func:`spirals`: two-dimensional classification toys;
* :func:`linear`: the linear-regression data of the gradient-descent examples;
* :func:`text`: a character-level corpus of English prose that Python ships (its
  help topics), for language models.

Everything is deterministic given ``seed``: features are float32, class labels
int64, as ``nn.CrossEntropyLoss`` expects.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..function import constant
from ..tensor import Tensor
from .dataset import Dataset, TensorDataset


def _dataset(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    return TensorDataset(constant(x), constant(y))


def _check_count(name: str, **counts: int) -> None:
    for arg, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")


def _check_noise(name: str, noise: float) -> None:
    if not noise >= 0:
        raise ValueError(f"{name}: noise must be non-negative, got {noise!r}")


def digits(train: bool = True, test_size: float = 0.2, seed: int = 0) -> TensorDataset:
    """The 1797 8x8 handwritten digits of scikit-learn (UCI optdigits), split.

    ``x`` is (N, 64) float32 in [0, 1] (pixel intensities 0..16 divided by 16;
    ``x.reshape(-1, 1, 8, 8)`` gives images for a Conv2d), ``y`` is (N,) int64 in
    0..9. The split is scikit-learn's usual one,
    ``train_test_split(x, y, test_size=test_size, random_state=seed)`` (1437 train /
    360 test by default), so results compare with the many published on it;
    ``train=True`` and ``train=False`` with the same seed are disjoint and together
    cover every sample. Needs scikit-learn, which ships the data file.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"digits: test_size must lie strictly between 0 and 1, got {test_size!r}")
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as err:
        raise ImportError(
            "digits() reads the data set that scikit-learn ships; install it with "
            '`pip install "chaingrad[train]"` or `pip install scikit-learn`'
        ) from err
    bunch = load_digits()
    labels = bunch.target.astype(np.int64)
    train_rows, test_rows = train_test_split(
        np.arange(len(labels)), test_size=test_size, random_state=seed
    )
    rows = train_rows if train else test_rows
    return _dataset((bunch.data[rows] / 16).astype(np.float32), labels[rows])


def moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> TensorDataset:
    """Two interleaving half circles: a classic set no straight line separates.

    Class 0 is the upper arc (cos t, sin t), class 1 the lower one
    (1 - cos t, 0.5 - sin t), t evenly spaced in [0, π]; Gaussian noise of standard
    deviation ``noise`` is added to every point. ``x`` is (n, 2) float32, ``y``
    (n,) int64 with ``n // 2`` zeros then ``n - n // 2`` ones (shuffle in the
    DataLoader).
    """
    _check_count("moons", n=n)
    _check_noise("moons", noise)
    rng = np.random.default_rng(seed)
    n_upper = n // 2
    t_upper = np.linspace(0, np.pi, n_upper)
    t_lower = np.linspace(0, np.pi, n - n_upper)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    x = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_upper, n - n_upper])
    return _dataset(x.astype(np.float32), y)


def spirals(
    n_per_class: int = 100, classes: int = 3, seed: int = 0, noise: float = 0.2
) -> TensorDataset:
    """``classes`` interleaved spiral arms (the CS231n example of a set a linear
    classifier cannot fit but a small MLP can).

    Arm k has radius r evenly spaced in [0, 1] and angle θ = 4k + 4r (radians)
    plus Gaussian noise of standard deviation ``noise``; its points are
    (r sin θ, r cos θ). ``x`` is (n_per_class·classes, 2) float32 in [-1, 1],
    ``y`` the arm index as int64, arm by arm (shuffle in the DataLoader).
    """
    _check_count("spirals", n_per_class=n_per_class, classes=classes)
    _check_noise("spirals", noise)
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0, 1, n_per_class), classes)
    y = np.repeat(np.arange(classes, dtype=np.int64), n_per_class)
    theta = 4 * (y + radius) + noise * rng.standard_normal(len(y))
    x = np.stack([radius * np.sin(theta), radius * np.cos(theta)], axis=1)
    return _dataset(x.astype(np.float32), y)


def linear(
    n: int = 100, seed: int = 0, w: float = 3.0, b: float = 4.0, noise: float = 1.0
) -> TensorDataset:
    """Linear-regression data: x uniform in [0, 2), y = b + w·x + noise·ε, ε ~ N(0, 1).

    The defaults are the gradient-descent examples' y = 4 + 3x + ε; those
    examples also fit y = 2x + 3, which is ``linear(w=2, b=3)``. ``x`` and ``y``
    are (n, 1) float32. With noise the best fit is the least-squares line of
    these n points, not exactly (w, b).
    """
    _check_count("linear", n=n)
    _check_noise("linear", noise)
    rng = np.random.default_rng(seed)
    x = 2 * rng.random((n, 1))
    y = b + w * x + noise * rng.standard_normal((n, 1))
    return _dataset(x.astype(np.float32), y.astype(np.float32))


# --------------------------------------------------------------------------- text

#: The share of the corpus (its first characters) that ``text(split="train")`` holds.
TRAIN_FRACTION = 0.9


@functools.lru_cache(maxsize=1)
def help_topics() -> str:
    """The text of the help topics behind ``help("if")``, ``help("FORMATTING")``...
    (the standard library's ``pydoc_data.topics``), joined in sorted topic order with
    a newline between topics. English prose with Python code in it, about 465,000
    characters on Python 3.11; the exact text varies a little between Python versions."""
    try:
        from pydoc_data.topics import topics
    except ImportError as err:  # some Linux distributions split it into another package
        raise ImportError("text(): this Python has no pydoc_data module (the help topics); "
                          "install your distribution's full Python standard library") from err
    return "\n".join(topics[name] for name in sorted(topics))


class TextDataset(Dataset):
    """Overlapping windows of a character-level corpus, for next-character prediction.

    Sample ``i`` is ``(x, y)``: ``x`` the ``block_size`` character ids from position
    ``i``, ``y`` the same window one character later (the target at every
    position is the next character). ``vocab`` is the string of all characters
    (id ``k`` is ``vocab[k]``); ``encode`` and ``decode`` map between text and ids;
    ``data`` holds the whole split as one int64 Tensor.
    """

    def __init__(self, text: str, vocab: str, block_size: int, split: str) -> None:
        self.vocab = vocab
        self.vocab_size = len(vocab)
        self.block_size = block_size
        self.split = split
        self._index = {c: i for i, c in enumerate(vocab)}
        self.data = constant(np.array(self.encode(text), dtype=np.int64))

    def encode(self, text: str) -> list[int]:
        """The id of each character of ``text``."""
        try:
            return [self._index[c] for c in text]
        except KeyError as err:
            raise ValueError(f"encode: character {err.args[0]!r} is not in the vocabulary "
                             f"of {self.vocab_size} characters") from None

    def decode(self, ids: Any) -> str:
        """The text of a sequence of ids (a list, an array or an integer Tensor)."""
        if isinstance(ids, Tensor):
            ids = ids.data
        flat = np.asarray(ids).reshape(-1)
        if flat.size and (flat.dtype.kind not in "iu" or flat.min() < 0
                          or flat.max() >= self.vocab_size):
            raise ValueError(f"decode: ids must be integers in [0, {self.vocab_size}), got "
                             f"{flat.dtype} values in [{flat.min()}, {flat.max()}]")
        return "".join(self.vocab[i] for i in flat.tolist())

    def __len__(self) -> int:
        return max(len(self.data) - self.block_size, 0)

    def __getitem__(self, index: Any) -> tuple:
        n = len(self)
        i = int(index)
        if not -n <= i < n:
            raise IndexError(f"TextDataset: index {index} is out of range for {n} windows")
        i %= n
        ids = self.data.data
        return constant(ids[i:i + self.block_size]), constant(ids[i + 1:i + 1 + self.block_size])

    def __repr__(self) -> str:
        return (f"TextDataset(split={self.split!r}, {len(self.data)} characters, "
                f"vocab_size={self.vocab_size}, block_size={self.block_size})")


def text(block_size: int = 64, split: str = "train") -> TextDataset:
    """Python's help topics as a character-level corpus (see :func:`help_topics`).

    The first 90% of the characters are ``split="train"``, the last 10% ``"val"``
    (a fixed cut, so both splits are the same on every call); the vocabulary is
    every character of the whole corpus (103 on Python 3.11), sorted, so both
    splits share it. Each sample is a window of ``block_size`` ids and its
    next-character targets (:class:`TextDataset`).
    """
    _check_count("text", block_size=block_size)
    if split not in ("train", "val"):
        raise ValueError(f"text: split must be 'train' or 'val', got {split!r}")
    corpus = help_topics()
    cut = int(len(corpus) * TRAIN_FRACTION)
    part = corpus[:cut] if split == "train" else corpus[cut:]
    if block_size >= len(part):
        raise ValueError(f"text: block_size {block_size} must be smaller than the "
                         f"{split} split ({len(part)} characters)")
    return TextDataset(part, "".join(sorted(set(corpus))), block_size, split)
