"""The checks the op tests run on each registry entry (``op_registry.py``), on
``devices.DEVICE``: gradcheck, parity with torch, and second derivatives."""

from __future__ import annotations

from typing import Any

import numpy as np
from devices import DEVICE
from op_registry import Const, OpInfo, Sample

import autograd as ag

# float32 gradients summed over a broadcast dim cancel in another order than torch's
TOLERANCE = {np.float64: {"rtol": 1e-9, "atol": 1e-11}, np.float32: {"rtol": 1e-4, "atol": 1e-5}}


def host(t: Any) -> np.ndarray:
    """A tensor's values as a numpy array (copied from the device; torch's too)."""
    if isinstance(t, ag.Tensor):
        return t.detach().numpy()
    return t.detach().numpy(force=True)


def outputs(result: Any) -> list:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def dtype_name(t: Any) -> str:
    return t.dtype.name if isinstance(t, ag.Tensor) else str(t.dtype).removeprefix("torch.")


def tensor(m: Any, array: Any, requires_grad: bool = False) -> Any:
    """``array`` as a tensor of library ``m`` (ours on the device under test)."""
    if m is ag:
        return ag.tensor(array, device=DEVICE, requires_grad=requires_grad)
    return m.tensor(array, requires_grad=requires_grad)


def inputs(m: Any, sample: Sample, dtype: Any = np.float64, grad: bool = True) -> tuple:
    """The sample's tensors for library ``m`` (floats cast to ``dtype``, requiring
    grad when ``grad``) and its keyword arguments (``Const`` arrays as tensors)."""
    made = []
    for a in sample.arrays:
        a = np.asarray(a)
        floating = a.dtype.kind == "f"
        made.append(tensor(m, a.astype(dtype) if floating else a, grad and floating))
    kwargs = {}
    for key, value in sample.kwargs.items():
        if isinstance(value, Const):
            array = np.asarray(value.array)
            value = tensor(m, array.astype(dtype) if array.dtype.kind == "f" else array)
        kwargs[key] = value
    return made, kwargs


def gradcheck(op: OpInfo, sample: Sample) -> None:
    """float64 finite differences against the analytic gradient."""
    xs, kwargs = inputs(ag, sample)
    assert ag.gradcheck(lambda *ts: op.call(ag, *ts, **kwargs), xs)


def same_as_torch(op: OpInfo, sample: Sample, torch: Any, dtype: Any = np.float64) -> None:
    """Values, shapes and dtypes of every output, then (under one random output
    gradient) the gradient of every float input, against torch."""
    ours, ours_kw = inputs(ag, sample, dtype)
    theirs, theirs_kw = inputs(torch, sample, dtype, grad=op.torch_grads)
    out_a = outputs(op.call(ag, *ours, **ours_kw))
    out_t = outputs(op.call(torch, *theirs, **theirs_kw))
    assert len(out_a) == len(out_t)
    rng = np.random.default_rng(0)
    loss_a = loss_t = 0
    for a, t in zip(out_a, out_t):
        assert dtype_name(a) == dtype_name(t), (dtype_name(a), dtype_name(t))
        assert tuple(a.shape) == tuple(t.shape)
        if sample.arrays:
            assert a.device == DEVICE
        tol = TOLERANCE.get(a.dtype.type, TOLERANCE[np.float64])
        np.testing.assert_allclose(host(a), host(t), **tol)
        if t.requires_grad:
            assert a.requires_grad
            seed = rng.standard_normal(a.shape)
            loss_a = loss_a + (a * tensor(ag, seed.astype(a.dtype))).sum()
            loss_t = loss_t + (t * torch.tensor(seed, dtype=t.dtype)).sum()
    if not isinstance(loss_t, torch.Tensor):
        return
    loss_a.backward()
    loss_t.backward()
    for a, t in zip(ours, theirs):
        if not t.requires_grad:
            continue
        if t.grad is None:
            assert a.grad is None or not host(a.grad).any()
            continue
        assert a.grad.device == DEVICE
        assert dtype_name(a.grad) == dtype_name(t.grad)
        np.testing.assert_allclose(host(a.grad), host(t.grad), **TOLERANCE[a.dtype.type])


def weights_for(result: Any, seed: int = 0) -> list:
    """Fixed random weights, one array per output that requires grad."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(o.shape)) if o.requires_grad else None
            for o in outputs(result)]


def weighted_sum(m: Any, result: Any, weights: list) -> Any:
    total = 0
    for o, w in zip(outputs(result), weights):
        if w is not None:
            total = total + (o * tensor(m, w.astype(np.float64))).sum()
    return total


def gradgradcheck(op: OpInfo, sample: Sample) -> None:
    """gradcheck of x ↦ d/dx Σ w ⊙ op(x): every backward rule is itself differentiated."""
    xs, kwargs = inputs(ag, sample)
    weights = weights_for(op.call(ag, *xs, **kwargs))
    floats = [x for x in xs if x.requires_grad]

    def gradient(*ts: Any) -> Any:
        y = weighted_sum(ag, op.call(ag, *ts, **kwargs), weights)
        if not isinstance(y, ag.Tensor) or not y.requires_grad:
            return tuple(ag.zeros_like(t) for t in ts if t.requires_grad)
        return ag.grad(y, [t for t in ts if t.requires_grad], create_graph=True,
                       allow_unused=True)

    if floats:
        assert ag.gradcheck(gradient, xs)


def second_derivatives(m: Any, op: OpInfo, sample: Sample, grad: Any) -> tuple:
    """For y = Σ w ⊙ op(x): g = dy/dx, then the gradient of Σ v ⊙ g (a
    Hessian-vector product through every backward rule); zeros where nothing
    depends on x."""
    xs, kwargs = inputs(m, sample)
    result = op.call(m, *xs, **kwargs)
    floats = [x for x in xs if x.requires_grad]
    y = weighted_sum(m, result, weights_for(result))
    if not floats or not getattr(y, "requires_grad", False):
        return None
    gs = grad(y, floats, create_graph=True, allow_unused=True)
    rng = np.random.default_rng(1)
    vs = [rng.standard_normal(tuple(x.shape)) for x in floats]
    total = sum((g * tensor(m, v)).sum() for g, v in zip(gs, vs)
                if g is not None and g.requires_grad)
    first = [None if g is None else host(g) for g in gs]
    if not getattr(total, "requires_grad", False):  # the gradient is constant in x
        return first, [np.zeros(tuple(x.shape)) for x in floats]
    hs = grad(total, floats, allow_unused=True)
    return first, [np.zeros(tuple(x.shape)) if h is None else host(h)
                   for h, x in zip(hs, floats)]


def double_backward_as_torch(op: OpInfo, sample: Sample, torch: Any) -> None:
    ours = second_derivatives(ag, op, sample, ag.grad)
    theirs = second_derivatives(torch, op, sample, torch.autograd.grad)
    if theirs is None:
        assert ours is None
        return
    for mine, ref in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        if ref is None:
            assert mine is None or not mine.any()
            continue
        assert mine.shape == ref.shape
        np.testing.assert_allclose(mine, ref, **TOLERANCE[np.float64])
