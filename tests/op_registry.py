"""The op registry: every differentiable op, described once, for every op test.

PyTorch's OpInfo idea. Each :class:`OpInfo` says how to call an op through
either library (``fn(m, *tensors, **kwargs)`` with ``m`` the ``autograd`` or the
``torch`` module), how to draw inputs for it (``sample``, from hypothesis), its
domain (inside ``sample``: values kept off poles and kinks), whether it has a
torch equivalent and whether it is twice differentiable. Three test files read
:data:`OPS`, so an op added here is tested three ways on every device:

- ``tests/test_ops_gradcheck.py``: float64 gradcheck (finite differences);
- ``tests/test_ops_torch.py``: values, dtypes and gradients against torch, in
  float64 and float32;
- ``tests/test_higher_order.py``: a gradcheck of the gradient and torch's double
  backward (a Hessian-vector product), for ops with ``gradgrad=True``.

All three run on ``devices.DEVICE`` (``CHAINGRAD_TEST_DEVICE``: cpu, the strict
test device, or cuda), so CI also catches host calls hidden in an op.

How to add an op
----------------
Append an ``OpInfo`` to :data:`OPS` (in the section of its family):

    OpInfo("cumsum", lambda m, x, d: x.cumsum(d),
           sample=lambda data: one(data, kwargs=lambda shape: {"d": data.draw(dim(len(shape)))}))

- ``fn(m, *tensors, **kwargs)``: the op as a user calls it; ``m.nn_functional``
  style calls go through :func:`F` (``F(m).gelu(x)``).
- ``sample(data) -> Sample``: arrays (float ones become inputs that require grad
  and are cast to the tested dtype; int and bool ones ride along as tensors) and
  keyword arguments for ``fn`` (wrap an array that must be a tensor but not an
  input in :class:`Const`). The helpers :func:`one`, :func:`pair` and the
  strategies of ``strategies.py`` cover most cases. Keep shapes small: gradcheck
  evaluates the op twice per input element.
- ``torch_fn``: torch's spelling when it differs from ``fn``; ``torch=False``
  when torch has no equivalent.
- ``grad=False``: not differentiable (argmax); ``gradgrad=False``: no second
  derivative to test; ``torch_grads=False``: compare values only with torch
  (where torch's own backward fails); ``dtypes``: the float dtypes compared with
  torch; ``examples``: fixed samples run besides the drawn ones (edge cases).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from strategies import (
    arrays,
    broadcast_pairs,
    dim,
    dims,
    distinct_arrays,
    indices,
    reduced_count,
    shapes,
)

import nn.functional as _ours_functional
from autograd.ops.recurrent import LSTMCellOp as _LSTMCellOp
from nn.layers.recurrent import lstm_step as _lstm_step


@dataclass(frozen=True)
class Const:
    """An array passed to the op as a tensor that is not an input (no gradient,
    not gradchecked): a target, a class weight, a mask given as a keyword."""

    array: Any


@dataclass(frozen=True)
class Sample:
    """One call of an op: the input arrays and keyword arguments for ``fn``."""

    arrays: tuple
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OpInfo:
    """One op as the op tests see it (see the module docstring)."""

    name: str
    fn: Callable[..., Any]
    sample: Callable[[Any], Sample]
    torch_fn: Callable[..., Any] | None = None
    torch: bool = True
    grad: bool = True
    gradgrad: bool = True
    torch_grads: bool = True
    dtypes: tuple = (np.float64, np.float32)
    broadcasts: bool = False

    def call(self, m: Any, *tensors: Any, **kwargs: Any) -> Any:
        """The op through library ``m`` (torch's spelling when it has one)."""
        if m.__name__ == "torch" and self.torch_fn is not None:
            return self.torch_fn(m, *tensors, **kwargs)
        return self.fn(m, *tensors, **kwargs)


def F(m: Any) -> Any:
    """``nn.functional`` of library ``m``."""
    return _ours_functional if m.__name__ == "autograd" else m.nn.functional


def as_index(m: Any, index: Any) -> Any:
    """An index with its numpy arrays made ``m`` tensors (torch needs tensors)."""
    if isinstance(index, tuple):
        return tuple(as_index(m, i) for i in index)
    return m.tensor(index) if isinstance(index, np.ndarray) else index


# --------------------------------------------------------------------------- sample helpers


def one(data: Any, shape: Any = None, kwargs: Callable[[tuple], dict] | None = None,
        distinct: bool = False, **values: Any) -> Sample:
    """One array of a drawn ``shape`` (a strategy; default 0-4 dims of size 1-4),
    values from ``arrays(**values)`` (or all distinct), and ``kwargs(shape)``."""
    shape = data.draw(shape if shape is not None else shapes())
    x = data.draw(distinct_arrays(shape, spacing=0.05) if distinct else arrays(shape, **values))
    return Sample((x,), kwargs(shape) if kwargs else {})


def unary(name: str, fn: Callable, gradgrad: bool = True, **values: Any) -> OpInfo:
    """An elementwise op of one tensor; ``values`` is the domain (``low``, ``high``,
    ``avoid``, ``gap``)."""
    return OpInfo(name, lambda m, x: fn(m, x), lambda data: one(data, **values),
                  gradgrad=gradgrad)


def pair(data: Any, a: dict | None = None, b: dict | None = None) -> Sample:
    """Two arrays of shapes that broadcast together, with domains ``a`` and ``b``."""
    sa, sb = data.draw(broadcast_pairs())
    return Sample((data.draw(arrays(sa, **(a or {}))), data.draw(arrays(sb, **(b or {})))))


def binary(name: str, fn: Callable, a: dict | None = None, b: dict | None = None,
           **options: Any) -> OpInfo:
    """A broadcasting op of two tensors."""
    return OpInfo(name, lambda m, x, y: fn(m, x, y), lambda data: pair(data, a, b),
                  broadcasts=True, **options)


def distinct_pair(data: Any) -> Sample:
    """Two broadcasting arrays with no value in common (no ties for max/min)."""
    sa, sb = data.draw(broadcast_pairs())
    na, nb = math.prod(sa), math.prod(sb)
    values = data.draw(distinct_arrays((na + nb,)))
    return Sample((values[:na].reshape(sa), values[na:].reshape(sb)))


def reduction_sample(least: int = 1, distinct: bool = False, allow_none: bool = True,
                     ints_only: bool = False) -> Callable:
    """An array and reduction arguments ``d`` (None, an int or a tuple) and ``k``
    (keepdim), each output combining at least ``least`` elements."""
    def sample(data: Any) -> Sample:
        shape = data.draw(shapes())
        d = data.draw(st.none() | dim(len(shape)) if ints_only else
                      dims(len(shape), allow_none=allow_none))
        if reduced_count(shape, d) < least:
            d = None if allow_none else d
        if reduced_count(shape, d) < least:
            shape, d = (least,), 0
        x = data.draw(distinct_arrays(shape, spacing=0.05) if distinct else arrays(shape))
        return Sample((x,), {"d": d, "k": data.draw(st.booleans())})
    return sample


def torch_reduce_kwargs(x: Any, d: Any, k: bool) -> dict:
    """torch spells "all dims" as no ``dim`` (and "all dims, keepdim" as every dim)."""
    if d is None:
        return {"dim": tuple(range(x.ndim)), "keepdim": True} if k else {}
    return {"dim": d, "keepdim": k}


def reduction(name: str, method: str, least: int = 1, distinct: bool = False,
              allow_none: bool = True, **extra: Any) -> OpInfo:
    return OpInfo(
        name,
        lambda m, x, d, k: getattr(x, method)(**({} if d is None and not k else
                                                 {"dim": d, "keepdim": k}), **extra),
        reduction_sample(least, distinct, allow_none),
        torch_fn=lambda m, x, d, k: getattr(x, method)(**torch_reduce_kwargs(x, d, k), **extra))


def shape_kwargs(fn: Callable[[Any, tuple], dict]) -> Callable:
    """A sample of one array whose keyword arguments depend on its shape."""
    return lambda data: one(data, kwargs=lambda shape: fn(data, shape))


def min_dims(n: int, fn: Callable[[Any, tuple], dict], **shape_options: Any) -> Callable:
    return lambda data: one(data, shape=shapes(min_dims=n, **shape_options),
                            kwargs=lambda shape: fn(data, shape))


@st.composite
def int_list(draw: Any, low: int, high: int, length: int) -> np.ndarray:
    return np.array(draw(st.lists(st.integers(low, high), min_size=length, max_size=length)),
                    dtype=np.int64)


# --------------------------------------------------------------------------- elementwise

ELEMENTWISE = [
    unary("exp", lambda m, x: x.exp()),
    unary("log", lambda m, x: x.log(), low=0.1, high=3.0),
    unary("log1p", lambda m, x: x.log1p(), low=-0.9, high=3.0),
    unary("sqrt", lambda m, x: x.sqrt(), low=0.1, high=3.0),
    unary("abs", lambda m, x: x.abs(), avoid=(0.0,)),
    unary("sign", lambda m, x: x.sign(), avoid=(0.0,)),
    unary("sin", lambda m, x: x.sin(), low=-4.0, high=4.0),
    unary("cos", lambda m, x: x.cos(), low=-4.0, high=4.0),
    unary("tanh", lambda m, x: x.tanh(), low=-4.0, high=4.0),
    unary("sigmoid", lambda m, x: x.sigmoid(), low=-8.0, high=8.0),
    unary("relu", lambda m, x: x.relu(), avoid=(0.0,)),
    unary("neg", lambda m, x: -x),
    unary("clamp", lambda m, x: x.clamp(-0.5, 0.7), avoid=(-0.5, 0.7)),
    unary("clamp_min", lambda m, x: x.clamp(min=0.3), avoid=(0.3,)),
    unary("clamp_max", lambda m, x: x.clamp(max=-0.2), avoid=(-0.2,)),
    unary("clip", lambda m, x: x.clip(-1.0, 1.0), avoid=(-1.0, 1.0)),
    unary("fn_clamp", lambda m, x: m.clamp(x, min=-0.1), avoid=(-0.1,)),
    unary("pow_0", lambda m, x: x**0),
    unary("pow_1", lambda m, x: x**1),
    unary("pow_2", lambda m, x: x**2),
    unary("pow_3", lambda m, x: x.pow(3)),
    unary("pow_-1", lambda m, x: x**-1, avoid=(0.0,), gap=0.3),
    unary("pow_-2", lambda m, x: x**-2, avoid=(0.0,), gap=0.3),
    unary("pow_0.5", lambda m, x: x**0.5, low=0.1, high=3.0),
    unary("pow_-1.5", lambda m, x: x**-1.5, low=0.2, high=3.0),
    unary("pow_2.5", lambda m, x: x**2.5, low=0.05, high=3.0),
    unary("radd", lambda m, x: 1.5 + x),
    unary("rsub", lambda m, x: 1.5 - x),
    unary("rmul", lambda m, x: 3 * x),
    unary("rdiv", lambda m, x: 2.0 / x, avoid=(0.0,), gap=0.3),
    unary("rpow", lambda m, x: 2.0**x),
    unary("rpow_fraction", lambda m, x: 0.5**x),
    unary("fn_forms", lambda m, x: m.exp(m.tanh(x)) + m.sigmoid(x) * m.relu(x) + m.abs(x),
          avoid=(0.0,)),
    unary("leaky_relu", lambda m, x: F(m).leaky_relu(x, 0.1), avoid=(0.0,)),
    unary("gelu", lambda m, x: F(m).gelu(x)),
    unary("gelu_tanh", lambda m, x: F(m).gelu(x, approximate="tanh")),
    binary("add", lambda m, a, b: a + b),
    binary("sub", lambda m, a, b: a - b),
    binary("mul", lambda m, a, b: a * b),
    binary("div", lambda m, a, b: a / b, b={"avoid": (0.0,), "gap": 0.3}),
    # b = 0 exactly: torch's rule for a masks its derivative there (a where), so its
    # mixed second derivative is 0 where the true one is a^(b-1) (ours; gradchecked)
    binary("pow", lambda m, a, b: a**b, a={"low": 0.2, "high": 3.0}, b={"avoid": (0.0,)}),
    binary("fn_pow", lambda m, a, b: m.pow(a, b), a={"low": 0.2, "high": 3.0},
           b={"avoid": (0.0,)}),
    binary("add_alpha", lambda m, a, b: a.add(b, alpha=2.5)),
    binary("sub_alpha", lambda m, a, b: a.sub(b, alpha=-0.5)),
    binary("mul_method", lambda m, a, b: a.mul(b)),
    binary("div_method", lambda m, a, b: a.div(b), b={"avoid": (0.0,), "gap": 0.3}),
    OpInfo("maximum", lambda m, a, b: a.maximum(b), distinct_pair),
    OpInfo("minimum", lambda m, a, b: m.minimum(a, b), distinct_pair),
    OpInfo("max_other", lambda m, a, b: a.max(b), distinct_pair),
    OpInfo("min_other", lambda m, a, b: a.min(b), distinct_pair),
]


def where_sample(data: Any) -> Sample:
    a, b = pair(data).arrays
    cond_shape = data.draw(st.sampled_from([a.shape, b.shape, np.broadcast_shapes(a.shape,
                                                                                  b.shape)]))
    return Sample((a, b, data.draw(arrays(cond_shape)) > 0))


def masked_fill_sample(data: Any) -> Sample:
    shape = data.draw(shapes())
    rank = data.draw(st.integers(0, len(shape)))
    mask_shape = tuple(1 if data.draw(st.booleans()) else n for n in shape[len(shape) - rank:])
    return Sample((data.draw(arrays(shape)), data.draw(arrays(mask_shape)) > 0),
                  {"value": data.draw(st.sampled_from([0.0, -1.5]))})


ELEMENTWISE += [
    OpInfo("where", lambda m, a, b, c: m.where(c, a, b), where_sample),
    OpInfo("where_method", lambda m, a, b, c: a.where(c, b), where_sample),
    OpInfo("masked_fill", lambda m, x, c, value: x.masked_fill(c, value), masked_fill_sample),
    OpInfo("fn_masked_fill", lambda m, x, c, value: m.masked_fill(x, c, value),
           masked_fill_sample),
    OpInfo("tril", lambda m, x, k: x.tril(k),
           min_dims(2, lambda data, shape: {"k": data.draw(st.integers(-3, 3))})),
    OpInfo("triu", lambda m, x, k: m.triu(x, diagonal=k),
           min_dims(2, lambda data, shape: {"k": data.draw(st.integers(-3, 3))})),
]

# --------------------------------------------------------------------------- reductions


def max_dim_sample(data: Any) -> Sample:
    s = one(data, distinct=True)
    return Sample(s.arrays, {"d": data.draw(dim(s.arrays[0].ndim)), "k": data.draw(st.booleans())})


def argmax_sample(data: Any) -> Sample:
    s = one(data, shape=shapes(min_dims=1), distinct=True)
    return Sample(s.arrays, {"d": data.draw(st.none() | dim(s.arrays[0].ndim)),
                             "k": data.draw(st.booleans())})


def prod_torch(m: Any, x: Any, d: Any, k: bool) -> Any:
    """torch's prod takes one int dim or none (and no keepdim without a dim)."""
    if d is None:
        return x.prod().reshape((1,) * x.ndim) if k else x.prod()
    return x.prod(d, keepdim=k)


REDUCTIONS = [
    reduction("sum", "sum"),
    OpInfo("sum_axis", lambda m, x, d, k: x.sum(axis=d, keepdims=k), reduction_sample(),
           torch_fn=lambda m, x, d, k: x.sum(**torch_reduce_kwargs(x, d, k))),
    reduction("mean", "mean"),
    reduction("var", "var", least=2),
    reduction("var_biased", "var", unbiased=False),
    reduction("var_correction", "var", correction=0),
    reduction("std", "std", least=2, distinct=True),
    reduction("std_biased", "std", least=2, distinct=True, unbiased=False),
    reduction("amax", "amax", distinct=True),
    reduction("amin", "amin", distinct=True),
    reduction("logsumexp", "logsumexp", allow_none=False),
    OpInfo("prod", lambda m, x, d, k: x.prod(d, keepdim=k),
           reduction_sample(ints_only=True), torch_fn=prod_torch),
    OpInfo("max_all", lambda m, x: x.max(), lambda data: one(data, distinct=True)),
    OpInfo("min_all", lambda m, x: m.min(x), lambda data: one(data, distinct=True)),
    OpInfo("max_dim", lambda m, x, d, k: x.max(d, keepdim=k), max_dim_sample),
    OpInfo("min_dim", lambda m, x, d, k: m.min(x, dim=d, keepdim=k), max_dim_sample),
    OpInfo("argmax", lambda m, x, d, k: x.argmax(d, keepdim=k) if d is not None else x.argmax(),
           argmax_sample, grad=False, gradgrad=False),
    OpInfo("argmin", lambda m, x, d, k: x.argmin(d, keepdim=k) if d is not None else x.argmin(),
           argmax_sample, grad=False, gradgrad=False),
    OpInfo("softmax", lambda m, x, d: x.softmax(d),
           lambda data: one(data, low=-8.0, high=8.0,
                            kwargs=lambda shape: {"d": data.draw(dim(len(shape)))})),
    OpInfo("log_softmax", lambda m, x, d: m.log_softmax(x, dim=d),
           lambda data: one(data, low=-8.0, high=8.0,
                            kwargs=lambda shape: {"d": data.draw(dim(len(shape)))})),
    OpInfo("cumsum", lambda m, x, d: x.cumsum(d),
           shape_kwargs(lambda data, shape: {"d": data.draw(dim(len(shape)))})),
    OpInfo("fn_cumsum", lambda m, x, d: m.cumsum(x, dim=d) * 2,
           shape_kwargs(lambda data, shape: {"d": data.draw(dim(len(shape)))})),
]

# --------------------------------------------------------------------------- shape and indexing


def flatten_range(data: Any, shape: tuple) -> dict:
    lo, hi = sorted((data.draw(dim(len(shape))) % len(shape),
                     data.draw(dim(len(shape))) % len(shape)))
    return {"lo": lo, "hi": hi}


def expand_sizes(data: Any, shape: tuple) -> dict:
    new = tuple(n if n > 1 else data.draw(st.integers(1, 3)) for n in shape)
    lead = tuple(data.draw(st.lists(st.integers(1, 3), min_size=0 if shape else 1,
                                    max_size=2)))
    return {"sizes": lead + new, "lead": lead}


def cat_sample(same_shape: bool) -> Callable:
    def sample(data: Any) -> Sample:
        shape = data.draw(shapes(min_dims=1))
        n = data.draw(st.integers(1, 3))
        d = data.draw(dim(len(shape)))
        parts = []
        for _ in range(n):
            sizes = list(shape)
            if not same_shape:
                sizes[d] = data.draw(st.integers(1, 3))
            parts.append(data.draw(arrays(tuple(sizes))))
        if same_shape:
            d = data.draw(st.integers(-len(shape) - 1, len(shape)))
        return Sample(tuple(parts), {"d": d})
    return sample


def split_sample(data: Any) -> Sample:
    shape = data.draw(shapes(min_dims=1))
    d = data.draw(dim(len(shape)))
    cut = data.draw(st.integers(0, shape[d]))
    return Sample((data.draw(arrays(shape)),),
                  {"d": d, "size": data.draw(st.integers(1, 4)),
                   "sizes": [cut, shape[d] - cut], "chunks": data.draw(st.integers(1, 5))})


def pad_sample(data: Any) -> Sample:
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    pairs = data.draw(st.integers(1, len(shape)))
    widths = data.draw(st.lists(st.integers(0, 2), min_size=2 * pairs, max_size=2 * pairs))
    return Sample((data.draw(arrays(shape)),),
                  {"widths": widths, "value": data.draw(st.sampled_from([0.0, -1.5]))})


def gather_sample(data: Any) -> Sample:
    shape = data.draw(shapes(min_dims=1))
    d = data.draw(dim(len(shape)))
    index_shape = tuple(data.draw(st.integers(1, 4)) if i == d % len(shape)
                        else data.draw(st.integers(1, n)) for i, n in enumerate(shape))
    index = data.draw(int_list(0, shape[d] - 1, math.prod(index_shape))).reshape(index_shape)
    return Sample((data.draw(arrays(shape)), index), {"d": d})


def index_select_sample(data: Any) -> Sample:
    shape = data.draw(shapes(min_dims=1))
    d = data.draw(dim(len(shape)))
    length = data.draw(st.integers(0, 5))
    return Sample((data.draw(arrays(shape)), data.draw(int_list(0, shape[d] - 1, length))),
                  {"d": d})


def scatter_add_sample(data: Any) -> Sample:
    """The index may be smaller than src everywhere and than self apart from dim,
    and longer than self along dim (many repeats). torch's backward fails for a
    src larger than the index, so src is the index's shape here (the larger src
    is gradchecked in tests/test_sequence_ops.py)."""
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    d = data.draw(dim(len(shape))) % len(shape)
    index_shape = tuple(data.draw(st.integers(1, 5)) if i == d else data.draw(st.integers(1, n))
                        for i, n in enumerate(shape))
    index = data.draw(int_list(0, shape[d] - 1, math.prod(index_shape))).reshape(index_shape)
    return Sample((data.draw(arrays(shape)), index, data.draw(arrays(index_shape))),
                  {"d": d - len(shape) * data.draw(st.integers(0, 1))})


def topk_sample(data: Any) -> Sample:
    s = one(data, shape=shapes(min_dims=1), distinct=True)
    d = data.draw(dim(s.arrays[0].ndim))
    return Sample(s.arrays, {"d": d, "k": data.draw(st.integers(0, s.arrays[0].shape[d])),
                             "largest": data.draw(st.booleans())})


SHAPE = [
    OpInfo("reshape", lambda m, x: x.reshape(-1), lambda data: one(data)),
    OpInfo("view", lambda m, x, shape: x.view(*reversed(shape)) if shape else x.view(1),
           shape_kwargs(lambda data, shape: {"shape": shape})),
    OpInfo("fn_reshape", lambda m, x: m.reshape(x, (1, -1)), lambda data: one(data)),
    OpInfo("flatten", lambda m, x, lo, hi: x.flatten(lo, hi), min_dims(1, flatten_range)),
    OpInfo("fn_flatten", lambda m, x: m.flatten(x), lambda data: one(data)),
    OpInfo("transpose", lambda m, x, d0, d1: x.transpose(d0, d1),
           min_dims(1, lambda data, shape: {"d0": data.draw(dim(len(shape))),
                                            "d1": data.draw(dim(len(shape)))})),
    OpInfo("fn_transpose", lambda m, x, d0, d1: m.transpose(x, d0, d1) * 2,
           min_dims(1, lambda data, shape: {"d0": data.draw(dim(len(shape))),
                                            "d1": data.draw(dim(len(shape)))})),
    OpInfo("permute", lambda m, x, order: x.permute(*order),
           min_dims(1, lambda data, shape: {
               "order": list(data.draw(st.permutations(range(len(shape)))))})),
    OpInfo("fn_permute", lambda m, x, order: m.permute(x, tuple(order)),
           min_dims(1, lambda data, shape: {
               "order": list(data.draw(st.permutations(range(len(shape)))))})),
    OpInfo("T", lambda m, x: x.T, lambda data: one(data, shape=shapes(max_dims=2))),
    OpInfo("mT", lambda m, x: x.mT, lambda data: one(data, shape=shapes(min_dims=2))),
    OpInfo("unsqueeze", lambda m, x, d: x.unsqueeze(d),
           shape_kwargs(lambda data, shape: {"d": data.draw(st.integers(-len(shape) - 1,
                                                                       len(shape)))})),
    OpInfo("squeeze", lambda m, x: x.squeeze(),
           lambda data: one(data, shape=shapes(max_dims=3, max_side=2))),
    OpInfo("squeeze_dims", lambda m, x, d: x.squeeze(d),
           lambda data: one(data, shape=shapes(max_dims=3, max_side=2),
                            kwargs=lambda shape: {"d": data.draw(dims(len(shape),
                                                                      allow_none=False))})),
    OpInfo("expand", lambda m, x, sizes, lead: x.expand(*sizes),
           lambda data: one(data, shape=shapes(max_dims=3),
                            kwargs=lambda shape: expand_sizes(data, shape))),
    OpInfo("expand_minus_one", lambda m, x, sizes, lead: x.expand((*lead, *[-1] * x.ndim)),
           lambda data: one(data, shape=shapes(max_dims=3),
                            kwargs=lambda shape: expand_sizes(data, shape))),
    OpInfo("broadcast_to", lambda m, x, sizes, lead: m.broadcast_to(x, sizes),
           lambda data: one(data, shape=shapes(max_dims=3),
                            kwargs=lambda shape: expand_sizes(data, shape))),
    OpInfo("getitem", lambda m, x, index: x[as_index(m, index)],
           shape_kwargs(lambda data, shape: {
               "index": data.draw(indices(shape, negative_steps=False))})),
    OpInfo("getitem_negative_steps", lambda m, x, index: x[as_index(m, index)],
           shape_kwargs(lambda data, shape: {"index": data.draw(indices(shape))}),
           torch=False),  # torch has no negative steps
    OpInfo("cat", lambda m, *xs, d: m.cat(xs, d), cat_sample(same_shape=False)),
    OpInfo("concatenate_list", lambda m, *xs, d: m.cat(list(xs), dim=d),
           cat_sample(same_shape=False)),
    OpInfo("stack", lambda m, *xs, d: m.stack(xs, d), cat_sample(same_shape=True)),
    OpInfo("unbind", lambda m, x, d: x.unbind(d),
           min_dims(1, lambda data, shape: {"d": data.draw(dim(len(shape)))})),
    OpInfo("fn_unbind", lambda m, x, d: m.unbind(x, dim=d),
           min_dims(1, lambda data, shape: {"d": data.draw(dim(len(shape)))})),
    OpInfo("split", lambda m, x, d, size, sizes, chunks: x.split(size, d), split_sample),
    OpInfo("fn_split", lambda m, x, d, size, sizes, chunks: m.split(x, size, dim=d),
           split_sample),
    OpInfo("split_sizes", lambda m, x, d, size, sizes, chunks: x.split(sizes, d), split_sample),
    OpInfo("chunk", lambda m, x, d, size, sizes, chunks: x.chunk(chunks, d), split_sample),
    OpInfo("fn_chunk", lambda m, x, d, size, sizes, chunks: m.chunk(x, chunks, dim=d),
           split_sample),
    OpInfo("pad", lambda m, x, widths, value: m.pad(x, widths, value=value), pad_sample,
           torch_fn=lambda m, x, widths, value: F(m).pad(x, widths, value=value)),
    OpInfo("gather", lambda m, x, i, d: x.gather(d, i), gather_sample),
    OpInfo("fn_gather", lambda m, x, i, d: m.gather(x, d, i), gather_sample),
    OpInfo("index_select", lambda m, x, i, d: x.index_select(d, i), index_select_sample),
    OpInfo("fn_index_select", lambda m, x, i, d: m.index_select(x, d, i), index_select_sample),
    OpInfo("scatter_add", lambda m, x, i, s, d: x.scatter_add(d, i, s), scatter_add_sample),
    OpInfo("topk", lambda m, x, d, k, largest: x.topk(k, d, largest=largest).values,
           topk_sample),
]

# --------------------------------------------------------------------------- linear algebra

MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((4, 2, 3), (3,)),
    ((3,), (4, 3, 2)), ((2, 1, 2, 3), (4, 3, 2)), ((4, 2, 3), (1, 3, 2)),
    ((1, 2, 3), (2, 1, 3, 1)),
]


def matmul_sample(data: Any) -> Sample:
    sa, sb = data.draw(st.sampled_from(MATMUL_SHAPES))
    return Sample((data.draw(arrays(sa)), data.draw(arrays(sb))))


def batched_matmul_sample(data: Any) -> Sample:
    ba, bb = data.draw(broadcast_pairs(max_dims=2, max_side=3))
    m, n, k = (data.draw(st.integers(1, 3)) for _ in range(3))
    return Sample((data.draw(arrays((*ba, m, k))), data.draw(arrays((*bb, k, n)))))


def vectors_sample(data: Any) -> Sample:
    n = data.draw(st.integers(1, 5))
    return Sample((data.draw(arrays((n,))), data.draw(arrays((n,)))))


LINALG = [
    OpInfo("matmul", lambda m, a, b: a @ b, matmul_sample),
    OpInfo("fn_matmul", lambda m, a, b: m.matmul(a, b), matmul_sample),
    OpInfo("matmul_batched", lambda m, a, b: a.matmul(b), batched_matmul_sample),
    OpInfo("dot", lambda m, a, b: a.dot(b), vectors_sample),
    OpInfo("fn_dot", lambda m, a, b: m.dot(a, b), vectors_sample),
]

# --------------------------------------------------------------------------- nn kernels


def linear_sample(data: Any) -> Sample:
    lead = data.draw(shapes(min_dims=0, max_dims=2, max_side=3))
    n_in, n_out = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    parts = [data.draw(arrays((*lead, n_in))), data.draw(arrays((n_out, n_in)))]
    if data.draw(st.booleans()):
        parts.append(data.draw(arrays((n_out,))))
    return Sample(tuple(parts))


@st.composite
def conv_case(draw: Any) -> dict:
    """Small 2-D convolutions: groups, strides, paddings and dilations."""
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.sampled_from([1, 2, (2, 1)]))
    dilation = draw(st.sampled_from([1, 1, 2]))
    padding = draw(st.sampled_from([0, 1, (1, 0)]))
    need_h = (kh - 1) * (dilation if isinstance(dilation, int) else dilation[0]) + 1
    need_w = (kw - 1) * (dilation if isinstance(dilation, int) else dilation[1]) + 1
    h = draw(st.integers(max(need_h - 2, 1), need_h + 3))
    w = draw(st.integers(max(need_w - 2, 1), need_w + 3))
    pad = (padding, padding) if isinstance(padding, int) else padding
    if h + 2 * pad[0] < need_h or w + 2 * pad[1] < need_w:
        h, w = need_h, need_w
    return {"n": draw(st.integers(1, 2)), "c_in": c_in, "c_out": c_out, "kernel": (kh, kw),
            "size": (h, w), "options": {"stride": stride, "padding": padding,
                                        "dilation": dilation, "groups": groups},
            "bias": draw(st.booleans())}


def conv_sample(data: Any) -> Sample:
    case = data.draw(conv_case())
    x = data.draw(arrays((case["n"], case["c_in"], *case["size"])))
    w = data.draw(arrays((case["c_out"], case["c_in"] // case["options"]["groups"],
                          *case["kernel"])))
    parts = [x, w] + ([data.draw(arrays((case["c_out"],)))] if case["bias"] else [])
    return Sample(tuple(parts), {"options": case["options"]})


@st.composite
def pool_case(draw: Any) -> dict:
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.sampled_from([None, 1, 2, (1, 2)]))
    padding = draw(st.integers(0, min(kh, kw) // 2))
    h, w = draw(st.integers(kh, kh + 3)), draw(st.integers(kw, kw + 3))
    return {"shape": (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w),
            "options": {"kernel_size": (kh, kw), "stride": stride, "padding": padding,
                        "ceil_mode": draw(st.booleans())}}


def max_pool_sample(data: Any) -> Sample:
    case = data.draw(pool_case())
    return Sample((data.draw(distinct_arrays(case["shape"])),), {"options": case["options"]})


def avg_pool_sample(data: Any) -> Sample:
    case = data.draw(pool_case())
    options = {**case["options"], "count_include_pad": data.draw(st.booleans())}
    return Sample((data.draw(arrays(case["shape"])),), {"options": options})


def batch_norm_sample(data: Any) -> Sample:
    shape = data.draw(st.sampled_from([(3, 2), (2, 3, 2), (2, 2, 2, 3)]))
    x = data.draw(distinct_arrays(shape, spacing=0.05))
    return Sample((x, data.draw(arrays((shape[1],))), data.draw(arrays((shape[1],)))))


def layer_norm_sample(data: Any) -> Sample:
    """Over 2 values x̂ is ±1 whatever x (a gradient of pure rounding in float32):
    3 or more, spread apart."""
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=3))
    normalized = shape[len(shape) - data.draw(st.integers(1, len(shape))):]
    x = data.draw(distinct_arrays(shape, spacing=0.2))
    return Sample((x, data.draw(arrays(normalized)), data.draw(arrays(normalized))),
                  {"normalized": normalized})


def embedding_sample(padding: bool) -> Callable:
    def sample(data: Any) -> Sample:
        rows, width = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
        index_shape = data.draw(shapes(max_dims=2, max_side=3))
        index = data.draw(int_list(0, rows - 1, math.prod(index_shape))).reshape(index_shape)
        padding_idx = data.draw(st.integers(0, rows - 1)) if padding else None
        return Sample((data.draw(arrays((rows, width))), index), {"padding_idx": padding_idx})
    return sample


REDUCTION_MODES = st.sampled_from(["mean", "sum", "none"])


def regression_sample(data: Any) -> Sample:
    """Input and target apart (|x - y| > 0.05: L1's and Huber's kinks)."""
    shape = data.draw(shapes(max_dims=3))
    n = math.prod(shape)
    both = data.draw(distinct_arrays((2 * n,), spacing=0.05)).reshape(2, *shape) \
        if shape else data.draw(distinct_arrays((2,), spacing=0.05))
    x, y = both[0], both[1]
    return Sample((x, y), {"reduction": data.draw(REDUCTION_MODES)})



def huber_sample(data: Any) -> Sample:
    """regression_sample with the target moved off the 0.05 grid, so |x - y| stays
    0.013 or more from Huber's second kink at δ = 0.5 (finite differences there
    straddle it)."""
    s = regression_sample(data)
    x, y = s.arrays
    return Sample((x, y + 0.013), s.kwargs)


def class_target_sample(probabilities: bool) -> Callable:
    def sample(data: Any) -> Sample:
        n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 4))
        extra = data.draw(st.sampled_from([(), (), (2,)]))
        x = data.draw(arrays((n, c, *extra)))
        kwargs: dict = {"reduction": data.draw(REDUCTION_MODES)}
        if probabilities:
            p = data.draw(arrays((n, c, *extra), low=0.05, high=1.0))
            kwargs["target"] = Const(p / p.sum(1, keepdims=True))
        else:
            target = data.draw(int_list(0, c - 1, n * math.prod(extra))).reshape(n, *extra)
            kwargs["target"] = Const(target)
            if data.draw(st.booleans()):
                kwargs["weight"] = Const(data.draw(arrays((c,), low=0.2, high=2.0)))
            kwargs["ignore_index"] = data.draw(st.sampled_from([-100, 0]))
            if (target == kwargs["ignore_index"]).all():
                kwargs["ignore_index"] = -100
        kwargs["label_smoothing"] = data.draw(st.sampled_from([0.0, 0.0, 0.2]))
        return Sample((x,), kwargs)
    return sample


def nll_sample(data: Any) -> Sample:
    s = class_target_sample(False)(data)
    kwargs = {k: v for k, v in s.kwargs.items() if k != "label_smoothing"}
    return Sample(s.arrays, kwargs)


def bce_sample(logits: bool) -> Callable:
    def sample(data: Any) -> Sample:
        shape = data.draw(shapes(max_dims=3))
        x = data.draw(arrays(shape) if logits else arrays(shape, low=0.05, high=0.95))
        kwargs: dict = {"target": Const(data.draw(arrays(shape, low=0.0, high=1.0))),
                        "reduction": data.draw(REDUCTION_MODES)}
        if data.draw(st.booleans()):
            kwargs["weight"] = Const(data.draw(arrays(shape, low=0.2, high=2.0)))
        if logits and shape and data.draw(st.booleans()):
            kwargs["pos_weight"] = Const(data.draw(arrays(shape[-1:], low=0.2, high=3.0)))
        return Sample((x,), kwargs)
    return sample


def lstm_sample(data: Any) -> Sample:
    """One LSTM step: input x (N, in), state h, c (N, H), weights and biases."""
    n, size, hidden = (data.draw(st.integers(1, 3)) for _ in range(3))
    shapes_ = [(n, size), (n, hidden), (n, hidden), (4 * hidden, size), (4 * hidden, hidden),
               (4 * hidden,), (4 * hidden,)]
    return Sample(tuple(data.draw(arrays(shape)) for shape in shapes_))


def lstm_cell(m: Any, x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any, b_ih: Any,
              b_hh: Any) -> Any:
    """Ours: the LSTM layers' step (its pointwise part one fused ``LSTMCellOp``)."""
    return _lstm_step(F(m).linear(x, w_ih, b_ih), h, c, w_hh, b_hh)


def lstm_pointwise_sample(data: Any) -> Sample:
    """The fused op's own inputs: two parts of the gates (..., 4H), the cell (..., H)."""
    lead = data.draw(shapes(max_dims=2, max_side=3))
    hidden = data.draw(st.integers(1, 3))
    return Sample(tuple(data.draw(arrays((*lead, k * hidden))) for k in (4, 4, 1)))


def lstm_pointwise_composed(m: Any, a: Any, b: Any, c: Any) -> Any:
    """torch's reference for the fused op, from elementary ops."""
    i, f, g, o = (a + b).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def attention_sample(data: Any) -> Sample:
    """q (..., L, E), k (..., S, E), v (..., S, Ev); no mask, causal, or a bool or
    float mask (L, S) (a bool one always lets a query see its first key)."""
    lead = data.draw(st.sampled_from([(), (2,), (1, 2)]))
    target, source, width, v_width = (data.draw(st.integers(1, 3)) for _ in range(4))
    q, k, v = (data.draw(arrays((*lead, rows, cols))) for rows, cols in
               ((target, width), (source, width), (source, v_width)))
    kind = data.draw(st.sampled_from(["none", "causal", "bool", "float"]))
    kwargs: dict = {"is_causal": kind == "causal"}
    if kind == "bool":
        mask = data.draw(int_list(0, 1, target * source)).reshape(target, source).astype(bool)
        mask[:, 0] = True
        kwargs["attn_mask"] = Const(mask)
    elif kind == "float":
        kwargs["attn_mask"] = Const(data.draw(arrays((target, source))))
    return Sample((q, k, v), kwargs)


def attention_torch(m: Any, q: Any, k: Any, v: Any, **kwargs: Any) -> Any:
    """torch's attention on its math kernel: the fused CPU (flash) kernel it picks for
    some shapes has no second derivative."""
    with m.nn.attention.sdpa_kernel(m.nn.attention.SDPBackend.MATH):
        return m.nn.functional.scaled_dot_product_attention(q, k, v, **kwargs)


NN = [
    OpInfo("linear", lambda m, x, w, *b: F(m).linear(x, w, *b), linear_sample),
    OpInfo("conv2d", lambda m, x, w, *b, options: F(m).conv2d(x, w, *b, **options),
           conv_sample),
    OpInfo("max_pool2d", lambda m, x, options: F(m).max_pool2d(x, **options), max_pool_sample),
    OpInfo("avg_pool2d", lambda m, x, options: F(m).avg_pool2d(x, **options), avg_pool_sample),
    OpInfo("batch_norm", lambda m, x, w, b: F(m).batch_norm(x, None, None, w, b, training=True),
           batch_norm_sample),
    OpInfo("layer_norm", lambda m, x, w, b, normalized: F(m).layer_norm(x, normalized, w, b),
           layer_norm_sample),
    OpInfo("embedding", lambda m, w, i, padding_idx: F(m).embedding(i, w,
                                                                   padding_idx=padding_idx),
           embedding_sample(padding=False)),
    # the padding row reads its values but gets no gradient (PyTorch's rule), so finite
    # differences disagree by design: compared with torch only
    OpInfo("embedding_padding_idx",
           lambda m, w, i, padding_idx: F(m).embedding(i, w, padding_idx=padding_idx),
           embedding_sample(padding=True), grad=False, gradgrad=False),
    OpInfo("mse_loss", lambda m, x, y, reduction: F(m).mse_loss(x, y, reduction=reduction),
           regression_sample),
    OpInfo("l1_loss", lambda m, x, y, reduction: F(m).l1_loss(x, y, reduction=reduction),
           regression_sample),
    OpInfo("huber_loss", lambda m, x, y, reduction: F(m).huber_loss(x, y, reduction=reduction,
                                                                    delta=0.5),
           huber_sample),
    OpInfo("cross_entropy", lambda m, x, **kw: F(m).cross_entropy(x, **kw),
           class_target_sample(probabilities=False)),
    OpInfo("cross_entropy_probabilities", lambda m, x, **kw: F(m).cross_entropy(x, **kw),
           class_target_sample(probabilities=True)),
    OpInfo("nll_loss", lambda m, x, **kw: F(m).nll_loss(x, **kw), nll_sample),
    OpInfo("binary_cross_entropy", lambda m, x, **kw: F(m).binary_cross_entropy(x, **kw),
           bce_sample(logits=False)),
    OpInfo("binary_cross_entropy_with_logits",
           lambda m, x, **kw: F(m).binary_cross_entropy_with_logits(x, **kw),
           bce_sample(logits=True)),
    OpInfo("lstm_cell", lstm_cell, lstm_sample,
           torch_fn=lambda m, x, h, c, *w: m.lstm_cell(x, (h, c), *w)),
    OpInfo("lstm_cell_fused", lambda m, a, b, c: _LSTMCellOp.apply(a, b, c),
           lstm_pointwise_sample, torch_fn=lstm_pointwise_composed),
    OpInfo("scaled_dot_product_attention",
           lambda m, q, k, v, **kw: F(m).scaled_dot_product_attention(q, k, v, **kw),
           attention_sample, torch_fn=attention_torch),
]

#: Every op, by family. Tests parametrize over it (``ids=op_id``).
OPS: list[OpInfo] = [*ELEMENTWISE, *REDUCTIONS, *SHAPE, *LINALG, *NN]


def op_id(op: OpInfo) -> str:
    return op.name


def _check_unique() -> None:
    names = [op.name for op in OPS]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"op_registry: names used twice: {sorted(duplicates)}")


_check_unique()
