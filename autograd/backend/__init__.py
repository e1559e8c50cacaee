"""The one place that knows array libraries: numpy on the CPU, CuPy on a GPU.

A *device* (:class:`Device`, ``autograd.device``) names where a tensor's numbers
live; behind each device type sits one array *library* (:class:`Library`):
numpy for ``"cpu"``, CuPy for ``"cuda"``. Everything above this package works
with whatever array a tensor holds:

- **Math on existing arrays** needs nothing from here. Ops call numpy functions
  on their inputs (``np.exp(x)``, ``np.where(m, a, b)``, ``x @ w``), and numpy's
  ``__array_ufunc__`` / ``__array_function__`` protocols hand each call to the
  array's own library; CuPy implements both.
- **Arrays made from nothing** cannot dispatch that way, so they come from the
  functions here, either *like* an existing array (same library and device) or
  *on* a device: :func:`zeros`, :func:`ones`, :func:`empty`, :func:`full`,
  :func:`full_like`, :func:`eye`, :func:`arange`, :func:`linspace`,
  :func:`asarray`, :func:`scalar`.
- **Moves**: :func:`device_of`, :func:`to_device`, :func:`to_host`.
- **Kernels that differ between libraries**: :func:`scatter_add` (``np.add.at``
  vs CuPy's), :func:`erf`, :func:`sigmoid`, and the random draws in :mod:`autograd.backend.random`.
  (The strided windows of conv/pool are plain slicing, which every library has;
  only their buffers are made here.)

CuPy is imported only when a ``"cuda"`` device is first asked for (see
:mod:`autograd.backend.cuda`). Other array libraries, such as the test suite's
strict device, plug in with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import cuda
from .library import Library, NumpyLibrary

ndarray = np.ndarray


# --------------------------------------------------------------------------- devices


class Device:
    """Where a tensor's numbers live, as ``torch.device``: ``Device("cpu")``,
    ``Device("cuda")``, ``Device("cuda:1")``, ``Device("cuda", 1)``.

    ``type`` is the device type; ``index`` is None unless given (a bare
    ``"cuda"`` means the current GPU). As in PyTorch, a device equals devices,
    not strings: compare ``t.device.type == "cuda"`` or ``str(t.device)``.
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:
        if isinstance(type, Device):
            if index is not None:
                raise ValueError(f"device: an index ({index}) was given with a device {type}")
            type, index = type.type, type.index
        elif isinstance(type, str):
            name, _, number = type.partition(":")
            if number:
                if index is not None:
                    raise RuntimeError(f"device: type ({type!r}) must not include an index "
                                       f"because index was passed explicitly: {index}")
                if not number.isdigit():
                    raise RuntimeError(f"Invalid device string: {type!r}")
                index = int(number)
            type = name
        else:
            raise TypeError(f"device: expected a string or a device, got "
                            f"{builtin_type(type).__name__}")
        if type not in _libraries and type not in _loaders:
            known = ", ".join(sorted({*_libraries, *_loaders}))
            raise RuntimeError(f"Expected one of {known} device type at start of device "
                               f"string: {type}")
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"Device index must not be negative, got {index!r}")
        self.type = type
        self.index = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self) -> tuple:
        return Device, (self.type, self.index)


builtin_type = type


def as_device(device: Any) -> Device:
    """``device`` (a Device, a string such as ``"cuda:0"``, or None for the CPU) as a
    Device, with a bare ``"cuda"`` resolved to the current GPU."""
    if device is None:
        return CPU
    if builtin_type(device) is not Device:
        device = Device(device)
    if device.type == "cpu":
        return CPU
    if device.index is None:
        device = Device(device.type, library(device.type).current_index())
    return device


# --------------------------------------------------------------------------- libraries

_libraries: dict[str, Library] = {}
_loaders: dict[str, Callable[[], Library]] = {"cuda": cuda.load}
_by_type: dict[type, Library] = {}
_device_seed: list = [None]  # the last device seed (backend.random), for libraries loaded later


def register(lib: Library) -> Library:
    """Put ``lib`` behind the device type ``lib.device_type`` (also used by the test
    suite's strict device). Returns ``lib``."""
    _libraries[lib.device_type] = lib
    for array_type in lib.array_types:
        _by_type[array_type] = lib
    if _device_seed[0] is not None:
        lib.manual_seed(_device_seed[0])
    return lib


def register_array_type(array_type: type, lib: Library) -> None:
    """Let ``lib`` answer for arrays of ``array_type`` without owning a device type
    (the tracer's recorded arrays: numpy's device, the tracer's library)."""
    _by_type[array_type] = lib


def library(device_type: str) -> Library:
    """The library behind ``device_type``, loading it (e.g. importing CuPy) on first use."""
    lib = _libraries.get(device_type)
    if lib is None:
        loader = _loaders.get(device_type)
        if loader is None:
            raise RuntimeError(f"unknown device type {device_type!r}")
        lib = register(loader())
    return lib


_numpy = register(NumpyLibrary())
CPU = Device("cpu")


def library_of(array: Any) -> Library:
    """The library ``array`` belongs to (numpy for numbers, lists and numpy scalars)."""
    lib = _by_type.get(type(array))
    if lib is not None:
        return lib
    if type(array).__module__.split(".")[0] == "cupy":  # CuPy arrays made by the user
        return library("cuda")
    for array_type, lib in _by_type.items():  # subclasses
        if isinstance(array, array_type):
            return lib
    return _numpy


def array_module(array: Any = None) -> Any:
    """The numpy-like namespace of ``array``'s library (numpy unless it lives on
    another device)."""
    if array is None or type(array) is np.ndarray:
        return np
    return library_of(array).xp


def device_of(array: Any) -> Device:
    """The device ``array`` lives on."""
    if type(array) is np.ndarray:
        return CPU
    lib = library_of(array)
    return CPU if lib is _numpy else Device(lib.device_type, lib.index_of(array))


def is_cpu(array: Any) -> bool:
    """True for host (numpy) arrays: where a quick look at the values is cheap,
    while on a GPU it would wait for the device."""
    return type(array) is np.ndarray or library_of(array) is _numpy


# --------------------------------------------------------------------------- moves


def to_host(array: Any) -> np.ndarray:
    """``array`` as a numpy array (a copy when it lives on another device)."""
    if type(array) is np.ndarray:
        return array
    return library_of(array).to_host(array)


def to_device(array: Any, device: Any) -> Any:
    """``array`` on ``device`` (itself when it is already there, else a copy)."""
    target = as_device(device)
    source = device_of(array)
    if source == target:
        return array
    host = library_of(array).to_host(array) if source.type != "cpu" else np.asarray(array)
    if target.type == "cpu":
        return host
    return library(target.type).from_host(host, target.index)


def _target(like: Any, device: Any) -> tuple[Library, int | None]:
    if like is not None:
        lib = library_of(like)
        return lib, lib.index_of(like)
    dev = as_device(device)
    return library(dev.type), dev.index


# --------------------------------------------------------------------------- creation
# Each takes ``like=`` (an array whose library and device to use) or ``device=``
# (None: the CPU). The numpy path is tested first: it is every op's hot path.


def zeros(shape: Any, dtype: Any = np.float64, *, like: Any = None, device: Any = None) -> Any:
    if type(like) is np.ndarray or (like is None and device is None):
        return np.zeros(shape, dtype)
    lib, index = _target(like, device)
    with lib.on(index):
        return lib.xp.zeros(shape, dtype)


def ones(shape: Any, dtype: Any = np.float64, *, like: Any = None, device: Any = None) -> Any:
    if type(like) is np.ndarray or (like is None and device is None):
        return np.ones(shape, dtype)
    lib, index = _target(like, device)
    with lib.on(index):
        return lib.xp.ones(shape, dtype)


def empty(shape: Any, dtype: Any = np.float64, *, like: Any = None, device: Any = None) -> Any:
    if type(like) is np.ndarray or (like is None and device is None):
        return np.empty(shape, dtype)
    lib, index = _target(like, device)
    with lib.on(index):
        return lib.xp.empty(shape, dtype)


def full(shape: Any, fill_value: Any, dtype: Any = None, *, like: Any = None,
         device: Any = None) -> Any:
    if type(like) is np.ndarray or (like is None and device is None):
        return np.full(shape, fill_value, dtype)
    lib, index = _target(like, device)
    with lib.on(index):
        return lib.xp.full(shape, fill_value, dtype)


def zeros_like(array: Any, dtype: Any = None) -> Any:
    """Zeros of ``array``'s shape (and dtype unless given), on its device."""
    return zeros(array.shape, array.dtype if dtype is None else dtype, like=array)


def full_like(array: Any, fill_value: Any, dtype: Any = None) -> Any:
    return full(array.shape, fill_value, array.dtype if dtype is None else dtype, like=array)


def is_array(value: Any) -> bool:
    """True for an array of any registered library (numpy's included)."""
    return isinstance(value, np.ndarray) or type(value) in _by_type


def scalar(value: Any, dtype: Any, like: Any = None) -> Any:
    """A 0-d array holding ``value`` (a fill on a GPU, never a host-to-device copy)."""
    if like is None or type(like) is np.ndarray:
        return np.array(value, dtype)
    return full((), value, dtype, like=like)


def eye(n: int, m: int | None = None, dtype: Any = np.float64, *, like: Any = None,
        device: Any = None) -> Any:
    lib, index = _target(like, device)
    with lib.on(index):
        return lib.xp.eye(n, m, dtype=dtype)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None, *,
           like: Any = None, device: Any = None) -> Any:
    lib, index = _target(like, device)
    with lib.on(index):
        if stop is None:
            return lib.xp.arange(start, dtype=dtype)
        return lib.xp.arange(start, stop, step, dtype=dtype)


def linspace(start: float, stop: float, num: int, dtype: Any = None, *, like: Any = None,
             device: Any = None) -> Any:
    lib, index = _target(like, device)
    with lib.on(index):
        return lib.xp.linspace(start, stop, num, dtype=dtype)


def open_grid(shape: tuple, *, like: Any = None, device: Any = None) -> list:
    """``np.indices(shape, sparse=True)`` as a list: for each dim an int64 range
    shaped to broadcast along that dim only."""
    grid = []
    for i, n in enumerate(shape):
        view = [1] * len(shape)
        view[i] = n
        grid.append(arange(n, dtype=np.int64, like=like, device=device).reshape(view))
    return grid


def asarray(data: Any, dtype: Any = None, *, like: Any = None, device: Any = None) -> Any:
    """``data`` (numbers, nested lists, any library's array) as an array on the
    device of ``like`` or on ``device``; no copy when it is already there with
    that dtype. Host data is copied to another device explicitly, here."""
    lib, index = _target(like, device)
    if lib is _numpy:
        return np.asarray(to_host(data), dtype=dtype)
    if type(data) in lib.array_types and lib.index_of(data) == index:
        return data if dtype is None else data.astype(dtype, copy=False)
    host = np.asarray(to_host(data), dtype=dtype)
    return lib.from_host(host, index)


def contiguous(array: Any) -> Any:
    """``array`` as a C-contiguous array (itself when it already is): a copy made
    by the array's own method, so it stays in the array's library (and on its
    device). ``np.ascontiguousarray`` would hand back a plain host array for any
    other kind, as it does not dispatch on its argument."""
    return array if array.flags.c_contiguous else array.copy(order="C")


def as_array(data: Any, dtype: Any = None) -> Any:
    """``data`` as an array of the library it belongs to (an op's non-array result,
    such as a numpy scalar, made an array)."""
    return library_of(data).xp.asarray(data, dtype=dtype)


# --------------------------------------------------------------------------- kernels


def scatter_add(out: Any, index: Any, values: Any) -> None:
    """``out[index] += values`` in place, summing where ``index`` repeats
    (``np.add.at``)."""
    library_of(out).scatter_add(out, index, values)


def check(test: Callable, array: Any, *args: Any) -> None:
    """Run ``test(array, *args)``: a validation that reads ``array``'s values and
    raises on bad ones (an index out of range, which numpy would wrap silently).
    Every library runs it at once; one that records calls (``autograd.compile``'s
    tracer) also records it, so each replay checks the values it is given."""
    library_of(array).check(test, array, *args)


def erf(x: Any) -> Any:
    """The error function, elementwise, in ``x``'s dtype (numpy has none: scipy's
    on the CPU when installed, else an exact but slow per-element ``math.erf``)."""
    return library_of(x).erf(x)


def sigmoid(x: Any) -> Any:
    """σ(x) = 1 / (1 + e^-x), elementwise, in ``x``'s dtype; where e^-x overflows
    the result is 0, never NaN (``library.exp_sigmoid``; scipy's ``expit`` on a GPU)."""
    return library_of(x).sigmoid(x)


def synchronize(device: Any = None) -> None:
    """Wait for the work queued on ``device`` (a no-op on the CPU)."""
    dev = as_device(device)
    library(dev.type).synchronize(dev.index)


def device_count(device_type: str) -> int:
    return library(device_type).device_count()
