"""A test-only device that behaves like a GPU where it matters for correctness.

Its arrays (:class:`StrictArray`) hold numpy arrays inside but act as CuPy's do:

- they refuse implicit conversion to numpy (``np.asarray(a)`` raises TypeError):
  only ``backend.to_host`` copies them out;
- they refuse to meet plain numpy arrays in one operation (``a + np.ones(3)``,
  ``np.where(a, host, 0)``, indexing with a host index array...): host data must
  be moved over explicitly with ``backend.asarray(..., like=a)``;
- numbers, numpy scalars and lists mix freely, as with CuPy.

So a stray host call in an op, a layer or an optimizer fails on a machine with no
GPU. While :func:`no_sync` is active, anything that would make a GPU wait for its
results (``bool(a)``, ``a.item()``, ``float(a)``, ``a.tolist()``, copies to the
host) raises :class:`Synchronized`, as ``cupyx.allow_synchronize(False)`` does.

The device type is ``"strict"``; ``tests/devices.py`` registers it with
``autograd.backend.register``.
"""

from __future__ import annotations

import contextlib
import operator
import threading
from typing import Any

import numpy as np

from autograd.backend.library import Library


class Synchronized(RuntimeError):
    """A value was read on the host while :func:`no_sync` forbade it."""


class _SyncState(threading.local):
    allowed = True


_sync = _SyncState()


@contextlib.contextmanager
def no_sync():
    """Forbid reading device values on the host (as ``cupyx.allow_synchronize(False)``)."""
    previous, _sync.allowed = _sync.allowed, False
    try:
        yield
    finally:
        _sync.allowed = previous


def _synchronize(what: str) -> None:
    if not _sync.allowed:
        raise Synchronized(f"{what} reads a device value on the host (a synchronisation)")


def _refuse(value: Any) -> None:
    raise TypeError(
        f"strict device: an operation mixed a device array with a host "
        f"numpy.ndarray of shape {value.shape} (move it with backend.asarray(..., like=...))")


def unwrap(value: Any) -> Any:
    """``value`` with every StrictArray replaced by its numpy array; a plain numpy
    array anywhere is refused (numpy scalars, numbers and lists pass)."""
    if type(value) is StrictArray:
        return value._a
    if isinstance(value, np.ndarray):
        _refuse(value)
    if isinstance(value, (list, tuple)):
        return type(value)(unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    return value


def wrap(value: Any) -> Any:
    """numpy arrays in ``value`` (a result) as StrictArrays; numpy scalars become
    0-d arrays, as CuPy's reductions give."""
    if isinstance(value, np.ndarray):
        return StrictArray(value)
    if isinstance(value, np.generic):
        return StrictArray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(wrap(v) for v in value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


class StrictArray:
    """An array on the strict device (see the module docstring)."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, array: np.ndarray) -> None:
        self._a = array

    # ---------------------------------------------------------------- the protocols
    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError("Implicit conversion to a NumPy array is not allowed on the strict "
                        "device (as CuPy's); copy it with backend.to_host()")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        result = getattr(ufunc, method)(*unwrap(inputs), **unwrap(kwargs))
        out = kwargs.get("out")
        if out is not None:
            return out[0] if isinstance(out, tuple) and len(out) == 1 else out
        return wrap(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return wrap(func(*unwrap(args), **unwrap(kwargs)))

    # ---------------------------------------------------------------- attributes
    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    dtype = property(lambda self: self._a.dtype)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: StrictArray(self._a.T))
    mT = property(lambda self: StrictArray(self._a.mT))
    # views share their memory owner with the engine's in-place tracking
    base = property(lambda self: self._a)
    device = property(lambda self: 0)

    def __getattr__(self, name: str) -> Any:
        # methods (reshape, sum, astype, ...) run on the numpy array, results wrapped;
        # never numpy's own hooks (__array_interface__...), which would let numpy
        # read the data behind the refusal in __array__
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return wrap(attr)

        def method(*args: Any, **kwargs: Any) -> Any:
            return wrap(attr(*unwrap(args), **unwrap(kwargs)))

        return method

    # ---------------------------------------------------------------- host reads
    def item(self, *args: Any) -> Any:
        _synchronize("item()")
        return self._a.item(*args)

    def tolist(self) -> Any:
        _synchronize("tolist()")
        return self._a.tolist()

    def __bool__(self) -> bool:
        _synchronize("bool()")
        return bool(self._a)

    def __float__(self) -> float:
        _synchronize("float()")
        return float(self._a)

    def __int__(self) -> int:
        _synchronize("int()")
        return int(self._a)

    def __index__(self) -> int:
        _synchronize("an index")
        return operator.index(self._a)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self):
        return (StrictArray(row) if isinstance(row, np.ndarray) else wrap(row)
                for row in self._a)

    def __repr__(self) -> str:
        return f"StrictArray(shape={self.shape}, dtype={self.dtype})"

    # ---------------------------------------------------------------- indexing
    def __getitem__(self, index: Any) -> Any:
        return wrap(self._a[unwrap(index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        self._a[unwrap(index)] = unwrap(value)


def _binary(ufunc: Any, reflected: bool = False) -> Any:
    if reflected:
        return lambda self, other: ufunc(other, self)
    return lambda self, other: ufunc(self, other)


def _inplace(ufunc: Any) -> Any:
    def method(self: StrictArray, other: Any) -> StrictArray:
        ufunc(self, other, out=self)
        return self

    return method


for _name, _ufunc in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                      ("truediv", np.true_divide), ("floordiv", np.floor_divide),
                      ("mod", np.remainder), ("pow", np.power), ("matmul", np.matmul),
                      ("and", np.bitwise_and), ("or", np.bitwise_or),
                      ("xor", np.bitwise_xor)]:
    setattr(StrictArray, f"__{_name}__", _binary(_ufunc))
    setattr(StrictArray, f"__r{_name}__", _binary(_ufunc, reflected=True))
    setattr(StrictArray, f"__i{_name}__", _inplace(_ufunc))
for _name, _ufunc in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                      ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)]:
    setattr(StrictArray, f"__{_name}__", _binary(_ufunc))
StrictArray.__neg__ = lambda self: np.negative(self)
StrictArray.__pos__ = lambda self: self
StrictArray.__abs__ = lambda self: np.absolute(self)
StrictArray.__invert__ = lambda self: np.invert(self)
StrictArray.__hash__ = None


class _Namespace:
    """The strict device's ``xp``: numpy's functions, on StrictArrays. Creation
    functions (``zeros``, ``asarray``...) make device arrays; ``asarray`` of host
    data is the explicit host-to-device copy."""

    def __getattr__(self, name: str) -> Any:
        fn = getattr(np, name)
        if not callable(fn):
            return fn

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in ("asarray", "array"):  # an explicit copy from the host
                return wrap(np.array(_host(args[0]), *args[1:], **kwargs))
            return wrap(fn(*unwrap(args), **unwrap(kwargs)))

        return call


def _host(value: Any) -> Any:
    """Host data for an explicit copy: StrictArrays are read as they are."""
    if type(value) is StrictArray:
        return value._a
    if isinstance(value, (list, tuple)):
        return type(value)(_host(v) for v in value)
    return value


class StrictLibrary(Library):
    """The strict device behind ``autograd.device("strict")`` (tests only)."""

    device_type = "strict"
    xp = _Namespace()
    array_types = (StrictArray,)

    def index_of(self, array: Any) -> int:
        return 0

    def current_index(self) -> int:
        return 0

    def to_host(self, array: Any) -> np.ndarray:
        _synchronize("a copy to the host")
        return array._a.copy()

    def from_host(self, array: np.ndarray, index: int | None) -> StrictArray:
        if type(array) is StrictArray:
            return array
        return StrictArray(np.array(array, copy=True))

    def scatter_add(self, out: Any, index: Any, values: Any) -> None:
        np.add.at(out._a, unwrap(index), unwrap(values))

    def erf(self, x: Any) -> Any:
        from scipy.special import erf

        return StrictArray(erf(x._a).astype(x.dtype, copy=False))
