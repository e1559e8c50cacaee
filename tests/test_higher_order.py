"""Higher derivatives: backward rules are Tensor ops, so with ``create_graph=True``
the gradient is itself differentiable. Every twice-differentiable op of the
registry (``op_registry.py``) is checked by finite differences of its gradient
(gradcheck of a gradient) and against torch's double backward, on
``devices.DEVICE``; below, closed forms, third derivatives and
``torch.autograd.functional``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_checks import double_backward_as_torch, gradgradcheck
from op_registry import OPS, op_id
from strategies import FAST

import autograd as ag
from autograd import functional as AF

torch = pytest.importorskip("torch")

#: gradcheck of a gradient differentiates every backward rule numerically: fewer draws
SECOND = settings(FAST, max_examples=max(FAST.max_examples // 3, 4))
TWICE = [op for op in OPS if op.gradgrad]


@pytest.mark.parametrize("op", TWICE, ids=op_id)
@SECOND
@given(data=st.data())
def test_gradcheck_of_the_gradient(op, data):
    gradgradcheck(op, op.sample(data))


@pytest.mark.parametrize("op", [op for op in TWICE if op.torch and op.torch_grads], ids=op_id)
@SECOND
@given(data=st.data())
def test_double_backward_same_as_torch(op, data):
    double_backward_as_torch(op, op.sample(data), torch)

TOL = {"rtol": 1e-9, "atol": 1e-11}


def lib_grad(m, outputs, inputs, **kwargs):
    """``autograd.grad`` or ``torch.autograd.grad`` (the same signature)."""
    return (ag.grad if m is ag else torch.autograd.grad)(outputs, inputs, **kwargs)


def second_derivatives(m, fn, arrays, w, vs):
    """For y = Σ w ⊙ fn(*xs): the gradients g_i = dy/dx_i, then the gradients of
    Σ_i Σ v_i ⊙ g_i (a Hessian-vector product); zeros where nothing depends on x."""
    xs = [m.tensor(a, requires_grad=True) for a in arrays]
    y = (fn(*xs) * m.tensor(w)).sum()
    gs = lib_grad(m, y, xs, create_graph=True)
    total = sum((g * m.tensor(v)).sum() for g, v in zip(gs, vs) if g.requires_grad)
    if not isinstance(total, (ag.Tensor, torch.Tensor)):  # the gradient is constant in x
        return [as_numpy(g) for g in gs], [np.zeros_like(a) for a in arrays]
    hs = lib_grad(m, total, xs, allow_unused=True)
    return ([as_numpy(g) for g in gs],
            [np.zeros_like(a) if h is None else as_numpy(h) for h, a in zip(hs, arrays)])


def as_numpy(t) -> np.ndarray:
    """The values of a chaingrad or torch tensor (torch's lazy ZeroTensors included)."""
    return t.detach().numpy(force=True) if isinstance(t, torch.Tensor) else t.detach().numpy()


def test_mul_div_second_derivatives_closed_form():
    rng = np.random.default_rng(6)
    a, b = rng.uniform(-2, 2, 5), rng.uniform(0.5, 2, 5)
    w, v1, v2 = rng.standard_normal((3, 5))
    _, (ha, hb) = second_derivatives(ag, lambda x, y: x * y, [a, b], w, [v1, v2])
    np.testing.assert_allclose(ha, v2 * w, **TOL)
    np.testing.assert_allclose(hb, v1 * w, **TOL)
    _, (ha, hb) = second_derivatives(ag, lambda x, y: x / y, [a, b], w, [v1, v2])
    np.testing.assert_allclose(ha, -v2 * w / b**2, **TOL)
    np.testing.assert_allclose(hb, -v1 * w / b**2 + 2 * v2 * w * a / b**3, **TOL)


def test_third_derivatives():
    x = ag.tensor(np.array([-1.5, 0.0, 0.5, 2.0]), requires_grad=True)
    (d1,) = ag.grad((x**4).sum(), x, create_graph=True)
    (d2,) = ag.grad(d1.sum(), x, create_graph=True)
    (d3,) = ag.grad(d2.sum(), x, create_graph=True)
    (d4,) = ag.grad(d3.sum(), x)
    xs = x.detach().numpy()
    np.testing.assert_allclose(d1.data, 4 * xs**3)
    np.testing.assert_allclose(d2.data, 12 * xs**2)
    np.testing.assert_allclose(d3.data, 24 * xs)
    np.testing.assert_allclose(d4.data, 24 + 0 * xs)
    y = ag.tensor(np.array([0.3, 1.1]), requires_grad=True)
    g = y.sin()
    for _ in range(3):
        (g,) = ag.grad(g.sum(), y, create_graph=True)
    np.testing.assert_allclose(g.data, -np.cos(y.data))


def test_second_backward_accumulates_into_grad():
    """``backward(create_graph=True)`` leaves a differentiable ``.grad``."""
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, [6.0, 12.0])


# --------------------------------------------------------------------------- a small MLP


def mlp_loss(X, w1, b1, w2):
    h = (X @ w1 + b1).tanh()
    out = (h @ w2).sigmoid()
    return out.log_softmax(-1).sum() * -1 + (w1 * w1).sum() * 0.1


def test_mlp_hessian_vector_product_matches_torch():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((5, 3))
    params = [rng.standard_normal(s) for s in [(3, 4), (4,), (4, 2)]]
    vs = [rng.standard_normal(p.shape) for p in params]
    # ours, by double backward
    ps = [ag.tensor(p, requires_grad=True) for p in params]
    loss = mlp_loss(ag.tensor(X), *ps)
    gs = ag.grad(loss, ps, create_graph=True)
    hv = ag.grad(sum((g * ag.tensor(v)).sum() for g, v in zip(gs, vs)), ps)
    # torch's hvp
    f = lambda *qs: mlp_loss(torch.tensor(X), *qs)  # noqa: E731
    value, ref = torch.autograd.functional.hvp(
        f, tuple(torch.tensor(p) for p in params), tuple(torch.tensor(v) for v in vs))
    np.testing.assert_allclose(loss.data, value.numpy(), **TOL)
    for mine, theirs in zip(hv, ref):
        np.testing.assert_allclose(mine.data, theirs.numpy(), **TOL)
    # our full Hessian in w1, contracted with v, is torch's hvp in w1
    H = AF.hessian(lambda w1: mlp_loss(ag.tensor(X), w1, ag.tensor(params[1]),
                                       ag.tensor(params[2])), ag.tensor(params[0]))
    assert H.shape == (3, 4, 3, 4)
    np.testing.assert_allclose(
        np.tensordot(H.data, vs[0], axes=2),
        torch.autograd.functional.hvp(
            lambda w1: mlp_loss(torch.tensor(X), w1, torch.tensor(params[1]),
                                torch.tensor(params[2])),
            torch.tensor(params[0]), torch.tensor(vs[0]))[1].numpy(), **TOL)


# --------------------------------------------------------------------------- functional API

FUNCTIONS = {
    "vector": (lambda x: x.sin() * x.sum(), [(3,)]),
    "matrix_to_vector": (lambda x: (x.exp() @ x.T).sum(-1), [(2, 3)]),
    "two_inputs": (lambda a, b: (a @ b).tanh(), [(2, 3), (3,)]),
    "scalar_out": (lambda a, b: (a * b).logsumexp(0), [(3,), (3,)]),
}


def both(arrays):
    return [ag.tensor(a) for a in arrays], [torch.tensor(a) for a in arrays]


def assert_same_structure(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            assert_same_structure(o, t)
    else:
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **TOL)


def call_form(inputs):
    """One Tensor alone, several as a tuple (as torch.autograd.functional takes them)."""
    return inputs[0] if len(inputs) == 1 else tuple(inputs)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_jacobian_matches_torch(name):
    fn, in_shapes = FUNCTIONS[name]
    rng = np.random.default_rng(9)
    ours, theirs = both([rng.uniform(-1, 1, s) for s in in_shapes])
    assert_same_structure(AF.jacobian(fn, call_form(ours)),
                          torch.autograd.functional.jacobian(fn, call_form(theirs)))


def test_jacobian_of_several_outputs():
    fn = lambda a, b: (a * b, (a + b).exp().sum())  # noqa: E731
    rng = np.random.default_rng(10)
    ours, theirs = both([rng.standard_normal(3), rng.standard_normal(3)])
    assert_same_structure(AF.jacobian(fn, tuple(ours)),
                          torch.autograd.functional.jacobian(fn, tuple(theirs)))


@pytest.mark.parametrize("name", ["scalar_out", "product", "mlp_like"])
def test_hessian_matches_torch(name):
    fns = {
        "scalar_out": (FUNCTIONS["scalar_out"][0], [(3,), (3,)]),
        "product": (lambda x: x.prod(), [(4,)]),
        "mlp_like": (lambda w, x: ((x @ w).tanh() ** 2).sum(), [(3, 2), (4, 3)]),
    }
    fn, in_shapes = fns[name]
    rng = np.random.default_rng(11)
    ours, theirs = both([rng.uniform(-1, 1, s) for s in in_shapes])
    assert_same_structure(AF.hessian(fn, call_form(ours)),
                          torch.autograd.functional.hessian(fn, call_form(theirs)))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_vjp_jvp_match_torch(name):
    fn, in_shapes = FUNCTIONS[name]
    rng = np.random.default_rng(12)
    arrays = [rng.uniform(-1, 1, s) for s in in_shapes]
    ours, theirs = both(arrays)
    u = rng.standard_normal(tuple(fn(*theirs).shape))
    vs = [rng.standard_normal(s) for s in in_shapes]
    assert_same_structure(
        AF.vjp(fn, call_form(ours), ag.tensor(u)),
        torch.autograd.functional.vjp(fn, call_form(theirs), torch.tensor(u)))
    assert_same_structure(
        AF.jvp(fn, call_form(ours), call_form([ag.tensor(v) for v in vs])),
        torch.autograd.functional.jvp(fn, call_form(theirs),
                                      call_form([torch.tensor(v) for v in vs])))


# --------------------------------------------------------------------------- gradgradcheck


def gradient_of(fn, w):
    """x ↦ d/dx Σ w ⊙ fn(x), as a differentiable function (for gradcheck)."""
    def gradient(*xs):
        out = fn(*xs)
        gs = ag.grad((out * ag.tensor(w)).sum(), xs, create_graph=True)
        return gs[0] if len(gs) == 1 else gs
    return gradient


def test_gradcheck_of_the_gradient_prod_with_zeros():
    x = ag.tensor(np.array([[0.0, 2.0, -1.0], [0.0, 0.0, 1.5]]), requires_grad=True)
    assert ag.gradcheck(gradient_of(lambda t: t.prod(1), np.array([1.0, -2.0])), [x])
    assert ag.gradcheck(gradient_of(lambda t: t.prod(), np.array(1.0)), [x])
