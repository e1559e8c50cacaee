"""Which parts of a graph belong to which module of a model.

A model is anything with ``named_modules()`` and ``named_parameters()`` (an
``nn.Module``). A parameter named ``layers.0.weight`` belongs to the module
``layers.0``. That module's part of the graph is its parameters, the ops that
take one of them as an input, every value and op on a data-flow path between
two such ops (``x @ W.T + b``: the matmul between ``W.T`` and ``+ b``), and the
values those ops make.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from .walk import GraphWalk


class Grouping(NamedTuple):
    param_names: dict[int, str]  # id(parameter) -> its dotted name
    member: dict[int, str]  # walk position -> name of the module it belongs to
    titles: dict[str, str]  # module name -> "layers.0 (Linear)"


def cluster_id(module_name: str) -> str:
    """A DOT subgraph name for a module: ``layers.0`` -> ``cluster_layers_0``."""
    return "cluster_" + (re.sub(r"\W", "_", module_name) or "model")


def group_by_module(walk: GraphWalk, model: Any) -> Grouping:
    if not (hasattr(model, "named_modules") and hasattr(model, "named_parameters")):
        raise TypeError(
            "viz: modules= needs a model with named_modules() and named_parameters() "
            f"(an nn.Module), got {type(model).__name__}"
        )
    titles = {}
    for name, module in model.named_modules():
        kind = type(module).__name__
        titles[name] = f"{name} ({kind})" if name else kind
    param_names = {id(p): name for name, p in model.named_parameters()}
    owned: dict[str, list[int]] = {}  # module -> positions of its parameters
    for i, item in enumerate(walk.items):
        name = param_names.get(id(item))
        if name is not None:
            owned.setdefault(name.rpartition(".")[0], []).append(i)

    member: dict[int, str] = {}
    for module, params in owned.items():
        direct = {op for p in params for op in walk.successors[p]}
        for i in sorted(params) + _between(walk, direct):
            member.setdefault(i, module)
    return Grouping(param_names, member, titles)


def _between(walk: GraphWalk, direct: set) -> list[int]:
    """Positions on a data-flow path from one ``direct`` op to another, plus the
    values those ops make. Positions are in data-flow order, so one forward and
    one backward pass settle both reachabilities."""
    n = len(walk.items)
    after = [False] * n  # reachable from a direct op
    for i in range(n):
        after[i] = i in direct or any(after[p] for p in walk.predecessors[i])
    before = [False] * n  # reaches a direct op
    for i in reversed(range(n)):
        before[i] = i in direct or any(before[s] for s in walk.successors[i])
    inside = [i for i in range(n) if after[i] and before[i]]
    made = [s for i in inside if walk.is_op(i) for s in walk.successors[i]
            if not before[s]]
    return inside + made
