"""``F.dropout``: inverted dropout, masks from the shared random generator."""

from __future__ import annotations

import numpy as np

from autograd.backend import random
from autograd.function import constant
from autograd.tensor import Tensor, expect_tensor


def check_probability(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1 - p), so
    the expected value is unchanged; identity when not ``training``.

    y = x · m with m = 1{u ≥ p} / (1 - p), u ~ U[0, 1) from
    the input's device's generator (``autograd.manual_seed`` fixes it);
    dy/dx = m, one Mul node.
    """
    expect_tensor(input, "dropout")
    check_probability(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = random.rand_like(input.data, np.float32) >= p
    mask = np.multiply(keep, 1.0 / (1.0 - p), dtype=input.dtype)
    return input * constant(mask)
