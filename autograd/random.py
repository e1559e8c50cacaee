"""One random generator for everything random in chaingrad.

``manual_seed(n)`` reseeds it, so factories (``randn``...), ``nn.init``,
Dropout masks and unseeded DataLoader shuffles all become reproducible.
"""

from __future__ import annotations

import numpy as np

_generator = [np.random.default_rng()]


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator that every random op draws from; returns it."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    _generator[0] = np.random.default_rng(int(seed) % 2**64)
    return _generator[0]


def default_generator() -> np.random.Generator:
    """The generator random ops draw from."""
    return _generator[0]
