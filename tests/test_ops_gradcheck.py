"""Every Tensor op's gradient against central finite differences (float64), over
hypothesis-drawn shapes and values; and the exact gradients at kinks and ties,
where finite differences are not valid."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import example, given
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


def leaf(array: np.ndarray) -> ag.Tensor:
    return ag.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def check(fn, *arrays_) -> None:
    assert ag.gradcheck(fn, [leaf(a) for a in arrays_])


def grad_of(fn, array: np.ndarray, seed: np.ndarray | None = None) -> np.ndarray:
    """d(sum(seed * fn(x)))/dx at ``array``."""
    x = leaf(array)
    out = fn(x)
    out.backward(None if seed is None else ag.tensor(seed, dtype=ag.float64))
    return x.grad.data


# --------------------------------------------------------------------------- elementwise

# name -> (function, value strategy options): domains keep away from poles and kinks
UNARY = {
    "exp": (lambda x: x.exp(), {}),
    "log": (lambda x: x.log(), {"low": 0.1, "high": 3.0}),
    "log1p": (lambda x: x.log1p(), {"low": -0.9, "high": 3.0}),
    "sqrt": (lambda x: x.sqrt(), {"low": 0.1, "high": 3.0}),
    "abs": (lambda x: x.abs(), {"avoid": (0.0,)}),
    "sign": (lambda x: x.sign(), {"avoid": (0.0,)}),
    "sin": (lambda x: x.sin(), {"low": -4.0, "high": 4.0}),
    "cos": (lambda x: x.cos(), {"low": -4.0, "high": 4.0}),
    "tanh": (lambda x: x.tanh(), {"low": -4.0, "high": 4.0}),
    "sigmoid": (lambda x: x.sigmoid(), {"low": -6.0, "high": 6.0}),
    "relu": (lambda x: x.relu(), {"avoid": (0.0,)}),
    "neg": (lambda x: -x, {}),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), {"avoid": (-0.5, 0.7)}),
    "clamp_min": (lambda x: x.clamp(min=0.3), {"avoid": (0.3,)}),
    "clamp_max": (lambda x: x.clamp(max=-0.2), {"avoid": (-0.2,)}),
    "clip": (lambda x: x.clip(-1.0, 1.0), {"avoid": (-1.0, 1.0)}),
    "pow_0": (lambda x: x**0, {}),
    "pow_1": (lambda x: x**1, {}),
    "pow_2": (lambda x: x**2, {}),
    "pow_3": (lambda x: x.pow(3), {}),
    "pow_-1": (lambda x: x**-1, {"avoid": (0.0,), "gap": 0.3}),
    "pow_-2": (lambda x: x**-2, {"avoid": (0.0,), "gap": 0.3}),
    "pow_0.5": (lambda x: x**0.5, {"low": 0.1, "high": 3.0}),
    "pow_-1.5": (lambda x: x**-1.5, {"low": 0.2, "high": 3.0}),
    "pow_2.5": (lambda x: x**2.5, {"low": 0.01, "high": 3.0}),
    "radd": (lambda x: 1.5 + x, {}),
    "rsub": (lambda x: 1.5 - x, {}),
    "rmul": (lambda x: 3 * x, {}),
    "rdiv": (lambda x: 2.0 / x, {"avoid": (0.0,), "gap": 0.3}),
    "rpow": (lambda x: 2.0**x, {}),
    "rpow_fraction": (lambda x: 0.5**x, {}),
    "fn_exp": (lambda x: ag.exp(x), {}),
    "fn_sigmoid": (lambda x: ag.sigmoid(x), {}),
    "fn_clamp": (lambda x: ag.clamp(x, min=-0.1), {"avoid": (-0.1,)}),
}


@pytest.mark.parametrize("name", UNARY)
@FAST
@given(data=st.data())
def test_unary(name, data):
    fn, options = UNARY[name]
    x = data.draw(arrays(data.draw(shapes()), **options))
    check(fn, x)


# name -> (function, options for a, options for b)
BINARY = {
    "add": (lambda a, b: a + b, {}, {}),
    "sub": (lambda a, b: a - b, {}, {}),
    "mul": (lambda a, b: a * b, {}, {}),
    "div": (lambda a, b: a / b, {}, {"avoid": (0.0,), "gap": 0.3}),
    "pow": (lambda a, b: a**b, {"low": 0.2, "high": 3.0}, {}),
    "fn_pow": (lambda a, b: ag.pow(a, b), {"low": 0.2, "high": 3.0}, {}),
    "add_alpha": (lambda a, b: a.add(b, alpha=2.5), {}, {}),
    "sub_alpha": (lambda a, b: a.sub(b, alpha=-0.5), {}, {}),
    "mul_method": (lambda a, b: a.mul(b), {}, {}),
    "div_method": (lambda a, b: a.div(b), {}, {"avoid": (0.0,), "gap": 0.3}),
}


@pytest.mark.parametrize("name", BINARY)
@FAST
@given(data=st.data(), pair=broadcast_pairs())
@example(data=None, pair=BROADCAST_EXAMPLES[0])
@example(data=None, pair=BROADCAST_EXAMPLES[1])
@example(data=None, pair=BROADCAST_EXAMPLES[3])
def test_binary_broadcasting(name, data, pair):
    fn, opt_a, opt_b = BINARY[name]
    if data is None:  # an explicit example: fixed values
        rng = np.random.default_rng(0)
        a = rng.uniform(0.5, 2.0, pair[0])
        b = rng.uniform(0.5, 2.0, pair[1])
    else:
        a = data.draw(arrays(pair[0], **opt_a))
        b = data.draw(arrays(pair[1], **opt_b))
    check(fn, a, b)


@pytest.mark.parametrize("op", ["maximum", "minimum", "max", "min"])
@FAST
@given(data=st.data(), pair=broadcast_pairs())
def test_maximum_minimum_broadcasting(op, data, pair):
    size_a = int(np.prod(pair[0]))
    values = data.draw(distinct_arrays((size_a + int(np.prod(pair[1])),)))
    a, b = values[:size_a].reshape(pair[0]), values[size_a:].reshape(pair[1])
    check(lambda x, y: getattr(x, op)(y), a, b)


@FAST
@given(data=st.data(), pair=broadcast_pairs(), cond_shape=st.sampled_from(["a", "b", "full"]))
def test_where_broadcasting(data, pair, cond_shape):
    a, b = data.draw(arrays(pair[0])), data.draw(arrays(pair[1]))
    full = np.broadcast_shapes(pair[0], pair[1])
    shape = {"a": pair[0], "b": pair[1], "full": full}[cond_shape]
    cond = data.draw(arrays(shape)) > 0
    check(lambda x, y: ag.where(ag.tensor(cond), x, y), a, b)
    check(lambda x, y: x.where(cond, y), a, b)


@FAST
@given(data=st.data(), shape=shapes(max_dims=3))
def test_tensor_with_ndarray_operands(data, shape):
    """``Tensor op ndarray`` and ``ndarray op Tensor`` (reflected): the array is a constant."""
    x = data.draw(arrays(shape))
    c = data.draw(arrays(shape, avoid=(0.0,), gap=0.3))
    check(lambda t: t + c, x)
    check(lambda t: c - t, x)
    check(lambda t: c * t, x)
    check(lambda t: c / (t * t + 1), x)
    check(lambda t: t**2 / c, x)


# --------------------------------------------------------------------------- reductions

# name -> (function(x, dim, keepdim), needs distinct values, least elements reduced)
REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum(d, keepdim=k), False, 1),
    "sum_axis": (lambda x, d, k: x.sum(axis=d, keepdims=k), False, 1),
    "mean": (lambda x, d, k: x.mean(d, keepdim=k), False, 1),
    "var": (lambda x, d, k: x.var(d, keepdim=k), False, 2),
    "var_biased": (lambda x, d, k: x.var(d, unbiased=False, keepdim=k), False, 1),
    "std": (lambda x, d, k: x.std(d, keepdim=k), True, 2),
    "std_biased": (lambda x, d, k: x.std(d, unbiased=False, keepdim=k), True, 2),
    "prod": (lambda x, d, k: x.prod(d, keepdim=k), False, 1),
    "logsumexp": (lambda x, d, k: x.logsumexp(d, keepdim=k), False, 1),
    "amax": (lambda x, d, k: x.amax(d, keepdim=k), True, 1),
    "amin": (lambda x, d, k: x.amin(d, keepdim=k), True, 1),
}


@pytest.mark.parametrize("name", REDUCTIONS)
@FAST
@given(data=st.data(), shape=shapes(), keepdim=keepdims)
def test_reduction(name, data, shape, keepdim):
    fn, distinct, least = REDUCTIONS[name]
    d = data.draw(dims(len(shape)))
    if reduced_count(shape, d) < least:
        d = None
    if reduced_count(shape, d) < least:
        return
    x = data.draw(distinct_arrays(shape, spacing=0.05) if distinct else arrays(shape))
    check(lambda t: fn(t, d, keepdim), x)


@pytest.mark.parametrize("op", ["max", "min"])
@FAST
@given(data=st.data(), shape=shapes(), keepdim=keepdims)
def test_max_min_with_and_without_dim(op, data, shape, keepdim):
    x = data.draw(distinct_arrays(shape))
    d = data.draw(dim(len(shape)))
    check(lambda t: getattr(t, op)(), x)
    check(lambda t: getattr(t, op)(d, keepdim=keepdim).values, x)
    check(lambda t: getattr(t, op)(dim=d, keepdim=keepdim)[0], x)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@FAST
@given(data=st.data(), shape=shapes())
def test_softmax_family(op, data, shape):
    x = data.draw(arrays(shape, low=-4.0, high=4.0))
    d = data.draw(dim(len(shape)))
    check(lambda t: getattr(t, op)(d), x)
    check(lambda t: getattr(ag, op)(t, dim=d), x)


def test_prod_with_zeros_is_smooth():
    """prod is a polynomial, so finite differences stay valid at zeros."""
    x = np.array([[0.0, 2.0, -1.5], [0.0, 0.0, 3.0], [1.2, -0.7, 2.0]])
    for d in (None, 0, 1, -1, (0, 1)):
        check(lambda t, d=d: t.prod(d), x)
    assert np.allclose(grad_of(lambda t: t.prod(1).sum(), x),
                       [[-3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-1.4, 2.4, -0.84]])


# --------------------------------------------------------------------------- shape


@FAST
@given(data=st.data(), shape=shapes())
def test_reshape_view_flatten(data, shape):
    x = data.draw(arrays(shape))
    n = x.size
    check(lambda t: t.reshape(-1), x)
    check(lambda t: t.view(*reversed(shape)) if shape else t.view(1), x)
    check(lambda t: t.reshape((n, 1)), x)
    if shape:
        start = data.draw(dim(len(shape)))
        end = data.draw(dim(len(shape)))
        lo, hi = sorted((start % len(shape), end % len(shape)))
        check(lambda t: t.flatten(lo, hi - len(shape)), x)
    check(lambda t: ag.flatten(t), x)


@FAST
@given(data=st.data(), shape=shapes(min_dims=1))
def test_transpose_permute_T(data, shape):
    x = data.draw(arrays(shape))
    d0, d1 = data.draw(dim(len(shape))), data.draw(dim(len(shape)))
    order = data.draw(st.permutations(range(len(shape))))
    check(lambda t: t.transpose(d0, d1), x)
    check(lambda t: t.permute(*order), x)
    check(lambda t: t.permute(tuple(order)), x)
    check(lambda t: t.T, x)
    check(lambda t: ag.transpose(t, d0, d1) * 2, x)


@FAST
@given(data=st.data(), shape=shapes(max_dims=3, min_side=1, max_side=2))
def test_unsqueeze_squeeze(data, shape):
    x = data.draw(arrays(shape))
    new_dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    squeezed = data.draw(dims(len(shape), allow_none=False))
    check(lambda t: t.unsqueeze(new_dim), x)
    check(lambda t: t.squeeze(), x)
    check(lambda t: t.squeeze(squeezed), x)


@FAST
@given(data=st.data(), shape=shapes(max_dims=3))
def test_expand_broadcast_to(data, shape):
    x = data.draw(arrays(shape))
    new = tuple(n if n > 1 else data.draw(st.integers(1, 3)) for n in shape)
    lead = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    check(lambda t: t.expand(*lead, *new), x)
    check(lambda t: t.expand(*lead, *[-1] * len(shape)), x)
    check(lambda t: t.broadcast_to(lead + new), x)
    check(lambda t: ag.broadcast_to(t, lead + new), x)


@FAST
@given(data=st.data(), shape=shapes())
def test_getitem(data, shape):
    x = data.draw(arrays(shape))
    index = data.draw(indices(shape))
    check(lambda t: t[index], x)


@FAST
@given(data=st.data(), shape=shapes(min_dims=1), n=st.integers(1, 3))
def test_cat_stack(data, shape, n):
    d = data.draw(dim(len(shape)))
    parts = []
    for _ in range(n):
        sizes = list(shape)
        sizes[d] = data.draw(st.integers(1, 3))
        parts.append(data.draw(arrays(tuple(sizes))))
    check(lambda *ts: ag.cat(ts, d), *parts)
    check(lambda *ts: ag.concatenate(list(ts), dim=d), *parts)
    same = [data.draw(arrays(shape)) for _ in range(n)]
    stack_dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check(lambda *ts: ag.stack(ts, stack_dim), *same)


@FAST
@given(data=st.data(), shape=shapes(min_dims=1))
def test_split_chunk(data, shape):
    x = data.draw(arrays(shape))
    d = data.draw(dim(len(shape)))
    size = data.draw(st.integers(1, 4))
    check(lambda t: t.split(size, d), x)
    check(lambda t: ag.split(t, size, dim=d), x)
    n = shape[d]
    cut = data.draw(st.integers(0, n))
    chunks = data.draw(st.integers(1, 5))
    check(lambda t: t.split([cut, n - cut], d), x)
    check(lambda t: t.chunk(chunks, d), x)


@FAST
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3))
def test_pad(data, shape):
    x = data.draw(arrays(shape))
    pairs = data.draw(st.integers(1, len(shape)))
    widths = data.draw(st.lists(st.integers(0, 2), min_size=2 * pairs, max_size=2 * pairs))
    value = data.draw(st.sampled_from([0.0, -1.5]))
    check(lambda t: t.pad(widths, value), x)
    check(lambda t: ag.pad(t, tuple(widths)), x)


@FAST
@given(data=st.data(), shape=shapes(min_dims=1))
def test_gather(data, shape):
    """torch.gather: repeated indices accumulate; the index may be smaller than the
    input in the other dims."""
    x = data.draw(arrays(shape))
    d = data.draw(dim(len(shape)))
    index_shape = tuple(data.draw(st.integers(1, 4)) if i == d % len(shape)
                        else data.draw(st.integers(1, n)) for i, n in enumerate(shape))
    index = data.draw(st.lists(st.integers(0, shape[d] - 1), min_size=int(np.prod(index_shape)),
                               max_size=int(np.prod(index_shape))))
    index = np.array(index, dtype=np.int64).reshape(index_shape)
    check(lambda t: t.gather(d, index), x)
    check(lambda t: ag.gather(t, d, ag.tensor(index)), x)


# --------------------------------------------------------------------------- linear algebra

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((4, 2, 3), (3,)),
    ((3,), (4, 3, 2)),
    ((2, 1, 2, 3), (4, 3, 2)),
    ((4, 2, 3), (1, 3, 2)),
    ((1, 2, 3), (2, 1, 3, 1)),
]


@pytest.mark.parametrize(("sa", "sb"), MATMUL_SHAPES)
def test_matmul_shapes(sa, sb):
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    check(lambda x, y: x @ y, a, b)
    check(lambda x, y: ag.matmul(x, y), a, b)


@FAST
@given(data=st.data(), batch=broadcast_pairs(max_dims=2, max_side=3),
       mnk=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))
def test_matmul_batched_broadcasting(data, batch, mnk):
    m, n, k = mnk
    a = data.draw(arrays((*batch[0], m, k)))
    b = data.draw(arrays((*batch[1], k, n)))
    check(lambda x, y: x.matmul(y), a, b)
    check(lambda x: x @ b, a)  # Tensor @ ndarray
    check(lambda y: a @ y, b)  # ndarray @ Tensor: the reflected form


@FAST
@given(data=st.data(), n=st.integers(1, 5))
def test_dot(data, n):
    a, b = data.draw(arrays((n,))), data.draw(arrays((n,)))
    check(lambda x, y: x.dot(y), a, b)
    check(lambda x, y: ag.dot(x, y), a, b)


# --------------------------------------------------------------------------- exact rules at kinks


def test_relu_abs_sign_at_zero():
    x = np.array([-1.0, 0.0, 2.0])
    assert grad_of(lambda t: t.relu().sum(), x).tolist() == [0.0, 0.0, 1.0]
    assert grad_of(lambda t: t.abs().sum(), x).tolist() == [-1.0, 0.0, 1.0]
    assert grad_of(lambda t: t.sign().sum(), x).tolist() == [0.0, 0.0, 0.0]


def test_clamp_boundary_passes_gradient():
    """PyTorch's rule: the gradient passes where min <= x <= max, bounds included."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert grad_of(lambda t: t.clamp(-0.5, 0.5).sum(), x).tolist() == [0, 1, 1, 1, 0]
    assert grad_of(lambda t: t.clamp(min=0.0).sum(), x).tolist() == [0, 0, 1, 1, 1]
    assert grad_of(lambda t: t.clamp(max=0.0).sum(), x).tolist() == [1, 1, 1, 0, 0]
    assert grad_of(lambda t: t.clamp(0.0, 0.0).sum(), x).tolist() == [0, 0, 1, 0, 0]


def test_maximum_minimum_ties_share_evenly():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])
    for op, want_a in [("maximum", [0.5, 0.0, 1.0]), ("minimum", [0.5, 1.0, 0.0])]:
        x, y = leaf(a), leaf(b)
        getattr(x, op)(y).sum().backward()
        assert x.grad.data.tolist() == want_a
        assert y.grad.data.tolist() == [1 - w for w in want_a]


@pytest.mark.parametrize("op", ["max", "amax", "min", "amin"])
def test_ties_split_evenly_without_dim(op):
    sign = 1.0 if op.endswith("max") else -1.0
    x = sign * np.array([[1.0, 3.0], [3.0, 2.0], [3.0, 0.0]])
    g = grad_of(lambda t: getattr(t, op)() * 6, x)
    assert g.tolist() == [[0.0, 2.0], [2.0, 0.0], [2.0, 0.0]]


@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin_ties_split_evenly_over_dims(op):
    sign = 1.0 if op == "amax" else -1.0
    x = sign * np.array([[[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]],
                         [[0.0, 4.0, 1.0], [4.0, 0.0, 0.0]]])
    seed = np.array([6.0, 12.0])
    g = grad_of(lambda t: getattr(t, op)(-1)[:, 0], x, seed)
    assert g[:, 0].tolist() == [[0.0, 3.0, 3.0], [0.0, 12.0, 0.0]]
    assert not g[:, 1].any()
    # over two dims (-2, -1) at once: the tie in block 1 is 4 at two places
    g = grad_of(lambda t: getattr(t, op)((-1, -2), keepdim=True), x,
                np.array([6.0, 12.0]).reshape(2, 1, 1))
    assert g.tolist() == [[[0.0, 3.0, 3.0], [0.0, 0.0, 0.0]],
                          [[0.0, 6.0, 0.0], [6.0, 0.0, 0.0]]]


@pytest.mark.parametrize(("op", "arg"), [("max", np.argmax), ("min", np.argmin)])
@pytest.mark.parametrize("d", [0, 1, -1])
def test_max_min_dim_ties_go_to_the_returned_index(op, arg, d):
    x = np.array([[3.0, 3.0, 1.0], [2.0, 2.0, 2.0], [3.0, 1.0, 1.0]])
    t = leaf(x)
    values, index = getattr(t, op)(d, keepdim=True)
    assert index.dtype == ag.int64
    assert np.array_equal(index.data, np.expand_dims(arg(x, axis=d), d))
    seed = np.arange(1.0, 4.0).reshape(values.shape)
    values.backward(ag.tensor(seed, dtype=ag.float64))
    want = np.zeros_like(x)
    np.put_along_axis(want, index.data, seed, axis=d)
    assert np.array_equal(t.grad.data, want)
    assert np.array_equal(values.data, np.take_along_axis(x, index.data, axis=d))


def test_repeated_fancy_indices_accumulate():
    x = np.arange(4.0)
    assert grad_of(lambda t: t[[0, 0, 2, 0, -1]].sum(), x).tolist() == [3, 0, 1, 1]
    assert grad_of(lambda t: t[ag.tensor([1, 1])].sum(), x).tolist() == [0, 2, 0, 0]
    m = np.arange(12.0).reshape(3, 4)
    rows, cols = np.array([0, 2, 0, 0]), np.array([1, 3, 1, 1])
    g = grad_of(lambda t: t[rows, cols], m, np.array([1.0, 2.0, 3.0, 4.0]))
    want = np.zeros((3, 4))
    want[0, 1], want[2, 3] = 8.0, 2.0
    assert np.array_equal(g, want)
    g = grad_of(lambda t: t[:, [3, 3]].sum(), m)
    assert g[:, 3].tolist() == [2.0, 2.0, 2.0] and not g[:, :3].any()


def test_boolean_mask_gradient():
    m = np.arange(6.0).reshape(2, 3)
    mask = m % 2 == 0
    g = grad_of(lambda t: t[mask], m, np.array([1.0, 2.0, 3.0]))
    assert g.tolist() == [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]
    assert grad_of(lambda t: t[:, ag.tensor(mask[0])].sum(), m).tolist() == [
        [1.0, 0.0, 1.0], [1.0, 0.0, 1.0]]
    assert grad_of(lambda t: t[m > 100].sum(), m).tolist() == [[0.0] * 3] * 2


def test_negative_step_slices():
    x = np.arange(5.0)
    g = grad_of(lambda t: t[::-2], x, np.array([1.0, 2.0, 3.0]))
    assert g.tolist() == [3.0, 0.0, 2.0, 0.0, 1.0]
    check(lambda t: t[3:0:-1], x)


def test_gather_repeated_index_accumulates():
    x = np.arange(6.0).reshape(2, 3)
    index = np.array([[2, 2, 2, 0], [1, 1, 0, 0]])
    g = grad_of(lambda t: t.gather(1, index).sum(), x)
    assert g.tolist() == [[1.0, 0.0, 3.0], [2.0, 2.0, 0.0]]


def test_pow_tensor_exponent_at_zero_base():
    """d(a**b)/db = a**b ln a has the limit 0 at a = 0 (b > 0), as PyTorch gives."""
    a, b = leaf(np.array([0.0, 2.0])), leaf(np.array([2.0, 3.0]))
    (a**b).sum().backward()
    assert np.allclose(b.grad.data, [0.0, 8 * np.log(2.0)])
    assert np.allclose(a.grad.data, [0.0, 12.0])


@pytest.mark.parametrize("fn", [
    lambda t: t.sum(), lambda t: t.mean(0), lambda t: t.amax(-1),
    lambda t: t.logsumexp(0, keepdim=True), lambda t: t.softmax(0),
    lambda t: t.max(0).values, lambda t: t.squeeze(0), lambda t: t.unsqueeze(-1),
    lambda t: t.reshape(1, 1), lambda t: t.prod(0), lambda t: t[None, ..., None],
])
def test_zero_dim_tensors(fn):
    check(fn, np.array(0.7))


def test_chained_ops_graph():
    """A graph that reuses a value several times (gradients add up at the fork)."""
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))

    def fn(x, y):
        h = (x * y).tanh()
        return (h @ y + h.sum(1) * x[:, 0]).sigmoid() + x.amax(1) / (1 + y.abs().sum())

    check(fn, a, b)
    # the same input used as both operands of a binary op
    for op in (lambda x: x * x, lambda x: x / (x * x + 1), lambda x: x @ x.T,
               lambda x: ag.cat([x, x], 0), lambda x: x - x[::-1]):
        check(op, a)


def test_every_listed_combination_of_dims():
    """All dims of a 3-d tensor, as ints, negative ints and tuples, with and without keepdim."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 2))
    all_dims = [None, *range(-3, 3)]
    all_dims += [c for r in (2, 3) for c in itertools.combinations((0, -2, 2), r)]
    for d, k in itertools.product(all_dims, (False, True)):
        check(lambda t, d=d, k=k: t.sum(d, keepdim=k) + t.mean(d, keepdim=k)
              + t.var(d, keepdim=k) + t.logsumexp(d, keepdim=k), x)
