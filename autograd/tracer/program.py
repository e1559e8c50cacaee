"""A traced step as a program: its array calls, run again on new inputs, and
printed as the straight-line Python they amount to.

Every call writes into the buffer it wrote into while tracing (numpy's ``out=``),
so a replay allocates nothing, and an array the step made as a view of another
(a transpose, a reshape, a slice) stays a view of the same memory and needs no
call at all.
"""

from __future__ import annotations

import functools
import operator
import re
from typing import Any

import numpy as np

from ..backend import random
from ..function import constant
from .arrays import Call, _fill_into, _fill_many

_ndarray = np.ndarray

_INFIX = {np.add: "+", np.subtract: "-", np.multiply: "*", np.true_divide: "/",
          np.matmul: "@", np.power: "**", np.greater: ">", np.less: "<",
          np.greater_equal: ">=", np.less_equal: "<=", np.equal: "==", np.not_equal: "!=",
          np.floor_divide: "//", np.logical_and: "&", np.bitwise_and: "&"}
_INPLACE = {np.add: "+=", np.subtract: "-=", np.multiply: "*=", np.true_divide: "/="}
_REDUCE = {np.add: "sum", np.maximum: "max", np.minimum: "min", np.multiply: "prod",
           np.logical_and: "all", np.logical_or: "any"}


class Program:
    """The array calls of one traced step, in order.

    ``run(inputs)`` copies the inputs' data into the program's input buffers and
    runs every call again; ``str(program)`` is the same calls as a Python
    function, one line per op and per backward rule, that runs (see
    :meth:`namespace`).
    """

    def __init__(self, calls: list[Call], inputs: list, roles: dict[int, Any],
                 finish: list) -> None:
        self.calls = calls
        self.inputs = inputs  # the input buffers, in argument order
        self.roles = roles  # id(base array) -> ("data" | "grad", tensor): the state
        self.finish = finish  # calls run after the program: copies, re-bindings
        self._steps = [_bind(c) for c in calls] + finish

    def run(self, arrays: list) -> None:
        """Replay the step on ``arrays`` (one per input buffer)."""
        for buffer, array in zip(self.inputs, arrays):
            np.copyto(buffer, array)
        for step in self._steps:
            step()

    def __len__(self) -> int:
        return len(self.calls)

    # ------------------------------------------------------------------ printing
    def __str__(self) -> str:
        return _Printer(self).text()

    def source(self) -> tuple[str, dict]:
        """The printed program and what it refers to (numpy, the state arrays and
        tensors, the optimizer steps it calls): ``text, ns = program.source();
        exec(text, ns); ns["step"](x0, ...)`` runs the step as printed."""
        printer = _Printer(self)
        return printer.text(), printer.namespace


def _bind(call: Call) -> Any:
    if call.fast is not None:  # the same values without a new array (see arrays._refill)
        return call.fast
    if call.kwargs:
        return functools.partial(call.fn, *call.args, **call.kwargs)
    return functools.partial(call.fn, *call.args)


# --------------------------------------------------------------------------- printing

# numpy's own defaults, dropped from printed calls
_DEFAULTS = {"where": True, "dtype": None, "keepdims": False, "casting": "same_kind",
             "subok": True, "order": "K", "initial": np._NoValue}


def _base(array: Any) -> Any:
    base = array.base
    while base is not None and isinstance(base, _ndarray):
        array, base = base, base.base
    return array


class _Ref:
    """An array in a line being printed: which base, and the view of it."""

    __slots__ = ("base", "view")

    def __init__(self, array: Any) -> None:
        self.base = _base(array)
        self.view = array


class _Line:
    """One call as text with array references left open (``{0}``, ``{1}``...), so
    names are given, and single-use results inlined, once every line is known."""

    __slots__ = ("template", "refs", "targets", "group", "comment", "atom")

    def __init__(self, template: str, refs: list, targets: list, group: Any,
                 comment: str, atom: bool = False) -> None:
        self.template, self.refs, self.targets = template, refs, targets
        self.group, self.comment, self.atom = group, comment, atom


class _Printer:
    """Writes a program as a Python function: inputs ``x0...``, state arrays
    ``p0...`` (a tensor's data) and ``g0...`` (a gradient) by first use, results
    ``t0...``; within one backward rule, a result used once is written in place of
    its name, so each rule reads as one line."""

    def __init__(self, program: Program) -> None:
        self.program = program
        # nan and inf: what repr() writes for those floats (in literals too)
        self.namespace: dict = {"np": np, "rng": _rng, "set_grad": _set_grad,
                                "set_data": _set_data, "nan": np.nan, "inf": np.inf}
        self.names: dict[int, str] = {}
        self.counts = {"p": 0, "g": 0, "t": 0, "c": 0, "f": 0, "T": 0}
        self.input_bases = {id(_base(b)): f"x{i}" for i, b in enumerate(program.inputs)}
        self.roles = program.roles
        self.tensors: dict[int, str] = {}
        # buffers the program writes into: results, even those no line makes (memory
        # asked for empty, then filled piece by piece), which get a line of their own
        self.written = {id(_base(a)) for c in program.calls for a in (*c.outputs, *c.writes)}
        self.allocations: list[str] = []

    # ------------------------------------------------------------------ values
    def ref(self, refs: list, array: Any) -> str:
        refs.append(_Ref(array))
        return "{" + str(len(refs) - 1) + "}"

    def value(self, refs: list, x: Any) -> str:
        if isinstance(x, _ndarray):
            return self.ref(refs, x)
        if type(x) is tuple:
            inner = ", ".join(self.value(refs, v) for v in x)
            return f"({inner},)" if len(x) == 1 else f"({inner})"
        if type(x) is list:
            return "[" + ", ".join(self.value(refs, v) for v in x) + "]"
        if type(x) is slice:
            parts = ["" if v is None else repr(v) for v in (x.start, x.stop, x.step)]
            return ":".join(parts[:2] if x.step is None else parts)
        if x is Ellipsis:
            return "..."
        if isinstance(x, np.dtype):
            return _dtype(x)
        if isinstance(x, type) and x.__module__ == "numpy":
            return f"np.{x.__name__}"
        if x in (bool, int, float, complex):  # a dtype given as a Python type
            return x.__name__
        if isinstance(x, np.generic):
            return repr(x.item())
        return repr(x)

    def kwargs(self, refs: list, kwargs: dict) -> list:
        return [f"{k}={self.value(refs, v)}" for k, v in kwargs.items()
                if k != "out" and not (k in _DEFAULTS and _same(v, _DEFAULTS[k]))]

    def fn_name(self, fn: Any) -> str:
        if isinstance(fn, np.ufunc):
            return f"np.{fn.__name__}"
        name = getattr(fn, "__name__", None)
        if name and getattr(np, name, None) is fn:
            return f"np.{name}"
        key = f"f{self.counts['f']}"
        self.counts["f"] += 1
        self.namespace[key] = fn
        return key

    def expr(self, refs: list, fn: Any, args: tuple, kwargs: dict) -> tuple[str, bool]:
        """``fn(*args, **kwargs)`` as an expression, and whether it is an atom."""
        ufunc = getattr(fn, "__self__", None)
        method = getattr(fn, "__name__", "")
        extra = self.kwargs(refs, kwargs or {})
        if isinstance(ufunc, np.ufunc):
            if method == "__call__" and not extra:
                if ufunc in _INFIX and len(args) == 2:
                    return (f"{self.value(refs, args[0])} {_INFIX[ufunc]} "
                            f"{self.value(refs, args[1])}", False)
                if ufunc is np.negative:
                    return f"-{self.value(refs, args[0])}", False
            if method == "reduce" and ufunc in _REDUCE:
                rest = [self.value(refs, a) for a in args[1:]] + extra
                return (f"{self.value(refs, args[0])}.{_REDUCE[ufunc]}({', '.join(rest)})",
                        True)
            name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        elif fn is operator.getitem:
            return f"{self.value(refs, args[0])}[{self.index(refs, args[1])}]", True
        elif getattr(fn, "__objclass__", None) is _ndarray:
            rest = [self.value(refs, a) for a in args[1:]] + extra
            return f"{self.value(refs, args[0])}.{fn.__name__}({', '.join(rest)})", True
        else:
            name = self.fn_name(fn)
        parts = [self.value(refs, a) for a in args] + extra
        return f"{name}({', '.join(parts)})", True

    def index(self, refs: list, index: Any) -> str:
        items = index if type(index) is tuple else (index,)
        return ", ".join(self.value(refs, i) for i in items) or "()"

    # ------------------------------------------------------------------ lines
    def line(self, call: Call) -> _Line:
        fn, args, kwargs = call.fn, call.args, call.kwargs or {}
        refs: list = []
        targets: list = []
        group = call.label[1] if call.label[0] == "backward" else id(call)
        comment = _comment(call)
        atom = False
        if call.kind == "opaque":
            template = f"{self.fn_name(fn)}()"
            comment = f"{call.label[1]}: Python, at every call"
        elif call.kind == "bind":
            template = self.rebind(refs, fn)
        elif call.kind == "check":
            template, _ = self.expr(refs, fn, args, kwargs)
            comment = f"{getattr(fn, '__name__', 'check')}: raises on bad values, as eager"
        elif fn is _fill_into or fn is _fill_many:
            outs = args[0] if fn is _fill_many else (args[0],)
            targets = [_base(o) for o in outs]
            template, atom = self.expr(refs, args[1], args[2:], kwargs)
        elif call.kind == "draw":
            out, dtype = args
            kind = "random" if "uniform" in fn.__name__ else "standard_normal"
            template = f"rng().{kind}({out.shape}, dtype={_dtype(np.dtype(dtype))})"
            targets, atom = [_base(out)], True
        elif fn is operator.setitem:
            template = (f"{self.value(refs, args[0])}[{self.index(refs, args[1])}] = "
                        f"{self.value(refs, args[2])}")
        else:
            ufunc = getattr(fn, "__self__", None)
            out = kwargs.get("out")
            if isinstance(ufunc, np.ufunc) and out is not None and call.outputs:
                targets = [_base(o) for o in call.outputs]
                template, atom = self.expr(refs, fn, args, kwargs)
            elif isinstance(ufunc, np.ufunc) and out is not None:
                target = out[0] if type(out) is tuple else out
                rest = {k: v for k, v in kwargs.items() if k != "out"}
                if (fn.__name__ == "__call__" and ufunc in _INPLACE and len(args) == 2
                        and args[0] is target and not self.kwargs([], rest)
                        and _whole(target)):  # ``view() += b`` is not Python
                    template = (f"{self.value(refs, target)} {_INPLACE[ufunc]} "
                                f"{self.value(refs, args[1])}")
                elif target.ndim == 0 and id(_base(target)) not in self.roles:
                    # a 0-d result of the program is a numpy scalar when printed
                    text, _ = self.expr(refs, fn, args, rest)
                    template = f"{self.value(refs, target)} = {text}"
                else:  # np.f(a, b, out=c): the call form, never infix
                    name = f"np.{ufunc.__name__}" + (
                        "" if fn.__name__ == "__call__" else f".{fn.__name__}")
                    parts = [self.value(refs, a) for a in args] + self.kwargs(refs, rest)
                    template = f"{name}({', '.join(parts)}, out={self.value(refs, out)})"
            else:
                template, _ = self.expr(refs, fn, args, kwargs)
        return _Line(template, refs, targets, group, comment, atom)

    def rebind(self, refs: list, rebind: Any) -> str:
        parts = []
        for t, attr, value in rebind.changes:
            target = self.tensor(t)
            if attr == "_grad":
                shown = "None" if value is None else self.value(refs, value.data)
                parts.append(f"set_grad({target}, {shown})")
            else:
                parts.append(f"set_data({target}, {self.value(refs, value)})")
        return "; ".join(parts)

    def tensor(self, t: Any) -> str:
        name = self.tensors.get(id(t))
        if name is None:
            name = self.tensors[id(t)] = f"T{self.counts['T']}"
            self.counts["T"] += 1
            self.namespace[name] = t
        return name

    # ------------------------------------------------------------------ naming
    def name(self, ref: _Ref) -> str:
        key = id(ref.base)
        name = self.names.get(key) or self.input_bases.get(key)
        if name is None:
            role = self.roles.get(key)
            if role is not None:
                prefix = "g" if role[0] == "grad" else "p"
                name = f"{prefix}{self.counts[prefix]}"
                self.counts[prefix] += 1
                self.namespace[name] = ref.base
            elif key in self.written:  # filled in place, made by no line: made here
                name = f"t{self.counts['t']}"
                self.counts["t"] += 1
                self.allocations.append(f"{name} = np.empty({ref.base.shape}, "
                                        f"{_dtype(ref.base.dtype)})")
            elif ref.base.size <= 8 and ref.view is ref.base:
                return _literal(ref.base)
            else:
                name = f"c{self.counts['c']}"
                self.counts["c"] += 1
                self.namespace[name] = ref.base
            self.names[key] = name
        return _view(name, ref.base, ref.view)

    def text(self) -> str:
        lines = [self.line(c) for c in self.program.calls]
        finish = []
        for step in self.program.finish:
            refs: list = []
            finish.append(_Line(step.describe(self, refs), refs, [], None, ""))
        defined = {}  # id(base) -> index of the line that makes it
        uses: dict[int, list] = {}
        for k, line in enumerate(lines + finish):
            for ref in line.refs:
                uses.setdefault(id(ref.base), []).append(k)
            for target in line.targets:
                defined.setdefault(id(target), k)
        outputs = {id(_base(o)) for o in getattr(self.program, "output_arrays", [])}
        # a result used once, by a later line of the same backward rule, as itself
        # (not a view) and never written again, is written where it is used
        inline: dict[int, int] = {}
        for key, k in defined.items():
            where = uses.get(key, [])
            line = lines[k] if k < len(lines) else None
            if (line is None or len(line.targets) != 1 or len(where) != 1 or key in outputs
                    or where[0] >= len(lines) or where[0] <= k):
                continue
            user = lines[where[0]]
            if user.group != line.group or line.group is None or isinstance(line.group, int):
                continue
            ref = next(r for r in user.refs if id(r.base) == key)
            if ref.view is not ref.base and ref.view.shape != ref.base.shape:
                continue
            inline[key] = k
        rendered: dict[int, str] = {}

        def render(k: int, line: _Line) -> str:
            parts = []
            for ref in line.refs:
                key = id(ref.base)
                if key in inline:
                    inner = rendered[inline[key]]
                    parts.append(inner if lines[inline[key]].atom else f"({inner})")
                else:
                    parts.append(self.name(ref))
            return line.template.format(*parts)

        out = [f"def step({', '.join(self.input_bases.values())}):"]
        section = None
        pending: list = []  # the statements of the backward rule being written

        def flush() -> None:
            if not pending:
                return
            group_comment = pending[0][1]
            texts = [t for t, _ in pending]
            assigns = [t.split(" = ", 1) for t in texts]
            if len(texts) > 1 and all(len(a) == 2 and "," not in a[0] and "[" not in a[0]
                                      for a in assigns) and not any(
                    a[0] in b[1] for a in assigns for b in assigns):
                text = (", ".join(a[0] for a in assigns) + " = "
                        + ", ".join(a[1] for a in assigns))
            else:
                text = "; ".join(texts)
            pad = " " * max(1, 56 - len(text)) if group_comment else ""
            out.append(f"    {text}{pad}{'# ' + group_comment if group_comment else ''}")
            pending.clear()

        last_group = None
        for k, (call, line) in enumerate(zip(self.program.calls, lines)):
            text = render(k, line)
            rendered[k] = text
            if line.targets and id(line.targets[0]) in inline:
                continue
            kind = {"forward": "forward", "backward": "backward", "seed": "backward",
                    "accumulate": "backward"}.get(call.label[0], "step")
            if line.group is not last_group or kind != "backward":
                flush()
            last_group = line.group
            if kind != section:
                out.append(f"    # ---- {kind}")
                section = kind
            for allocation in self.allocations:
                if kind == "backward":
                    pending.append((allocation, line.comment))
                else:
                    out.append(f"    {allocation}")
            self.allocations.clear()
            if line.targets:
                names = []
                for target in line.targets:
                    key = id(target)
                    if key not in self.names:
                        self.names[key] = f"t{self.counts['t']}"
                        self.counts["t"] += 1
                    names.append(self.names[key])
                text = f"{', '.join(names)} = {text}"
            if kind == "backward":
                pending.append((text, line.comment))
                continue
            pad = " " * max(1, 56 - len(text)) if line.comment else ""
            out.append(f"    {text}{pad}{'# ' + line.comment if line.comment else ''}")
        flush()
        assigned = sorted({m.group(1) for m in re.finditer(
            r"^    ([pgc]\d+) [-+*/]?= ", "\n".join(out), re.M)}, key=_natural)
        if assigned:  # state updated in place (``p0 -= ...``) is the module's, not local
            out.insert(1, f"    global {', '.join(assigned)}")
        if finish:
            out.append("    # ---- gradients and data left where the step left them")
        for k, line in enumerate(finish):
            out.append(f"    {render(len(lines) + k, line)}")
        results = [self.name(_Ref(o)) for o in getattr(self.program, "output_arrays", [])]
        out.append(f"    return {', '.join(results) or 'None'}")
        return "\n".join(out) + "\n"


def _natural(name: str) -> tuple:
    return name[0], int(name[1:])


def _same(value: Any, default: Any) -> bool:
    try:
        return value is default or bool(value == default)
    except (TypeError, ValueError):
        return False


def _dtype(dtype: Any) -> str:
    dtype = np.dtype(dtype)
    return f"np.{dtype.name}" if dtype.name in ("float32", "float64", "int64", "int32",
                                                "bool", "uint8") else f"np.dtype({dtype.str!r})"


def _rng() -> Any:
    return random.default_generator()


def _set_grad(tensor: Any, array: Any) -> None:
    """``tensor.grad`` bound to ``array`` (as backward leaves it)."""
    tensor._grad = None if array is None else constant(array)


def _set_data(tensor: Any, array: Any) -> None:
    tensor.data = array


def _comment(call: Call) -> str:
    kind = call.label[0]
    if kind == "backward":
        return call.label[1].name()
    if kind == "forward":
        cls = call.label[1]
        return getattr(cls, "__name__", "").removesuffix("Op").lower()
    if kind in ("accumulate", "seed"):
        return {"accumulate": "into .grad", "seed": "d loss / d loss"}[kind]
    return ""


def _literal(array: Any) -> str:
    return f"np.array({array.tolist()!r}, {_dtype(array.dtype)})"


def _view(name: str, base: Any, array: Any) -> str:
    """``name`` (the base array) written as the view ``array`` is of it."""
    if array is base or (array.shape == base.shape and array.strides == base.strides
                         and _offset(array, base) == 0 and array.dtype == base.dtype):
        return name
    offset = _offset(array, base)
    if array.dtype == base.dtype and offset == 0:
        if all(s == 0 for s in array.strides) and base.size == 1:
            return f"np.broadcast_to({name}, {array.shape})"
        if array.ndim == 2 and base.ndim == 2 and (
                array.shape == base.shape[::-1] and array.strides == base.strides[::-1]):
            return f"{name}.T"
        if array.flags.c_contiguous and base.flags.c_contiguous and array.size == base.size:
            return f"{name}.reshape({array.shape})"
    if array.dtype == base.dtype and base.flags.c_contiguous:
        start = offset // base.itemsize
        return (f"np.lib.stride_tricks.as_strided({name}.reshape(-1)[{start}:], "
                f"{array.shape}, {array.strides})")
    # the base's bytes in memory order, from the view's first byte, as its dtype
    flat = f"{name}.reshape(-1)" if base.flags.c_contiguous else f"{name}.reshape(-1, order='A')"
    return (f"np.lib.stride_tricks.as_strided({flat}.view(np.uint8)[{offset}:].view("
            f"{_dtype(array.dtype)}), {array.shape}, {array.strides})")


def _whole(array: Any) -> bool:
    """Whether ``array`` is printed as a bare name (it is its base array, as a view
    or not), so that it can stand left of ``+=``."""
    base = _base(array)
    return array is base or (array.shape == base.shape and array.strides == base.strides
                             and _offset(array, base) == 0 and array.dtype == base.dtype)


def _offset(array: Any, base: Any) -> int:
    return array.__array_interface__["data"][0] - base.__array_interface__["data"][0]
