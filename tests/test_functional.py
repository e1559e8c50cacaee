"""``autograd.grad`` and ``autograd.gradcheck``."""

from __future__ import annotations

import re

import numpy as np
import pytest

import autograd
from autograd import Function, GradcheckError

X_VALUES = [0.4, -1.3, 2.1]
W_VALUES = [[0.5, -0.2], [1.0, 0.3], [-0.7, 0.8]]


def leaf(values, requires_grad=True):
    return autograd.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


# --------------------------------------------------------------------------- grad


def test_grad_returns_a_tuple_and_does_not_touch_dot_grad():
    x = leaf(X_VALUES)
    result = autograd.grad((x * x).sum(), x)
    assert isinstance(result, tuple) and len(result) == 1
    np.testing.assert_allclose(result[0].data, 2 * x.data)
    assert x.grad is None
    assert not result[0].requires_grad


def test_grad_leaves_existing_dot_grad_unchanged():
    x = leaf(X_VALUES)
    (x * 3).sum().backward()
    autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0, 3.0])


def test_grad_with_several_inputs_and_outputs():
    x, w = leaf(X_VALUES), leaf(W_VALUES)
    y = x @ w
    gx, gw = autograd.grad([y.sum(), (x * x).sum()], [x, w])
    np.testing.assert_allclose(gx.data, w.data.sum(1) + 2 * x.data)
    np.testing.assert_allclose(gw.data, np.outer(x.data, np.ones(2)))


def test_unused_input_raises_unless_allowed():
    x, unused = leaf(X_VALUES), leaf([1.0])
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    np.testing.assert_allclose(gx.data, [2.0, 2.0, 2.0])
    assert gu is None


def test_input_not_requiring_grad_raises():
    x = leaf(X_VALUES)
    constant = leaf([1.0], requires_grad=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        autograd.grad((x * 2).sum(), [x, constant])


def test_grad_with_respect_to_non_leaf():
    x = leaf(X_VALUES)
    h = x.exp()
    loss = (h * h).sum()
    (gh,) = autograd.grad(loss, h)
    np.testing.assert_allclose(gh.data, 2 * np.exp(x.data))
    assert h.grad is None and x.grad is None


def test_grad_outputs_for_a_non_scalar_output():
    x = leaf(X_VALUES)
    y = x * x
    weights = autograd.tensor([1.0, 10.0, 100.0], dtype=autograd.float64)
    (gx,) = autograd.grad(y, x, grad_outputs=weights)
    np.testing.assert_allclose(gx.data, 2 * x.data * weights.data)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        autograd.grad(x * x, x)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape.*\(2,\).*\(3,\)"):
        autograd.grad(x * x, x, grad_outputs=autograd.ones(2))


def test_grad_frees_the_graph_unless_retained():
    x = leaf(X_VALUES)
    y = (x.exp() * x).sum()
    autograd.grad(y, x, retain_graph=True)
    autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        autograd.grad(y, x)


def test_create_graph_gives_higher_derivatives():
    x = leaf(X_VALUES)
    (g,) = autograd.grad((x**3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    (h,) = autograd.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.data, 6 * x.data)
    (third,) = autograd.grad(h.sum(), x)
    np.testing.assert_allclose(third.data, [6.0, 6.0, 6.0])
    assert x.grad is None


def test_create_graph_backward_into_dot_grad():
    x = leaf(X_VALUES)
    (g,) = autograd.grad((x.sin() * x).sum(), x, create_graph=True)
    (g * g).sum().backward()
    v = x.data
    first = np.sin(v) + v * np.cos(v)
    second = 2 * np.cos(v) - v * np.sin(v)
    np.testing.assert_allclose(x.grad.data, 2 * first * second)


def test_grad_matches_torch():
    torch = pytest.importorskip("torch")
    x, w = leaf(X_VALUES), leaf(W_VALUES)
    tx = torch.tensor(X_VALUES, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(W_VALUES, dtype=torch.float64, requires_grad=True)
    h = (x @ w).tanh()
    th = (tx @ tw).tanh()
    gx, gw, gh = autograd.grad((h * h).sum() + h.sigmoid().sum(), [x, w, h])
    tgx, tgw, tgh = torch.autograd.grad((th * th).sum() + th.sigmoid().sum(), [tx, tw, th])
    for ours, theirs in [(gx, tgx), (gw, tgw), (gh, tgh)]:
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
    (g2,) = autograd.grad(x * x.exp(), x, grad_outputs=leaf(X_VALUES[::-1], False),
                          create_graph=True)
    (tg2,) = torch.autograd.grad(tx * tx.exp(), tx, grad_outputs=torch.tensor(
        X_VALUES[::-1], dtype=torch.float64), create_graph=True)
    (hh,) = autograd.grad((g2 * g2).sum(), x)
    (thh,) = torch.autograd.grad((tg2 * tg2).sum(), tx)
    np.testing.assert_allclose(hh.data, thh.numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- gradcheck


GOOD_FUNCTIONS = {
    "polynomial": (lambda x: (x**3 - 2 * x).sum(), [leaf(X_VALUES)]),
    "matmul_tanh": (lambda x, w: (x @ w).tanh(), [leaf(X_VALUES), leaf(W_VALUES)]),
    "softmax": (lambda w: w.softmax(dim=1), [leaf(W_VALUES)]),
    "broadcast": (lambda x, w: x.unsqueeze(1) * w + w.exp(), [leaf(X_VALUES), leaf(W_VALUES)]),
    "mixed_constant": (lambda x, c: x * c, [leaf(X_VALUES), leaf([1.0, 2.0, 3.0], False)]),
    "two_outputs": (lambda x: (x.sin(), x.cos().sum()), [leaf(X_VALUES)]),
}


@pytest.mark.parametrize("case", GOOD_FUNCTIONS.values(), ids=GOOD_FUNCTIONS.keys())
def test_gradcheck_passes_for_correct_functions(case):
    fn, inputs = case
    assert autograd.gradcheck(fn, inputs) is True


def test_gradcheck_accepts_float32_inputs():
    x = autograd.tensor(X_VALUES, requires_grad=True)
    assert autograd.gradcheck(lambda t: (t * t.exp()).sum(), (x,))


class SquareWithWrongElement(Function):
    """x², with the gradient of element 2 deliberately wrong by +1."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        error = np.zeros(x.shape)
        error[2] = 1.0
        return grad * (2 * x + autograd.tensor(error))


def test_gradcheck_names_the_worst_element():
    x = leaf([0.5, 1.0, -1.5, 2.0])
    with pytest.raises(GradcheckError) as info:
        autograd.gradcheck(lambda t: SquareWithWrongElement.apply(t).sum(), (x,))
    message = str(info.value)
    assert "input index (2,)" in message
    assert "output 0" in message and "input 0" in message
    numbers = re.search(r"numerical (\S+) vs analytic (\S+)", message)
    assert float(numbers.group(1)) == pytest.approx(-3.0, abs=1e-4)
    assert float(numbers.group(2)) == pytest.approx(-2.0, abs=1e-9)


def test_gradcheck_non_scalar_output_names_output_and_input_element():
    x = leaf([0.5, 1.0, -1.5, 2.0])
    with pytest.raises(GradcheckError, match=r"output index \(2,\), input index \(2,\)"):
        autograd.gradcheck(SquareWithWrongElement.apply, (x,))


def test_gradcheck_picks_the_wrong_input():
    x, y = leaf([1.0, 2.0, 3.0]), leaf([0.5, 0.5, 0.5])
    with pytest.raises(GradcheckError, match="input 1"):
        autograd.gradcheck(lambda a, b: a.exp() + SquareWithWrongElement.apply(b), (x, y))


def test_gradcheck_error_is_a_runtime_error_and_can_return_false():
    assert issubclass(GradcheckError, RuntimeError)
    x = leaf([0.5, 1.0, -1.5])
    fn = SquareWithWrongElement.apply
    assert autograd.gradcheck(fn, (x,), raise_exception=False) is False


def test_gradcheck_needs_an_input_requiring_grad():
    with pytest.raises(ValueError, match="no input requires grad"):
        autograd.gradcheck(lambda t: t * 2, (leaf(X_VALUES, False),))


def test_gradcheck_does_not_change_inputs():
    x = leaf(X_VALUES)
    autograd.gradcheck(lambda t: (t * t).sum(), (x,))
    np.testing.assert_array_equal(x.data, X_VALUES)
    assert x.grad is None
