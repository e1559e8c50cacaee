"""CuPy behind the ``"cuda"`` device type.

Nothing here imports CuPy until :func:`load` runs, which happens the first time
a ``"cuda"`` device is asked for. Without CuPy, or without a GPU, :func:`load`
raises a RuntimeError saying what is missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .library import Library

INSTALL_HINT = (
    "install CuPy for your CUDA version, e.g. pip install 'chaingrad[gpu]' "
    "(CuPy for CUDA 13: cupy-cuda13x)"
)


def available() -> bool:
    """True if CuPy imports and sees at least one GPU (imports CuPy, starts nothing else)."""
    try:
        return load().device_count() > 0
    except RuntimeError:
        return False


_loaded: list = []


def load() -> Any:
    """The CuPy library, ready for use; RuntimeError when CuPy or a GPU is missing."""
    if _loaded:
        return _loaded[0]
    try:
        import cupy
        import cupyx
        import cupyx.scipy.special
    except ImportError as err:
        raise RuntimeError(
            f"device 'cuda' needs CuPy, which is not installed ({err}); {INSTALL_HINT}"
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as err:
        raise RuntimeError(f"device 'cuda': CuPy is installed but found no usable GPU "
                           f"({err})") from None
    if count == 0:
        raise RuntimeError("device 'cuda': CuPy is installed but found no GPU")
    lib = CupyLibrary(cupy, cupyx)
    _loaded.append(lib)
    return lib


class CupyLibrary(Library):
    """CuPy, on NVIDIA GPUs (made by :func:`load` once CuPy imported)."""

    device_type = "cuda"

    def __init__(self, cupy: Any, cupyx: Any) -> None:
        self.cupy, self.cupyx = cupy, cupyx
        self.xp = cupy
        self.array_types = (cupy.ndarray,)
        self.generators: dict[int, Any] = {}
        self.seed: int | None = None

    def index_of(self, array: Any) -> int:
        return array.device.id

    def current_index(self) -> int:
        return self.cupy.cuda.runtime.getDevice()

    def on(self, index: int | None) -> Any:
        return self.cupy.cuda.Device(index)

    def to_host(self, array: Any) -> np.ndarray:
        return self.cupy.asnumpy(array)

    def from_host(self, array: np.ndarray, index: int | None) -> Any:
        with self.cupy.cuda.Device(index):
            return self.cupy.asarray(array)

    def scatter_add(self, out: Any, index: Any, values: Any) -> None:
        if hasattr(self.cupy.add, "at"):  # ufunc.at: CuPy 13 and later
            self.cupy.add.at(out, index, values)
        else:
            self.cupyx.scatter_add(out, index, values)

    def erf(self, x: Any) -> Any:
        return self.cupyx.scipy.special.erf(x).astype(x.dtype, copy=False)

    def sigmoid(self, x: Any) -> Any:
        return self.cupyx.scipy.special.expit(x).astype(x.dtype, copy=False)

    def synchronize(self, index: int | None) -> None:
        self.cupy.cuda.Device(index).synchronize()

    def device_count(self) -> int:
        return self.cupy.cuda.runtime.getDeviceCount()

    def generator(self, index: int | None) -> Any:
        """GPU ``index``'s random state, seeded by ``manual_seed``."""
        state = self.generators.get(index)
        if state is None:
            with self.cupy.cuda.Device(index):
                state = self.cupy.random.RandomState(self.seed)
            self.generators[index] = state
        return state

    def manual_seed(self, seed: int) -> None:
        self.seed = seed
        self.generators.clear()
