"""Gradients as functions: ``backward``, ``grad``, and ``jacobian``, ``hessian``,
``vjp``, ``jvp`` (as ``torch.autograd.functional``). All run the one driver in
:mod:`autograd.engine`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .engine import no_grad, run_backward
from .tensor import Tensor


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _seeds(outputs: tuple, grad_outputs: Any, op: str) -> list:
    grad_outputs = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(
        outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"{op}: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs"
        )
    seeds = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{op}: outputs must be Tensors, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(
                f"{op}: element {i} of tensors does not require grad and does not have "
                "a grad_fn"
            )
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for scalar outputs "
                    f"(output {i} has shape {tuple(out.shape)}); pass `gradient=`"
                )
            seeds.append(Tensor._make(np.ones(out.shape, dtype=out.dtype), None))
            continue
        g = g if isinstance(g, Tensor) else Tensor(g, dtype=out.dtype)
        if g.shape != out.shape:
            raise RuntimeError(
                f"{op}: Mismatch in shape: grad_output[{i}] has a shape of "
                f"{tuple(g.shape)} and output[{i}] has a shape of {tuple(out.shape)}"
            )
        seeds.append(g.to(out.dtype))
    return seeds


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad``."""
    roots = _as_tuple(tensors)
    seeds = _seeds(roots, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(list(roots), seeds, retain_graph, create_graph)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None,
         retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, as a tuple.

    Leaves' ``.grad`` is left untouched. With ``create_graph=True`` the results
    are themselves differentiable (higher-order derivatives).
    """
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    for t in inputs:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("grad: One of the differentiated Tensors does not require grad")
    seeds = _seeds(outputs, grad_outputs, "grad")
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
            g = Tensor._make(g.data.copy(), None)
        results.append(g)
    return tuple(results)


# ------------------------------------------------------ as torch.autograd.functional


def _fresh_inputs(inputs: Any) -> tuple:
    return tuple(Tensor._make(t.data, None).requires_grad_() for t in _as_tuple(inputs))


def _grads_or_zeros(outputs: Any, inputs: tuple, grad_outputs: Any, create_graph: bool) -> tuple:
    if not any(o.requires_grad for o in _as_tuple(outputs)):
        return tuple(Tensor._make(np.zeros(t.shape, t.dtype), None) for t in inputs)
    grads = grad(outputs, inputs, grad_outputs, retain_graph=True,
                 create_graph=create_graph, allow_unused=True)
    return tuple(g if g is not None else Tensor._make(np.zeros(t.shape, t.dtype), None)
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
    outs = _as_tuple(out)
    us = tuple(Tensor._make(np.zeros(o.shape, o.dtype), None).requires_grad_() for o in outs)
    ujs = _grads_or_zeros(outs, xs, us, create_graph=True)
    vs = _as_tuple(v) if v is not None else tuple(
        Tensor._make(np.ones(t.shape, t.dtype), None) for t in xs)
    total = sum(((uj * vi).sum() for uj, vi in zip(ujs, vs)), Tensor(0.0, dtype=xs[0].dtype))
    jv = _grads_or_zeros(total, us, None, create_graph)
    single = not isinstance(out, (tuple, list))
    return (out if create_graph else _detach(out)), (jv[0] if single else jv)


def jacobian(func: Callable, inputs: Any, create_graph: bool = False) -> Any:
    """d func / d inputs: for one input and one output a Tensor of shape
    ``output.shape + input.shape``; tuples of them otherwise, as in PyTorch."""
    xs = _fresh_inputs(inputs)
    out = func(*xs)
    outs = _as_tuple(out)
    table = []
    for o in outs:
        rows = []
        flat = o.reshape(-1)
        for i in range(flat.shape[0]):
            rows.append(_grads_or_zeros(flat[i], xs, None, create_graph))
        table.append(tuple(
            _stack_rows([r[j] for r in rows], o.shape, x.shape, x.dtype, create_graph)
            for j, x in enumerate(xs)
        ))
    single_in = not isinstance(inputs, (tuple, list))
    single_out = not isinstance(out, (tuple, list))
    table = [row[0] if single_in else row for row in table]
    return table[0] if single_out else tuple(table)


def _stack_rows(rows: list, out_shape: tuple, in_shape: tuple, dtype: Any,
                create_graph: bool) -> Tensor:
    if not rows:
        return Tensor._make(np.zeros(out_shape + in_shape, dtype), None)
    if create_graph:
        from .tensor_functions import stack

        return stack(rows).reshape(out_shape + in_shape)
    return Tensor._make(np.stack([r.data for r in rows]).reshape(out_shape + in_shape), None)


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
