"""Every op's gradient against central finite differences (float64), over
hypothesis-drawn shapes and values: the ops come from the registry
(``op_registry.py``) and run on ``devices.DEVICE``. Below them, the exact
gradients at kinks and ties, where finite differences are not valid."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_checks import gradcheck
from op_registry import OPS, op_id
from strategies import FAST, arrays, shapes

import autograd as ag


@pytest.mark.parametrize("op", [op for op in OPS if op.grad], ids=op_id)
@FAST
@given(data=st.data())
def test_gradcheck(op, data):
    gradcheck(op, op.sample(data))


# --------------------------------------------------------------------------- by hand


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


def test_prod_with_zeros_is_smooth():
    """prod is a polynomial, so finite differences stay valid at zeros."""
    x = np.array([[0.0, 2.0, -1.5], [0.0, 0.0, 3.0], [1.2, -0.7, 2.0]])
    for d in (None, 0, 1, -1, (0, 1)):
        check(lambda t, d=d: t.prod(d), x)
    assert np.allclose(grad_of(lambda t: t.prod(1).sum(), x),
                       [[-3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-1.4, 2.4, -0.84]])


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
