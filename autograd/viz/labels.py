"""How values and ops read in pictures and traces: exact when small, summarised
when large, and the derivative rule of each op in words."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import Node
from ..function import FunctionCtx, Op
from ..ops.scalar import ScalarOp
from ..tensor import Tensor

#: arrays with at most this many elements are shown in full, larger ones summarised
SMALL = 8

# Node slots that are bookkeeping, not attributes a reader wants to see.
_BOOKKEEPING = {Node, Op, FunctionCtx, ScalarOp, object}
# input and output sizes are on the value boxes already
_HIDDEN_SLOTS = {"in_shape", "in_size", "out_size", "__weakref__", "__dict__"}
_SLOT_TITLES = {"axes": "dim"}  # PyTorch's word for what the reductions call axes


def number(x: Any) -> str:
    return f"{x:.4g}"


def summarize(x: Any) -> str:
    """``x`` (a number, array, Tensor, or a tuple of them) as one short line."""
    if x is None:
        return "None"
    if isinstance(x, float):  # a Scalar's data or grad: the common case in big graphs
        return number(x)
    if isinstance(x, (list, tuple)):  # the gradients of a multi-output node
        return "(" + ", ".join(summarize(g) for g in x) + ")"
    array = np.asarray(x.data if isinstance(x, Tensor) else x)
    if array.ndim == 0:
        return number(array.item())
    if array.size <= SMALL:
        text = np.array2string(array, separator=", ", formatter={"all": number},
                               max_line_width=10**6)
        return " ".join(text.split())
    if array.dtype.kind == "b":
        return f"{int(array.sum())} of {array.size} true"
    low, high = array.min(), array.max()
    if low == high:
        return f"all {number(low)}"
    return f"min {number(low)}  mean {number(array.mean())}  max {number(high)}"


def value_kind(value: Any, is_root: bool) -> str:
    """'output' for the root, 'param' for a leaf that requires grad, 'const' for
    a value that needs none, '' for an intermediate result."""
    if is_root:
        return "output"
    if not value.requires_grad:
        return "const"
    return "param" if value.grad_fn is None else ""


def value_lines(value: Any, name: str, kind: str, grad: Any, show_grad: bool,
                parts: list | None = None) -> list[str]:
    """The text of a value's box: name and kind, shape and dtype, data, grad.

    ``parts``: the gradients each use of the value handed back, when it has more
    than one; the grad line then shows the sum (``grad 7 = 3 + 3 + 1``)."""
    title = " · ".join(part for part in (name, kind) if part)
    lines = [title] if title else []
    if isinstance(value, Tensor):
        lines.append(f"{tuple(value.shape)} {value.dtype}")
    lines.append("data " + summarize(value.data))
    if show_grad and grad is not None:
        lines += grad_lines(grad, parts)
    return lines


def compact_line(value: Any, name: str, grad: Any, show_grad: bool) -> str:
    """A value as one micrograd-like record: ``w1 | data 0.8 | grad -0.04418``."""
    fields = [name] if name else []
    if isinstance(value, Tensor):
        fields.append(str(tuple(value.shape)))
    fields.append("data " + _brief(value.data))
    if show_grad and grad is not None:
        fields.append("grad " + _brief(grad))
    return " | ".join(fields)


def _brief(x: Any) -> str:
    """Shorter than :func:`summarize`: a number, or the mean of an array."""
    text = summarize(x)
    if len(text) <= 24:
        return text
    array = np.asarray(x.data if isinstance(x, Tensor) else x)
    return f"mean {number(array.mean())}"


def _as_number(x: Any) -> float | None:
    """``x`` as a float when it is a number or a 0-d array, else None."""
    if isinstance(x, (int, float)):
        return float(x)
    array = np.asarray(x.data if isinstance(x, Tensor) else x)
    return float(array) if array.ndim == 0 and array.dtype.kind in "fiu" else None


def grad_lines(grad: Any, parts: list | None) -> list[str]:
    """``grad 7``, or for a value with several uses the sum that made it:
    ``grad 7 = 3 + 3 + 1`` (in the order the uses handed them back)."""
    head = "grad " + summarize(grad)
    if not parts or len(parts) < 2:
        return [head]
    numbers = [_as_number(p) for p in parts]
    if None not in numbers:
        terms = number(numbers[0]) + "".join(
            f" - {number(-n)}" if n < 0 else f" + {number(n)}" for n in numbers[1:])
    else:
        terms = " + ".join(summarize(p) for p in parts)
    shown_in_full = all(np.size(p.data if isinstance(p, Tensor) else p) <= SMALL
                        for p in parts)
    if shown_in_full and len(head) + len(terms) <= 40:
        return [f"{head} = {terms}"]
    if shown_in_full and len(terms) <= 60:
        return [head, f"  = {terms}"]
    return [head, f"  = the sum over its {len(parts)} uses"]


def op_title(node: Node) -> str:
    """A readable op name: ``MulBackward0`` reads ``mul``; Scalar ops add their symbol."""
    title = re.sub(r"Backward\d*$", "", node.name()).lower() or node.name()
    symbol = getattr(node, "symbol", None)
    return f"{title} ({symbol})" if symbol and symbol != title else title


def op_attributes(node: Node) -> list[str]:
    """``name=value`` for each attribute the op's own class keeps in its slots."""
    out = []
    for slot, value in _slot_values(node, _BOOKKEEPING):
        if hasattr(type(value), "__slots__") and type(value).__module__ != "builtins":
            # a helper object (a conv's window): its fields are the attributes
            out += [f"{name}={_short(v)}" for name, v in _slot_values(value, {object})]
            continue
        text = _short(value)
        if len(text) > 40:
            text = text[:37] + "..."
        out.append(f"{_SLOT_TITLES.get(slot, slot)}={text}")
    return out


def _slot_values(obj: Any, skip: set) -> list[tuple[str, Any]]:
    """``(name, value)`` of ``obj``'s slots that are set and shown, skipping the
    slots of the classes in ``skip``."""
    pairs = []
    for cls in type(obj).__mro__:
        if cls in skip:
            continue
        slots = cls.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            value = getattr(obj, slot, None)
            if slot not in _HIDDEN_SLOTS and value is not None:
                pairs.append((slot, value))
    return pairs


def _short(value: Any) -> str:
    """An attribute's value, arrays by their shape only."""
    if isinstance(value, np.ndarray):
        return f"array{tuple(value.shape)}"
    if isinstance(value, tuple):
        inner = ", ".join(_short(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def op_lines(node: Node, freed: bool) -> list[str]:
    """The text of an op's oval: its name, its formula (``z = a * b``, naming the
    inputs its edges' derivatives refer to), its attributes, and whether backward
    freed it before its inputs could be read (``freed``)."""
    lines = [op_title(node)]
    formula, _ = op_formula(node)
    if formula and local_grads(node) is None:  # Scalar edges carry numbers instead
        lines.append(_cut(formula, 40))
    lines += op_attributes(node)
    if freed:
        lines.append("(freed by backward;")
        lines.append("use retain_graph=True)")
    return lines


def rule_of(node: Node) -> str:
    """The op's derivative rule in words: its ``rule`` attribute, else the formula
    paragraph that opens its class docstring (a user Function: its class's)."""
    rule = getattr(node, "rule", None)
    if rule:
        return rule
    cls = getattr(node, "fn_cls", None) or type(node)
    doc = cls.__doc__
    if doc:
        return " ".join(doc.strip().split("\n\n")[0].split())
    return f"{node.name()}: no rule written down"


def namer(names: Any = None,
          param_names: dict[int, str] | None = None) -> Callable[[Any], str]:
    """A function giving each value its name: from ``names`` (``{tensor: "x"}`` or
    ``{"x": tensor}``), else a model's parameter names, else its ``label``."""
    by_id = dict(param_names or {})
    for key, value in (names or {}).items():
        if isinstance(key, str):
            by_id[id(value)] = key
        else:
            by_id[id(key)] = str(value)

    def name_of(value: Any) -> str:
        return by_id.get(id(value)) or getattr(value, "label", "") or ""

    return name_of


def local_grads(node: Node) -> tuple | None:
    """The local derivatives of an op, one number per input, where the op keeps
    them as numbers (a Scalar op); None otherwise or once backward freed them."""
    return getattr(node, "local_grads", None)


# "z = a * b.   dz/da = b,  dz/db = a": the formula, then one term per input
_FORMULA_END = re.compile(r"\.\s+(?=d)")
_ASIDE = re.compile(r"\s+\([^()]*\)$")
_NEXT_TERM = re.compile(r",\s+(?=d[^\s=:/]*/d)")


def op_formula(node: Node) -> tuple[str | None, list[str]]:
    """The op's formula and its derivative terms, read from its rule:
    ``("z = a * b", ["dz/da = b", "dz/db = a"])``; ``(None, [])`` when the rule is
    not written that way."""
    rule = rule_of(node)
    formula, terms = None, rule
    if not rule.startswith("d"):
        head = _FORMULA_END.split(rule, maxsplit=1)
        if len(head) != 2:
            return None, []
        formula, terms = head
    return formula, [t.strip() for t in _NEXT_TERM.split(terms)]


def edge_labels(node: Node) -> list[str | None]:
    """What the edge from each input into ``node`` says: the local derivative of
    the op's output with respect to that input. A number where the op keeps it
    (``local 1.5``), else the op's formula for that input (``dz/da = b``); None
    where the rule does not give one term per input."""
    n = len(node.inputs or ())
    local = local_grads(node)
    if local is not None and len(local) == n:
        return [f"local {number(d)}" for d in local]
    _, terms = op_formula(node)
    if len(terms) != n:
        return [None] * n
    # an aside in parentheses belongs to the rule, not on an edge
    return [_cut(_ASIDE.sub("", t), 34) for t in terms]


def _cut(text: str, width: int) -> str:
    """``text`` on at most two lines of about ``width`` characters."""
    lines = textwrap.wrap(text, width)
    if len(lines) > 2:
        lines = [lines[0], lines[1][: width - 1] + "…"]
    return "\n".join(lines)
