"""User-defined ops through ``autograd.Function``, held against
``torch.autograd.Function`` on the same examples."""

from __future__ import annotations

import gc
from typing import ClassVar

import numpy as np
import pytest

import autograd
from autograd import Function


def define_functions(base):
    """The same user Functions, on chaingrad's base class or torch's."""

    class ScaledMul(base):
        """z = alpha * x * y (alpha a plain number).  dz/dx = alpha*y, dz/dy = alpha*x"""

        seen_needs: ClassVar[list] = []

        @staticmethod
        def forward(ctx, x, y, alpha):
            ctx.save_for_backward(x, y)
            ctx.alpha = alpha
            ScaledMul.seen_needs.append(tuple(ctx.needs_input_grad))
            return x * y * alpha

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            gx = grad * y * ctx.alpha if ctx.needs_input_grad[0] else None
            gy = grad * x * ctx.alpha if ctx.needs_input_grad[1] else None
            return gx, gy, None

    class SinCos(base):
        """Two outputs: (sin x, cos x).  d/dx = g1 cos x - g2 sin x"""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, g_sin, g_cos):
            (x,) = ctx.saved_tensors
            return g_sin * x.cos() - g_cos * x.sin()

    class Cube(base):
        """z = x³.  dz/dx = 3x², written with Tensor ops so it is twice differentiable"""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x

    class Exp(base):
        """z = exp x, saving the output.  dz/dx = z"""

        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

    class TanhPair(base):
        """Two outputs saved for backward: (tanh x, tanh² x).
        d/dx = g1 (1 - t²) + g2 2t(1 - t²)"""

        @staticmethod
        def forward(ctx, x):
            t = x.tanh()
            t2 = t * t
            ctx.save_for_backward(t, t2)
            return t, t2

        @staticmethod
        def backward(ctx, g1, g2):
            t, t2 = ctx.saved_tensors
            return (g1 + g2 * 2 * t) * (1 - t2)

    class TooFewGrads(base):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, grad):
            return grad

    return ScaledMul, SinCos, Cube, Exp, TanhPair, TooFewGrads


ScaledMul, SinCos, Cube, Exp, TanhPair, TooFewGrads = define_functions(Function)

X_VALUES = [0.3, -1.2, 2.0]
Y_VALUES = [1.5, 0.25, -0.5]


def leaf(values, requires_grad=True):
    return autograd.tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


@pytest.fixture(scope="module")
def torch_functions():
    torch = pytest.importorskip("torch")
    return torch, define_functions(torch.autograd.Function)


def torch_leaf(torch, values, requires_grad=True):
    return torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)


# --------------------------------------------------------------------------- basics


def test_forward_value_and_gradients():
    x, y = leaf(X_VALUES), leaf(Y_VALUES)
    z = ScaledMul.apply(x, y, 2.0)
    np.testing.assert_allclose(z.data, 2.0 * x.data * y.data)
    assert z.requires_grad and not z.is_leaf
    assert z.grad_fn.name() == "ScaledMulBackward"
    z.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2.0 * y.data)
    np.testing.assert_allclose(y.grad.data, 2.0 * x.data)


def test_needs_input_grad_covers_every_argument():
    ScaledMul.seen_needs.clear()
    ScaledMul.apply(leaf(X_VALUES), leaf(Y_VALUES, requires_grad=False), 3.0)
    assert ScaledMul.seen_needs == [(True, False, False)]


def test_no_gradient_for_input_that_needs_none():
    x, y = leaf(X_VALUES), leaf(Y_VALUES, requires_grad=False)
    ScaledMul.apply(x, y, 1.0).sum().backward()
    assert y.grad is None
    np.testing.assert_allclose(x.grad.data, y.data)


def test_output_of_inputs_without_grad_has_no_graph():
    z = ScaledMul.apply(leaf(X_VALUES, False), leaf(Y_VALUES, False), 1.0)
    assert not z.requires_grad and z.grad_fn is None


def test_apply_under_no_grad_records_nothing():
    with autograd.no_grad():
        z = ScaledMul.apply(leaf(X_VALUES), leaf(Y_VALUES), 1.0)
    assert z.grad_fn is None and not z.requires_grad


def test_forward_runs_with_recording_off():
    modes = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            modes.append(autograd.is_grad_enabled())
            out = x * 2
            modes.append(out.requires_grad)
            return out

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    Probe.apply(leaf(X_VALUES))
    assert modes == [False, False]


def test_multiple_outputs():
    x = leaf(X_VALUES)
    s, c = SinCos.apply(x)
    np.testing.assert_allclose(s.data, np.sin(x.data))
    np.testing.assert_allclose(c.data, np.cos(x.data))
    (2 * s + 3 * c).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.cos(x.data) - 3 * np.sin(x.data))


def test_unused_output_gets_zero_gradient():
    x = leaf(X_VALUES)
    s, _ = SinCos.apply(x)
    s.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.cos(x.data))


def test_saved_output():
    x = leaf(X_VALUES)
    Exp.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data))


def test_wrong_number_of_gradients_raises():
    x, y = leaf(X_VALUES), leaf(Y_VALUES)
    out = TooFewGrads.apply(x, y).sum()
    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 2, got 1\)"):
        out.backward()


def test_gradient_of_wrong_shape_raises():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.sum()

    with pytest.raises(RuntimeError, match=r"BadShape.*shape"):
        BadShape.apply(leaf(X_VALUES)).sum().backward()


def test_saved_tensors_are_freed_after_backward():
    captured = []

    class Keep(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            captured.append(ctx)
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = leaf(X_VALUES)
    out = Keep.apply(x).sum()
    out.backward()
    with pytest.raises(RuntimeError, match="freed"):
        captured[0].saved_tensors
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.backward()


def test_create_graph_through_a_function_gives_second_derivative():
    x = leaf(X_VALUES)
    (g,) = autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    (h,) = autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * x.data)


def test_saved_outputs_carry_the_graph_for_double_backward():
    x = leaf(X_VALUES)
    (g,) = autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    assert g.requires_grad, "a saved output must bring its grad_fn back under create_graph"
    (h,) = autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, np.exp(x.data))


def test_saved_outputs_of_a_multi_output_function():
    x = leaf(X_VALUES)
    t, t2 = TanhPair.apply(x)
    (g,) = autograd.grad((t + t2).sum(), x, create_graph=True)
    tanh = np.tanh(x.data)
    np.testing.assert_allclose(g.data, (1 + 2 * tanh) * (1 - tanh**2))
    assert autograd.gradcheck(lambda v: TanhPair.apply(v)[1] * 3 + TanhPair.apply(v)[0],
                              (leaf(X_VALUES),))


def test_function_saving_its_output_makes_no_reference_cycle():
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        x = leaf(X_VALUES)
        y = Exp.apply(x).sum()
        del y
        pair = TanhPair.apply(x)
        del pair
        gc.collect()
        ours = [o for o in gc.garbage if isinstance(o, (autograd.Tensor, autograd.FunctionCtx))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == []


@pytest.mark.parametrize("make", [
    lambda x: Cube.apply(x),
    lambda x: Exp.apply(x) * x,
    lambda x: SinCos.apply(x)[0] * SinCos.apply(x)[1],
    lambda x: ScaledMul.apply(x, x.tanh(), -1.5),
], ids=["cube", "exp", "sincos", "scaled_mul"])
def test_gradcheck_of_custom_functions(make):
    assert autograd.gradcheck(make, (leaf(X_VALUES),))


# --------------------------------------------------------------------------- against torch


def test_values_and_grads_match_torch(torch_functions):
    torch, (t_scaled, t_sincos, t_cube, t_exp, _, _) = torch_functions
    x, y = leaf(X_VALUES), leaf(Y_VALUES)
    tx, ty = torch_leaf(torch, X_VALUES), torch_leaf(torch, Y_VALUES)
    s, c = SinCos.apply(x)
    ts, tc = t_sincos.apply(tx)
    ours = (ScaledMul.apply(x, y, 0.7) * Cube.apply(y) + Exp.apply(s) - c * x).sum()
    theirs = (t_scaled.apply(tx, ty, 0.7) * t_cube.apply(ty) + t_exp.apply(ts) - tc * tx).sum()
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(y.grad.data, ty.grad.numpy(), rtol=1e-12)


def test_needs_input_grad_matches_torch(torch_functions):
    torch, (t_scaled, *_rest) = torch_functions
    t_scaled.seen_needs.clear()
    ScaledMul.seen_needs.clear()
    for x_grad, y_grad in [(True, False), (False, True), (True, True)]:
        t_scaled.apply(torch_leaf(torch, X_VALUES, x_grad),
                       torch_leaf(torch, Y_VALUES, y_grad), 2.0)
        ScaledMul.apply(leaf(X_VALUES, x_grad), leaf(Y_VALUES, y_grad), 2.0)
    assert ScaledMul.seen_needs == t_scaled.seen_needs


def test_grad_fn_name_matches_torch(torch_functions):
    torch, (t_scaled, *_rest) = torch_functions
    theirs = t_scaled.apply(torch_leaf(torch, X_VALUES), torch_leaf(torch, Y_VALUES), 1.0)
    ours = ScaledMul.apply(leaf(X_VALUES), leaf(Y_VALUES), 1.0)
    assert ours.grad_fn.name() == type(theirs.grad_fn).__name__


def test_second_derivative_matches_torch(torch_functions):
    torch, (_, _, t_cube, _, _, _) = torch_functions
    x, tx = leaf(X_VALUES), torch_leaf(torch, X_VALUES)
    (g,) = autograd.grad((Cube.apply(x) * x.sin()).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad((t_cube.apply(tx) * tx.sin()).sum(), tx, create_graph=True)
    (h,) = autograd.grad((g * g).sum(), x)
    (th,) = torch.autograd.grad((tg * tg).sum(), tx)
    np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(h.data, th.numpy(), rtol=1e-12)


def test_double_backward_through_saved_outputs_matches_torch(torch_functions):
    torch, (_, _, _, t_exp, t_tanh_pair, _) = torch_functions
    x, tx = leaf(X_VALUES), torch_leaf(torch, X_VALUES)
    t, t2 = TanhPair.apply(x)
    tt, tt2 = t_tanh_pair.apply(tx)
    (g,) = autograd.grad((Exp.apply(t) * t2).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad((t_exp.apply(tt) * tt2).sum(), tx, create_graph=True)
    np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-12)
    (h,) = autograd.grad((g * x).sum(), x)
    (th,) = torch.autograd.grad((tg * tx).sum(), tx)
    np.testing.assert_allclose(h.data, th.numpy(), rtol=1e-12)


def test_wrong_number_of_gradients_same_error_as_torch(torch_functions):
    torch, (*_rest, t_too_few) = torch_functions
    out = t_too_few.apply(torch_leaf(torch, X_VALUES), torch_leaf(torch, Y_VALUES)).sum()
    with pytest.raises(RuntimeError, match=r"incorrect number of gradients"):
        out.backward()
