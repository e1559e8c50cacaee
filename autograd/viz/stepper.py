"""Backpropagation one node at a time, on the same driver as ``backward()``.

``BackwardStepper(loss)`` advances :func:`autograd.engine.iter_backward` (the
generator ``backward()`` runs to the end) one op node per ``step()``, so what it
shows can never disagree with ``backward()``. Each step is a :class:`StepRecord`:
the node, the gradient that reached its output, its derivative rule, and the
gradients it handed to each input. Steps are numbered from 1, the same number in
the records, the trace, the pictures and the notebook widget's slider.
"""

from __future__ import annotations

import contextlib
import types
from collections import deque
from collections.abc import Iterator
from typing import Any, NamedTuple

from ..engine import FREED_GRAPH, Node, iter_backward, no_grad, op_nodes
from ..tensor import Tensor, seed_gradients
from .dot import Highlight, build, digraph, texts
from .labels import namer, op_title, rule_of, summarize
from .walk import GraphWalk
from .widget import stepper_widget

ALREADY_FREED = (
    "BackwardStepper: backward() has already run through this graph and freed it "
    "(backward keeps the values a graph saved only until the gradients are computed), "
    "so there is nothing left to step through.\n"
    "To fix it, build the graph again and make the stepper in place of calling "
    "backward (stepping to the end leaves the same .grad), or keep the graph when you "
    "call backward:\n"
    "    loss.backward(retain_graph=True)"
)


class StepRecord(NamedTuple):
    """One step of backward: op ``node`` (named ``op``) received ``grad_output`` for
    its output, applied ``rule`` and handed ``grad_inputs[k]`` to ``inputs[k]``
    (None where an input needs no gradient). ``step`` numbers the steps from 1."""

    node: Node
    op: str
    grad_output: Any
    rule: str
    grad_inputs: tuple
    inputs: tuple
    step: int


class BackwardStepper:
    """Walk backward from ``loss`` one op node at a time.

    ``step()`` returns the next :class:`StepRecord` (None when done), ``back()``
    goes one step back, ``reset()`` to the start, ``goto(k)`` to just after step
    ``k`` (0: before the first), ``run()`` to the end. ``len(stepper)`` is the
    number of op nodes, one step each; iterating gives every record. ``draw()``
    pictures the graph with the visited ops and the current one marked;
    ``print(stepper)`` gives the trace; ``show()`` is a notebook widget.

    Stepping to the end leaves exactly the ``.grad`` that ``loss.backward()``
    leaves, and frees the graph as backward does, unless ``retain_graph=True``.
    ``gradient`` seeds a non-scalar loss, as in ``backward``; ``names``
    (``{tensor: "x"}``) names values in the trace and the pictures. A node that
    no gradient reaches (a rule returned None for it) is skipped, as backward
    skips it.

    How ``back()`` works: the driver is a generator and cannot run backwards, so
    ``back()`` restores every ``.grad`` in the graph to what it was when the
    stepper was made and replays the driver up to one step earlier. When the end
    freed the graph, the stepper keeps what the freed nodes held (as
    ``retain_graph=True`` would, for as long as the stepper lives) and puts it back
    before replaying. Gradient hooks run again on every replay.
    """

    def __init__(self, loss: Any, retain_graph: bool = False, *, gradient: Any = None,
                 names: Any = None) -> None:
        if not hasattr(loss, "grad_fn"):
            raise TypeError(
                f"BackwardStepper: expected a Tensor or a Scalar, got {type(loss).__name__}")
        self.loss = loss
        self.retain_graph = retain_graph
        self._gradient = gradient
        self._seeds()  # fail now, not at the first step, on a loss that cannot backward
        try:
            self._ops = op_nodes([loss])
        except RuntimeError as err:
            if str(err) != FREED_GRAPH:
                raise
            raise RuntimeError(ALREADY_FREED) from None
        self._walk = GraphWalk(loss)
        self._texts = texts(self._walk)  # read now: the end of backward frees it
        self._names = names
        self._name_of = namer(names)
        self._start_grads = [(v, v.grad) for v in self._walk.items if not isinstance(v, Node)]
        self._driver: Iterator | None = None
        self._records: list[StepRecord] = []
        self._kept: list | None = None  # what the end freed, to step back over it
        self.done = False

    def _seeds(self) -> list:
        if isinstance(self.loss, Tensor):
            return seed_gradients((self.loss,), self._gradient, "BackwardStepper")
        if not self.loss.requires_grad:
            raise RuntimeError("BackwardStepper: this Scalar does not require grad")
        return [1.0 if self._gradient is None else float(self._gradient)]

    # ------------------------------------------------------------------ stepping
    def __len__(self) -> int:
        return len(self._ops)

    @property
    def records(self) -> list[StepRecord]:
        """The records of the steps taken so far."""
        return list(self._records)

    @property
    def current(self) -> StepRecord | None:
        """The record of the last step taken (None before the first)."""
        return self._records[-1] if self._records else None

    def step(self) -> StepRecord | None:
        """Run the next node's rule; its record, or None when backward is done."""
        if self.done:
            return None
        if self._driver is None:
            self._driver = iter_backward([self.loss], self._seeds(), retain_graph=True)
        try:
            step = next(self._driver)
        except StopIteration:
            self._finish()
            return None
        node = step.node
        record = StepRecord(node, op_title(node), step.grad_output, rule_of(node),
                            step.grad_inputs, tuple(node.inputs), len(self._records) + 1)
        self._records.append(record)
        if len(self._records) == len(self._ops):
            self._finish()
        return record

    def _finish(self) -> None:
        # the last leaves get their gradients after the last node's step
        deque(self._driver, maxlen=0)
        self.done = True
        if not self.retain_graph:
            self._kept = [kept for node in self._ops for kept in _release_keeping(node)]

    def run(self) -> list[StepRecord]:
        """Step to the end; all records."""
        while self.step() is not None:
            pass
        return self.records

    def goto(self, k: int) -> StepRecord | None:
        """Go to just after step ``k`` (0: before the first step); the current record."""
        if not 0 <= k <= len(self):
            raise IndexError(f"BackwardStepper.goto: step {k} is outside 0..{len(self)}")
        if k < len(self._records):
            if self._kept is not None:  # the end freed the graph: put it back
                for owner, descriptor, value in self._kept:
                    descriptor.__set__(owner, value)
                self._kept = None
            for value, grad in self._start_grads:
                value.grad = grad
            self._driver, self._records, self.done = None, [], False
        while len(self._records) < k and self.step() is not None:
            pass
        return self.current

    def back(self) -> StepRecord | None:
        """Undo the last step (see the class docstring); the new current record."""
        return self.goto(max(len(self._records) - 1, 0))

    def reset(self) -> None:
        """Back to before the first step, every ``.grad`` as it was at the start."""
        self.goto(0)

    def __iter__(self) -> Iterator[StepRecord]:
        yield from list(self._records)
        while (record := self.step()) is not None:
            yield record

    # ------------------------------------------------------------------ showing
    def leaves(self) -> list[tuple[str, Any]]:
        """``(name, .grad)`` of each leaf that requires grad, in graph order."""
        walk = self._walk
        leaves = [v for i, v in enumerate(walk.items)
                  if not walk.is_op(i) and v.grad_fn is None and v.requires_grad]
        return [(self._name_of(v) or f"leaf {k}", v.grad) for k, v in enumerate(leaves, 1)]

    def highlight(self) -> Highlight:
        """What the pictures mark now: visited ops by step number, the current op,
        the gradient each value has received so far and what each use handed it."""
        walk = self._walk
        position = walk.position
        visited = {position[id(r.node)]: r.step for r in self._records}
        grads: dict[int, Any] = {}
        parts: dict[int, list] = {}
        successors = walk.successors
        with no_grad():
            for record in self._records:
                at = position[id(record.node)]
                for out in successors[at]:
                    g = record.grad_output
                    grads[out] = g[record.node.output_index(walk.items[out])] if isinstance(
                        g, list) else g
                for value, g in zip(record.inputs, record.grad_inputs):
                    if g is not None and id(value) in position:
                        at = position[id(value)]
                        grads[at] = g if at not in grads else grads[at] + g
                        parts.setdefault(at, []).append(g)
        current = position[id(self.current.node)] if self._records else None
        return Highlight(visited, current, grads, parts)

    def draw(self, show_grad: bool = True, rankdir: str = "LR", **options: Any) -> Any:
        """A ``graphviz.Digraph`` with the visited ops marked ``✓ step k`` and the
        current one ``▶ step k (now)`` (bold border); every value shows the
        gradient it has received so far in this backward (so the inputs of the
        current op show what it just handed them), as a sum where several uses
        handed it one. Options as :func:`autograd.viz.draw`."""
        options.setdefault("names", self._names)
        picture = build(self._walk, show_grad, rankdir, highlight=self.highlight(),
                        text=self._texts, **options)
        return digraph(picture)

    def show(self, **draw_options: Any) -> Any:
        """A notebook widget: Prev/Next buttons and a slider over the steps, the
        picture of the graph following the current op, and what each step did.

        It starts before the first step (going back to it if the stepper was
        already run). ``draw_options`` go to :meth:`draw` (``rankdir``, ``style``,
        ``names``, ...); without ``rankdir``, a graph wider than tall is drawn top
        to bottom. Needs ``ipywidgets`` in Jupyter."""
        return stepper_widget(self, draw_options)

    def handed(self, record: StepRecord) -> list[str]:
        """``name: gradient`` for each input of a step (``-`` where it handed none)."""
        return [f"{self._name_of(value) or f'input{k}'}: "
                f"{summarize(grad) if grad is not None else '-'}"
                for k, (value, grad) in enumerate(zip(record.inputs, record.grad_inputs))]

    def trace_line(self, record: StepRecord) -> str:
        """One step as text: its number, op, incoming gradient, rule, and the
        gradients handed out."""
        return (f"step {record.step}: {record.op}  grad_output "
                f"{summarize(record.grad_output)}  rule: {record.rule}  -> "
                + ", ".join(self.handed(record)))

    def __str__(self) -> str:
        head = (f"BackwardStepper: {len(self._records)} of {len(self)} steps"
                f"{' (done)' if self.done else ''}, loss {summarize(self.loss.data)}")
        return "\n".join([head, *(self.trace_line(r) for r in self._records)])

    def __repr__(self) -> str:
        return f"<BackwardStepper {len(self._records)}/{len(self)} steps>"


# What the end of backward frees, kept so the stepper can step back over it. It is
# found by comparing a node's slots before and after ``release()``, so whatever a
# kind of node drops (a Tensor op its inputs and saved arrays, a Function its saved
# tensors) is what comes back. A Scalar's ``grad_fn`` is a view whose release()
# clears the Scalar itself, so the Scalar's slots are compared too. Slots are read
# and written through the descriptor of the class that declares them (a property
# may shadow a slot in a subclass, as ScalarOp.inputs does).


def _release_keeping(node: Node) -> list[tuple[Any, Any, Any]]:
    """``node.release()``; ``(owner, slot descriptor, value)`` for what it cleared."""
    owners = [node]
    viewed = getattr(node, "scalar", None)
    if viewed is not None:
        owners.append(viewed)
    before = [(owner, _slots_of(owner)) for owner in owners]
    node.release()
    kept = []
    for owner, slots in before:
        for descriptor, value in slots:
            try:
                now = descriptor.__get__(owner, type(owner))
            except AttributeError:
                now = _UNSET
            if now is not value:
                kept.append((owner, descriptor, value))
    return kept


_UNSET = object()


def _slots_of(obj: Any) -> list[tuple[Any, Any]]:
    """``(descriptor, value)`` of every slot of ``obj`` that is set."""
    found = []
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            descriptor = cls.__dict__.get(slot)
            if isinstance(descriptor, types.MemberDescriptorType):
                with contextlib.suppress(AttributeError):  # a slot never set
                    found.append((descriptor, descriptor.__get__(obj, cls)))
    return found
