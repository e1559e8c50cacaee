"""Gradients as functions: ``backward``, ``grad``, and ``jacobian``, ``hessian``,
``vjp``, ``jvp`` (as ``torch.autograd.functional``). All run the one driver in
:mod:`autograd.engine`; ``backward`` itself lives with ``Tensor`` (its method
calls it) and is re-exported here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import backend
from .engine import no_grad, run_backward
from .function import constant
from .tensor import Tensor, as_tuple, backward, seed_gradients
from .tensor_functions import stack

__all__ = ["backward", "grad", "hessian", "jacobian", "jvp", "vjp"]


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None,
         retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, as a tuple.

    Leaves' ``.grad`` is left untouched. With ``create_graph=True`` the results
    are themselves differentiable (higher-order derivatives).
    """
    outputs, inputs = as_tuple(outputs), as_tuple(inputs)
    for t in inputs:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("grad: One of the differentiated Tensors does not require grad")
    seeds = seed_gradients(outputs, grad_outputs, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    capture = {(t if t.grad_fn is None else t.grad_fn): None for t in inputs}
    run_backward(list(outputs), seeds, retain_graph, create_graph, capture=capture)
    results = []
    for t in inputs:
        node = t.grad_fn
        g = capture[t if node is None else node]
        if g is not None and node is not None and node.n_outputs > 1:
            g = g[node.output_index(t)]
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    "grad: One of the differentiated Tensors appears to not have been "
                    "used in the graph. Set allow_unused=True if this is the desired "
                    "behavior."
                )
        elif not create_graph and not g.data.flags.owndata:
            g = constant(g.data.copy())
        results.append(g)
    return tuple(results)


# ------------------------------------------------------ as torch.autograd.functional


def _fresh_inputs(inputs: Any) -> tuple:
    return tuple(constant(t.data).requires_grad_() for t in as_tuple(inputs))


def _grads_or_zeros(outputs: Any, inputs: tuple, grad_outputs: Any, create_graph: bool) -> tuple:
    if not any(o.requires_grad for o in as_tuple(outputs)):
        return tuple(constant(backend.zeros_like(t.data)) for t in inputs)
    grads = grad(outputs, inputs, grad_outputs, retain_graph=True,
                 create_graph=create_graph, allow_unused=True)
    return tuple(g if g is not None else constant(backend.zeros_like(t.data))
                 for g, t in zip(grads, inputs))


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False) -> tuple:
    """``(func(inputs), vᵀ J)``: a vector-Jacobian product, as in PyTorch."""
    xs = _fresh_inputs(inputs)
    out = func(*xs)
    result = _grads_or_zeros(out, xs, v, create_graph)
    single = not isinstance(inputs, (tuple, list))
    return (out if create_graph else _detach(out)), (result[0] if single else result)


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False) -> tuple:
    """``(func(inputs), J v)``: a Jacobian-vector product, by the double-vjp trick:
    u ↦ uᵀJ is linear in u, so J v is the gradient of (uᵀJ)·v with respect to u."""
    xs = _fresh_inputs(inputs)
    out = func(*xs)
    outs = as_tuple(out)
    us = tuple(constant(backend.zeros_like(o.data)).requires_grad_() for o in outs)
    ujs = _grads_or_zeros(outs, xs, us, create_graph=True)
    vs = as_tuple(v) if v is not None else tuple(
        constant(backend.ones(t.shape, t.dtype, like=t.data)) for t in xs)
    zero = Tensor(0.0, dtype=xs[0].dtype, device=xs[0].device)
    total = sum(((uj * vi).sum() for uj, vi in zip(ujs, vs)), zero)
    jv = _grads_or_zeros(total, us, None, create_graph)
    single = not isinstance(out, (tuple, list))
    return (out if create_graph else _detach(out)), (jv[0] if single else jv)


def jacobian(func: Callable, inputs: Any, create_graph: bool = False) -> Any:
    """d func / d inputs: for one input and one output a Tensor of shape
    ``output.shape + input.shape``; tuples of them otherwise, as in PyTorch."""
    xs = _fresh_inputs(inputs)
    out = func(*xs)
    outs = as_tuple(out)
    table = []
    for o in outs:
        rows = []
        flat = o.reshape(-1)
        for i in range(flat.shape[0]):
            rows.append(_grads_or_zeros(flat[i], xs, None, create_graph))
        table.append(tuple(
            _stack_rows([r[j] for r in rows], o.shape, x.shape, x.dtype, x.device, create_graph)
            for j, x in enumerate(xs)
        ))
    single_in = not isinstance(inputs, (tuple, list))
    single_out = not isinstance(out, (tuple, list))
    table = [row[0] if single_in else row for row in table]
    return table[0] if single_out else tuple(table)


def _stack_rows(rows: list, out_shape: tuple, in_shape: tuple, dtype: Any, device: Any,
                create_graph: bool) -> Tensor:
    if not rows:
        return constant(backend.zeros(out_shape + in_shape, dtype, device=device))
    if create_graph:
        return stack(rows).reshape(out_shape + in_shape)
    return constant(np.stack([r.data for r in rows]).reshape(out_shape + in_shape))


def hessian(func: Callable, inputs: Any, create_graph: bool = False) -> Any:
    """Second derivatives of a scalar ``func``: the Jacobian of its gradient."""
    single = not isinstance(inputs, (tuple, list))

    def gradient(*xs: Tensor) -> Any:
        out = func(*xs)
        if out.numel() != 1:
            raise RuntimeError(f"hessian: func must return a single-element Tensor, "
                               f"got shape {tuple(out.shape)}")
        gs = _grads_or_zeros(out, xs, None, create_graph=True)
        return gs[0] if single else gs

    return jacobian(gradient, inputs, create_graph=create_graph)


def _detach(out: Any) -> Any:
    if isinstance(out, (tuple, list)):
        return tuple(o.detach() for o in out)
    with no_grad():
        return out.detach()
