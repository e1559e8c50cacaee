"""Recording a step's array calls: the ``Traced`` array and the tracing device.

While a trace runs, the arrays of the step are :class:`Traced`: numpy arrays
(they hold the real numbers; the step really runs) whose every numpy call is
written down. numpy hands each call on them to their class through its two
protocols, ``__array_ufunc__`` (``+``, ``np.exp``, ``x.sum()``, ``a @ b``...) and
``__array_function__`` (``np.where``, ``np.einsum``, ``np.concatenate``...); the
few ``ndarray`` methods that make new data without either protocol
(``copy``, ``astype``, fancy ``[]``...) are written down by the methods below,
and anything else that makes new data is caught in ``__array_finalize__``.

Arrays made from nothing come from ``autograd.backend``, which asks the library
of the array they are made *like*: Traced arrays belong to a tracing library,
registered with the backend like a device whose arrays must not be looked at
(``backend.is_cpu`` is False for them, so ops take the path they take on a GPU,
where peeking at values would wait for the device). Its creation functions,
random draws and kernels are written down too.

What cannot be replayed breaks the trace (the step still finishes, eagerly):
a Python value read from the data (``bool(t)``, ``t.item()``, a shape that
depends on values), an array made outside the protocols, or a write into a
numpy array that is neither the trace's own nor a Tensor's.
"""

from __future__ import annotations

import functools
import operator
import sys
import threading
from typing import Any

import numpy as np

from .. import backend
from ..backend.library import NumpyLibrary, _host_erf
from ..function import FunctionCtx, Op
from ..tensor import Tensor, seed_gradients

_ndarray = np.ndarray


class TraceBreak(Exception):
    """Why a trace cannot become a program (kept as the trace's ``broken`` reason)."""


class Recording:
    """The array calls of one traced call, in the order they ran.

    ``calls`` holds :class:`Call` records. Arrays are referred to by plain
    (non-Traced) numpy views: the objects the program will run on.
    """

    def __init__(self) -> None:
        if not _VJP_CODES:
            _bind_codes()
        self.calls: list[Call] = []
        self.broken: str | None = None
        self.thread = threading.get_ident()
        self.suspended = 0
        self.known: dict[int, Any] = {}  # id(base array) -> what it is (a state slot...)
        self.read_bases: set[int] = set()
        self.own: set[int] = set()  # id(base) of every array this trace made
        self.keep: list = []  # keeps every array seen alive, so ids stay unique

    # ------------------------------------------------------------------ breaking
    def break_(self, reason: str) -> None:
        """Note the first reason this trace cannot be replayed (the call goes on)."""
        if self.broken is None:
            self.broken = reason + _where()

    # ------------------------------------------------------------------ recording
    def add(self, fn: Any, args: tuple, kwargs: dict | None, writes: tuple,
            outputs: tuple = (), kind: str = "call") -> Call:
        """Write down ``fn(*args, **kwargs)``; ``writes`` are the arrays it changes
        in place (state or the trace's own buffers), ``outputs`` the new buffers it
        fills."""
        for array in writes:
            base = _base(array)
            if id(base) not in self.own and id(base) not in self.known:
                self.break_("the step writes into a numpy array that is neither one of "
                            "its own results nor a Tensor's (state kept in a raw array is "
                            "invisible to the trace: keep it in a Tensor)")
        for array in outputs:
            base = _base(array)
            self.own.add(id(base))
            self.keep.append(base)
        for value in _arrays(args, kwargs):
            base = _base(value)
            self.read_bases.add(id(base))
            self.keep.append(base)
        call = Call(fn, args, kwargs or None, outputs, writes, kind, _label())
        self.calls.append(call)
        return call


class Call:
    """One recorded call: ``fn(*args, **kwargs)``, filling ``outputs`` (new buffers)
    and changing ``writes`` in place; ``label`` says who made it (an op's forward, a
    node's backward rule, a line of the step)."""

    __slots__ = ("fn", "args", "kwargs", "outputs", "writes", "kind", "label", "fast")

    def __init__(self, fn: Any, args: tuple, kwargs: dict | None, outputs: tuple,
                 writes: tuple, kind: str, label: Any) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.outputs, self.writes, self.kind, self.label = outputs, writes, kind, label
        self.fast = _refill(fn, args, kwargs) if fn is _fill_into else None


_state = threading.local()


def active() -> Recording | None:
    """The recording of the trace running in this thread, unless it is paused."""
    rec = getattr(_state, "recording", None)
    if rec is None or rec.suspended:
        return None
    return rec


def start(rec: Recording) -> None:
    _state.recording = rec


def stop() -> None:
    _state.recording = None


# --------------------------------------------------------------------------- helpers


def _base(array: Any) -> Any:
    """The array that owns ``array``'s memory."""
    base = array.base
    while base is not None and isinstance(base, _ndarray):
        array, base = base, base.base
    return array


def plain(x: Any) -> Any:
    """``x`` with every Traced array in it (nested in tuples and lists) as a plain
    numpy view of the same memory: what the program runs on."""
    if isinstance(x, Traced):
        view = x.__dict__.get("_plain")
        if view is None:
            view = x._plain = x.view(_ndarray)
        return view
    if type(x) is tuple:
        return tuple([plain(v) for v in x])
    if type(x) is list:
        return [plain(v) for v in x]
    if type(x) is slice or x is None or isinstance(x, (int, float, str, np.generic)):
        return x
    if type(x) is dict:
        return {k: plain(v) for k, v in x.items()}
    return x


def traced(array: Any) -> Traced:
    """A Traced view of a plain array (a state array, seen through the trace)."""
    view = array.view(Traced)
    view._plain = array
    return view


def buffer_like(result: Any) -> Traced:
    """A new Traced array owning its memory, holding ``result``: a buffer of the
    trace. It owns its memory as the array an eager call returns does (code that
    copies views, such as gradient accumulation, must not copy it)."""
    _state.making = True
    try:
        buffer = Traced(result.shape, result.dtype)
    finally:
        _state.making = False
    view = buffer._plain = buffer.view(_ndarray)
    np.copyto(view, result)
    return buffer


def _arrays(args: tuple, kwargs: dict | None) -> list:
    found: list = []
    stack = [args, kwargs or {}]
    while stack:
        x = stack.pop()
        if isinstance(x, _ndarray):
            found.append(x)
        elif type(x) in (tuple, list):
            stack.extend(x)
        elif type(x) is dict:
            stack.extend(x.values())
    return found


def _has_traced(x: Any) -> bool:
    if isinstance(x, Traced):
        return True
    if type(x) in (tuple, list):
        return any(_has_traced(v) for v in x)
    return False


def _as_buffer(result: Any) -> Any:
    """A result as an array that can be written into again (a numpy scalar as 0-d)."""
    if isinstance(result, _ndarray):
        return result
    return np.array(result)


_HERE = __file__


def _label() -> Any:
    """Who made the call being recorded: the outermost backward rule running
    (``("backward", node)``), else the outermost op's forward (``("forward", cls,
    frame id)``), else the step's own line (``("step", "file:line")``)."""
    frame = sys._getframe(2)
    rule = forward = special = None
    line = None
    while frame is not None:
        code = frame.f_code
        if code is _VJP_CODES[0] or code is _VJP_CODES[1]:
            rule = frame.f_locals.get("self")
        elif code is _APPLY_CODE:
            forward = (frame.f_locals.get("cls"), id(frame))
        elif code in _SPECIAL:
            special = (_SPECIAL[code], id(frame))
        elif line is None and not code.co_filename.startswith(_PACKAGE_DIR) and (
                "/numpy/" not in code.co_filename):
            line = f"{code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    if rule is not None and isinstance(rule, (Op, FunctionCtx)):
        return ("backward", rule)
    if forward is not None:
        return ("forward", *forward)
    if special is not None:
        return special
    return ("step", line)


_PACKAGE_DIR = __file__.rsplit("/tracer/", 1)[0]
_VJP_CODES: list = []
_APPLY_CODE: Any = None
_SPECIAL: dict = {}  # code of engine/tensor functions -> what their calls are


def _bind_codes() -> None:
    global _APPLY_CODE
    _VJP_CODES[:] = [Op.vjp.__code__, FunctionCtx.vjp.__code__]
    _APPLY_CODE = Op.apply.__func__.__code__
    _SPECIAL[Tensor._accumulate_grad.__code__] = "accumulate"
    _SPECIAL[seed_gradients.__code__] = "seed"


def _where() -> str:
    """`` (at file:line)`` of the step's own code that led here, when there is one."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith(_PACKAGE_DIR) and "/numpy/" not in name:
            return f" (at {name}:{frame.f_lineno})"
        frame = frame.f_back
    return ""


# --------------------------------------------------------------------------- the array


def _fill_into(out: Any, fn: Any, *args: Any, **kwargs: Any) -> None:
    """``out[...] = fn(*args, **kwargs)``: a call without ``out=``, into its buffer."""
    np.copyto(out, fn(*args, **kwargs), casting="unsafe")


_FILLS = {np.zeros: 0, np.ones: 1}


def _refill(fn: Any, args: tuple, kwargs: dict | None) -> Any:
    """For a fill whose call would allocate a new array every replay, the same
    values written straight into the buffer (None: no such shortcut)."""
    out, inner, rest = args[0], args[1], args[2:]
    if inner in _FILLS:
        return functools.partial(out.fill, _FILLS[inner])
    if inner is np.full and len(rest) >= 2:
        return functools.partial(out.fill, rest[1])
    if getattr(inner, "__objclass__", None) is not _ndarray or not out.flags.c_contiguous:
        return None
    name, source, options = inner.__name__, rest[0], rest[1:]
    if kwargs or source.size != out.size:
        return None
    if name == "astype" and len(options) == 1 and out.shape == source.shape:
        return functools.partial(np.copyto, out, source, casting="unsafe")
    if name == "copy" and options in ((), ("C",), ("K",)) and out.shape == source.shape:
        return functools.partial(np.copyto, out, source)
    if (name == "reshape" and options) or (name in ("ravel", "flatten") and not options):
        # C order: the values of ``source`` read row by row, into the contiguous buffer
        return functools.partial(np.copyto, out.reshape(source.shape), source)
    return None


def _fill_many(outs: tuple, fn: Any, *args: Any, **kwargs: Any) -> None:
    for out, value in zip(outs, fn(*args, **kwargs)):
        np.copyto(out, value, casting="unsafe")


def _method(name: str) -> Any:
    return getattr(_ndarray, name)


class Traced(np.ndarray):
    """A numpy array whose numpy calls are recorded while a trace runs in this
    thread (anywhere else it behaves as a plain array, and hands out plain ones)."""

    # ------------------------------------------------------------------ protocols
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        rec = active()
        args = plain(inputs)
        kw = plain(kwargs) if kwargs else {}
        out = kw.get("out")
        result = getattr(ufunc, method)(*args, **kw)
        if out is not None:  # hand back the arrays given (``x += y`` keeps x Traced)
            given = kwargs["out"]
            given = given if type(given) is tuple else (given,)
            if rec is not None:
                outs = out if type(out) is tuple else (out,)
                rec.add(getattr(ufunc, method), args, kw, writes=outs)
            return given[0] if len(given) == 1 else given
        if rec is None:
            return result
        fn = getattr(ufunc, method)
        if method == "at":  # in place on the first input
            rec.add(fn, args, kw, writes=(args[0],))
            return None
        results = result if type(result) is tuple else (result,)
        owned = tuple(buffer_like(_as_buffer(r)) for r in results)
        buffers = tuple(b._plain for b in owned)
        kw = dict(kw)
        kw["out"] = buffers if len(buffers) > 1 else buffers[0]
        rec.add(fn, args, kw, writes=(), outputs=buffers)
        return owned if len(owned) > 1 else owned[0]

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        rec = active()
        pargs, pkw = plain(args), plain(kwargs)
        if rec is not None and func in _DATA_SHAPED:
            rec.break_(f"np.{func.__name__} gives a result whose shape depends on the "
                       "data")
            rec = None
        if rec is not None and func in _IN_PLACE:
            result = func(*pargs, **pkw)
            rec.add(func, pargs, pkw, writes=(pargs[0],))
            return result
        result = func(*pargs, **pkw)
        if rec is None or func in _METADATA:
            return result
        return _record_result(rec, func, pargs, pkw, result, _arrays(pargs, pkw))

    def __array_finalize__(self, obj: Any) -> None:
        if self.base is None and not getattr(_state, "making", False):
            # new memory, made outside the protocols
            rec = active()
            if rec is not None:
                rec.break_("an array was made by an operation the tracer does not "
                           "record (an ndarray method outside numpy's protocols)")

    # ------------------------------------------------------------------ values
    def _read(self, what: str) -> None:
        rec = active()
        if rec is not None:
            rec.break_(f"the step reads a value from an array ({what}): a Python branch "
                       "on data, .item(), float() or bool() of a tensor cannot be traced")

    def __bool__(self) -> bool:
        self._read("bool()")
        return bool(plain(self))

    def __float__(self) -> float:
        self._read("float()")
        return float(plain(self))

    def __int__(self) -> int:
        self._read("int()")
        return int(plain(self))

    def __index__(self) -> int:
        self._read("used as an index")
        return operator.index(plain(self))

    def __complex__(self) -> complex:
        self._read("complex()")
        return complex(plain(self))

    def item(self, *args: Any) -> Any:
        self._read(".item()")
        return plain(self).item(*args)

    def tolist(self) -> Any:
        self._read(".tolist()")
        return plain(self).tolist()

    def tobytes(self, *args: Any, **kwargs: Any) -> bytes:
        self._read(".tobytes()")
        return plain(self).tobytes(*args, **kwargs)

    def __repr__(self) -> str:
        self._read("repr()")
        return repr(plain(self))

    def __str__(self) -> str:
        self._read("str()")
        return str(plain(self))

    def __format__(self, spec: str) -> str:
        self._read("format()")
        return format(plain(self), spec)

    def __reduce_ex__(self, protocol: Any) -> Any:  # pickling reads every value
        self._read("pickling")
        return plain(self).__reduce_ex__(protocol)

    # ------------------------------------------------------------------ methods
    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The ndarray method ``name``, on the plain view, written down if it made
        new data (a view of this array needs nothing: it follows the buffer)."""
        rec = active()
        me = plain(self)
        pargs, pkw = plain(args), plain(kwargs)
        result = getattr(me, name)(*pargs, **pkw)
        if rec is None:
            return result
        return _record_result(rec, _method(name), (me, *pargs), pkw, result, [me])

    def copy(self, order: str = "C") -> Any:
        return self._call("copy", order)

    def astype(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("astype", *args, **kwargs)

    def reshape(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("reshape", *args, **kwargs)

    def ravel(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("ravel", *args, **kwargs)

    def flatten(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("flatten", *args, **kwargs)

    def argmax(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("argmax", *args, **kwargs)

    def argmin(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("argmin", *args, **kwargs)

    def argsort(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("argsort", *args, **kwargs)

    def cumsum(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("cumsum", *args, **kwargs)

    def cumprod(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("cumprod", *args, **kwargs)

    def dot(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("dot", *args, **kwargs)

    def take(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("take", *args, **kwargs)

    def repeat(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("repeat", *args, **kwargs)

    def diagonal(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("diagonal", *args, **kwargs)

    def nonzero(self) -> Any:
        rec = active()
        if rec is not None:
            rec.break_("nonzero() gives a result whose shape depends on the data")
        return plain(self).nonzero()

    def fill(self, value: Any) -> None:
        rec = active()
        me = plain(self)
        me.fill(value)
        if rec is not None:
            rec.add(_method("fill"), (me, plain(value)), None, writes=(me,))

    def sort(self, *args: Any, **kwargs: Any) -> None:
        rec = active()
        me = plain(self)
        me.sort(*args, **kwargs)
        if rec is not None:
            rec.add(_method("sort"), (me, *args), kwargs, writes=(me,))

    def __getitem__(self, index: Any) -> Any:
        rec = active()
        me = plain(self)
        pindex = plain(index)
        if rec is not None and _bool_index(pindex):
            rec.break_("indexing with a boolean mask gives a shape that depends on the "
                       "data")
            rec = None
        result = me[pindex]
        if rec is None:
            return result
        return _record_result(rec, operator.getitem, (me, pindex), {}, result, [me])

    def __setitem__(self, index: Any, value: Any) -> None:
        rec = active()
        me = plain(self)
        pindex, pvalue = plain(index), plain(value)
        me[pindex] = pvalue
        if rec is not None:
            rec.add(operator.setitem, (me, pindex, pvalue), None, writes=(me,))

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))


def _bool_index(index: Any) -> bool:
    items = index if type(index) is tuple else (index,)
    return any(isinstance(i, _ndarray) and i.dtype == bool for i in items)


def _record_result(rec: Recording, fn: Any, args: tuple, kwargs: dict, result: Any,
                   sources: list) -> Any:
    """Write down a call that returned ``result``: nothing when it is a view of one
    of ``sources`` (it follows their buffers), else a fill of new buffers."""
    if isinstance(result, _ndarray):
        for source in sources:
            if np.may_share_memory(result, source):
                return traced(result)
    if isinstance(result, (_ndarray, np.generic)):
        owned = buffer_like(_as_buffer(result))
        rec.add(_fill_into, (owned._plain, fn, *args), kwargs, writes=(),
                outputs=(owned._plain,), kind="fill")
        return owned
    if type(result) in (tuple, list) and result and all(
            isinstance(r, _ndarray) for r in result):
        owned = tuple(buffer_like(r) for r in result)
        buffers = tuple(b._plain for b in owned)
        rec.add(_fill_many, (buffers, fn, *args), kwargs, writes=(), outputs=buffers,
                kind="fill")
        return type(result)(owned)
    if isinstance(result, (bool, int, float, complex)):
        rec.break_(f"{getattr(fn, '__name__', fn)} gives a Python value computed from "
                   "the data")
    return result


# numpy functions whose result's shape depends on the values
_DATA_SHAPED = {np.nonzero, np.flatnonzero, np.argwhere, np.unique, np.compress,
                np.extract, np.count_nonzero, np.array_equal, np.allclose, np.any,
                np.all, np.isclose} - {np.isclose}
# numpy functions that read only shapes, dtypes and memory layout, not values
_METADATA = {np.may_share_memory, np.shares_memory, np.shape, np.ndim, np.size,
             np.result_type, np.iscomplexobj, np.isrealobj, np.min_scalar_type}
# numpy functions that change their first argument in place
_IN_PLACE = {np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, np.put_along_axis}


# --------------------------------------------------------------------------- the device


class _TracingNumpy:
    """numpy, except that arrays made from nothing are the trace's own buffers
    (recorded as fills, so each replay makes them again)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def _made(fn: Any, *args: Any, **kwargs: Any) -> Any:
        array = fn(*args, **kwargs)
        rec = active()
        if rec is None:
            return array
        owned = buffer_like(_as_buffer(array))
        rec.add(_fill_into, (owned._plain, fn, *args), kwargs, writes=(),
                outputs=(owned._plain,), kind="fill")
        return owned

    def zeros(self, *args: Any, **kwargs: Any) -> Any:
        return self._made(np.zeros, *args, **kwargs)

    def ones(self, *args: Any, **kwargs: Any) -> Any:
        return self._made(np.ones, *args, **kwargs)

    def empty(self, *args: Any, **kwargs: Any) -> Any:
        array = np.empty(*args, **kwargs)
        rec = active()
        if rec is None:
            return array
        owned = buffer_like(array)  # whoever asks for empty memory fills it, each replay
        rec.own.add(id(owned))
        rec.keep.append(owned)
        return owned

    def full(self, *args: Any, **kwargs: Any) -> Any:
        return self._made(np.full, *args, **kwargs)

    def eye(self, *args: Any, **kwargs: Any) -> Any:
        return self._made(np.eye, *args, **kwargs)

    def arange(self, *args: Any, **kwargs: Any) -> Any:
        return self._made(np.arange, *args, **kwargs)

    def linspace(self, *args: Any, **kwargs: Any) -> Any:
        return self._made(np.linspace, *args, **kwargs)

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        if isinstance(data, Traced):
            return data if dtype is None or data.dtype == dtype else data.astype(dtype)
        return self._made(np.array, plain(data), dtype=dtype)


class _TracingGenerator:
    """Draws from the host generator (the one eager draws come from, so a replay
    consumes the same stream in the same order) into recorded buffers."""

    def random_sample(self, shape: Any, dtype: Any = np.float64) -> Any:
        array = backend.random.default_generator().random(shape, dtype=dtype)
        rec = active()
        if rec is None:
            return array
        owned = buffer_like(array)
        rec.add(_draw_uniform, (owned._plain, dtype), None, writes=(),
                outputs=(owned._plain,), kind="draw")
        return owned

    def standard_normal(self, shape: Any, dtype: Any = np.float64) -> Any:
        array = backend.random.default_generator().standard_normal(shape, dtype=dtype)
        rec = active()
        if rec is None:
            return array
        owned = buffer_like(array)
        rec.add(_draw_normal, (owned._plain, dtype), None, writes=(),
                outputs=(owned._plain,), kind="draw")
        return owned

    def __getattr__(self, name: str) -> Any:
        def unsupported(*args: Any, **kwargs: Any) -> Any:
            rec = active()
            if rec is not None:
                rec.break_(f"the random draw {name}() is not replayed by the tracer")
            return getattr(backend.random.default_generator(), name)(*args, **kwargs)
        return unsupported


def _draw_uniform(out: Any, dtype: Any) -> None:
    backend.random.default_generator().random(out.shape, dtype=dtype, out=out)


def _draw_normal(out: Any, dtype: Any) -> None:
    backend.random.default_generator().standard_normal(out.shape, dtype=dtype, out=out)


class TracingLibrary(NumpyLibrary):
    """The backend library of Traced arrays: numpy's, reporting the CPU as their
    device, with creation, draws and kernels recorded and host reads refused."""

    device_type = "cpu"
    array_types = (Traced,)

    def __init__(self) -> None:
        self.xp = _TracingNumpy()
        self._generator = _TracingGenerator()

    def to_host(self, array: Any) -> np.ndarray:
        rec = active()
        if rec is not None:
            rec.break_("the step reads a tensor's values on the host (.item(), .numpy(), "
                       ".tolist(), printing)")
        return plain(array)

    def from_host(self, array: np.ndarray, index: int | None) -> Any:
        return self.xp.asarray(array)

    def scatter_add(self, out: Any, index: Any, values: Any) -> None:
        np.add.at(out, index, values)  # np.add.at on a Traced array is recorded

    def check(self, test: Any, array: Any, *args: Any) -> None:
        """Run the check on the values now, and have every replay run it on its own
        (a replay raises as the eager step would, instead of going on wrong)."""
        args = plain((array, *args))
        test(*args)
        rec = active()
        if rec is not None:
            rec.add(test, args, None, writes=(), kind="check")

    def erf(self, x: Any) -> Any:
        erf = _host_erf()
        if isinstance(erf, np.ufunc):
            return erf(x).astype(x.dtype, copy=False)
        result = erf(plain(x)).astype(x.dtype)
        rec = active()
        if rec is None:
            return result
        return _record_result(rec, _erf_host, (plain(x),), {}, result, [])

    def generator(self, index: int | None) -> Any:
        return self._generator


def _erf_host(x: Any) -> Any:
    return _host_erf()(x).astype(x.dtype)


LIBRARY = TracingLibrary()
backend.register_array_type(Traced, LIBRARY)
