"""Every Tensor op against PyTorch: forward values, result dtypes and gradients.

``same(fn, *arrays)`` runs ``fn(module, *tensors)`` once with ``autograd`` and
once with ``torch``, on tensors made from the same numpy arrays, then compares
each output (values, shape, dtype) and, under one random output gradient, the
gradient of every float input.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    BROADCAST_EXAMPLES,
    FAST,
    arrays,
    broadcast_pairs,
    dim,
    dims,
    distinct_arrays,
    indices,
    keepdims,
    reduced_count,
    shapes,
)

import autograd as ag

torch = pytest.importorskip("torch")

# float32 gradients summed over a broadcast dim cancel in a different order than torch's
TOLERANCE = {np.float64: {"rtol": 1e-9, "atol": 1e-11}, np.float32: {"rtol": 1e-4, "atol": 1e-5}}
FLOATS = [np.float64, np.float32]


def dtype_name(t) -> str:
    return t.dtype.name if isinstance(t, ag.Tensor) else str(t.dtype).removeprefix("torch.")


def outputs(result) -> list:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def same(fn, *arrays_, dtype=np.float64, torch_fn=None, grad=True) -> None:
    """Assert ``fn`` gives the same values, dtypes and gradients on both libraries.

    Float arrays are cast to ``dtype`` and require grad (when ``grad``); other
    arrays (ints, bools) go in as they are.
    """
    def inputs(make):
        made = []
        for a in arrays_:
            a = np.asarray(a)
            floating = a.dtype.kind == "f"
            made.append(make(a.astype(dtype) if floating else a, grad and floating))
        return made

    ours = inputs(lambda a, g: ag.tensor(a, requires_grad=g))
    theirs = inputs(lambda a, g: torch.tensor(a, requires_grad=g))
    out_a = outputs(fn(ag, *ours))
    out_t = outputs((torch_fn or fn)(torch, *theirs))
    assert len(out_a) == len(out_t)
    rng = np.random.default_rng(0)
    loss_a = loss_t = 0
    for a, t in zip(out_a, out_t):
        assert dtype_name(a) == dtype_name(t), (dtype_name(a), dtype_name(t))
        assert tuple(a.shape) == tuple(t.shape)
        tol = TOLERANCE.get(a.dtype.type, TOLERANCE[np.float64])
        np.testing.assert_allclose(a.data, t.detach().numpy(), **tol)
        if t.requires_grad:
            assert a.requires_grad
            seed = rng.standard_normal(a.shape)
            loss_a = loss_a + (a * ag.tensor(seed, dtype=a.dtype)).sum()
            loss_t = loss_t + (t * torch.tensor(seed, dtype=t.dtype)).sum()
    if not isinstance(loss_t, torch.Tensor):
        return
    loss_a.backward()
    loss_t.backward()
    for a, t in zip(ours, theirs):
        if not t.requires_grad:
            continue
        if t.grad is None:
            assert a.grad is None or not a.grad.data.any()
            continue
        assert dtype_name(a.grad) == dtype_name(t.grad)
        tol = TOLERANCE[a.dtype.type]
        np.testing.assert_allclose(a.grad.data, t.grad.numpy(), **tol)


# --------------------------------------------------------------------------- elementwise

UNARY = {
    "exp": (lambda m, x: x.exp(), {}),
    "log": (lambda m, x: x.log(), {"low": 0.1, "high": 3.0}),
    "log1p": (lambda m, x: x.log1p(), {"low": -0.9, "high": 3.0}),
    "sqrt": (lambda m, x: x.sqrt(), {"low": 0.1, "high": 3.0}),
    "abs": (lambda m, x: x.abs(), {}),
    "sign": (lambda m, x: x.sign(), {}),
    "sin": (lambda m, x: x.sin(), {"low": -4.0, "high": 4.0}),
    "cos": (lambda m, x: x.cos(), {"low": -4.0, "high": 4.0}),
    "tanh": (lambda m, x: x.tanh(), {"low": -5.0, "high": 5.0}),
    "sigmoid": (lambda m, x: x.sigmoid(), {"low": -30.0, "high": 30.0}),
    "relu": (lambda m, x: x.relu(), {}),
    "neg": (lambda m, x: -x, {}),
    "clamp": (lambda m, x: x.clamp(-0.5, 0.7), {}),
    "clamp_min": (lambda m, x: x.clamp(min=0.3), {}),
    "clamp_max": (lambda m, x: x.clamp(max=-0.2), {}),
    "clip": (lambda m, x: x.clip(-1.0, 1.0), {}),
    "pow_2": (lambda m, x: x**2, {}),
    "pow_3": (lambda m, x: x.pow(3), {}),
    "pow_-1": (lambda m, x: x**-1, {"avoid": (0.0,), "gap": 0.3}),
    "pow_0.5": (lambda m, x: x**0.5, {"low": 0.1, "high": 3.0}),
    "pow_-1.5": (lambda m, x: x**-1.5, {"low": 0.2, "high": 3.0}),
    "pow_0": (lambda m, x: x**0, {}),
    "radd": (lambda m, x: 1.5 + x, {}),
    "rsub": (lambda m, x: 1.5 - x, {}),
    "rmul": (lambda m, x: 3 * x, {}),
    "rdiv": (lambda m, x: 2.0 / x, {"avoid": (0.0,), "gap": 0.3}),
    "rpow": (lambda m, x: 2.0**x, {}),
    "fn_forms": (lambda m, x: m.exp(m.tanh(x)) + m.sigmoid(x) * m.relu(x) + m.abs(x), {}),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", UNARY)
@FAST
@given(data=st.data())
def test_unary(name, dtype, data):
    fn, options = UNARY[name]
    same(fn, data.draw(arrays(data.draw(shapes()), **options)), dtype=dtype)


def test_kinks_match_torch():
    """At the kinks (0 for relu/abs/sign, the bounds of clamp, ties of maximum)."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    for name in ("relu", "abs", "sign", "clamp", "clamp_min", "clamp_max", "clip"):
        same(UNARY[name][0], x)
    same(lambda m, a: a.clamp(-0.5, 0.5) + a.clamp(0.0, 0.0), x)
    same(lambda m, a, b: a.maximum(b) * 2 + a.minimum(b), x, np.array([-1.0, 0, 0, 0.5, 2]))


BINARY = {
    "add": (lambda m, a, b: a + b, {}),
    "sub": (lambda m, a, b: a - b, {}),
    "mul": (lambda m, a, b: a * b, {}),
    "div": (lambda m, a, b: a / b, {"avoid": (0.0,), "gap": 0.3}),
    "pow": (lambda m, a, b: a.abs() ** b, {}),
    "add_alpha": (lambda m, a, b: a.add(b, alpha=2.5) - b.sub(a, alpha=0.5), {}),
    "maximum": (lambda m, a, b: a.maximum(b), {}),
    "minimum": (lambda m, a, b: m.minimum(a, b), {}),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", BINARY)
@FAST
@given(data=st.data(), pair=broadcast_pairs())
def test_binary_broadcasting(name, dtype, data, pair):
    fn, options = BINARY[name]
    a = data.draw(arrays(pair[0], low=0.2) if name == "pow" else arrays(pair[0]))
    same(fn, a, data.draw(arrays(pair[1], **options)), dtype=dtype)


@pytest.mark.parametrize("pair", BROADCAST_EXAMPLES)
def test_binary_broadcasting_examples(pair):
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 2, pair[0]), rng.uniform(0.5, 2, pair[1])
    for fn, _ in BINARY.values():
        same(fn, a, b)
        same(fn, b, a)


@FAST
@given(data=st.data(), pair=broadcast_pairs())
def test_where(data, pair):
    a, b = data.draw(arrays(pair[0])), data.draw(arrays(pair[1]))
    cond = data.draw(arrays(np.broadcast_shapes(*pair))) > 0
    same(lambda m, x, y, c: m.where(c, x, y), a, b, cond)
    same(lambda m, x, y, c: x.where(c, y), a, b, cond)
    cond_a = data.draw(arrays(pair[0])) > 0
    same(lambda m, x, c: m.where(c, x, 0.5), a, cond_a)


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


def reduce_kwargs(d, k):
    """``dim``/``keepdim`` keywords; none at all for "all dims", as torch's reductions
    do not all take ``dim=None``."""
    return {} if d is None else {"dim": d, "keepdim": k}


def torch_dim(d, k, ndim):
    """torch spells "all dims, keepdim" as every dim listed."""
    return tuple(range(ndim)) if d is None and k else d


REDUCTIONS = {
    "sum": (lambda m, x, kw: x.sum(**kw), False, 1),
    "mean": (lambda m, x, kw: x.mean(**kw), False, 1),
    "var": (lambda m, x, kw: x.var(**kw), False, 2),
    "var_biased": (lambda m, x, kw: x.var(**kw, unbiased=False), False, 1),
    "var_correction": (lambda m, x, kw: x.var(**kw, correction=0), False, 1),
    "std": (lambda m, x, kw: x.std(**kw), True, 2),
    "std_biased": (lambda m, x, kw: m.std(x, **kw, unbiased=False), True, 2),
    "amax": (lambda m, x, kw: x.amax(**kw), False, 1),
    "amin": (lambda m, x, kw: m.amin(x, **kw), False, 1),
    "logsumexp": (lambda m, x, kw: x.logsumexp(**kw), False, 1),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", REDUCTIONS)
@FAST
@given(data=st.data(), shape=shapes(), keepdim=keepdims)
def test_reduction(name, dtype, data, shape, keepdim):
    """amax/amin draw few distinct values, so ties (split evenly) are common."""
    fn, distinct, least = REDUCTIONS[name]
    d = data.draw(dims(len(shape), allow_none=name != "logsumexp"))
    if reduced_count(shape, d) < least:
        return
    if distinct:
        x = data.draw(distinct_arrays(shape, spacing=0.05))
    elif name in ("amax", "amin"):
        x = data.draw(arrays(shape).map(lambda a: np.round(a)))
    else:
        x = data.draw(arrays(shape))
    torch_kw = reduce_kwargs(torch_dim(d, keepdim, len(shape)), keepdim)
    same(lambda m, t: fn(m, t, {"dim": d, "keepdim": keepdim}), x, dtype=dtype,
         torch_fn=lambda m, t: fn(m, t, torch_kw))


@pytest.mark.parametrize("dtype", FLOATS)
@FAST
@given(data=st.data(), shape=shapes(), keepdim=keepdims)
def test_prod(dtype, data, shape, keepdim):
    """torch's prod takes one int dim or none; zeros included."""
    x = data.draw(arrays(shape).map(lambda a: np.where(np.abs(a) < 0.3, 0.0, a)))
    d = data.draw(st.none() | dim(len(shape)))
    if d is None:
        same(lambda m, t: t.prod(), x, dtype=dtype)
        same(lambda m, t: t.prod(None, keepdim=True), x, dtype=dtype,
             torch_fn=lambda m, t: t.prod().reshape((1,) * t.ndim))
    else:
        same(lambda m, t: t.prod(d, keepdim=keepdim), x, dtype=dtype)


@pytest.mark.parametrize("op", ["max", "min"])
@FAST
@given(data=st.data(), shape=shapes(), keepdim=keepdims)
def test_max_min(op, data, shape, keepdim):
    """``max()`` is one value (ties: split evenly); ``max(dim)`` is ``(values, indices)``
    (distinct values here, so the index is unambiguous)."""
    x = data.draw(distinct_arrays(shape))
    d = data.draw(dim(len(shape)))
    same(lambda m, t: getattr(t, op)(d, keepdim=keepdim), x)
    same(lambda m, t: getattr(m, op)(t, dim=d, keepdim=keepdim), x)
    same(lambda m, t: getattr(t, op)(), np.round(x))
    result = getattr(ag.tensor(x), op)(d, keepdim)
    assert result._fields == ("values", "indices")
    assert result.indices.dtype == ag.int64


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@FAST
@given(data=st.data(), shape=shapes(min_dims=1), keepdim=keepdims)
def test_argmax_argmin(op, data, shape, keepdim):
    x = data.draw(distinct_arrays(shape))
    same(lambda m, t: getattr(t, op)(), x)
    d = data.draw(dim(len(shape)))
    same(lambda m, t: getattr(t, op)(d, keepdim=keepdim), x)


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


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@FAST
@given(data=st.data(), shape=shapes())
def test_softmax_family(op, dtype, data, shape):
    x = data.draw(arrays(shape, low=-20.0, high=20.0))
    d = data.draw(dim(len(shape)))
    same(lambda m, t: getattr(t, op)(d), x, dtype=dtype)
    same(lambda m, t: getattr(t, op)(dim=d), x, dtype=dtype)


def test_logsumexp_softmax_are_stable():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e4, 0.0, 1e4]])
    for op in ("softmax", "log_softmax"):
        same(lambda m, t, op=op: getattr(t, op)(-1), x)
        same(lambda m, t, op=op: getattr(t, op)(0), x, dtype=np.float32)
    same(lambda m, t: t.logsumexp(1), x)


# --------------------------------------------------------------------------- shape


@FAST
@given(data=st.data(), shape=shapes(min_dims=1))
def test_shape_ops(data, shape):
    x = data.draw(arrays(shape))
    nd = len(shape)
    d0, d1 = data.draw(dim(nd)), data.draw(dim(nd))
    order = data.draw(st.permutations(range(nd)))
    start, end = sorted((data.draw(dim(nd)) % nd, data.draw(dim(nd)) % nd))
    new_dim = data.draw(st.integers(-nd - 1, nd))
    same(lambda m, t: t.reshape(-1), x)
    same(lambda m, t: t.view(*reversed(shape)), x)
    same(lambda m, t: m.reshape(t, (1, -1)), x)
    same(lambda m, t: t.flatten(start, end), x)
    same(lambda m, t: m.flatten(t), x)
    same(lambda m, t: t.transpose(d0, d1), x)
    same(lambda m, t: t.permute(*order), x)
    same(lambda m, t: m.permute(t, tuple(order)), x)
    same(lambda m, t: t.unsqueeze(new_dim), x)
    same(lambda m, t: t.squeeze(), x)
    same(lambda m, t: t.squeeze(d0), x)
    same(lambda m, t: t.squeeze(tuple({d0 % nd, d1 % nd})), x)
    same(lambda m, t: t.mT if t.ndim >= 2 else t, x)


def test_T_of_a_matrix():
    same(lambda m, t: t.T @ t, np.arange(6.0).reshape(2, 3))


@FAST
@given(data=st.data(), shape=shapes(max_dims=3))
def test_expand_broadcast_to(data, shape):
    x = data.draw(arrays(shape))
    new = tuple(n if n > 1 else data.draw(st.integers(1, 3)) for n in shape)
    lead = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    if lead or shape:  # torch's expand() needs at least one size
        same(lambda m, t: t.expand(*lead, *new), x)
        same(lambda m, t: t.expand((*lead, *[-1] * len(shape))), x)
    same(lambda m, t: t.broadcast_to(lead + new), x)
    same(lambda m, t: m.broadcast_to(t, lead + new), x)


def as_index(m, index):
    """The index with numpy arrays as ``m`` tensors (torch needs tensors)."""
    if isinstance(index, tuple):
        return tuple(as_index(m, i) for i in index)
    return m.tensor(index) if isinstance(index, np.ndarray) else index


@FAST
@given(data=st.data(), shape=shapes())
def test_getitem(data, shape):
    """Ints, slices (torch has no negative steps), None, Ellipsis, boolean masks and
    integer arrays with repeated entries (their gradients accumulate)."""
    x = data.draw(arrays(shape))
    index = data.draw(indices(shape, negative_steps=False))
    same(lambda m, t: t[as_index(m, index)], x)


def test_getitem_fixed_cases():
    x = np.arange(36.0).reshape(3, 3, 4)
    rep = np.array([2, 0, 2, 2, -1])
    for index in [
        (rep,), (slice(None), rep), (..., rep), (0, ..., None, rep), (rep, slice(1, 3), rep),
        (np.array([[1, 1], [0, 1]]),), (x[:, :, 0] > 5,), (x > 10,), (1, x[0, :, 0] > 3),
        (None, 1, slice(None, None, 2)), (slice(None), 1, rep[:2]), (-1, -1, -1), (...,),
    ]:
        same(lambda m, t, index=index: t[as_index(m, index)] * 2, x)


@FAST
@given(data=st.data(), shape=shapes(min_dims=1), n=st.integers(1, 3))
def test_cat_stack(data, shape, n):
    d = data.draw(dim(len(shape)))
    parts = []
    for _ in range(n):
        sizes = list(shape)
        sizes[d] = data.draw(st.integers(1, 3))
        parts.append(data.draw(arrays(tuple(sizes))))
    same(lambda m, *ts: m.cat(ts, d), *parts)
    same(lambda m, *ts: m.cat(list(ts), dim=d), *parts)
    same_shape = [data.draw(arrays(shape)) for _ in range(n)]
    stack_dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    same(lambda m, *ts: m.stack(ts, stack_dim), *same_shape)


@FAST
@given(data=st.data(), shape=shapes(min_dims=1))
def test_split_chunk(data, shape):
    x = data.draw(arrays(shape))
    d = data.draw(dim(len(shape)))
    size = data.draw(st.integers(1, 4))
    n = shape[d]
    cut = data.draw(st.integers(0, n))
    chunks = data.draw(st.integers(1, 5))
    same(lambda m, t: t.split(size, d), x)
    same(lambda m, t: m.split(t, size, dim=d), x)
    same(lambda m, t: t.split([cut, n - cut], d), x)
    same(lambda m, t: t.chunk(chunks, d), x)
    same(lambda m, t: m.chunk(t, chunks, dim=d), x)


@FAST
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3))
def test_pad(data, shape):
    x = data.draw(arrays(shape))
    pairs = data.draw(st.integers(1, len(shape)))
    widths = data.draw(st.lists(st.integers(0, 2), min_size=2 * pairs, max_size=2 * pairs))
    value = data.draw(st.sampled_from([0.0, -1.5]))
    same(lambda m, t: m.pad(t, widths, value=value), x,
         torch_fn=lambda m, t: torch.nn.functional.pad(t, widths, value=value))


@FAST
@given(data=st.data(), shape=shapes(min_dims=1))
def test_gather(data, shape):
    x = data.draw(arrays(shape))
    d = data.draw(dim(len(shape)))
    index_shape = tuple(data.draw(st.integers(1, 4)) if i == d % len(shape)
                        else data.draw(st.integers(1, n)) for i, n in enumerate(shape))
    size = int(np.prod(index_shape))
    index = np.array(data.draw(st.lists(st.integers(0, shape[d] - 1), min_size=size,
                                        max_size=size)), dtype=np.int64).reshape(index_shape)
    same(lambda m, t: t.gather(d, m.tensor(index)), x)
    same(lambda m, t: m.gather(t, d, m.tensor(index)), x)


# --------------------------------------------------------------------------- linear algebra

MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((4, 2, 3), (3,)),
    ((3,), (4, 3, 2)), ((2, 1, 2, 3), (4, 3, 2)), ((4, 2, 3), (1, 3, 2)), ((1, 2, 3), (2, 1, 3, 1)),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(("sa", "sb"), MATMUL_SHAPES)
def test_matmul(sa, sb, dtype):
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    same(lambda m, x, y: x @ y, a, b, dtype=dtype)
    same(lambda m, x, y: m.matmul(x, y), a, b, dtype=dtype)
    if len(sa) == len(sb) == 1:
        same(lambda m, x, y: x.dot(y) + m.dot(y, x), a, b, dtype=dtype)


@FAST
@given(data=st.data(), batch=broadcast_pairs(max_dims=2, max_side=3),
       mnk=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))
def test_matmul_batched_broadcasting(data, batch, mnk):
    m_, n, k = mnk
    a = data.draw(arrays((*batch[0], m_, k)))
    b = data.draw(arrays((*batch[1], k, n)))
    same(lambda m, x, y: x.matmul(y), a, b)
    same(lambda m, x: x @ b, a, torch_fn=lambda m, x: x @ torch.tensor(b))
    same(lambda m, y: a @ y, b, torch_fn=lambda m, y: torch.tensor(a) @ y)


def test_matmul_and_broadcast_errors_are_runtime_errors():
    for m in (ag, torch):
        with pytest.raises(RuntimeError, match=r"2x3 and 4x5"):
            m.ones(2, 3) @ m.ones(4, 5)
        with pytest.raises(RuntimeError, match=r"size of tensor a \(2\)"):
            m.ones(2, 3) + m.ones(4, 3)
        with pytest.raises(IndexError):
            m.ones(2, 3).sum(2)
