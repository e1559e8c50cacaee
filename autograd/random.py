"""Randomness as users see it: ``manual_seed``, the host generator, and
``multinomial``. The generators themselves live in :mod:`autograd.backend.random`
(one for the host, one per GPU); ``manual_seed(n)`` reseeds them all, so
factories (``randn``...), ``nn.init``, Dropout masks and unseeded DataLoader
shuffles all become reproducible.
"""

from __future__ import annotations

import numpy as np

from .backend.random import default_generator, manual_seed

__all__ = ["default_generator", "manual_seed", "multinomial"]


def multinomial(weights: np.ndarray, num_samples: int, replacement: bool = False,
                generator: np.random.Generator | None = None) -> np.ndarray:
    """Category indices drawn from each row of ``weights`` (1-D or 2-D, non-negative,
    not necessarily normalised), as ``torch.multinomial``; int64, shape
    ``(..., num_samples)``.

    With replacement: inverse-CDF sampling, u ~ U[0, Σw) searched in the running
    sums (a zero-weight category is never drawn). Without: each category gets the
    key w / e with e ~ Exp(1), and the ``num_samples`` largest keys win, which
    draws without replacement with probabilities proportional to w (the method
    PyTorch uses); zero-weight categories come last.
    """
    if weights.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, "
                           f"got {weights.dtype}")
    if weights.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape "
                           f"{tuple(weights.shape)}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError(f"multinomial: num_samples must be an int, got {num_samples!r}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples "
                           f"(got {num_samples})")
    n = weights.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           f"without replacement ({num_samples} > {n})")
    w = np.atleast_2d(weights).astype(np.float64)
    if not len(w):  # no rows: nothing to draw, as PyTorch
        return np.zeros((0, num_samples), np.int64)
    if n == 0:
        raise RuntimeError(f"multinomial: the distribution has no categories (input of "
                           f"shape {tuple(weights.shape)})")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    totals = w.sum(axis=1)
    if np.any(totals <= 0):
        raise RuntimeError("multinomial: invalid multinomial distribution "
                           "(sum of probabilities <= 0)")
    rng = generator if generator is not None else default_generator()
    if replacement:
        cdf = np.cumsum(w, axis=1)
        u = rng.random((len(w), num_samples)) * totals[:, None]
        out = np.stack([np.searchsorted(c, row, side="right") for c, row in zip(cdf, u)])
        # u < Σw, so only rounding could reach past the end: take the last category
        # with weight instead
        last = n - 1 - np.argmax(w[:, ::-1] > 0, axis=1)
        out = np.minimum(out, last[:, None])
    else:
        with np.errstate(divide="ignore"):
            keys = w / rng.standard_exponential(w.shape)
        out = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype(np.int64)
    return out if weights.ndim == 2 else out[0]
