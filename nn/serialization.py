"""``nn.save`` / ``nn.load`` *(ours)*: state dicts to a ``.npz`` file, safely.

The file is a plain numpy ``.npz``: every array is one entry (``a0``, ``a1``...)
and the nested structure around them (dicts with their key types and order,
lists, tuples, numbers, strings, None) is JSON in the entry ``__chaingrad__``.
Nothing is pickled, so loading a file never runs code.

Writing is atomic: the bytes go to a temporary file in the target's directory,
are flushed and fsync'ed, and only then ``os.replace`` puts the file in place.
A crash mid-write leaves the old file untouched, and the next save of the same
target removes the temporary such a crash left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
import zipfile
from typing import Any

import numpy as np

from autograd import backend
from autograd.function import constant
from autograd.tensor import Tensor

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

_META = "__chaingrad__"
_FORMAT = "chaingrad.save"
_VERSION = 1


class _Encoder:
    """Turns a nested object into JSON-able data, collecting its arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, value: Any, kind: str) -> dict:
        data = backend.asarray(value)  # on the host, copied from another device
        if data.dtype.kind not in "biufc":
            raise TypeError(f"nn.save: cannot save an array of dtype {data.dtype} "
                            "(only bool and numeric arrays)")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = data
        return {kind: key}

    def encode(self, obj: Any) -> Any:
        if obj is None:
            return None
        if isinstance(obj, np.generic):  # before int/float: np.float64 is a float
            return self.array(obj, "scalar")
        for plain in (bool, int, float, str):  # subclasses (IntEnum...) saved as the base
            if isinstance(obj, plain):
                return plain(obj)
        if isinstance(obj, Tensor):
            device = obj.device
            if device.type == "cpu":
                return self.array(obj.data, "tensor")
            # a device tensor: its host copy, and where it lived (for nn.load)
            return {"device_tensor": [self.array(obj.data, "tensor")["tensor"], str(device)]}
        if isinstance(obj, np.ndarray):
            return self.array(obj, "ndarray")
        if isinstance(obj, dict):
            return {"dict": [[self.encode(k), self.encode(v)] for k, v in obj.items()]}
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(v) for v in obj]}
        if isinstance(obj, list):
            return [self.encode(v) for v in obj]
        raise TypeError(
            f"nn.save: cannot save an object of type {type(obj).__name__}; it saves nested "
            "dicts, lists and tuples of Tensors, arrays, numbers, strings and None"
        )


def _decode(data: Any, arrays: Any, device: Any = None) -> Any:
    """The saved structure rebuilt; tensors on ``device`` (None: where they were saved)."""
    if isinstance(data, list):
        return [_decode(v, arrays, device) for v in data]
    if not isinstance(data, dict):
        return data
    ((kind, value),) = data.items()
    if kind == "dict":
        out = {}
        for k, v in value:
            out[_decode(k, arrays, device)] = _decode(v, arrays, device)
        return out
    if kind == "tuple":
        return tuple(_decode(v, arrays, device) for v in value)
    if kind == "device_tensor":
        key, saved_on = value
        return constant(backend.to_device(arrays[key], device or saved_on))
    array = arrays[value]
    if kind == "tensor":
        return constant(array if device is None else backend.to_device(array, device))
    if kind == "scalar":
        return array[()]
    return array


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (e.g. ``model.state_dict()`` or an optimizer's state dict, or a
    dict holding both) to ``path`` as an ``.npz``, atomically. Tensors on a GPU
    are written as host arrays, with their device noted for :func:`load`."""
    encoder = _Encoder()
    try:
        meta = {"format": _FORMAT, "version": _VERSION, "root": encoder.encode(obj)}
    except RecursionError:
        raise ValueError("nn.save: the object is nested too deeply to save") from None
    entries = dict(encoder.arrays)
    entries[_META] = backend.asarray(json.dumps(meta))
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RuntimeError(f"nn.save: cannot write {path}: its parent directory {directory} "
                           "does not exist")
    name = os.path.basename(path)
    _remove_stale_temporaries(directory, name)
    fd, tmp = _create_temporary(directory, name, path)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **entries)
            f.flush()
            os.fsync(f.fileno())
            # renamed while still open (and locked): no moment where another save
            # could take it for a temporary left behind by a killed process
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


# A temporary is ``.<name>.<12 hex digits>.tmp`` next to the target, held under an
# exclusive flock while it is written. A process killed mid-save (SIGKILL: no
# cleanup runs) leaves it behind unlocked, and the next save of the same target
# removes it; a temporary that another process is writing right now stays locked.
_TMP_SUFFIX = ".tmp"


def _create_temporary(directory: str, name: str, path: str) -> tuple[int, str]:
    """A new temporary for ``name``, created and locked: ``(fd, its path)``."""
    while True:
        tmp = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:12]}{_TMP_SUFFIX}")
        try:
            # mode 0o666 gives the file the permissions a plain open() would (umask)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as err:
            raise type(err)(err.errno, f"nn.save: cannot write {path}: {err.strerror}",
                            path) from None
        if fcntl is None:
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:  # between create and lock another save may have removed it: start again
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return fd, tmp
        except FileNotFoundError:
            pass
        os.close(fd)


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Delete temporaries of ``name`` that no live process holds (see above)."""
    if fcntl is None:  # no flock (Windows): leave them; they never replace the target
        return
    prefix = f".{name}."
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        stamp = entry[len(prefix):-len(_TMP_SUFFIX)]
        if not (entry.startswith(prefix) and entry.endswith(_TMP_SUFFIX) and len(stamp) == 12
                and all(c in "0123456789abcdef" for c in stamp)):
            continue
        stale = os.path.join(directory, entry)
        try:
            fd = os.open(stale, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while a writer lives
            if os.stat(stale).st_ino == os.fstat(fd).st_ino:
                os.unlink(stale)
        except OSError:
            pass
        finally:
            os.close(fd)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX; a no-op where directories can't be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: str | os.PathLike, map_location: Any = None) -> Any:
    """Read back what :func:`save` wrote: Tensors come back as Tensors, arrays as
    arrays, dict keys with their types and order. Tensors land on the device they
    were saved from, or on ``map_location`` (``"cpu"``, ``"cuda"``, ``"cuda:1"`` or
    an ``autograd.device``) when given. Raises ``RuntimeError`` naming ``path``
    when the file is damaged or was not written by ``nn.save``."""
    path = os.fspath(path)
    device = None if map_location is None else backend.as_device(map_location)
    with open(path, "rb") as f:  # a missing file stays a FileNotFoundError
        try:
            with np.load(f, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError,
                TypeError) as err:
            raise RuntimeError(f"nn.load: {path} is not a readable .npz file "
                               f"(damaged or not written by nn.save): {err}") from None
    if _META not in arrays:
        raise RuntimeError(f"nn.load: {path} is an .npz file but was not written by nn.save "
                           f"(no {_META} entry)")
    try:
        meta = json.loads(str(arrays.pop(_META)))
        if meta.get("format") != _FORMAT:
            raise ValueError(f"unknown format {meta.get('format')!r}")
        if meta.get("version", 0) > _VERSION:
            raise ValueError(f"written by a newer version ({meta['version']})")
        return _decode(meta["root"], arrays, device)
    except RecursionError:
        raise RuntimeError(f"nn.load: {path} has damaged metadata: its structure is "
                           "nested too deeply") from None
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise RuntimeError(f"nn.load: {path} has damaged or unknown metadata: {err}") from None
