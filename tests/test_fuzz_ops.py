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

import autograd

torch = pytest.importorskip("torch")

EXAMPLES = int(os.environ.get("CHAINGRAD_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize=not os.environ.get("CHAINGRAD_FUZZ_RANDOM"),
                suppress_health_check=list(HealthCheck), database=None)

#: the exception types a user may get, as PyTorch raises them
CLEAR = (IndexError, TypeError, ValueError, NotImplementedError, RuntimeError)
DTYPES = (np.float32, np.float64, np.int64, np.bool_)
SPECIAL = (0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -3.0, math.nan, math.inf, -math.inf)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Index:
    """An integer array handed to the op as a tensor of each library (not an input)."""

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


@st.composite
def pair_of_shapes(draw: Any) -> tuple:
    """Two shapes: half the time ones that broadcast, else any two."""
    if draw(st.booleans()):
        return draw(shapes()), draw(shapes())
    full = draw(shapes())
    def operand() -> tuple:
        tail = full[len(full) - draw(st.integers(0, len(full))):]
        return tuple(1 if draw(st.booleans()) else n for n in tail)
    return operand(), operand()


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
    arguments; ``deviations``: {reason: predicate(arrays, kwargs, ours, theirs)}
    for the documented places where chaingrad differs on purpose (or PyTorch is
    wrong)."""

    name: str
    fn: Callable[..., Any]
    arity: int = 1
    kwargs: Callable[[Any, tuple], dict] = lambda data, arrays: {}
    deviations: dict = field(default_factory=dict)


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


UNARY = [FuzzOp(name, fn) for name, fn in [
    ("exp", lambda m, x: x.exp()),
    ("log", lambda m, x: x.log()),
    ("log1p", lambda m, x: x.log1p()),
    ("sqrt", lambda m, x: x.sqrt()),
    ("abs", lambda m, x: x.abs()),
    ("sign", lambda m, x: x.sign()),
    ("sin", lambda m, x: x.sin()),
    ("cos", lambda m, x: x.cos()),
    ("tanh", lambda m, x: x.tanh()),
    ("sigmoid", lambda m, x: x.sigmoid()),
    ("relu", lambda m, x: x.relu()),
    ("neg", lambda m, x: -x),
    ("invert", lambda m, x: ~x),
    ("clone", lambda m, x: x.clone()),
    ("detach", lambda m, x: x.detach()),
    ("contiguous_T", lambda m, x: x.T.contiguous()),
    ("mT", lambda m, x: x.mT),
    ("flatten_all", lambda m, x: x.flatten()),
    ("squeeze_all", lambda m, x: x.squeeze()),
    ("item", lambda m, x: x.item()),
    ("tolist", lambda m, x: x.tolist()),
    ("float", lambda m, x: x.float()),
    ("double", lambda m, x: x.double()),
    ("long", lambda m, x: x.long()),
    ("len", lambda m, x: len(x)),
    ("bool", lambda m, x: bool(x)),
    ("numel", lambda m, x: x.numel()),
]]

SCALAR_ARG = [
    FuzzOp("add_scalar", lambda m, x, s: x + s, kwargs=lambda d, a: {"s": d.draw(scalar())}),
    FuzzOp("rsub_scalar", lambda m, x, s: s - x, kwargs=lambda d, a: {"s": d.draw(scalar())}),
    FuzzOp("mul_scalar", lambda m, x, s: x * s, kwargs=lambda d, a: {"s": d.draw(scalar())}),
    FuzzOp("div_scalar", lambda m, x, s: x / s, kwargs=lambda d, a: {"s": d.draw(scalar())}),
    FuzzOp("rdiv_scalar", lambda m, x, s: s / x, kwargs=lambda d, a: {"s": d.draw(scalar())}),
    FuzzOp("pow_scalar", lambda m, x, s: x ** s, kwargs=lambda d, a: {
        "s": d.draw(st.sampled_from((-2, -1, 0, 1, 2, 3, 0.5, 2.5, -1.5)))}),
    FuzzOp("rpow_scalar", lambda m, x, s: s ** x, kwargs=lambda d, a: {
        "s": d.draw(st.sampled_from((2, 0.5, 2.0, -2.0)))}),
    FuzzOp("lt_scalar", lambda m, x, s: x < s, kwargs=lambda d, a: {"s": d.draw(scalar())}),
    FuzzOp("eq_scalar", lambda m, x, s: x == s, kwargs=lambda d, a: {"s": d.draw(scalar())}),
    FuzzOp("clamp", lambda m, x, lo, hi: x.clamp(lo, hi), kwargs=lambda d, a: {
        "lo": d.draw(st.one_of(st.none(), scalar())),
        "hi": d.draw(st.one_of(st.none(), scalar()))}),
    FuzzOp("to", lambda m, x, t: x.to(_dtype_of(m, t)), kwargs=lambda d, a: {
        "t": d.draw(st.sampled_from(("float32", "float64", "int64", "bool")))}),
]

BINARY = [FuzzOp(name, fn, arity=2) for name, fn in [
    ("add", lambda m, a, b: a + b),
    ("sub", lambda m, a, b: a - b),
    ("mul", lambda m, a, b: a * b),
    ("div", lambda m, a, b: a / b),
    ("pow", lambda m, a, b: a ** b),
    ("maximum", lambda m, a, b: a.maximum(b)),
    ("minimum", lambda m, a, b: m.minimum(a, b)),
    ("lt", lambda m, a, b: a < b),
    ("le", lambda m, a, b: a <= b),
    ("gt", lambda m, a, b: a > b),
    ("ge", lambda m, a, b: a >= b),
    ("eq", lambda m, a, b: a == b),
    ("ne", lambda m, a, b: a != b),
    ("and", lambda m, a, b: a & b),
    ("or", lambda m, a, b: a | b),
    ("matmul", lambda m, a, b: a @ b),
    ("dot", lambda m, a, b: a.dot(b)),
    ("where", lambda m, a, b: m.where(a > 0, a, b)),
    ("cat", lambda m, a, b, d: m.cat([a, b], d)),
    ("stack", lambda m, a, b, d: m.stack([a, b], d)),
]]
BINARY = [op if op.name not in ("cat", "stack") else
          FuzzOp(op.name, op.fn, 2, lambda d, a: {"d": d.draw(st.integers(-3, 3))})
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
    for n in x.shape[:data.draw(st.integers(0, x.ndim + 1))] + (3,):
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
    return {"d": d, "i": Index(index)}


def _index_select(data: Any, arrays: tuple) -> dict:
    n = arrays[0].ndim
    shape = data.draw(st.sampled_from(((), (0,), (2,), (3,), (1, 2))))
    index = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(-4, 4)))
    return {"d": data.draw(st.integers(-n - 1, max(n, 1))), "i": Index(index)}


def _masked_fill(data: Any, arrays: tuple) -> dict:
    x = arrays[0]
    shape = data.draw(st.one_of(st.just(x.shape), shapes()))
    mask = data.draw(hnp.arrays(np.bool_, shape, elements=st.booleans()))
    return {"mask": Index(mask), "v": data.draw(scalar())}


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
    FuzzOp("getitem", lambda m, x, i: x[i], kwargs=_index),
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
]

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


def _several_ellipses(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
    """PyTorch accepts an index with several ``...``; numpy and chaingrad refuse it."""
    return (sum(i is Ellipsis for i in kwargs.get("i", ())) > 1
            and isinstance(ours.error, IndexError))


def _bool_product(arrays: tuple, kwargs: dict, ours: Any, theirs: Any) -> bool:
    """A product of bool matrices: PyTorch has no kernel for them (it answers only
    when nothing is to be computed, or first names another dtype mismatch); chaingrad
    always refuses them with a TypeError."""
    return (any(a.dtype == np.bool_ for a in arrays) and all(a.ndim for a in arrays)
            and isinstance(ours.error, TypeError))


DEVIATIONS = {
    "matmul": {"promotes two dtypes": _promoted_product, "bool matrices": _bool_product},
    "dot": {"promotes two dtypes": _promoted_product},
    "prod": {"several dims": _reduce_each_dim(lambda x, d, k: x.prod(d, keepdim=k))},
    "logsumexp": {"every dim without a dim": _logsumexp_of_everything},
    "expand": {"PyTorch's -1 in a new dim": _expand_minus_one_into_nothing},
    "broadcast_to": {"PyTorch's -1 in a new dim": _expand_minus_one_into_nothing},
    "topk": {"PyTorch's topk(0) of a 0-d tensor": _topk_of_a_number},
    "getitem": {"several Ellipsis": _several_ellipses},
}

OPS = {op.name: FuzzOp(op.name, op.fn, op.arity, op.kwargs, DEVIATIONS.get(op.name, {}))
       for op in [*UNARY, *SCALAR_ARG, *BINARY, *REDUCTIONS, *SHAPE]}


# --------------------------------------------------------------------------- the check


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


def _run(m: Any, op: FuzzOp, arrays: tuple, kwargs: dict, grad: bool = False) -> Outcome:
    """The op through library ``m``; with ``grad``, float inputs require grad and the
    outcome's value is (result, the inputs' gradients of result.sum())."""
    def lift(v: Any) -> Any:
        return m.tensor(v.array) if isinstance(v, Index) else v

    try:
        tensors = [m.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    except Exception as err:  # noqa: BLE001  (an outcome like any other)
        return Outcome(error=err)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = op.fn(m, *tensors, **{k: lift(v) for k, v in kwargs.items()})
            if grad:
                value.sum().backward()
                value = (value, [t.grad for t in tensors if t.requires_grad])
            return Outcome(value=value)
    except Exception as err:  # noqa: BLE001
        return Outcome(error=err)


def _clear_type(error: BaseException) -> type | None:
    """The first of :data:`CLEAR` in ``error``'s class hierarchy."""
    for cls in type(error).__mro__:
        if cls in CLEAR:
            return cls
    return None


def _same(ours: Any, theirs: Any, where: str = "result") -> None:
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, autograd.Tensor), f"{where}: {type(ours).__name__}"
        expected = theirs.detach().numpy()
        assert ours.shape == expected.shape, f"{where}: shape {ours.shape} != {expected.shape}"
        assert ours.dtype == expected.dtype, f"{where}: dtype {ours.dtype} != {expected.dtype}"
        if expected.dtype.kind == "f":
            tol = 1e-5 if expected.dtype == np.float32 else 1e-12
            np.testing.assert_allclose(ours.data, expected, rtol=tol, atol=tol,
                                       equal_nan=True, err_msg=where)
        else:
            np.testing.assert_array_equal(ours.data, expected, err_msg=where)
    elif isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)), f"{where}: {type(ours).__name__}"
        assert len(ours) == len(theirs), f"{where}: {len(ours)} parts != {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float) and math.isnan(theirs):
        assert isinstance(ours, float) and math.isnan(ours), f"{where}: {ours!r} != nan"
    else:
        assert type(ours) is type(theirs) and ours == theirs, f"{where}: {ours!r} != {theirs!r}"


def _describe(arrays: tuple, kwargs: dict) -> str:
    shown = ", ".join(f"{a.dtype}{list(a.shape)}" for a in arrays)
    return f"inputs ({shown}) {kwargs}"


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
    for reason, applies in op.deviations.items():
        if applies(arrays, kwargs, ours, theirs):
            return  # documented (``reason``); the clear-error check above still held
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
    """The gradients of the result's sum: PyTorch's, or a clear error where it fails."""
    ours, theirs = _run(autograd, op, arrays, kwargs, True), _run(torch, op, arrays, kwargs,
                                                                   True)
    if ours.error is not None:
        assert _clear_type(ours.error) is not None, (
            f"{case}: backward: internal error {type(ours.error).__name__}: {ours.error}")
    if theirs.error is not None:
        return  # PyTorch's backward fails (e.g. on an integer output): nothing to compare
    assert ours.error is None, f"{case}: backward: ours raises {ours.error!r}"
    for i, (g, h) in enumerate(zip(ours.value[1], theirs.value[1])):
        if h is None:
            continue
        assert g is not None, f"{case}: gradient {i} is None, PyTorch's is not"
        _same(g, h, f"{case}: gradient {i}")


@pytest.mark.parametrize("name", OPS)
@FUZZ
@given(data=st.data())
def test_op_matches_torch_or_raises_its_error(name, data):
    op = OPS[name]
    arrays = data.draw(arrays_for(op.arity), label="arrays")
    kwargs = op.kwargs(data, arrays)
    check(op, arrays, kwargs)
