"""Every op against PyTorch: forward values, result dtypes and gradients.

The ops come from the registry (``op_registry.py``), each run in float64 and
float32 on ``devices.DEVICE`` and compared with torch on the CPU: every output
(values, shape, dtype) and, under one random output gradient, the gradient of
every float input (``op_checks.same_as_torch``). Below them, fixed cases:
kinks, dtype promotion, stability, errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_checks import same_as_torch
from op_registry import OPS, OpInfo, Sample, as_index, op_id
from strategies import BROADCAST_EXAMPLES, FAST

import autograd as ag

torch = pytest.importorskip("torch")

BY_NAME = {op.name: op for op in OPS}


def same(fn, *arrays_, dtype=np.float64, torch_fn=None) -> None:
    """``fn(m, *tensors)`` gives the same values, dtypes and gradients with both
    libraries (float arrays cast to ``dtype`` and requiring grad)."""
    same_as_torch(OpInfo("by hand", fn, sample=None, torch_fn=torch_fn), Sample(arrays_),
                  torch, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", [op for op in OPS if op.torch], ids=op_id)
@FAST
@given(data=st.data())
def test_same_as_torch(op, dtype, data):
    if dtype not in op.dtypes:
        return
    same_as_torch(op, op.sample(data), torch, dtype)


# --------------------------------------------------------------------------- elementwise


def test_kinks_match_torch():
    """At the kinks (0 for relu/abs/sign, the bounds of clamp, ties of maximum)."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    for name in ("relu", "abs", "sign", "clamp", "clamp_min", "clamp_max", "clip",
                 "leaky_relu"):
        same(BY_NAME[name].fn, x)
    same(lambda m, a: a.clamp(-0.5, 0.5) + a.clamp(0.0, 0.0), x)
    same(lambda m, a, b: a.maximum(b) * 2 + a.minimum(b), x, np.array([-1.0, 0, 0, 0.5, 2]))


@pytest.mark.parametrize("pair", BROADCAST_EXAMPLES)
def test_binary_broadcasting_examples(pair):
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 2, pair[0]), rng.uniform(0.5, 2, pair[1])
    for op in OPS:
        if op.broadcasts:
            same(op.fn, a, b)
            same(op.fn, b, a)


def test_tensor_with_ndarray_and_python_numbers():
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    c = np.array([1.5, -0.5])
    same(lambda m, t: t + c, x, torch_fn=lambda m, t: t + torch.tensor(c))
    same(lambda m, t: c - t, x, torch_fn=lambda m, t: torch.tensor(c) - t)
    same(lambda m, t: c * t / c, x, torch_fn=lambda m, t: torch.tensor(c) * t / torch.tensor(c))
    same(lambda m, t: 2 - t * 3 + 1.5 / (t * t + 1) - t / 4 + 2**t, x)


# --------------------------------------------------------------------------- dtypes


def ints(m, *values):
    return m.tensor(list(values))


DTYPE_CASES = {
    "float list": lambda m: m.tensor([1.0, 2.0]),
    "int list": lambda m: m.tensor([1, 2]),
    "bool list": lambda m: m.tensor([True, False]),
    "numpy float64": lambda m: m.tensor(np.array([1.0, 2.0])),
    "int / int": lambda m: ints(m, 1, 2) / ints(m, 2, 4),
    "int / python int": lambda m: ints(m, 1, 2) / 2,
    "python int / int": lambda m: 3 / ints(m, 1, 2),
    "int * python float": lambda m: ints(m, 1, 2) * 1.5,
    "python float * int": lambda m: 1.5 * ints(m, 1, 2),
    "int + python int": lambda m: ints(m, 1, 2) + 1,
    "python int - int": lambda m: 1 - ints(m, 1, 2),
    "int ** 2": lambda m: ints(m, 1, 2) ** 2,
    "int ** 0.5": lambda m: ints(m, 1, 4) ** 0.5,
    "2 ** int": lambda m: 2 ** ints(m, 1, 2),
    "2.0 ** int": lambda m: 2.0 ** ints(m, 1, 2),
    "bool * python float": lambda m: m.tensor([True, False]) * 1.5,
    "float32 * python float": lambda m: m.tensor([1.0, 2.0]) * 2.5,
    "float32 + float64": lambda m: m.tensor([1.0]) + m.tensor(np.array([2.0])),
    "float32 + 0-d float64": lambda m: m.tensor([1.0, 2.0]) + m.tensor(np.array(2.0)),
    "0-d float64 * float32": lambda m: m.tensor(np.array(2.0)) * m.tensor([1.0, 2.0]),
    "int + 0-d float64": lambda m: ints(m, 1, 2) + m.tensor(np.array(2.5)),
    "int + float32": lambda m: ints(m, 1, 2) + m.tensor([0.5, 0.5]),
    "float64 @ float64": lambda m: m.tensor(np.eye(2)) @ m.tensor(np.ones(2)),
    "int sum": lambda m: ints(m, 1, 2).sum(),
    "int prod": lambda m: ints(m, 3, 2).prod(),
    "int max": lambda m: ints(m, 3, 2).max(),
    "int abs/neg/relu/sign": lambda m: (-ints(m, -3, 2)).abs() + ints(m, -1, 2).relu().sign(),
    "argmax": lambda m: m.tensor([1.0, 3.0, 2.0]).argmax(),
    "argmin dim keepdim": lambda m: m.tensor([[1.0, 3.0], [0.0, 4.0]]).argmin(1, keepdim=True),
    "max(dim) indices": lambda m: m.tensor([[1.0, 3.0], [0.0, 4.0]]).max(0).indices,
    "min(dim) values": lambda m: m.tensor([[1.0, 3.0], [0.0, 4.0]]).min(-1).values,
    "comparison": lambda m: m.tensor([1.0, 2.0]) < 1.5,
    "comparison int float": lambda m: ints(m, 1, 2) == m.tensor([1.0, 2.5]),
    "float32 mean": lambda m: m.tensor([1.0, 2.0]).mean(),
    "float32 softmax": lambda m: m.tensor([1.0, 2.0]).softmax(0),
    **{f"int {f}": (lambda m, f=f: getattr(ints(m, 1, 2), f)())
       for f in ("exp", "log", "log1p", "sqrt", "sin", "cos", "tanh", "sigmoid")},
    "int clamp float bound": lambda m: ints(m, 1, 2).clamp(0.5, 1.5),
    "int clamp int bound": lambda m: ints(m, 1, 2).clamp(min=2),
    "float64 clamp": lambda m: m.tensor(np.array([0.5, 3.0])).clamp(max=1.5),
}


@pytest.mark.parametrize("case", DTYPE_CASES)
def test_result_dtypes(case):
    same(lambda m: DTYPE_CASES[case](m))


def test_gradient_dtypes_follow_inputs():
    """A float32 input mixed with float64 gets a float32 gradient, as in PyTorch."""
    same(lambda m, a, b: (a + b.to(m.float64)) * b, np.array([1.0, 2.0]), np.array([3.0, 4.0]),
         dtype=np.float32)
    x32 = ag.tensor([1.0, 2.0], requires_grad=True)
    x64 = ag.tensor(np.array([3.0, 4.0]), requires_grad=True)
    (x32 * x64).sum().backward()
    assert x32.grad.dtype == ag.float32 and x64.grad.dtype == ag.float64


# --------------------------------------------------------------------------- reductions


def test_max_dim_ties_match_torch_gradient():
    """With ties torch's max(dim) also sends the whole gradient to one index."""
    x = np.array([[2.0, 2.0, 1.0], [0.0, 5.0, 5.0]])
    t = ag.tensor(x, requires_grad=True)
    values, index = t.max(1)
    values.sum().backward()
    assert t.grad.data.sum(1).tolist() == [1.0, 1.0]
    assert np.count_nonzero(t.grad.data) == 2
    assert t.grad.data[np.arange(2), index.data].tolist() == [1.0, 1.0]
    ours = ag.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    ours.amax(1).sum().backward()
    theirs.amax(1).sum().backward()
    assert ours.grad.data.tolist() == theirs.grad.tolist() == [[0.5, 0.5, 0], [0, 0.5, 0.5]]


def test_logsumexp_softmax_are_stable():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e4, 0.0, 1e4]])
    for op in ("softmax", "log_softmax"):
        same(lambda m, t, op=op: getattr(t, op)(-1), x)
        same(lambda m, t, op=op: getattr(t, op)(0), x, dtype=np.float32)
    same(lambda m, t: t.logsumexp(1), x)


# --------------------------------------------------------------------------- shape


def test_T_of_a_matrix():
    same(lambda m, t: t.T @ t, np.arange(6.0).reshape(2, 3))


def test_getitem_fixed_cases():
    x = np.arange(36.0).reshape(3, 3, 4)
    rep = np.array([2, 0, 2, 2, -1])
    for index in [
        (rep,), (slice(None), rep), (..., rep), (0, ..., None, rep), (rep, slice(1, 3), rep),
        (np.array([[1, 1], [0, 1]]),), (x[:, :, 0] > 5,), (x > 10,), (1, x[0, :, 0] > 3),
        (None, 1, slice(None, None, 2)), (slice(None), 1, rep[:2]), (-1, -1, -1), (...,),
    ]:
        same(lambda m, t, index=index: t[as_index(m, index)] * 2, x)


# --------------------------------------------------------------------------- linear algebra


def test_matmul_and_broadcast_errors_are_runtime_errors():
    for m in (ag, torch):
        with pytest.raises(RuntimeError, match=r"2x3 and 4x5"):
            m.ones(2, 3) @ m.ones(4, 5)
        with pytest.raises(RuntimeError, match=r"size of tensor a \(2\)"):
            m.ones(2, 3) + m.ones(4, 3)
        with pytest.raises(IndexError):
            m.ones(2, 3).sum(2)
