"""Differentiable functions: built-in ops and user-defined ``Function``.

``Op`` is the base of every built-in op. Its ``forward`` maps arrays to an
array (fast: no Tensors inside); its ``backward`` maps the output gradient, a
Tensor, to input gradients written with Tensor ops, so the same rule records
a graph under ``create_graph=True`` and higher derivatives come for free.

After ``backward`` the base class does the shared bookkeeping once for every op:
gradients for inputs that need none are dropped, broadcasting is undone by
summing back to each input's shape, and the dtype is matched to the input.

``Function`` is PyTorch's ``torch.autograd.Function`` for user-defined ops:
static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` on Tensors.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, NamedTuple

from . import backend, engine
from .backend import as_array as _as_array
from .backend import ndarray as _ndarray
from .engine import Node, _mode

if TYPE_CHECKING:
    from .tensor import Tensor

# ----------------------------------------------------------------- the Tensor class
# Ops sit below ``autograd.tensor`` in the layer list (DESIGN.md), yet they wrap
# their outputs in Tensors. So this layer declares the class it needs and the
# tensor layer binds it, once, with ``bind_tensor_class`` right after defining
# ``Tensor``. This is the only binding of a higher layer into a lower one; ops
# never touch ``_Tensor`` themselves: they return arrays, and wrap constants with
# :func:`constant`.
_Tensor: type[Tensor]
_make_tensor: Any


def bind_tensor_class(cls: type[Tensor]) -> None:
    """Make ``cls`` the class op outputs are wrapped in (called by autograd.tensor)."""
    global _Tensor, _make_tensor
    _Tensor = cls
    _make_tensor = cls._make  # the hot path's constructor, looked up once


class Op(Node):
    """A built-in differentiable op (see the module docstring)."""

    __slots__ = ("saved", "needs_input_grad", "epoch")

    #: the derivative rule in words, shown by the stepper; defaults to the docstring.
    rule: str | None = None

    def forward(self, *arrays: Any, **attrs: Any) -> Any:
        raise NotImplementedError

    def backward(self, grad: Any) -> tuple:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **attrs: Any) -> Any:
        """Run the op on Tensors; record a node when any input requires grad."""
        node = _new(cls)
        node.saved = None
        # one and two inputs are nearly every call: spelled out, they skip building
        # two lists per op (measured ~0.3 µs of a ~1.5 µs small op)
        n = len(inputs)
        try:
            if n == 2:
                a, b = inputs
                out = node.forward(a.data, b.data, **attrs) if attrs else node.forward(
                    a.data, b.data)
            elif n == 1:
                a = inputs[0]
                out = node.forward(a.data, **attrs) if attrs else node.forward(a.data)
            else:
                out = node.forward(*[t.data for t in inputs], **attrs)
        except (ValueError, TypeError) as err:
            mixed = mixed_devices(inputs)  # looked for only once something failed
            raise (mixed or cls.explain(err, *inputs, **attrs)) from None
        if type(out) is not _ndarray:
            out = _as_array(out)
        if _mode.enabled:
            if n == 2:
                needs = (a._requires_grad, b._requires_grad)
            elif n == 1:
                needs = (a._requires_grad,)
            else:
                needs = tuple([t._requires_grad for t in inputs])
            if True in needs:
                node.inputs = inputs
                node.needs_input_grad = needs
                node.epoch = engine._epoch[0]
                node.hooks = node._mark = None
                return _make_tensor(out, node)
        return _make_tensor(out, None)

    @classmethod
    def explain(cls, err: Exception, *inputs: Any, **attrs: Any) -> Exception:
        """The error a user sees when ``forward`` rejected its inputs."""
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        kind = RuntimeError if isinstance(err, ValueError) else TypeError
        if isinstance(err, IndexError):  # numpy's AxisError is both
            kind = IndexError
        return kind(f"{cls.op_name()}: {err} (input shapes {shapes})")

    @classmethod
    def op_name(cls) -> str:
        """The name errors use: the class name without its ``Op`` suffix, lower case.
        (An op class whose name would be a layer's, as ``nn.Tanh``, ends in ``Op``.)"""
        return cls.__name__.removesuffix("Op").lower()

    def name(self) -> str:
        return type(self).__name__.removesuffix("Op") + "Backward0"

    def vjp(self, grad: Any) -> tuple:
        if engine._epoch[0] != self.epoch:
            self._check_not_modified()
        grads = self.backward(grad)
        inputs = self.inputs
        needs = self.needs_input_grad
        n = len(inputs)
        if n == 1:
            g = grads[0]
            return (None if g is None or not needs[0] else _fit(g, inputs[0]),)
        if n == 2:
            ga, gb = grads
            a, b = inputs
            if ga is not None:
                if not needs[0]:
                    ga = None
                elif ga.data.shape != a.data.shape or ga.data.dtype is not a.data.dtype:
                    ga = _fit(ga, a)
            if gb is not None:
                if not needs[1]:
                    gb = None
                elif gb.data.shape != b.data.shape or gb.data.dtype is not b.data.dtype:
                    gb = _fit(gb, b)
            if ga is gb and ga is not None and (a.grad_fn is None or b.grad_fn is None):
                gb = gb.clone()  # two leaves must never share one .grad array
            return ga, gb
        return tuple([None if g is None or not needed else _fit(g, value)
                      for value, g, needed in zip(inputs, grads, needs)])

    def output(self) -> Any:
        """The op's own output, saved as ``self.saved[-1]``, as a Tensor of this graph.

        Rules such as d(exp x)/dx = exp x reuse the output; wrapping it with
        ``grad_fn=self`` (instead of keeping the output Tensor, which would make a
        reference cycle) lets a second derivative flow through this node again.
        """
        return _make_tensor(self.saved[-1], self if _mode.enabled else None)

    def _check_not_modified(self) -> None:
        arrays = [t.data for t in self.inputs]
        if self.saved is not None:
            arrays += [a for a in self.saved if isinstance(a, _ndarray)]
        check_not_modified(self, arrays)

    def release(self) -> None:
        self.inputs = None
        self.saved = None

    @property
    def next_functions(self) -> tuple:
        """The nodes feeding this one (None for leaves), as in PyTorch."""
        if self.inputs is None:
            return ()
        return tuple((t.grad_fn, 0) for t in self.inputs)

    def __repr__(self) -> str:
        return f"<{self.name()}>"


def _fit(g: Any, value: Any) -> Any:
    """Gradient ``g`` summed back to ``value``'s shape and cast to its dtype (the
    bookkeeping every op shares; numpy's dtypes are singletons, so ``is`` is the
    quick test)."""
    data, gd = value.data, g.data
    if gd.shape != data.shape:
        g = g._sum_to(data.shape)
        gd = g.data
    if gd.dtype is not data.dtype and gd.dtype != data.dtype:
        g = g.to(data.dtype)
    return g


_new = object.__new__


def check_not_modified(node: Node, arrays: list) -> None:
    """Refuse to run ``node``'s rule if one of the ``arrays`` it kept for backward was
    changed in place after the node was recorded (its gradient would be wrong)."""
    for array in arrays:
        if engine.modified_since(array, node.epoch):
            raise RuntimeError(
                "one of the variables needed for gradient computation has been "
                f"modified by an inplace operation: an array of shape {array.shape} "
                f"saved by {node.name()} was changed after the forward pass"
            )


class MultiOutputOp(Op):
    """A built-in op with several outputs (``split``, ``unbind``): ``forward`` returns
    a tuple of arrays, ``apply`` a tuple of Tensors, and ``backward`` receives one
    gradient per output, None for an output no gradient reached."""

    __slots__ = ("n_outputs", "output_refs")

    @classmethod
    def apply(cls, *inputs: Any, **attrs: Any) -> tuple:
        node = _new(cls)
        node.saved = None
        try:
            outs = node.forward(*[t.data for t in inputs], **attrs)
        except (ValueError, TypeError) as err:
            mixed = mixed_devices(inputs)
            raise (mixed or cls.explain(err, *inputs, **attrs)) from None
        if _mode.enabled:
            needs = tuple([t._requires_grad for t in inputs])
            if True in needs:
                node.inputs = inputs
                node.needs_input_grad = needs
                node.epoch = engine._epoch[0]
                node.hooks = node._mark = None
                node.n_outputs = len(outs)
                results = tuple([_Tensor._make(out, node) for out in outs])
                # weak, as in FunctionCtx: the node must not keep its outputs alive
                node.output_refs = tuple([weakref.ref(t) for t in results])
                return results
        return tuple([_Tensor._make(out, None) for out in outs])

    def vjp(self, grad: Any) -> tuple:
        # the engine hands a single-output node its gradient bare, not in a list
        return super().vjp(grad if self.n_outputs > 1 else [grad])

    def output_index(self, value: Any) -> int:
        for i, ref in enumerate(self.output_refs):
            if ref() is value:
                return i
        raise RuntimeError(f"{self.name()}: gradient for a tensor it did not produce")


def mixed_devices(tensors: Any) -> RuntimeError | None:
    """PyTorch's error for tensors on different devices, or None. (Array libraries
    refuse each other's arrays, so ops run unchecked and this names the cause of
    their failure.)"""
    devices = list(dict.fromkeys(backend.device_of(t.data) for t in tensors))
    if len(devices) < 2:
        return None
    return RuntimeError(f"Expected all tensors to be on the same device, but found at least "
                        f"two devices, {devices[0]} and {devices[1]}!")


def constant(array: Any) -> Tensor:
    """``array`` as a Tensor outside the graph, without a copy.

    The one way to wrap an array that carries no gradient: masks and weights in
    backward rules, op outputs made outside any op, gradients built by hand.
    """
    return _make_tensor(array, None)


# --------------------------------------------------------------------------- user Functions


class FunctionCtx(Node):
    """The ``ctx`` a user ``Function`` sees; it is also the graph node."""

    __slots__ = (
        "fn_cls",
        "to_save",
        "needs_input_grad",
        "n_outputs",
        "output_refs",
        "output_meta",
        "materialize_grads",
        "tensor_positions",
        "epoch",
        "__dict__",  # users may stash anything on ctx, as in PyTorch
    )

    def save_for_backward(self, *tensors: Any) -> None:
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, _Tensor):
                raise TypeError(f"save_for_backward can only save Tensors or None, but "
                                f"argument {i} is of type {type(t).__name__}")
        self.to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        if self.to_save is None:
            raise RuntimeError(engine.FREED_GRAPH)
        return tuple(t.unpack(self) if type(t) is _SavedOutput else t for t in self.to_save)

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self.__dict__.setdefault("non_differentiable", set()).update(id(t) for t in tensors)

    def name(self) -> str:
        return self.fn_cls.__name__ + "Backward"

    def output_index(self, value: Any) -> int:
        for i, ref in enumerate(self.output_refs):
            if ref() is value:
                return i
        for saved in self.to_save or ():  # a saved output rebuilt by saved_tensors
            if type(saved) is _SavedOutput and saved.data is value.data:
                return saved.index
        raise RuntimeError(f"{self.name()}: gradient for a tensor it did not produce")

    def vjp(self, grad: Any) -> tuple:
        if engine._epoch[0] != self.epoch:  # something was changed in place since forward
            check_not_modified(self, [t.data for t in self.to_save if t is not None])
        grads = grad if self.n_outputs > 1 else [grad]
        if self.materialize_grads:
            grads = [
                g if g is not None else constant(backend.zeros(shape, dtype, device=device))
                for g, (shape, dtype, device) in zip(grads, self.output_meta)
            ]
        result = self.fn_cls.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != len(self.needs_input_grad):
            raise RuntimeError(
                f"function {self.name()} returned an incorrect number of gradients "
                f"(expected {len(self.needs_input_grad)}, got {len(result)})"
            )
        out = []
        for value, pos in zip(self.inputs, self.tensor_positions):
            g = result[pos]
            if g is None or not self.needs_input_grad[pos]:
                out.append(None)
                continue
            if not isinstance(g, _Tensor):
                g = _Tensor(g, dtype=value.dtype)
            if g.shape != value.shape:
                raise RuntimeError(
                    f"function {self.name()} returned a gradient of shape {g.shape} "
                    f"for an input of shape {value.shape}"
                )
            out.append(g)
        return tuple(out)

    def release(self) -> None:
        self.inputs = None
        self.to_save = None


class _SavedOutput(NamedTuple):
    """An output the user saved for backward. Kept as its array, and rebuilt by
    ``saved_tensors`` with the ctx as its grad_fn when recording (create_graph), so
    double backward flows through it without the ctx holding its own output (a
    reference cycle), as ``Op.output`` does for built-in ops."""

    data: Any
    index: int
    differentiable: bool

    def unpack(self, ctx: FunctionCtx) -> Any:
        node = ctx if self.differentiable and _mode.enabled else None
        return _Tensor._make(self.data, node)


class Function:
    """Base class for user-defined differentiable ops, as ``torch.autograd.Function``.

    Subclass it with two static methods::

        class Exp(Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad):
                (y,) = ctx.saved_tensors
                return grad * y

    and call ``Exp.apply(x)``. ``forward`` runs with recording off; ``backward``
    returns one gradient (or None) per input of ``forward``.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Function subclasses must implement forward")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("Function subclasses must implement backward")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = FunctionCtx()
        ctx.fn_cls = cls
        ctx.to_save = ()
        ctx.materialize_grads = True
        ctx.tensor_positions = tuple(i for i, a in enumerate(args) if isinstance(a, _Tensor))
        tensors = tuple(args[i] for i in ctx.tensor_positions)
        ctx.needs_input_grad = tuple(
            isinstance(a, _Tensor) and a.requires_grad for a in args
        )
        with engine.no_grad():
            result = cls.forward(ctx, *args, **kwargs)
        outputs = result if isinstance(result, tuple) else (result,)
        for o in outputs:
            if not isinstance(o, _Tensor):
                raise TypeError(
                    f"{cls.__name__}.forward must return Tensors, got {type(o).__name__}"
                )
        record = _mode.enabled and any(t.requires_grad for t in tensors)
        if not record:
            return result
        ctx.inputs = tensors  # arguments that are not Tensors get no gradient
        ctx.hooks = ctx._mark = None
        ctx.n_outputs = len(outputs)
        skip = ctx.__dict__.get("non_differentiable", set())
        wrapped = []
        for o in outputs:
            if id(o) in skip or o.dtype.kind != "f":
                wrapped.append(constant(o.data))
            else:
                wrapped.append(_Tensor._make(o.data, ctx))
        # after forward: what forward itself changed in place was saved as it is now
        ctx.epoch = engine._epoch[0]
        ctx.output_refs = tuple(weakref.ref(o) for o in wrapped)
        ctx.output_meta = tuple((o.shape, o.dtype, o.device) for o in wrapped)
        index = {id(o): i for i, o in enumerate(outputs)}
        ctx.to_save = tuple(
            _SavedOutput(t.data, index[id(t)], wrapped[index[id(t)]].grad_fn is not None)
            if id(t) in index else t for t in ctx.to_save
        )
        return tuple(wrapped) if isinstance(result, tuple) else wrapped[0]
