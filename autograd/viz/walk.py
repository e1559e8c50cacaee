"""Reading the graph behind a value: every value and op once, inputs first.

The walk is iterative (a chain of a million nodes needs no recursion) and only
reads ``grad_fn`` and ``inputs``: it never changes the graph.
"""

from __future__ import annotations

from typing import Any

from ..engine import Node


def too_many(limit: int) -> ValueError:
    return ValueError(
        f"viz: the graph has more than max_nodes={limit} boxes and ovals, too many to "
        "read. Pass max_nodes=<a larger number> (or max_nodes=None for no limit), or "
        "modules=model, collapse=True to draw each module's ops as one box."
    )


class GraphWalk:
    """The values and ops behind ``root`` in data-flow order (each after its inputs).

    ``items[i]`` is a value (Tensor or Scalar) or an op node; ``edges`` are
    ``(from, to)`` positions into ``items`` in data-flow direction: input -> op -> output.
    """

    __slots__ = ("root", "items", "position", "edges", "_neighbours")

    def __init__(self, root: Any, limit: int | None = None) -> None:
        if not hasattr(root, "grad_fn"):
            raise TypeError(
                f"viz: expected a Tensor or a Scalar, got {type(root).__name__}")
        self.root = root
        self.items: list = []
        self.position: dict[int, int] = {}  # id(item) -> its place in items
        self._visit(limit)
        self.edges = self._edges()
        self._neighbours: tuple | None = None

    def _visit(self, limit: int | None) -> None:
        """Iterative depth-first search; an item is listed after all it depends on."""
        visited: set[int] = set()
        stack = [self.root]
        while stack:
            item = stack[-1]
            key = id(item)
            if key in visited:
                stack.pop()
                if key not in self.position:
                    self.position[key] = len(self.items)
                    self.items.append(item)
                continue
            visited.add(key)
            if limit is not None and len(visited) > limit:
                raise too_many(limit)
            for child in reversed(inputs_of(item)):
                if id(child) not in visited:
                    stack.append(child)

    def _edges(self) -> list[tuple[int, int]]:
        at = self.position
        edges = []
        for i, item in enumerate(self.items):
            for source in inputs_of(item):
                edges.append((at[id(source)], i))
        return edges

    def is_op(self, i: int) -> bool:
        return isinstance(self.items[i], Node)

    @property
    def successors(self) -> list[list[int]]:
        """``successors[i]``: positions ``items[i]`` feeds (an op's outputs, a value's users)."""
        return self._adjacency()[0]

    @property
    def predecessors(self) -> list[list[int]]:
        return self._adjacency()[1]

    def _adjacency(self) -> tuple:
        if self._neighbours is None:
            succ: list[list[int]] = [[] for _ in self.items]
            pred: list[list[int]] = [[] for _ in self.items]
            for source, target in self.edges:
                succ[source].append(target)
                pred[target].append(source)
            self._neighbours = (succ, pred)
        return self._neighbours


def inputs_of(item: Any) -> tuple:
    """What feeds ``item``: an op's input values, a value's op (none for a leaf or
    for an op whose graph was freed by backward)."""
    if isinstance(item, Node):
        return tuple(item.inputs) if item.inputs is not None else ()
    fn = item.grad_fn
    return (fn,) if fn is not None else ()
