"""Random draws: one host generator for everything seeded on the CPU, and each
GPU's own generator for draws made on it (as PyTorch keeps one per device).

``manual_seed(n)`` reseeds all of them, so factories (``randn``...), ``nn.init``,
Dropout masks and DataLoader shuffles become reproducible. Parameter
initialisation draws on the host whatever the device, so a seeded model starts
identical on the CPU and on a GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _device_seed, _libraries, _target

_generator = [np.random.default_rng()]


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the host generator and every loaded device's; returns the host one."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    _generator[0] = np.random.default_rng(int(seed) % 2**64)
    manual_seed_devices(seed)
    return _generator[0]


def manual_seed_devices(seed: int) -> None:
    """Reseed the device generators only (``autograd.cuda.manual_seed``); a device
    library loaded later starts from this seed too."""
    _device_seed[0] = int(seed) % 2**64
    for lib in _libraries.values():
        lib.manual_seed(_device_seed[0])


def default_generator() -> np.random.Generator:
    """The host generator every CPU draw comes from."""
    return _generator[0]


def _draw(device: Any, host: Any, on_device: Any) -> Any:
    """``host(generator)`` on the CPU (and on devices without a generator of their
    own, copied there), else ``on_device(device generator)`` on that device."""
    lib, index = _target(None, device)
    rng = lib.generator(index)
    if rng is None:
        return lib.from_host(host(_generator[0]), index)
    with lib.on(index):
        return on_device(rng)


def rand(shape: tuple, dtype: Any, device: Any = None) -> Any:
    """Uniform samples on [0, 1)."""
    dtype = np.dtype(dtype)
    return _draw(device, lambda g: g.random(shape).astype(dtype),
                 lambda g: g.random_sample(shape, dtype=np.float64).astype(dtype))


def rand_like(array: Any, dtype: Any) -> Any:
    """Uniform samples on [0, 1) of ``array``'s shape, on its device, drawn in
    ``dtype`` (float32 draws are half the work of float64 ones)."""
    lib, index = _target(array, None)
    rng = lib.generator(index)
    if rng is None:
        return lib.from_host(_generator[0].random(array.shape, dtype=dtype), index)
    with lib.on(index):
        return rng.random_sample(array.shape, dtype=dtype)


def randn(shape: tuple, dtype: Any, device: Any = None) -> Any:
    """Standard normal samples."""
    dtype = np.dtype(dtype)
    return _draw(device, lambda g: g.standard_normal(shape, dtype=np.float64).astype(dtype),
                 lambda g: g.standard_normal(shape, dtype=np.float64).astype(dtype))


def randint(low: int, high: int, shape: tuple, dtype: Any, device: Any = None) -> Any:
    """Integers on [low, high)."""
    return _draw(device, lambda g: g.integers(low, high, size=shape).astype(dtype),
                 lambda g: g.randint(low, high, size=shape).astype(dtype))


def randperm(n: int, dtype: Any, device: Any = None) -> Any:
    """A random permutation of 0..n-1."""
    return _draw(device, lambda g: g.permutation(n).astype(dtype),
                 lambda g: g.permutation(n).astype(dtype))
