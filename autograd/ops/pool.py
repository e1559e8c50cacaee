"""2-D max and average pooling (NCHW), offset by offset over strided slices.

Each op reads, for kernel offset k, the strided slice of the padded input that
all output pixels read at k (see ``window.py``), so a pooling pass is kh·kw
numpy calls over whole arrays. The gradient of each op is a scatter back
through the same slices, and the gradient of that scatter is the gather again:
max_pool2d / max_pool2d_grad / gather_winners and avg_pool2d / avg_pool2d_grad
are closed under differentiation (double backward works).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Op
from .window import Window2d


def lowest(dtype: np.dtype) -> float:
    """The padding value max pooling never picks: -inf (the minimum for ints)."""
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def first_max(patches: np.ndarray) -> np.ndarray:
    """Boolean (K, N, C, Ho, Wo): True at the first maximal entry over axis 0.

    The first one wins ties and NaN counts as maximal, as PyTorch's max pooling
    picks its index.
    """
    top = patches.max(axis=0)
    winners = patches == top
    if not backend.is_cpu(top) or np.isnan(top).any():  # on a GPU, never wait to look
        winners |= np.isnan(patches)
    taken = winners[0].copy()
    for k in range(1, len(winners)):
        winners[k] &= ~taken
        taken |= winners[k]
    return winners


def pick(winners: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` where ``winners`` is True, exactly 0 elsewhere, even for inf or NaN
    values (which a product would turn into NaN): the bits of ``values`` ANDed with
    a mask of all ones or all zeros. As fast as the product (0.21 against 0.17 ms
    on benchmarks/cnn_step.py's first pool; ``np.where`` took 2.3 ms), with no look
    at the values first (on a GPU that would wait for it; a trace must not)."""
    ints = np.dtype(f"int{values.dtype.itemsize * 8}")
    mask = winners.astype(ints)
    np.negative(mask, out=mask)  # True (1) -> -1: every bit set
    return np.bitwise_and(values.view(ints), mask).view(values.dtype)


def unpad(padded: np.ndarray, window: Window2d) -> np.ndarray:
    """The unpadded region as a contiguous array (no copy without padding)."""
    return backend.contiguous(window.crop(padded)) if any(window.padding) else padded


class MaxPool2dOp(Op):
    """z[n, c, p, q] = max over the window at (p, q) of x (padding never wins).
    dz/dx: 1 at the window's first maximal element, 0 elsewhere (PyTorch's rule)"""

    __slots__ = ("window",)

    def forward(self, x, window=None):
        self.window = window
        patches = window.gather(window.pad(x, lowest(x.dtype)))  # (kh·kw, N, C, Ho, Wo)
        self.saved = (patches,)
        return patches.max(axis=0)

    def backward(self, g):
        winners = first_max(self.saved[0])
        return (MaxPool2dGrad.apply(g, winners=winners, window=self.window),)

    def name(self) -> str:
        return "MaxPool2DWithIndicesBackward0"


class MaxPool2dGrad(Op):
    """z = g scattered to each window's winning input pixel (summed where
    windows overlap).   Linear in g:  dz/dg · gz = gz read at the winners"""

    __slots__ = ("window", "winners")

    def forward(self, g, winners=None, window=None):
        self.window, self.winners = window, winners
        padded = window.scatter(pick(winners, g), g.shape[:2], g.dtype)
        return unpad(padded, window)

    def backward(self, gz):
        return (GatherWinners.apply(gz, winners=self.winners, window=self.window),)


class GatherWinners(Op):
    """z[n, c, p, q] = x at the winning pixel of window (p, q).
    Linear in x:  dz/dx · g = max_pool2d_grad(g)"""

    __slots__ = ("window", "winners")

    def forward(self, x, winners=None, window=None):
        self.window, self.winners = window, winners
        patches = window.gather(window.pad(x))
        return np.sum(pick(winners, patches), axis=0, dtype=x.dtype)

    def backward(self, g):
        return (MaxPool2dGrad.apply(g, winners=self.winners, window=self.window),)


class AvgPool2dOp(Op):
    """z[n, c, p, q] = (Σ over the window at (p, q) of x_pad) / divisor.
    dz/dx · g = avg_pool2d_grad(g): each g / divisor spread over its window"""

    __slots__ = ("window", "divisor")

    def forward(self, x, window=None, divisor=1.0):
        self.window, self.divisor = window, divisor
        xp = window.pad(x)
        slices = iter(window.slices())
        total = xp[(..., *next(slices))].copy()
        for rows, cols in slices:
            total += xp[..., rows, cols]
        total /= divisor
        return total

    def backward(self, g):
        return (AvgPool2dGrad.apply(g, window=self.window, divisor=self.divisor),)


class AvgPool2dGrad(Op):
    """z = each g[n, c, p, q] / divisor added over the input pixels of window (p, q).
    Linear in g:  dz/dg · gz = avg_pool2d(gz)"""

    __slots__ = ("window", "divisor")

    def forward(self, g, window=None, divisor=1.0):
        self.window, self.divisor = window, divisor
        share = (g / divisor).astype(g.dtype, copy=False)
        values = np.broadcast_to(share, (window.offsets, *share.shape))
        return unpad(window.scatter(values, g.shape[:2], g.dtype), window)

    def backward(self, gz):
        return (AvgPool2dOp.apply(gz, window=self.window, divisor=self.divisor),)
