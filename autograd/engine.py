"""The graph engine: nodes, grad mode, topological order and the backward driver.

One idea: a value (a ``Tensor`` or a ``Scalar``) remembers the node that made it
(``value.grad_fn``), and a node remembers its input values (``node.inputs``).
``backward`` sorts those nodes in reverse topological order and walks them,
handing each node the gradient of its output and collecting the gradients its
local derivative rule hands back to its inputs (the chain rule).

The driver, :func:`iter_backward`, is a generator that yields after every node,
so ``backward()`` (run to the end) and ``viz.BackwardStepper`` (one step at a
time) are the same code; ``backward()`` only asks it not to build the per-step
record it would throw away. Everything here is iterative: a chain of a million
nodes is sorted, walked and freed without recursion.

One sort and one driver serve Tensor and Scalar. A Tensor op makes a value and a
node; a Scalar op makes one object that is both (its local derivatives are
numbers), and the driver sums a Scalar's gradient on the Scalar rather than in
its dict. Both choices are about CPython's cost per object: a Scalar MLP step
builds ~65,000 ops, and with two objects per op and a dict entry per gradient
the collector and the dict cost more than the arithmetic.

What the engine needs from a value: ``grad_fn``, ``requires_grad``, ``_hooks``
(a list of hook functions or None), ``_accumulate_grad(g, create_graph)`` and
``grad_on_node`` (False for a Tensor); a leaf may also hold
``_post_accumulate_grad_hooks``, called with the leaf once its ``.grad`` was
updated. What it needs from a node: ``inputs``, ``hooks``, ``_mark``,
``vjp(grad)`` and ``release()``. A Scalar is a value that is its own node
(``grad_on_node``): see :func:`iter_backward`. :func:`queue_callback` runs a
function when the backward pass now running ends (what
``DistributedDataParallel`` waits in).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

# --------------------------------------------------------------------------- grad mode


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when ops record the graph (per thread)."""
    return _mode.enabled


class _GradModeContext:
    """Base of the grad-mode switches: a context manager and a decorator."""

    mode: bool

    def __enter__(self) -> None:
        self._prev = _mode.enabled
        _mode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        factory = self._clone

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with factory():
                return fn(*args, **kwargs)

        return wrapper

    def _clone(self) -> _GradModeContext:
        return type(self)()


class no_grad(_GradModeContext):
    """Ops inside do not record a graph: ``with no_grad(): ...`` or ``@no_grad()``."""

    mode = False


class enable_grad(_GradModeContext):
    """Turn recording back on inside a ``no_grad`` region."""

    mode = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode``; takes effect at once, as in PyTorch.

    Works as a plain call, a context manager (restores the previous mode on
    exit) and a decorator.
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev = _mode.enabled
        _mode.enabled = self.mode

    def __enter__(self) -> None:  # the mode was already set by __init__
        pass

    def __call__(self, fn: Callable) -> Callable:
        _mode.enabled = self._prev  # as a decorator it must not leak the mode
        return super().__call__(fn)

    def _clone(self) -> _GradModeContext:
        return set_grad_enabled(self.mode)


# --------------------------------------------------------------------------- in-place tracking

# Every in-place change of an array stamps its memory owner with a new epoch; a
# node remembers the epoch it was made in. At backward, a node whose inputs' memory
# was stamped later than the node was made would compute a wrong gradient, so the
# driver refuses. Checking is O(1) unless some in-place change happened at all.
_epoch = [0]
_stamps: dict[int, int] = {}  # id(memory owner) -> epoch of its last in-place change


def _owner(array: Any) -> Any:
    base = getattr(array, "base", None)
    while base is not None:
        array, base = base, getattr(base, "base", None)
    return array


def mark_modified(array: Any) -> None:
    """Record that ``array``'s memory was changed in place."""
    _epoch[0] += 1
    owner = _owner(array)
    key = id(owner)
    if key not in _stamps:
        with contextlib.suppress(TypeError):  # not weak-referenceable: keep the stamp
            weakref.finalize(owner, _stamps.pop, key, None)
    _stamps[key] = _epoch[0]


def current_epoch() -> int:
    return _epoch[0]


def modified_since(array: Any, epoch: int) -> bool:
    """True if ``array``'s memory was changed in place after ``epoch``."""
    return _epoch[0] != epoch and _stamps.get(id(_owner(array)), 0) > epoch


# --------------------------------------------------------------------------- nodes


class Node:
    """A recorded Tensor op: its inputs and what its derivative rule needs.

    Subclasses implement ``vjp(grad_output) -> tuple`` (one gradient per input,
    None where an input needs none) and may extend ``release()``. Whoever makes
    a node sets ``inputs``, ``hooks`` (None) and ``_mark`` (None: not yet sorted).
    """

    __slots__ = ("inputs", "hooks", "_mark")
    n_outputs = 1
    #: a node's gradient gathers in the driver's dict (see :func:`iter_backward`)
    grad_on_node = False

    def vjp(self, grad_output: Any) -> tuple:
        raise NotImplementedError

    def release(self) -> None:
        """Drop what was kept for backward; the node can no longer run."""
        self.inputs = None

    def name(self) -> str:
        return type(self).__name__ + "Backward0"

    def output_index(self, value: Any) -> int:
        """Which output ``value`` is (only multi-output nodes override this)."""
        return 0

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class RetainGrad:
    """The hook ``retain_grad()`` installs: store the gradient on the tensor."""

    __slots__ = ("ref",)

    def __init__(self, value: Any) -> None:
        self.ref = weakref.ref(value)

    def __call__(self, grad: Any) -> None:
        value = self.ref()
        if value is not None:
            value._accumulate_grad(grad)


class Step(NamedTuple):
    """What the driver yields after running one node's rule."""

    node: Node
    grad_output: Any
    grad_inputs: tuple


FREED_GRAPH = (
    "Trying to backward through the graph a second time (or directly access saved "
    "tensors after they have already been freed). Saved intermediate values of the "
    "graph are freed when you call .backward() or autograd.grad(). Specify "
    "retain_graph=True if you need to backward through the graph a second time."
)


def _key(value: Any) -> Any:
    """Where gradients for ``value`` gather: its node, or the value itself (a leaf,
    or a value that is its own node, as a Scalar is)."""
    if value.grad_on_node:
        return value
    fn = value.grad_fn
    return value if fn is None else fn


class _Pass:
    """The mark a sort leaves on the keys it visits (``key._mark``). ``active``
    while the backward that sorted them runs: a Scalar graph holds that pass's
    partial sums, so no other pass may start through it until then."""

    __slots__ = ("active",)

    def __init__(self, active: bool = False) -> None:
        self.active = active


# Marks are written by one sort at a time: a graph shared between threads is sorted
# by one of them while the other waits (a sort never runs user code, so never waits
# on itself).
_sort_lock = threading.Lock()


def topological_order(roots: list) -> list:
    """Keys (nodes and leaf values) reachable from ``roots``, each after all users.

    Iterative depth-first search; a key is listed after every key that feeds it a
    gradient, so walking the list front to back is a valid backward order. A leaf
    Tensor comes right after its last user, so its ``.grad`` (and the hooks that
    follow, such as DDP's all-reduce) is done as soon as its gradient is complete,
    not at the end of backward.

    Each key visited is stamped in ``_mark`` (cheaper than a dict of states: a
    Scalar graph has one key per op); leaf Tensors keep no mark and are listed
    once through a set. A key whose gradient gathers on itself (``grad_on_node``:
    a Scalar) also has its ``_pending`` gradient cleared here.
    """
    return _sort(roots, _Pass())


def _sort(roots: list, done: _Pass) -> list:
    """:func:`topological_order`, stamping each listed key's ``_mark`` with ``done``."""
    entered = _Pass()  # a Scalar (or a node without leaf inputs) whose inputs are pushed
    entered_with_leaves = _Pass()  # a Tensor node: list its leaf inputs as it is listed
    postorder: list = []
    listed_leaves: set = set()
    append = postorder.append
    with _sort_lock:
        for root in roots:
            if not root.grad_on_node and not isinstance(root, Node):  # a leaf Tensor
                if root not in listed_leaves:
                    listed_leaves.add(root)
                    append(root)
                continue
            stack = [root]
            push = stack.append
            pop = stack.pop
            while stack:
                key = stack[-1]
                mark = key._mark
                if mark is entered:
                    pop()
                    key._mark = done
                    append(key)
                    continue
                if mark is done:
                    pop()
                    continue
                if mark is entered_with_leaves:
                    pop()
                    # after every other input's subgraph, so right after this node in
                    # backward order (unless a deeper user already listed them)
                    for value in key.inputs:
                        if value.grad_fn is None and value.requires_grad and (
                                value not in listed_leaves):
                            listed_leaves.add(value)
                            append(value)
                    key._mark = done
                    append(key)
                    continue
                if key.grad_on_node:  # a Scalar: inputs a (and b), itself a key
                    if mark is not None and mark.active:
                        raise RuntimeError(SCALAR_BUSY)
                    key._pending = None
                    a = key.a
                    if a is None:
                        if key.op is not None:
                            raise RuntimeError(FREED_GRAPH)
                        pop()  # a leaf: listed at once
                        key._mark = done
                        append(key)
                        continue
                    waits = False
                    if a.requires_grad:
                        mark = a._mark
                        if mark is not entered and mark is not done:
                            push(a)
                            waits = True
                    b = key.b
                    if b is not None and b.requires_grad:
                        mark = b._mark
                        if mark is not entered and mark is not done:
                            push(b)
                            waits = True
                    if waits:
                        key._mark = entered
                    else:  # its inputs are listed already: so is it, without a revisit
                        pop()
                        key._mark = done
                        append(key)
                    continue
                inputs = key.inputs
                if inputs is None:
                    raise RuntimeError(FREED_GRAPH)
                key._mark = entered
                for value in inputs:
                    # a value made by a node requires grad; only leaves are asked
                    fn = value.grad_fn
                    if fn is not None:
                        mark = fn._mark
                        if mark is not entered and mark is not done and (
                                mark is not entered_with_leaves):
                            push(fn)
                    elif value.requires_grad:
                        key._mark = entered_with_leaves
    postorder.reverse()
    return postorder


SCALAR_BUSY = (
    "another backward through this Scalar graph has not finished (a paused "
    "BackwardStepper, or another thread): a Scalar keeps the gradient being summed "
    "on itself, so two backward passes through one Scalar graph cannot interleave. "
    "Finish the first (stepper.run()) or drop it, then run this one."
)


def op_nodes(roots: list) -> list:
    """The op nodes behind ``roots`` (values), in the order backward runs their
    rules: one per step of :func:`iter_backward` (the stepper's length)."""
    keys = topological_order(list(dict.fromkeys(_key(r) for r in roots)))
    nodes = []
    for key in keys:
        if isinstance(key, Node):
            nodes.append(key)
        elif key.grad_on_node and key.op is not None:
            nodes.append(key.grad_fn)
    return nodes


def _add(grads: dict, key: Any, value: Any, grad: Any) -> None:
    """Sum ``grad`` into the gradient gathered for ``value`` under ``key``."""
    if isinstance(key, Node) and key.n_outputs > 1:
        slot = grads.get(key)
        if slot is None:
            slot = grads[key] = [None] * key.n_outputs
        i = key.output_index(value)
        slot[i] = grad if slot[i] is None else slot[i] + grad
        return
    old = grads.get(key)
    grads[key] = grad if old is None else old + grad


def _run_hooks(hooks: list, grad: Any, accumulate: bool) -> Any:
    for hook in hooks:
        if isinstance(hook, RetainGrad):
            if accumulate:
                hook(grad)
            continue
        new = hook(grad)
        if new is not None:
            grad = _hook_result(hook, grad, new)
    return grad


def _hook_result(hook: Callable, grad: Any, new: Any) -> Any:
    """``new`` if it may replace ``grad``: a value of the same kind, shape, dtype and
    device (PyTorch's checks; summing a wrong shape down would be silently wrong)."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if isinstance(grad, float):  # a Scalar graph: any real number will do
        if isinstance(new, (int, float)) and not isinstance(new, bool):
            return float(new)
        raise TypeError(f"hook '{name}' returned {type(new).__name__}; a Scalar's hook "
                        "must return a number (the new gradient) or None")
    if not isinstance(new, type(grad)):
        raise TypeError(f"hook '{name}' returned {type(new).__name__}; a hook must return "
                        f"a {type(grad).__name__} (the new gradient) or None")
    if new.shape != grad.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value: the gradient "
                           f"has shape {tuple(grad.shape)}, the hook returned "
                           f"{tuple(new.shape)}")
    if new.dtype != grad.dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value "
                           f"(was {grad.dtype} got {new.dtype})")
    if new.device != grad.device:
        raise RuntimeError(f"hook '{name}' has changed the device of value "
                           f"(was {grad.device} got {new.device})")
    return new


def _node_hooks(node: Node, grad: Any, accumulate: bool) -> Any:
    for index, hooks in node.hooks.items():
        if node.n_outputs == 1:
            grad = _run_hooks(hooks, grad, accumulate)
        elif grad[index] is not None:
            grad[index] = _run_hooks(hooks, grad[index], accumulate)
    return grad


class _Callbacks(threading.local):
    def __init__(self) -> None:
        self.stack: list = []  # one list of callbacks per backward pass running here


_callbacks = _Callbacks()


def queue_callback(fn: Callable[[], Any]) -> None:
    """Call ``fn()`` when the backward pass now running in this thread ends.

    PyTorch's ``Variable._execution_engine.queue_callback``: meant for hooks that
    start work during backward and must finish it once every gradient is in (as
    ``DistributedDataParallel`` waits for its all-reduces). Callbacks run in the
    order queued, after the last node; they are dropped if backward raises.
    """
    stack = _callbacks.stack
    if not stack:
        raise RuntimeError(
            "queue_callback: no backward pass is running in this thread (call it from a "
            "hook or a backward rule)"
        )
    stack[-1].append(fn)


def iter_backward(
    roots: list,
    root_grads: list,
    retain_graph: bool = False,
    create_graph: bool = False,
    capture: dict | None = None,
    steps: bool = True,
) -> Iterator[Step]:
    """Backpropagate from ``roots``; yield a :class:`Step` after each node.

    ``root_grads`` are the gradients of the roots (ones for a scalar loss).
    Leaves get their gradient summed into ``.grad``, unless ``capture`` is given
    (``autograd.grad``): a dict whose keys (leaves or nodes) get the gradient that
    reached them as values, and ``.grad`` is untouched.
    Nodes are freed as soon as their rule has run unless ``retain_graph``.
    Rules run under ``no_grad`` unless ``create_graph``, where they record a graph.
    ``steps=False`` runs the very same loop without pausing (``backward()``).

    Where a gradient gathers until its key's turn depends on the key. For a Tensor
    node or leaf it is a dict owned by this call, so threads may backpropagate
    through one shared graph at once. A Scalar is its own node, and its local
    derivatives are numbers: it gathers in its own ``_pending`` slot, and the chain
    rule is two multiply-adds written out in :func:`_walk` (a Scalar graph has one
    key per op, so this is what the Scalar's speed comes down to). So a second
    pass through a Scalar graph is refused until the first has ended.
    """
    this_pass = _Pass(active=True)  # the mark the sort leaves on every key it lists
    try:
        order = _sort(list(dict.fromkeys(_key(r) for r in roots)), this_pass)
        grads: dict = {}
        for root, grad in zip(roots, root_grads):
            key = _key(root)
            if key.grad_on_node:
                key._pending = grad if key._pending is None else key._pending + grad
            else:
                _add(grads, key, root, grad)
        accumulate = capture is None
        callbacks: list = []
        running = _callbacks.stack
        running.append(callbacks)  # on the stack only while this pass runs (not paused)
        try:
            yield from _walk(order, grads, accumulate, capture, retain_graph, create_graph,
                             steps, running, callbacks)
            while callbacks:  # a callback may queue another
                callbacks.pop(0)()
        finally:
            if running and running[-1] is callbacks:
                running.pop()
    finally:
        this_pass.active = False


def _walk(order: list, grads: dict, accumulate: bool, capture: dict | None,
          retain_graph: bool, create_graph: bool, steps: bool, running: list,
          callbacks: list) -> Iterator[Step]:
    """The loop of :func:`iter_backward`: run each key's rule in ``order``.

    Rules run in grad mode ``create_graph``, set once for the loop (not around
    every rule: that was a tenth of a small op's backward); hooks, and the caller
    at every pause, get the caller's mode back.
    """
    outer = _mode.enabled
    _mode.enabled = create_graph
    try:
        yield from _walk_keys(order, grads, accumulate, capture, retain_graph, create_graph,
                              steps, running, callbacks, outer)
    finally:
        _mode.enabled = outer


def _walk_keys(order: list, grads: dict, accumulate: bool, capture: dict | None,
               retain_graph: bool, create_graph: bool, steps: bool, running: list,
               callbacks: list, outer: bool) -> Iterator[Step]:
    pop = grads.pop
    get = grads.get
    for key in order:
        if key.grad_on_node:  # a Scalar (see iter_backward's docstring)
            grad = key._pending
            a = key.a
            if a is None:  # a leaf
                if grad is not None:
                    if key._hooks:
                        _mode.enabled = outer
                        grad = _run_hooks(key._hooks, grad, accumulate)
                        _mode.enabled = create_graph
                    key._accumulate_grad(grad)
                continue
            if grad is None:
                if not retain_graph:
                    key.a = key.b = None
                continue
            key.grad += grad  # every Scalar shows its gradient, as in micrograd
            ga = gb = None
            if a.requires_grad:
                ga = grad * key.da
                pending = a._pending
                a._pending = ga if pending is None else pending + ga
            b = key.b
            if b is not None and b.requires_grad:
                gb = grad * key.db
                pending = b._pending
                b._pending = gb if pending is None else pending + gb
            if not retain_graph:
                key.a = key.b = None
            if steps:
                running.pop()
                _mode.enabled = outer
                yield _make_step(Step, (key.grad_fn, grad, (ga,) if b is None else (ga, gb)))
                _mode.enabled = create_graph
                running.append(callbacks)
            continue
        grad = pop(key, None)
        if not isinstance(key, Node):  # a leaf: its gradient is complete
            if grad is None:
                continue
            if key._hooks:
                _mode.enabled = outer
                grad = _run_hooks(key._hooks, grad, accumulate)
                _mode.enabled = create_graph
            if accumulate:
                key._accumulate_grad(grad, create_graph)
                post = getattr(key, "_post_accumulate_grad_hooks", None)
                if post:
                    _mode.enabled = outer
                    for hook in tuple(post):
                        hook(key)
                    _mode.enabled = create_graph
            elif key in capture:
                capture[key] = grad
            continue
        node = key
        if grad is None:  # no gradient reached this node (every path gave None)
            if not retain_graph:
                node.release()
            continue
        if node.hooks:
            _mode.enabled = outer
            grad = _node_hooks(node, grad, accumulate)
            _mode.enabled = create_graph
        if capture is not None and node in capture:
            capture[node] = grad
        inputs = node.inputs
        grad_inputs = node.vjp(grad)
        for value, g in zip(inputs, grad_inputs):
            if g is None:
                continue
            fn = value.grad_fn
            if fn is None:
                target = value
            elif fn.n_outputs == 1:
                target = fn
            else:
                _add(grads, fn, value, g)
                continue
            old = get(target)
            grads[target] = g if old is None else old + g
        if not retain_graph:
            node.release()
        if steps:
            running.pop()
            _mode.enabled = outer
            yield _make_step(Step, (node, grad, grad_inputs))
            _mode.enabled = create_graph
            running.append(callbacks)


_make_step = tuple.__new__


def run_backward(*args: Any, **kwargs: Any) -> None:
    """Run :func:`iter_backward` to the end, without pausing after each node."""
    deque(iter_backward(*args, **kwargs, steps=False), maxlen=0)
