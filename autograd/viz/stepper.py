"""Backpropagation one node at a time, on the same driver as ``backward()``.

``BackwardStepper(loss)`` advances :func:`autograd.engine.iter_backward` (the
generator ``backward()`` runs to the end) one op node per ``step()``, so what it
shows can never disagree with ``backward()``. Each step is a :class:`StepRecord`:
the node, the gradient that reached its output, its derivative rule, and the
gradients it handed to each input.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any, NamedTuple

from ..engine import FREED_GRAPH, Node, iter_backward, no_grad, op_nodes
from ..tensor import Tensor, seed_gradients
from .dot import Highlight, build, digraph
from .labels import namer, op_title, rule_of, summarize
from .walk import GraphWalk


class StepRecord(NamedTuple):
    """One step of backward: op ``node`` (named ``op``) received ``grad_output`` for
    its output, applied ``rule`` and handed ``grad_inputs[k]`` to ``inputs[k]``
    (None where an input needs no gradient). ``index`` counts steps from 0."""

    node: Node
    op: str
    grad_output: Any
    rule: str
    grad_inputs: tuple
    inputs: tuple
    index: int


class BackwardStepper:
    """Walk backward from ``loss`` one op node at a time.

    ``step()`` returns the next :class:`StepRecord` (None when done), ``back()``
    goes one step back, ``reset()`` to the start, ``goto(k)`` to after step k,
    ``run()`` to the end. ``len(stepper)`` is the number of op nodes, one step
    each; iterating gives every record. ``draw()`` pictures the graph with the
    visited ops and the current one marked; ``print(stepper)`` gives the trace.

    Stepping to the end leaves exactly the ``.grad`` that ``loss.backward()``
    leaves, and then frees the graph unless ``retain_graph=True``. ``gradient``
    seeds a non-scalar loss, as in ``backward``; ``names`` (``{tensor: "x"}``)
    names values in the trace and the pictures. A node that no gradient reaches
    (a rule returned None for it) is skipped, as backward skips it.

    How ``back()`` works: the driver is a generator and cannot run backwards, so
    ``back()`` restores every ``.grad`` in the graph to what it was when the
    stepper was made and replays the driver up to one step earlier. Until the end
    the driver keeps the graph (it runs with ``retain_graph=True``); stepping back
    after the end therefore needs ``retain_graph=True``. Gradient hooks run again
    on every replay.
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
        self._ops = op_nodes([loss])
        self._walk = GraphWalk(loss)
        self._names = names
        self._name_of = namer(names)
        self._start_grads = [(v, v.grad) for v in self._walk.items if not isinstance(v, Node)]
        self._driver: Iterator | None = None
        self._records: list[StepRecord] = []
        self.done = False
        self._freed = False

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
                            step.grad_inputs, tuple(node.inputs), len(self._records))
        self._records.append(record)
        if len(self._records) == len(self._ops):
            self._finish()
        return record

    def _finish(self) -> None:
        # the last leaves get their gradients after the last node's step
        deque(self._driver, maxlen=0)
        self.done = True
        if not self.retain_graph:
            for node in self._ops:
                node.release()
            self._freed = True

    def run(self) -> list[StepRecord]:
        """Step to the end; all records."""
        while self.step() is not None:
            pass
        return self.records

    def goto(self, k: int) -> StepRecord | None:
        """Go to just after step ``k`` (0: before any step); the current record."""
        if not 0 <= k <= len(self):
            raise IndexError(f"BackwardStepper.goto: step {k} is outside 0..{len(self)}")
        if k < len(self._records):
            if self._freed:
                raise RuntimeError(
                    "BackwardStepper: the graph was freed when stepping reached the end; "
                    "make the stepper with retain_graph=True to step back after the end. "
                    + FREED_GRAPH
                )
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
    def draw(self, show_grad: bool = True, rankdir: str = "LR", **options: Any) -> Any:
        """A ``graphviz.Digraph`` with the visited ops marked ``✓ step k`` and the
        current one ``▶ step k (now)`` (bold border); every value shows the
        gradient it has received so far in this backward (so the inputs of the
        current op show what it just handed them). Options as
        :func:`autograd.viz.draw`."""
        walk = self._walk
        position = walk.position
        visited = {position[id(r.node)]: r.index for r in self._records}
        grads: dict[int, Any] = {}
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
        current = position[id(self.current.node)] if self._records else None
        options.setdefault("names", self._names)
        picture = build(walk, show_grad, rankdir, highlight=Highlight(visited, current, grads),
                        **options)
        return digraph(picture)

    def show(self) -> Any:
        """A notebook widget: a slider and Prev/Next buttons that redraw the graph."""
        try:
            import ipywidgets as widgets
            from IPython.display import display
        except ImportError as err:
            raise ImportError(
                "BackwardStepper.show() needs ipywidgets in a Jupyter notebook "
                "(pip install ipywidgets); in a terminal use print(stepper)"
            ) from err
        slider = widgets.IntSlider(value=len(self._records), min=0, max=len(self),
                                   description="step")
        prev, next_ = widgets.Button(description="Prev"), widgets.Button(description="Next")
        out = widgets.Output()

        def redraw(change: Any = None) -> None:
            with out:
                out.clear_output(wait=True)
                try:
                    self.goto(slider.value)
                except RuntimeError as err:  # stepping back over a freed graph
                    print(err)
                    return
                display(self.draw())
                print(self.trace_line(self.current) if self.current else "before step 0")

        def move(by: int) -> None:
            slider.value = min(max(slider.value + by, slider.min), slider.max)

        slider.observe(redraw, names="value")
        prev.on_click(lambda _: move(-1))
        next_.on_click(lambda _: move(1))
        redraw()
        return widgets.VBox([widgets.HBox([prev, slider, next_]), out])

    def trace_line(self, record: StepRecord) -> str:
        """One step as text: index, op, incoming gradient, rule, gradients handed out."""
        handed = []
        for k, (value, grad) in enumerate(zip(record.inputs, record.grad_inputs)):
            name = self._name_of(value) or f"input{k}"
            handed.append(f"{name}: {summarize(grad) if grad is not None else '-'}")
        return (f"[{record.index}] {record.op}  grad_output {summarize(record.grad_output)}"
                f"  rule: {record.rule}  -> " + ", ".join(handed))

    def __str__(self) -> str:
        head = (f"BackwardStepper: {len(self._records)} of {len(self)} steps"
                f"{' (done)' if self.done else ''}, loss {summarize(self.loss.data)}")
        return "\n".join([head, *(self.trace_line(r) for r in self._records)])

    def __repr__(self) -> str:
        return f"<BackwardStepper {len(self._records)}/{len(self)} steps>"
