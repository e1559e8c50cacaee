"""How values and ops read in pictures and traces: exact when small, summarised
when large, and the derivative rule of each op in words."""

from __future__ import annotations

import re
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


def value_lines(value: Any, name: str, kind: str, grad: Any, show_grad: bool) -> list[str]:
    """The text of a value's box: name and kind, shape and dtype, data, grad."""
    title = " · ".join(part for part in (name, kind) if part)
    lines = [title] if title else []
    if isinstance(value, Tensor):
        lines.append(f"{tuple(value.shape)} {value.dtype}")
    lines.append("data " + summarize(value.data))
    if show_grad and grad is not None:
        lines.append("grad " + summarize(grad))
    return lines


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
    local = getattr(node, "local_grads", None)  # a Scalar op keeps its derivatives
    if local is not None:
        out.append("local grads " + ", ".join(number(d) for d in local))
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
    """The text of an op's oval: its name, its attributes, and whether backward
    freed it before its inputs could be read (``freed``)."""
    lines = [op_title(node), *op_attributes(node)]
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
