"""Fuzz every Tensor op: random shapes (empty ones too), dtypes (float32, float64,
int64, bool), values (nan, ±inf, ±0, negatives) and arguments (dims out of range,
odd sizes), through chaingrad and through PyTorch. The outcome must be one of:

- both answer: the same values, shape and dtype;
- both refuse: ours raises an exception of the builtin type PyTorch's is
  (RuntimeError, IndexError, TypeError, ValueError, NotImplementedError);

and never an internal error (AttributeError, KeyError, RecursionError, a bare
numpy exception...). Where ours refuses on purpose something PyTorch answers, or
answers something PyTorch refuses, the op lists it in ``deviations`` with the
reason; each such case is still checked to be a clear error or an answer.

Each op's calling convention is ``fn(m, *tensors, **kwargs)`` with ``m`` the
``autograd`` or the ``torch`` module: the one ``OpInfo.fn`` of the shared op
registry uses, so these entries fold into it as a fuzz sampler per op.

Deterministic by default (hypothesis' derandomize: the same examples on every
run, so CI is not flaky); ``CHAINGRAD_FUZZ_EXAMPLES=2000 CHAINGRAD_FUZZ_RANDOM=1``
explores further.
"""

from __future__ import annotations

import math
import operator
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import broadcast_pairs

import autograd

torch = pytest.importorskip("torch")

EXAMPLES = int(os.environ.get("CHAINGRAD_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize=not os.environ.get("CHAINGRAD_FUZZ_RANDOM"),
                suppress_health_check=list(HealthCheck), database=None)

#: the exception types a user may get, as PyTorch raises them
CLEAR = (IndexError, TypeError, ValueError, NotImplementedError, RuntimeError, OverflowError)
DTYPES = (np.float32, np.float64, np.int64, np.bool_)
SPECIAL = (0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -3.0, math.nan, math.inf, -math.inf)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Const:
    """An array handed to the op as a tensor of each library, not an input (an index,
    a mask): the registry's ``Const``."""

    array: np.ndarray


def shapes(max_dims: int = 3, max_side: int = 3) -> st.SearchStrategy[tuple]:
    return st.lists(st.integers(0, max_side), max_size=max_dims).map(tuple)


@st.composite
def array(draw: Any, shape: Any = None, dtype: Any = None) -> np.ndarray:
    shape = draw(shapes()) if shape is None else shape
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else dtype
    if dtype is np.bool_:
        elements = st.booleans()
    elif np.issubdtype(dtype, np.integer):
        elements = st.integers(-4, 4)
    else:
        elements = st.one_of(st.sampled_from(SPECIAL),
                             st.floats(-3, 3, width=32, allow_subnormal=False))
    return draw(hnp.arrays(dtype, shape, elements=elements))


def pair_of_shapes() -> st.SearchStrategy[tuple]:
    """Two shapes: half the time any two, else two that broadcast."""
    return st.one_of(st.tuples(shapes(), shapes()),
                     broadcast_pairs(max_dims=3, max_side=3, min_side=0))


@st.composite
def arrays_for(draw: Any, arity: int) -> tuple:
    if arity == 2:
        sa, sb = draw(pair_of_shapes())
        return draw(array(sa)), draw(array(sb))
    return tuple(draw(array()) for _ in range(arity))


def dims(ndim: int, tuples: bool = True) -> st.SearchStrategy[Any]:
    """None, any int around the valid range, or (optionally) a tuple of them."""
    one = st.integers(-ndim - 1, max(ndim, 1))
    options = [st.none(), one]
    if tuples:
        options.append(st.lists(one, max_size=3).map(tuple))
    return st.one_of(*options)


def scalar() -> st.SearchStrategy[Any]:
    return st.one_of(st.integers(-3, 3), st.sampled_from((0.5, -1.5, 2.0, math.nan)),
                     st.booleans())


# --------------------------------------------------------------------------- the ops


@dataclass(frozen=True)
class FuzzOp:
    """An op as the fuzz test calls it: ``fn(m, *tensors, **kwargs)``; ``arity``
    tensors drawn by :func:`arrays_for`; ``kwargs(data, arrays)`` the other
    arguments; ``covers``: the public names it calls besides ``name`` (operators,
    aliases, function forms), for :func:`test_every_public_op_is_fuzzed`;
    ``deviations``: {reason: predicate(arrays, kwargs, ours, theirs)} for the
    documented places where chaingrad differs on purpose (or PyTorch is wrong);
    ``grad_deviations``: the same for the gradients (outcomes of the backward)."""

    name: str
    fn: Callable[..., Any]
    arity: int = 1
    kwargs: Callable[[Any, tuple], dict] = lambda data, arrays: {}
    covers: tuple = ()
    deviations: dict = field(default_factory=dict)
    grad_deviations: dict = field(default_factory=dict)


def _dim_kw(keep: bool = True, tuples: bool = True) -> Callable:
    def draw(data: Any, arrays: tuple) -> dict:
        kw = {"d": data.draw(dims(arrays[0].ndim, tuples))}
        if keep:
            kw["k"] = data.draw(st.booleans())
        return kw
    return draw


def _int_dim_kw(data: Any, arrays: tuple) -> dict:
    n = arrays[0].ndim
    return {"d": data.draw(st.integers(-n - 1, max(n, 1)))}


def _reduce(method: str) -> Callable:
    def fn(m: Any, x: Any, d: Any = None, k: bool = False) -> Any:
        if d is None:
            return getattr(x, method)()
        return getattr(x, method)(d, keepdim=k)
    return fn


def _dtype_of(m: Any, name: str) -> Any:
    return getattr(m, name)


UNARY = [FuzzOp(name, fn, covers=covers) for name, fn, *covers in [
    ("exp", lambda m, x: x.exp()),
    ("log", lambda m, x: m.log(x)),
    ("log1p", lambda m, x: x.log1p()),
    ("sqrt", lambda m, x: x.sqrt()),
    ("abs", lambda m, x: abs(x), "__abs__"),
    ("sign", lambda m, x: x.sign()),
    ("sin", lambda m, x: x.sin()),
    ("cos", lambda m, x: x.cos()),
    ("tanh", lambda m, x: x.tanh()),
    ("sigmoid", lambda m, x: x.sigmoid()),
    ("relu", lambda m, x: x.relu()),
    ("neg", lambda m, x: -x, "__neg__"),
    ("pos", lambda m, x: +x, "__pos__"),
    ("invert", lambda m, x: ~x, "__invert__"),
    ("clone", lambda m, x: x.clone()),
    ("detach", lambda m, x: x.detach()),
    ("contiguous", lambda m, x: x.T.contiguous(), "T"),
    ("mT", lambda m, x: x.mT),
    ("flatten_all", lambda m, x: x.flatten(), "flatten"),
    ("squeeze_all", lambda m, x: x.squeeze(), "squeeze"),
    ("item", lambda m, x: x.item()),
    ("tolist", lambda m, x: x.tolist()),
    ("numpy", lambda m, x: x.numpy(), "__array__"),
    ("float", lambda m, x: x.float()),
    ("double", lambda m, x: x.double()),
    ("long", lambda m, x: x.long()),
    ("len", lambda m, x: len(x), "__len__"),
    ("iter", lambda m, x: list(x), "__iter__"),
    ("bool", lambda m, x: bool(x), "__bool__"),
    ("python_float", lambda m, x: float(x), "__float__"),
    ("python_int", lambda m, x: int(x), "__int__"),
    ("index", lambda m, x: operator.index(x), "__index__"),
    ("numel", lambda m, x: x.numel()),
    ("dim", lambda m, x: (x.dim(), x.ndim, tuple(x.shape), tuple(x.size())), "ndim", "shape",
     "size"),
    ("zero_", lambda m, x: x.clone().zero_()),
]]

SCALAR_ARG = [FuzzOp(name, fn, kwargs=lambda d, a: {"s": d.draw(scalar())}, covers=covers)
              for name, fn, *covers in [
    ("add_scalar", lambda m, x, s: x + s, "__add__"),
    ("radd_scalar", lambda m, x, s: s + x, "__radd__"),
    ("sub_scalar", lambda m, x, s: x.sub(s, alpha=2), "sub"),
    ("rsub_scalar", lambda m, x, s: s - x, "__rsub__"),
    ("mul_scalar", lambda m, x, s: x * s, "__mul__"),
    ("rmul_scalar", lambda m, x, s: s * x, "__rmul__"),
    ("div_scalar", lambda m, x, s: x / s, "__truediv__"),
    ("rdiv_scalar", lambda m, x, s: s / x, "__rtruediv__"),
    ("lt_scalar", lambda m, x, s: x < s, "__lt__"),
    ("eq_scalar", lambda m, x, s: x == s, "__eq__"),
    ("fill_", lambda m, x, s: x.clone().fill_(s)),
    ("iadd_scalar", lambda m, x, s: _inplace(x, operator.iadd, s), "__iadd__"),
    ("imul_scalar", lambda m, x, s: _inplace(x, operator.imul, s), "__imul__"),
    ("masked_fill_scalar", lambda m, x, s: x.masked_fill(x > 0, s), "masked_fill"),
]]
SCALAR_ARG += [
    FuzzOp("pow_scalar", lambda m, x, s: x ** s, kwargs=lambda d, a: {
        "s": d.draw(st.sampled_from((-2, -1, 0, 1, 2, 3, 0.5, 2.5, -1.5)))},
        covers=("__pow__",)),
    FuzzOp("rpow_scalar", lambda m, x, s: s ** x, kwargs=lambda d, a: {
        "s": d.draw(st.sampled_from((2, 0.5, 2.0, -2.0)))}, covers=("__rpow__",)),
    FuzzOp("clamp", lambda m, x, lo, hi: x.clamp(lo, hi), kwargs=lambda d, a: {
        "lo": d.draw(st.one_of(st.none(), scalar())),
        "hi": d.draw(st.one_of(st.none(), scalar()))}),
    FuzzOp("clip", lambda m, x, lo, hi: m.clip(x, max=hi, min=lo), kwargs=lambda d, a: {
        "lo": d.draw(st.one_of(st.none(), scalar())),
        "hi": d.draw(st.one_of(st.none(), scalar()))}),
    FuzzOp("to", lambda m, x, t: x.to(getattr(m, t)), kwargs=lambda d, a: {
        "t": d.draw(st.sampled_from(("float32", "float64", "int64", "bool")))}),
]


def _inplace(x: Any, op: Callable, other: Any) -> Any:
    """``x op= other`` on a copy of ``x`` (a leaf that requires grad refuses it)."""
    y = x.clone()
    z = op(y, other)
    assert z is y, "an in-place operator returned another tensor"
    return y


BINARY = [FuzzOp(name, fn, arity=2, covers=covers) for name, fn, *covers in [
    ("add", lambda m, a, b: a + b, "__add__"),
    ("add_alpha", lambda m, a, b: a.add(b, alpha=2), "add"),
    ("sub", lambda m, a, b: a - b, "__sub__"),
    ("mul", lambda m, a, b: a.mul(b), "__mul__"),
    ("div", lambda m, a, b: a.div(b), "__truediv__"),
    ("pow", lambda m, a, b: a.pow(b), "__pow__"),
    ("maximum", lambda m, a, b: a.maximum(b)),
    ("minimum", lambda m, a, b: m.minimum(a, b)),
    ("max_other", lambda m, a, b: a.max(b), "max"),
    ("min_other", lambda m, a, b: m.min(a, b), "min"),
    ("lt", lambda m, a, b: a < b, "__lt__"),
    ("le", lambda m, a, b: a <= b, "__le__"),
    ("gt", lambda m, a, b: a > b, "__gt__"),
    ("ge", lambda m, a, b: a >= b, "__ge__"),
    ("eq", lambda m, a, b: a == b, "__eq__"),
    ("ne", lambda m, a, b: a != b, "__ne__"),
    ("and", lambda m, a, b: a & b, "__and__", "__rand__"),
    ("or", lambda m, a, b: a | b, "__or__", "__ror__"),
    ("xor", lambda m, a, b: a ^ b, "__xor__", "__rxor__"),
    ("matmul", lambda m, a, b: a @ b, "__matmul__"),
    ("fn_matmul", lambda m, a, b: m.matmul(a, b), "matmul"),
    ("dot", lambda m, a, b: a.dot(b)),
    ("where", lambda m, a, b: m.where(a > 0, a, b)),
    ("where_method", lambda m, a, b: a.where(b > 0, b), "where"),
    ("expand_as", lambda m, a, b: a.expand_as(b)),
    ("add_", lambda m, a, b: a.clone().add_(b, alpha=2)),
    ("sub_", lambda m, a, b: a.clone().sub_(b)),
    ("mul_", lambda m, a, b: a.clone().mul_(b)),
    ("div_", lambda m, a, b: a.clone().div_(b)),
    ("isub", lambda m, a, b: _inplace(a, operator.isub, b), "__isub__"),
    ("itruediv", lambda m, a, b: _inplace(a, operator.itruediv, b), "__itruediv__"),
    ("copy_", lambda m, a, b: a.clone().copy_(b)),
    ("cat", lambda m, a, b, d: m.cat([a, b], d), "concatenate"),
    ("stack", lambda m, a, b, d: m.stack([a, b], d)),
]]
BINARY = [op if op.name not in ("cat", "stack") else
          FuzzOp(op.name, op.fn, 2, lambda d, a: {"d": d.draw(st.integers(-3, 3))}, op.covers)
          for op in BINARY]

REDUCTIONS = [FuzzOp(name, _reduce(name), kwargs=_dim_kw()) for name in (
    "sum", "mean", "prod", "amax", "amin", "logsumexp")]
REDUCTIONS += [
    FuzzOp("var", lambda m, x, d=None, k=False: x.var(d, keepdim=k), kwargs=_dim_kw()),
    FuzzOp("std", lambda m, x, d=None, k=False: x.std(d, keepdim=k), kwargs=_dim_kw()),
    FuzzOp("max", _reduce("max"), kwargs=_dim_kw(tuples=False)),
    FuzzOp("min", _reduce("min"), kwargs=_dim_kw(tuples=False)),
    FuzzOp("argmax", _reduce("argmax"), kwargs=_dim_kw(tuples=False)),
    FuzzOp("argmin", _reduce("argmin"), kwargs=_dim_kw(tuples=False)),
    FuzzOp("softmax", lambda m, x, d: x.softmax(d), kwargs=_int_dim_kw),
    FuzzOp("log_softmax", lambda m, x, d: x.log_softmax(d), kwargs=_int_dim_kw),
    FuzzOp("cumsum", lambda m, x, d: x.cumsum(d), kwargs=_int_dim_kw),
    FuzzOp("sum_axis", lambda m, x, d=None, k=False: x.sum(axis=d, keepdims=k),
           kwargs=_dim_kw()),
]


def _sizes(data: Any, arrays: tuple) -> dict:
    return {"s": tuple(data.draw(st.lists(st.integers(-2, 4), max_size=4)))}


def _two_dims(data: Any, arrays: tuple) -> dict:
    n = arrays[0].ndim
    one = st.integers(-n - 1, max(n, 1))
    return {"d0": data.draw(one), "d1": data.draw(one)}


def _index(data: Any, arrays: tuple) -> dict:
    x = arrays[0]
    parts = []
    for n in (*x.shape[:data.draw(st.integers(0, x.ndim + 1))], 3):
        parts.append(data.draw(st.one_of(
            st.integers(-n - 1, n), st.none(), st.just(Ellipsis),
            st.builds(slice, st.one_of(st.none(), st.integers(-4, 4)),
                      st.one_of(st.none(), st.integers(-4, 4)),
                      st.one_of(st.none(), st.integers(1, 3))))))
    return {"i": tuple(parts)}


def _gather(data: Any, arrays: tuple) -> dict:
    x = arrays[0]
    n = x.ndim
    d = data.draw(st.integers(-n - 1, max(n, 1)))
    shape = tuple(data.draw(st.integers(0, 3)) for _ in range(data.draw(
        st.sampled_from((n, n, n, max(n - 1, 0), n + 1)))))
    index = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(-4, 4)))
    return {"d": d, "i": Const(index)}


def _index_select(data: Any, arrays: tuple) -> dict:
    n = arrays[0].ndim
    shape = data.draw(st.sampled_from(((), (0,), (2,), (3,), (1, 2))))
    index = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(-4, 4)))
    return {"d": data.draw(st.integers(-n - 1, max(n, 1))), "i": Const(index)}


def _masked_fill(data: Any, arrays: tuple) -> dict:
    x = arrays[0]
    shape = data.draw(st.one_of(st.just(x.shape), shapes()))
    mask = data.draw(hnp.arrays(np.bool_, shape, elements=st.booleans()))
    return {"mask": Const(mask), "v": data.draw(scalar())}


def _setitem(x: Any, index: Any, value: Any) -> Any:
    y = x.clone()
    y[index] = value
    return y


def _setitem_kw(data: Any, arrays: tuple) -> dict:
    value = data.draw(st.one_of(scalar(), array().map(Const)))
    return {**_index(data, arrays), "v": value}


def _scatter_add(data: Any, arrays: tuple) -> dict:
    kw = _gather(data, arrays)
    src = data.draw(st.one_of(array(kw["i"].array.shape, arrays[0].dtype.type), array()))
    return {**kw, "src": Const(src)}


def _pad(m: Any) -> Callable:
    """``pad`` of each library: ``autograd.pad``, ``torch.nn.functional.pad``."""
    return m.pad if m is autograd else m.nn.functional.pad


def _kind(t: Any) -> tuple:
    """The shape and dtype name of a tensor of either library (for random results)."""
    return tuple(t.shape), str(t.dtype).removeprefix("torch.")


SHAPE = [
    FuzzOp("reshape", lambda m, x, s: x.reshape(s), kwargs=_sizes),
    FuzzOp("view", lambda m, x, s: x.view(s), kwargs=_sizes),
    FuzzOp("view_T", lambda m, x, s: x.T.view(s), kwargs=_sizes),
    FuzzOp("expand", lambda m, x, s: x.expand(s), kwargs=_sizes),
    FuzzOp("broadcast_to", lambda m, x, s: x.broadcast_to(s), kwargs=_sizes),
    FuzzOp("permute", lambda m, x, s: x.permute(s), kwargs=lambda d, a: {
        "s": tuple(d.draw(st.lists(st.integers(-3, 3), max_size=a[0].ndim + 1)))}),
    FuzzOp("transpose", lambda m, x, d0, d1: x.transpose(d0, d1), kwargs=_two_dims),
    FuzzOp("flatten", lambda m, x, d0, d1: x.flatten(d0, d1), kwargs=_two_dims),
    FuzzOp("unsqueeze", lambda m, x, d: x.unsqueeze(d), kwargs=lambda d, a: {
        "d": d.draw(st.integers(-a[0].ndim - 2, a[0].ndim + 1))}),
    FuzzOp("squeeze", lambda m, x, d: x.squeeze(d), kwargs=_int_dim_kw),
    FuzzOp("getitem", lambda m, x, i: x[i], kwargs=_index, covers=("__getitem__",)),
    FuzzOp("gather", lambda m, x, d, i: x.gather(d, i), kwargs=_gather),
    FuzzOp("index_select", lambda m, x, d, i: x.index_select(d, i), kwargs=_index_select),
    FuzzOp("split", lambda m, x, n, d: x.split(n, d), kwargs=lambda d, a: {
        "n": d.draw(st.integers(-1, 3)), "d": d.draw(st.integers(-a[0].ndim - 1,
                                                                   max(a[0].ndim, 1)))}),
    FuzzOp("chunk", lambda m, x, n, d: x.chunk(n, d), kwargs=lambda d, a: {
        "n": d.draw(st.integers(-1, 3)), "d": d.draw(st.integers(-a[0].ndim - 1,
                                                                   max(a[0].ndim, 1)))}),
    FuzzOp("tril", lambda m, x, k: x.tril(k), kwargs=lambda d, a: {"k": d.draw(
        st.integers(-3, 3))}),
    FuzzOp("triu", lambda m, x, k: x.triu(k), kwargs=lambda d, a: {"k": d.draw(
        st.integers(-3, 3))}),
    FuzzOp("masked_fill", lambda m, x, mask, v: x.masked_fill(mask, v), kwargs=_masked_fill),
    FuzzOp("topk", lambda m, x, k, d: x.topk(k, d), kwargs=lambda d, a: {
        "k": d.draw(st.integers(-1, 4)), "d": d.draw(st.integers(-a[0].ndim - 1,
                                                                   max(a[0].ndim, 1)))}),
    FuzzOp("setitem", lambda m, x, i, v: _setitem(x, i, v), kwargs=_setitem_kw,
           covers=("__setitem__",)),
    FuzzOp("scatter_add", lambda m, x, d, i, src: x.scatter_add(d, i, src),
           kwargs=_scatter_add),
    FuzzOp("unbind", lambda m, x, d: x.unbind(d), kwargs=_int_dim_kw),
    FuzzOp("unflatten", lambda m, x, d, s: x.unflatten(d, s), kwargs=lambda d, a: {
        **_int_dim_kw(d, a), "s": tuple(d.draw(st.lists(st.integers(-2, 3), max_size=3)))}),
    FuzzOp("sum_to_size", lambda m, x, s: x.sum_to_size(s), kwargs=_sizes),
    FuzzOp("swapaxes", lambda m, x, d0, d1: x.swapaxes(d0, d1), kwargs=_two_dims),
    FuzzOp("pad", lambda m, x, p, v: _pad(m)(x, p, value=v), kwargs=lambda d, a: {
        "p": tuple(d.draw(st.lists(st.integers(-2, 2), max_size=7))),
        "v": d.draw(st.sampled_from((0.0, -1.5, 2)))}),
    FuzzOp("multinomial", lambda m, x, n, r: _kind(x.multinomial(n, r)), kwargs=lambda d, a: {
        "n": d.draw(st.integers(-1, 4)), "r": d.draw(st.booleans())}),
]


def _size(data: Any) -> tuple:
    return tuple(data.draw(st.lists(st.integers(-1, 3), max_size=3)))


def _number(data: Any) -> Any:
    return data.draw(st.one_of(st.integers(-3, 4), st.sampled_from((0.5, -1.5, 2.0, math.nan,
                                                                     math.inf))))


#: creation: no tensor in, sizes and numbers (random ones compared by shape and dtype)
FACTORIES = [FuzzOp(name, fn, arity=0, kwargs=kwargs) for name, fn, kwargs in [
    ("zeros", lambda m, s: m.zeros(s), lambda d, a: {"s": _size(d)}),
    ("ones", lambda m, s: m.ones(*s), lambda d, a: {"s": _size(d)}),
    ("empty", lambda m, s: _kind(m.empty(s)), lambda d, a: {"s": _size(d)}),
    ("full", lambda m, s, v: m.full(s, v), lambda d, a: {"s": _size(d), "v": d.draw(scalar())}),
    ("arange", lambda m, a, b, c: m.arange(a, b, c), lambda d, a: {
        "a": _number(d), "b": _number(d), "c": _number(d)}),
    ("linspace", lambda m, a, b, n: m.linspace(a, b, n), lambda d, a: {
        "a": _number(d), "b": _number(d), "n": d.draw(st.integers(-1, 4))}),
    ("eye", lambda m, n, k: m.eye(n) if k is None else m.eye(n, k), lambda d, a: {
        "n": d.draw(st.integers(-1, 3)), "k": d.draw(st.one_of(st.none(), st.integers(-1, 3)))}),
    ("rand", lambda m, s: _kind(m.rand(*s)), lambda d, a: {"s": _size(d)}),
    ("randn", lambda m, s: _kind(m.randn(s)), lambda d, a: {"s": _size(d)}),
    ("randint", lambda m, lo, hi, s: _kind(m.randint(lo, hi, s)), lambda d, a: {
        "lo": d.draw(st.integers(-2, 3)), "hi": d.draw(st.integers(-2, 3)), "s": _size(d)}),
    ("randperm", lambda m, n: _kind(m.randperm(n)), lambda d, a: {
        "n": d.draw(st.integers(-1, 4))}),
]]
FACTORIES += [FuzzOp(name, fn, kwargs=kwargs) for name, fn, kwargs in [
    ("zeros_like", lambda m, x: m.zeros_like(x), lambda d, a: {}),
    ("ones_like", lambda m, x: m.ones_like(x), lambda d, a: {}),
    ("full_like", lambda m, x, v: m.full_like(x, v), lambda d, a: {"v": d.draw(scalar())}),
]]

# --------------------------------------------------------------------------- deviations
# Each predicate says whether a case is one of the documented differences, and
# checks ours where it can (against PyTorch computing the same thing another way).


def _promoted_product(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
    """matmul/dot of two dtypes: PyTorch refuses; chaingrad promotes as for ``*`` and
    must give PyTorch's product of the promoted operands."""
    a, b = arrays
    if a.dtype == b.dtype or ours.error is not None:
        return False
    dtype = ours.value.dtype
    promoted = tuple(torch.tensor(x.astype(dtype)) for x in arrays)
    _same(ours.value, torch.matmul(*promoted), "promoted product")
    return True


def _reduce_each_dim(torch_fn: Callable) -> Callable:
    """A reduction over several dims (a tuple) where PyTorch takes one int: ours must
    equal PyTorch reducing one dim at a time."""
    def applies(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
        d, keep = kwargs.get("d"), kwargs.get("k", False)
        if not isinstance(d, tuple):
            return False
        if ours.error is not None:  # e.g. a dim listed twice: a clear error (checked)
            return isinstance(theirs.error, TypeError)
        x = torch.tensor(arrays[0])
        dims = sorted({a % x.ndim for a in d} if x.ndim else set(), reverse=True)
        if not dims:
            dims = list(range(x.ndim))[::-1]
        for a in dims:
            x = torch_fn(x, a, keep)
        _same_values(ours.value, x, "reduced one dim at a time")
        return True
    return applies


def _logsumexp_of_everything(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
    """logsumexp without dims (None or ()): PyTorch requires a dim (and fails on ());
    ours reduces every dim, which must equal PyTorch's over the flattened tensor."""
    if kwargs.get("d") not in (None, ()) or ours.error is not None:
        return False
    x = torch.tensor(arrays[0])
    x = x if x.dtype.is_floating_point else x.float()
    expected = torch.logsumexp(x.reshape(-1), 0)
    if kwargs.get("d") == () and kwargs.get("k"):
        expected = expected.reshape((1,) * x.ndim)
    _same(ours.value, expected, "logsumexp over every dim")
    return True


def _expand_minus_one_into_nothing(arrays: tuple, kwargs: dict, ours: Any,
                                   theirs: Any) -> bool:
    """PyTorch accepts a negative size (other than -1 for a kept dim) when the result
    is empty, and returns a tensor of that negative size (a PyTorch bug); ours refuses."""
    s, ndim = kwargs.get("s", ()), arrays[0].ndim
    lead = s[:max(len(s) - ndim, 0)]
    return ((any(n < 0 for n in lead) or any(n < -1 for n in s)) and theirs.error is None
            and isinstance(ours.error, RuntimeError))


def _topk_of_a_number(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
    """topk(0) of a 0-d tensor: PyTorch returns the element itself; ours returns none."""
    return arrays[0].ndim == 0 and kwargs.get("k") == 0 and ours.error is None


def _ties_in_another_order(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
    """topk among equal values (nans too): PyTorch leaves which of them come first
    unspecified (its kernel's order is not by index); ours keeps the lower index
    first. Where the indices differ, the values must still be PyTorch's and ours must
    be distinct indices that pick exactly those values."""
    if ours.error is not None or theirs.error is not None:
        return False
    index, expected = ours.value[1].numpy(), theirs.value[1].numpy()
    if index.shape != expected.shape or np.array_equal(index, expected):
        return False  # compared (gradients too) as usual
    _same(ours.value[0], theirs.value[0], "topk values")
    x, d = arrays[0], kwargs["d"] % max(arrays[0].ndim, 1)
    picked = np.take_along_axis(x, index, d) if x.ndim else x.reshape(index.shape)
    np.testing.assert_array_equal(picked, ours.value[0].numpy(), "topk picks its values")
    assert all(len(set(v)) == len(v) for v in np.moveaxis(index, d, -1).reshape(
        -1, index.shape[d] if index.ndim else 1).tolist()), "topk picked an index twice"
    return True


def _several_ellipses(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
    """PyTorch accepts an index with several ``...``; numpy and chaingrad refuse it."""
    return (sum(i is Ellipsis for i in kwargs.get("i", ())) > 1
            and isinstance(ours.error, IndexError))


def _bool_product(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
    """A product with a bool matrix: PyTorch has no kernel for it, but answers where
    nothing is to be computed (empty operands); chaingrad always refuses it, with
    PyTorch's RuntimeError (elsewhere the types are compared as usual)."""
    return (any(a.dtype == np.bool_ for a in arrays) and all(a.ndim for a in arrays)
            and isinstance(ours.error, RuntimeError) and theirs.error is None)


def _sign_of_nan(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
    """sign(nan): PyTorch answers 0 (its kernel computes (0 < x) - (x < 0); its own
    issue #41245, open since 2020, calls nan right); chaingrad keeps the nan, as
    numpy does: a nan turned into 0 would hide a divergence. Elsewhere: PyTorch's."""
    x = arrays[0]
    if x.dtype.kind != "f" or not np.isnan(x).any() or ours.error is not None:
        return False
    expected = theirs.value.numpy().copy()
    expected[np.isnan(x)] = math.nan
    _same(ours.value, torch.tensor(expected), "sign, nan kept")
    return True


def _inplace_needs_no_grad(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
    """In place on a tensor that requires grad (a leaf or not): API.md's contract is
    in-place ops on tensors that need no grad, so chaingrad refuses with a clear
    RuntimeError; PyTorch records the change in the graph (version counters,
    CopySlices), which chaingrad does not implement."""
    return isinstance(ours.error, RuntimeError) and "in-place operation" in str(ours.error)


def _spread_over_no_dims(method: str) -> Callable:
    """var/std with dim=(): PyTorch's forward reduces every dim (compared as usual),
    but its backward counts no element (n - 1 = 0: ±inf and nan); chaingrad's
    gradient is that of reducing every dim, which must be PyTorch's with no dim."""
    def applies(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
        if kwargs.get("d") != () or ours.error is not None:
            return False
        every_dim = FuzzOp(method, lambda m, x: getattr(x, method)())
        _same_gradients(ours, _run(torch, every_dim, arrays, {}, grad=True), arrays,
                        f"{method} over no dims")
        return True
    return applies


DEVIATIONS = {
    "sign": {"sign(nan) is nan": _sign_of_nan},
    "matmul": {"promotes two dtypes": _promoted_product, "bool matrices": _bool_product},
    "dot": {"promotes two dtypes": _promoted_product, "bool vectors": _bool_product},
    "fn_matmul": {"promotes two dtypes": _promoted_product, "bool matrices": _bool_product},
    "prod": {"several dims": _reduce_each_dim(lambda x, d, k: x.prod(d, keepdim=k))},
    "logsumexp": {"every dim without a dim": _logsumexp_of_everything},
    "expand": {"PyTorch's -1 in a new dim": _expand_minus_one_into_nothing},
    "broadcast_to": {"PyTorch's -1 in a new dim": _expand_minus_one_into_nothing},
    "topk": {"PyTorch's topk(0) of a 0-d tensor": _topk_of_a_number,
             "ties in another order": _ties_in_another_order},
    "getitem": {"several Ellipsis": _several_ellipses},
    "setitem": {"several Ellipsis": _several_ellipses},
}

GRAD_DEVIATIONS = {
    **{name: {"in place needs no grad": _inplace_needs_no_grad} for name in (
        "zero_", "fill_", "iadd_scalar", "imul_scalar", "add_", "sub_", "mul_", "div_", "isub",
        "itruediv", "copy_", "setitem")},
    "var": {"PyTorch's var over dim=()": _spread_over_no_dims("var")},
    "std": {"PyTorch's std over dim=()": _spread_over_no_dims("std")},
}

OPS = {op.name: FuzzOp(op.name, op.fn, op.arity, op.kwargs, op.covers,
                       DEVIATIONS.get(op.name, {}), GRAD_DEVIATIONS.get(op.name, {}))
       for op in [*UNARY, *SCALAR_ARG, *BINARY, *REDUCTIONS, *SHAPE, *FACTORIES]}


# --------------------------------------------------------------------------- the check


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


def _run(m: Any, op: FuzzOp, arrays: tuple, kwargs: dict, grad: bool = False) -> Outcome:
    """The op through library ``m``; with ``grad``, float inputs require grad and the
    outcome's value is (result, the inputs' gradients of result.sum())."""
    def lift(v: Any) -> Any:
        return m.tensor(v.array) if isinstance(v, Const) else v

    try:
        tensors = [m.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    except Exception as err:  # an outcome like any other
        return Outcome(error=err)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = op.fn(m, *tensors, **{k: lift(v) for k, v in kwargs.items()})
            if grad:
                value.sum().backward()
                value = (value, [t.grad for t in tensors if t.requires_grad])
            return Outcome(value=value)
    except Exception as err:
        return Outcome(error=err)


def _clear_type(error: BaseException) -> type | None:
    """The first of :data:`CLEAR` in ``error``'s class hierarchy."""
    for cls in type(error).__mro__:
        if cls in CLEAR:
            return cls
    return None


def _same(ours: Any, theirs: Any, where: str = "result", float32: bool = False) -> None:
    """``ours`` is PyTorch's ``theirs``: shape, dtype and values (floats to float32's
    precision where ``float32`` says the computation went through float32)."""
    if isinstance(theirs, (torch.Tensor, np.ndarray)):
        assert isinstance(ours, (autograd.Tensor, np.ndarray)), f"{where}: {type(ours)}"
        expected = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
        assert ours.shape == expected.shape, f"{where}: shape {ours.shape} != {expected.shape}"
        assert ours.dtype == expected.dtype, f"{where}: dtype {ours.dtype} != {expected.dtype}"
        values = np.asarray(ours.data if isinstance(ours, autograd.Tensor) else ours)
        if expected.dtype.kind == "f":
            tol = 1e-5 if float32 or expected.dtype == np.float32 else 1e-12
            np.testing.assert_allclose(values, expected, rtol=tol, atol=tol,
                                       equal_nan=True, err_msg=where)
        else:
            np.testing.assert_array_equal(values, expected, err_msg=where)
    elif isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)), f"{where}: {type(ours).__name__}"
        assert len(ours) == len(theirs), f"{where}: {len(ours)} parts != {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _same(a, b, f"{where}[{i}]", float32)
    elif isinstance(theirs, float) and math.isnan(theirs):
        assert isinstance(ours, float) and math.isnan(ours), f"{where}: {ours!r} != nan"
    else:
        assert type(ours) is type(theirs) and ours == theirs, f"{where}: {ours!r} != {theirs!r}"


def _describe(arrays: tuple, kwargs: dict) -> str:
    """The case, with the values of small arrays (hypothesis prints its draws only
    at the end, not in the message of each failure)."""
    def show(a: np.ndarray) -> str:
        values = f"={a.tolist()}" if a.size <= 8 else ""
        return f"{a.dtype}{list(a.shape)}{values}"
    return f"inputs ({', '.join(show(a) for a in arrays)}) {kwargs}"


def _missing_kernel(error: BaseException) -> bool:
    """PyTorch refused for want of a kernel for this dtype, not by a rule of the op."""
    text = str(error)
    return isinstance(error, NotImplementedError) or any(
        phrase in text for phrase in ("not implemented for", "not supported for",
                                      "does not support", "inputs not supported"))


def _same_values(ours: Any, theirs: Any, where: str) -> None:
    """As :func:`_same`, but ``ours`` may hold another dtype (compared as float64)."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, autograd.Tensor), f"{where}: {type(ours).__name__}"
        expected = theirs.detach().to(torch.float64).numpy()
        assert ours.shape == expected.shape, f"{where}: shape {ours.shape} != {expected.shape}"
        np.testing.assert_allclose(ours.data.astype(np.float64), expected, rtol=1e-5,
                                   atol=1e-6, equal_nan=True, err_msg=where)
    elif isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _same_values(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs or (math.isnan(ours) and math.isnan(theirs)), where


_DIM_FAULTS = ("Dimension out of range", "appears multiple times", "duplicate dims",
               "non-zero size")
_INDEX_FAULTS = ("out of range", "out of bounds", "out of DATA bounds",
                 "axis dim should be positive")


def _same_fault(ours: Outcome, theirs: Outcome) -> bool:
    """Both refuse for the same kind of fault, where PyTorch's exception type depends
    on its kernel, not on the fault: dims wrong in two ways at once (out of range and
    listed twice: which is named first is arbitrary), or an index out of range
    (IndexError from one kernel, RuntimeError from another)."""
    return any(all(o.error is not None and any(f in str(o.error) for f in faults)
                   for o in (ours, theirs)) for faults in (_DIM_FAULTS, _INDEX_FAULTS))


def check(op: FuzzOp, arrays: tuple, kwargs: dict) -> None:
    ours, theirs = _run(autograd, op, arrays, kwargs), _run(torch, op, arrays, kwargs)
    case = f"{op.name}: {_describe(arrays, kwargs)}"
    if ours.error is not None:
        kind = _clear_type(ours.error)
        assert kind is not None and type(ours.error).__module__.split(".")[0] != "numpy", (
            f"{case}: internal error {type(ours.error).__name__}: {ours.error}")
    for applies in op.deviations.values():
        if applies(arrays, kwargs, ours, theirs):
            return  # documented (the key says why); the clear-error check above held
    if theirs.error is not None:
        if ours.error is None and _missing_kernel(theirs.error):
            # PyTorch has no kernel for this dtype, chaingrad computes it: the answer
            # must be PyTorch's on the inputs in float64
            wider = tuple(a.astype(np.float64) for a in arrays)
            reference = _run(torch, op, wider, kwargs)
            assert reference.error is None, (
                f"{case}: PyTorch refuses ({theirs.error}) even in float64 "
                f"({reference.error}), ours answers {ours.value!r}")
            _same_values(ours.value, reference.value, case)
            return
        if _same_fault(ours, theirs):
            return
        expected = _clear_type(theirs.error)
        assert ours.error is not None, (
            f"{case}: PyTorch raises {type(theirs.error).__name__} ({theirs.error}), "
            f"ours answers {ours.value!r}")
        if expected is NotImplementedError:  # a missing kernel: any clear refusal will do
            expected = (RuntimeError, TypeError)
        assert isinstance(ours.error, expected), (
            f"{case}: PyTorch raises {type(theirs.error).__name__} ({theirs.error}), ours "
            f"{type(ours.error).__name__} ({ours.error})")
        return
    assert ours.error is None, (
        f"{case}: PyTorch answers, ours raises {type(ours.error).__name__}: {ours.error}")
    _same(ours.value, theirs.value, case)
    if isinstance(ours.value, autograd.Tensor) and ours.value.dtype.kind == "f" and any(
            a.dtype.kind == "f" for a in arrays):
        check_gradients(op, arrays, kwargs, case)


def check_gradients(op: FuzzOp, arrays: tuple, kwargs: dict, case: str) -> None:
    """The gradients of the result's sum: PyTorch's, or a clear error where it fails.

    Where an input holds a nan only the absence of an internal error is checked:
    the result there is nan already, and PyTorch's ops follow no one rule for the
    gradient of a nan (relu passes it: 1; clamp: 0; min(): 1/count among the nans;
    amin: nan), so there is no convention to match."""
    ours, theirs = _run(autograd, op, arrays, kwargs, True), _run(torch, op, arrays, kwargs,
                                                                   True)
    if ours.error is not None:
        assert _clear_type(ours.error) is not None, (
            f"{case}: backward: internal error {type(ours.error).__name__}: {ours.error}")
    if theirs.error is not None or any(np.isnan(a).any() for a in arrays if a.dtype.kind == "f"):
        return  # PyTorch's backward fails (e.g. on an integer output), or a nan (above)
    for applies in op.grad_deviations.values():
        if applies(arrays, kwargs, ours, theirs):
            return  # documented (the reason is the key)
    assert ours.error is None, f"{case}: backward: ours raises {ours.error!r}"
    _same_gradients(ours, theirs, arrays, case)


def _same_gradients(ours: Outcome, theirs: Outcome, arrays: tuple, case: str) -> None:
    """Each input's gradient is PyTorch's (a float32 input or result: float32's precision,
    whatever the gradient's own dtype)."""
    float32 = any(a.dtype == np.float32 for a in arrays) or ours.value[0].dtype == np.float32
    for i, (g, h) in enumerate(zip(ours.value[1], theirs.value[1])):
        if h is None:
            continue
        assert g is not None, f"{case}: gradient {i} is None, PyTorch's is not"
        _same(g, h, f"{case}: gradient {i}", float32)


@pytest.mark.parametrize("name", OPS)
@FUZZ
@given(data=st.data())
def test_op_matches_torch_or_raises_its_error(name, data):
    op = OPS[name]
    arrays = data.draw(arrays_for(op.arity), label="arrays")
    kwargs = op.kwargs(data, arrays)
    check(op, arrays, kwargs)


# --------------------------------------------------------------------------- coverage

#: public names no fuzz entry calls, and why
NOT_FUZZED = {
    # the graph, not ops: tests/test_engine.py, test_function.py, test_tensor_api.py
    **dict.fromkeys(("backward", "grad", "grad_fn", "grad_on_node", "is_leaf", "requires_grad",
                     "requires_grad_", "retain_grad", "retains_grad", "register_hook",
                     "register_post_accumulate_grad_hook"), "autograd graph: engine tests"),
    # the device and memory layout: tests/test_backend_seam.py (and the device tests)
    **dict.fromkeys(("device", "cpu", "cuda", "is_cuda", "is_contiguous", "data"),
                    "device and storage: backend-seam tests"),
    "dtype": "read by every check here (the dtype of each result is compared)",
    "astype": "numpy's spelling, which PyTorch lacks (an alias of `to`, fuzzed)",
    "__array_ufunc__": "numpy calling into chaingrad: tests/test_tensor_api.py",
    "__rmatmul__": "reached only from a non-Tensor left operand that numpy does not take",
    "__repr__": "printing: tests/test_tensor_api.py",
    "__hash__": "identity, as PyTorch",
    "__init__": "construction: tensor() is fuzzed through every input",
}


def _public_names() -> set:
    """What a user reaches: Tensor's methods, properties and operators, and the
    module-level functions that are not just a method's other spelling."""
    names = {n for n in dir(autograd.Tensor) if not n.startswith("_")}
    internal = {"__module__", "__slots__", "__weakref__", "__doc__", "__dict__",
                "__annotations__", "__firstlineno__", "__static_attributes__", "__new__",
                "__class_getitem__", "__init_subclass__"}
    for cls in autograd.Tensor.__mro__[:-1]:
        names |= {n for n in vars(cls) if n.startswith("__") and n not in internal}
    factories = {"zeros", "ones", "empty", "full", "arange", "linspace", "eye", "rand",
                 "randn", "randint", "randperm", "zeros_like", "ones_like", "full_like"}
    return names | factories | {"cat", "concatenate", "stack", "where", "pad", "clip"}


def test_every_public_op_is_fuzzed():
    covered = set(OPS) | {name for op in OPS.values() for name in op.covers}
    missing = _public_names() - covered - set(NOT_FUZZED)
    assert not missing, f"no fuzz entry (and no reason in NOT_FUZZED) for {sorted(missing)}"
    assert not set(NOT_FUZZED) - _public_names(), "NOT_FUZZED names something gone"
