"""``autograd.compile(fn)``: run a training step once while recording its array
calls, then replay them.

For each new signature of the arguments (the shapes and dtypes of the Tensors,
the values of everything else, and grad mode) the compiled step goes through four
calls:

1. eager, as written (lazy state such as optimizer buffers comes to exist);
2. traced: run as written, every array call recorded (:mod:`.arrays`);
3. traced again, and the two recordings compared: the same calls with the same
   constants on the same arrays, else the step's control flow or its Python
   numbers change from call to call, and it stays eager;
4. and after: the program replays (:class:`~.program.Program`).

What a replay cannot do, the trace refuses (the call it was tracing finishes
eagerly, and the step stays eager, with a :class:`CompileWarning` saying why):
reading values in Python, writing into raw numpy state, random draws other
than the generator's uniform and normal ones, tensors on another device (a GPU:
any such tensor alive in the process, since the step may read it). A program
built on the CPU never runs on moved state: moving a tensor re-binds its
``data``, and a replay that finds a binding it reads changed traces again.

State is the Tensors alive when the trace starts (after a ``gc.collect()``, so
unreachable ones are not), their ``data`` and ``grad``.
During a trace each of their arrays is a recorded view (so an in-place update of
an optimizer buffer or a BatchNorm statistic is recorded); afterwards they get
their own arrays back. Where the step re-binds ``t.grad`` or ``t.data`` (as
``zero_grad()`` and backward do), the replay re-binds it too.

``optimizer.step()`` is not flattened into array calls: it is called as Python
at every replay (:func:`run_opaque`), so its learning rate, step counts and
schedules are read when it runs, as in eager mode.

Other Python state the step reads is part of its program, as in any tracing
compiler: a module's ``train()``/``eval()`` mode, a flag, a number in a global.
The two traced calls catch what changes from one call to the next; what changes
later (a global that flips after a hundred calls) is not seen: compile one
function per mode.
"""

from __future__ import annotations

import functools
import gc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import is_grad_enabled
from ..tensor import Tensor
from . import arrays
from .arrays import Recording, Traced, plain, traced
from .program import Program

_ndarray = np.ndarray


class CompileWarning(UserWarning):
    """A compiled step runs eagerly: the message says why."""


def compile(fn: Callable) -> CompiledStep:
    """``fn``, a training step on Tensors, traced on its first calls and replayed
    after (see the module docstring)."""
    if not callable(fn):
        raise TypeError(f"compile: expected a function, got {type(fn).__name__}")
    return CompiledStep(fn)


class CompiledStep:
    """What :func:`compile` returns: call it as ``fn``. ``program`` is the program
    of the signature called last (None while it is not traced or runs eagerly);
    ``print(step.program)`` shows it as Python."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self._entries: dict = {}
        self._last: _Entry | None = None
        functools.update_wrapper(self, fn)

    @property
    def program(self) -> Program | None:
        return None if self._last is None else self._last.program

    @property
    def eager_reason(self) -> str | None:
        """Why the signature called last runs eagerly (None: it compiles)."""
        return None if self._last is None else self._last.reason

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = _signature(args, kwargs)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(self.fn)
        self._last = entry
        return entry(args, kwargs)


def _signature(args: tuple, kwargs: dict) -> Any:
    def one(x: Any) -> Any:
        if isinstance(x, Tensor):
            return ("T", type(x.data), x.data.shape, x.data.dtype.str, x.requires_grad)
        try:
            hash(x)
        except TypeError:
            return ("id", id(x))
        return ("v", type(x), x)

    return (is_grad_enabled(), tuple(one(a) for a in args),
            tuple((k, one(v)) for k, v in sorted(kwargs.items())))


class _Entry:
    """One signature of a compiled step: how far it got, and its program."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.calls = 0
        self.program: Program | None = None
        self.reason: str | None = None
        self._first: _Trace | None = None
        self._outputs: Any = None

    def __call__(self, args: tuple, kwargs: dict) -> Any:
        self.calls += 1
        if self.reason is not None or self.calls == 1:
            return self.fn(*args, **kwargs)
        if self.program is not None:
            return self._replay(args, kwargs)
        trace = _Trace(self.fn)
        result = trace.run(args, kwargs)
        if trace.broken is not None:
            self._give_up(trace.broken)
        elif self._first is None:
            self._first = trace
        else:
            where = _first_difference(self._first, trace)
            if where is not None:
                self._give_up("its array calls differ from one call to the next (control "
                              f"flow or Python numbers that change between calls): {where}")
            else:
                self.program = trace.program
                self._outputs = trace.outputs
            self._first = None
        return result

    def _give_up(self, reason: str) -> None:
        self.reason = reason
        self._first = None
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        warnings.warn(f"autograd.compile({name}) runs eagerly: {reason}", CompileWarning,
                      stacklevel=4)

    def _replay(self, args: tuple, kwargs: dict) -> Any:
        for t, attr, value in self.program.expect:
            if getattr(t, attr) is not value:
                # state re-bound since (load_state_dict, p.grad = None outside the
                # step...): the program would read the old arrays; trace again
                self.program, self.calls = None, 1
                return self.fn(*args, **kwargs)
        values = [a.data for a in _tensor_args(args, kwargs)]
        self.program.run(values)
        return _rebuild(self._outputs)


def _first_difference(first: _Trace, second: _Trace) -> str | None:
    """Where two traces of a step part ways (None: they do the same calls)."""
    a, b = first.signature(), second.signature()
    if a == b:
        return None
    k = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), None)
    if k is None:
        return f"one made {len(a)} calls, the next {len(b)}"
    label = second.rec.calls[k].label
    who = {"forward": lambda: f"the forward of {getattr(label[1], '__name__', '?')}",
           "backward": lambda: f"the backward rule {label[1].name()}"}.get(
        label[0], lambda: f"the step at {label[1]}")()
    return f"call {k} of {len(b)}, in {who}"


def _tensor_args(args: tuple, kwargs: dict) -> list:
    seen: dict[int, Tensor] = {}
    for x in (*args, *kwargs.values()):
        if isinstance(x, Tensor):
            seen.setdefault(id(x), x)
    return list(seen.values())


def _live_tensors(collect: bool = False) -> list:
    """Every Tensor in the process; ``collect``: first free unreachable cycles, so
    garbage (an earlier model, a dead graph) is neither state nor a reason to refuse."""
    if collect:
        gc.collect()
    return [o for o in gc.get_objects() if issubclass(type(o), Tensor)]


# --------------------------------------------------------------------------- outputs


class _Out:
    """An output Tensor of the program: a new Tensor around a copy of its buffer
    at every replay (so results of successive calls do not share memory)."""

    __slots__ = ("buffer",)

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer


def _rebuild(spec: Any) -> Any:
    if type(spec) is _Out:
        return Tensor._make(spec.buffer.copy(), None)
    if type(spec) in (tuple, list):
        return type(spec)(_rebuild(s) for s in spec)
    if type(spec) is dict:
        return {k: _rebuild(v) for k, v in spec.items()}
    return spec


# --------------------------------------------------------------------------- one trace


class _Trace:
    """One traced call of a step: the recording, then the program built from it."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.rec = Recording()
        self.broken: str | None = None
        self.program: Program | None = None
        self.outputs: Any = None
        self.roles: dict[int, Any] = {}  # id(base) -> the state slot it is

    # ------------------------------------------------------------------ running
    def run(self, args: tuple, kwargs: dict) -> Any:
        rec = self.rec
        inputs = _tensor_args(args, kwargs)
        input_ids = {id(t) for t in inputs}
        tensors = [t for t in _live_tensors(collect=True) if id(t) not in input_ids]
        for t in (*tensors, *inputs):
            if not isinstance(t.data, _ndarray) or isinstance(t.data, Traced):
                self.broken = (
                    "compile traces numpy (CPU) arrays, and a tensor alive in this process "
                    f"(shape {tuple(t.shape)}, device {t.device}) holds a "
                    f"{type(t.data).__name__} (any live tensor counts: the step may read it)")
                return self.fn(*args, **kwargs)
            if getattr(t, "_post_accumulate_grad_hooks", None):
                self.broken = ("a post-accumulate-grad hook (such as DistributedDataParallel's "
                               "all-reduce) does work outside numpy that a replay would skip")
                return self.fn(*args, **kwargs)
        self.start = {id(t): (t, t.data, t._grad) for t in tensors}
        self._learn_state(tensors)
        self.inputs = []
        originals = []
        for t in inputs:
            owned = arrays.buffer_like(t.data)
            rec.own.add(id(owned))
            rec.keep.append(owned)
            self.inputs.append(owned._plain)
            originals.append((t, t.data))
            t.data = owned
        swapped = []
        for t in tensors:
            swapped.append((t, t.data))
            t.data = traced(t.data)
        rec.opaque = self._opaque
        arrays.start(rec)
        try:
            result = self.fn(*args, **kwargs)
        finally:
            arrays.stop()
            for t, data in originals:
                t.data = data
            self._restore(swapped)
        self.broken = rec.broken
        if self.broken is None:
            self._build(result)
            return _rebuild(self.outputs)  # copies, as a replay returns: buffers get reused
        return _plain_result(result)

    def _learn_state(self, tensors: list) -> None:
        """Name every state array by the slot it sits in (a tensor's ``data`` or a
        parameter's ``grad``): that is how two traces are compared."""
        roles, rec = self.roles, self.rec
        for t in tensors:
            roles.setdefault(id(arrays._base(t.data)), ("data", t))
        for t in tensors:
            if t._grad is not None:
                roles[id(arrays._base(t._grad.data))] = ("grad", t)
        rec.known = dict(roles)

    def _restore(self, swapped: list) -> None:
        """Give each tensor its own array back; arrays made by the trace become plain
        views (they must not record anything later)."""
        for t, data in swapped:
            if isinstance(t.data, Traced) and t.data.__dict__.get("_plain") is data:
                t.data = data
        for t in _live_tensors():
            if isinstance(t.data, Traced):
                t.data = plain(t.data)

    # ------------------------------------------------------------------ opaque calls
    def _opaque(self, fn: Callable, args: tuple, label: str) -> Any:
        rec = self.rec
        sync = self._sync()
        if sync is not None:
            rec.add(sync, (), None, writes=(), kind="bind")
        rec.add(functools.partial(fn, *args), (), None, writes=(), kind="opaque")
        rec.calls[-1].label = ("step", label)
        rec.suspended += 1
        try:
            return fn(*args)
        finally:
            rec.suspended -= 1

    def _sync(self) -> Any:
        """The re-bindings of ``grad`` and ``data`` done so far, as a call."""
        changes = []
        for t, data, grad in self.start.values():
            if t._grad is not grad:
                changes.append((t, "_grad", t._grad))
            current = t.data
            if not (isinstance(current, Traced) and current.__dict__.get("_plain") is data):
                changes.append((t, "data", current))
        return _Rebind(changes) if changes else None

    # ------------------------------------------------------------------ building
    def _build(self, result: Any) -> None:
        rec = self.rec
        finish = []
        for t, data, grad in self.start.values():
            final_grad = t._grad
            if final_grad is not grad:
                if final_grad is not None and isinstance(final_grad.data, Traced):
                    final_grad.data = plain(final_grad.data)
                carried = grad is not None and final_grad is not None and id(
                    arrays._base(grad.data)) in rec.read_bases
                finish.append(_Carry(t, "_grad", grad, final_grad) if carried else
                              _Rebind([(t, "_grad", final_grad)]))
            if t.data is not data:
                carried = id(arrays._base(data)) in rec.read_bases
                finish.append(_Carry(t, "data", data, t.data) if carried else
                              _Rebind([(t, "data", t.data)]))
        for call in rec.calls:
            if isinstance(call.fn, _Rebind):
                call.fn.make_plain()
        self.outputs = _output_spec(result, rec)
        self.program = Program(rec.calls, self.inputs, self.roles, finish)
        self.program.output_arrays = _output_arrays(self.outputs)
        for step in finish:  # leave the state as every replay will leave it
            step()
        # the bindings a replay relies on when it starts: the data arrays it reads or
        # writes, and the gradients it adds to (a step that does not zero them)
        used = rec.read_bases
        self.program.expect = [(t, "data", t.data) for t, _, _ in self.start.values()
                               if id(arrays._base(t.data)) in used]
        self.program.expect += [(step.tensor, "_grad", step.start) for step in finish
                                if isinstance(step, _Carry) and step.attr == "_grad"]

    def signature(self) -> list:
        """The recording with every array named by its role (the trace's n-th
        buffer, the i-th input, a state slot), for comparing two traces."""
        order: dict[int, Any] = {}
        for i, buffer in enumerate(self.inputs):
            order[id(buffer)] = ("in", i)

        def role(array: Any) -> Any:
            base = arrays._base(array)
            key = id(base)
            named = order.get(key) or self.roles.get(key)
            if named is None:
                if key in self.rec.own:
                    named = order[key] = ("buf", len(order))
                else:
                    named = ("const", base.shape, base.dtype.str,
                             base.tobytes() if base.size <= 4096 else key)
            return (named, array.shape, array.strides, arrays_offset(array, base))

        def canon(x: Any) -> Any:
            if isinstance(x, _ndarray):
                return role(x)
            if type(x) in (tuple, list):
                return (type(x).__name__, *[canon(v) for v in x])
            if type(x) is dict:
                return tuple(sorted((k, canon(v)) for k, v in x.items()))
            if type(x) is slice:
                return ("slice", x.start, x.stop, x.step)
            if isinstance(x, functools.partial):
                return ("partial", canon(x.func), canon(x.args))
            if isinstance(x, _Rebind):
                return ("rebind", tuple(sorted(
                    (id(t), attr, None if v is None else
                     role(v.data if attr == "_grad" else v)) for t, attr, v in x.changes)))
            if callable(x) and hasattr(x, "__self__") and not isinstance(
                    x.__self__, (type(np), np.ufunc)):
                return ("method", x.__func__ if hasattr(x, "__func__") else x,
                        id(x.__self__))
            try:
                hash(x)
                return x
            except TypeError:
                return ("id", id(x))

        return [(c.kind, canon(c.fn), canon(c.args), canon(c.kwargs or {}))
                for c in self.rec.calls]


def arrays_offset(array: Any, base: Any) -> int:
    return array.__array_interface__["data"][0] - base.__array_interface__["data"][0]


def _plain_result(result: Any) -> Any:
    if isinstance(result, Traced):
        return plain(result)
    if type(result) in (tuple, list):
        return type(result)(_plain_result(r) for r in result)
    return result


def _output_spec(result: Any, rec: Recording) -> Any:
    if isinstance(result, Tensor):
        base = arrays._base(result.data)
        if id(base) in rec.own:
            return _Out(result.data)
        return result  # a state tensor (its data is updated in place)
    if type(result) in (tuple, list):
        return type(result)(_output_spec(r, rec) for r in result)
    if type(result) is dict:
        return {k: _output_spec(v, rec) for k, v in result.items()}
    return result


def _output_arrays(spec: Any) -> list:
    if type(spec) is _Out:
        return [spec.buffer]
    if type(spec) in (tuple, list):
        return [a for s in spec for a in _output_arrays(s)]
    if type(spec) is dict:
        return [a for s in spec.values() for a in _output_arrays(s)]
    return []


class _Rebind:
    """Set ``tensor.<attr>`` to what the step had set it to at this point."""

    __slots__ = ("changes",)

    def __init__(self, changes: list) -> None:
        self.changes = changes

    def make_plain(self) -> None:
        for _, attr, value in self.changes:
            if attr == "_grad" and value is not None and isinstance(value.data, Traced):
                value.data = plain(value.data)
        self.changes = [(t, attr, plain(v) if isinstance(v, Traced) else v)
                        for t, attr, v in self.changes]

    def __call__(self) -> None:
        for t, attr, value in self.changes:
            setattr(t, attr, value)

    def describe(self, printer: Any, refs: list) -> str:
        return printer.rebind(refs, self)


class _Carry:
    """The step read a slot's array and re-bound the slot to a new one: copy the new
    values into the old array and bind the slot to it again, so the next replay
    reads them where it reads."""

    __slots__ = ("tensor", "attr", "start", "end")

    def __init__(self, tensor: Tensor, attr: str, start: Any, end: Any) -> None:
        self.tensor, self.attr, self.start, self.end = tensor, attr, start, end

    def __call__(self) -> None:
        if self.attr == "_grad":
            np.copyto(self.start.data, self.end.data)
        else:
            np.copyto(self.start, self.end)
        setattr(self.tensor, self.attr, self.start)

    def describe(self, printer: Any, refs: list) -> str:
        start, end = ((self.start.data, self.end.data) if self.attr == "_grad" else
                      (self.start, self.end))
        what = "set_grad" if self.attr == "_grad" else "set_data"
        return (f"np.copyto({printer.value(refs, start)}, {printer.value(refs, end)}); "
                f"{what}({printer.tensor(self.tensor)}, {printer.value(refs, start)})")


def run_opaque(fn: Callable, *args: Any, label: str = "") -> Any:
    """Run ``fn(*args)``; inside a trace, record it as one call that a replay makes
    again as Python (what ``optimizer.step()`` does, so that its learning rate,
    step counts and schedule are read when it runs)."""
    rec = arrays.active()
    if rec is None or getattr(rec, "opaque", None) is None:
        return fn(*args)
    return rec.opaque(fn, args, label or getattr(fn, "__qualname__", repr(fn)))
