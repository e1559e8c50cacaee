"""Linear, Flatten, Identity and the activations: forward and gradients against
torch (weights copied by name through state_dict), finite differences in
float64 for the fused ops, second derivatives, init, repr and errors."""

import math

import numpy as np
import pytest

import autograd
import nn
import nn.functional as F

rng = np.random.default_rng(0)


def _grads_match(ours_fn, torch_fn, arrays, atol=1e-10, rtol=1e-7):
    """Run both on the same float64 arrays with the same upstream gradient."""
    torch = pytest.importorskip("torch")
    a = [autograd.tensor(x, requires_grad=True) for x in arrays]
    t = [torch.tensor(x, requires_grad=True) for x in arrays]
    out_a, out_t = ours_fn(*a), torch_fn(*t)
    np.testing.assert_allclose(out_a.data, out_t.detach().numpy(), atol=atol, rtol=rtol)
    g = rng.standard_normal(out_a.shape)
    out_a.backward(autograd.tensor(g))
    out_t.backward(torch.tensor(g))
    for x_a, x_t in zip(a, t):
        np.testing.assert_allclose(x_a.grad.data, x_t.grad.numpy(), atol=atol, rtol=rtol)


def _second_derivatives_match(ours_fn, torch_fn, arrays, atol=1e-9):
    """Gradients of Σ (first gradients)²: each fused rule's own derivative."""
    torch = pytest.importorskip("torch")
    a = [autograd.tensor(x, requires_grad=True) for x in arrays]
    t = [torch.tensor(x, requires_grad=True) for x in arrays]
    out_a, out_t = ours_fn(*a), torch_fn(*t)
    w = rng.standard_normal(out_a.shape)
    first_a = autograd.grad((out_a * autograd.tensor(w)).sum(), a, create_graph=True)
    first_t = torch.autograd.grad((out_t * torch.tensor(w)).sum(), t, create_graph=True)
    sum((g * g).sum() for g in first_a).backward()
    sum((g * g).sum() for g in first_t).backward()
    for x_a, x_t in zip(a, t):
        if x_t.grad is None:
            assert x_a.grad is None or not x_a.grad.data.any()
        else:
            np.testing.assert_allclose(x_a.grad.data, x_t.grad.numpy(), atol=atol, rtol=1e-7)


# --------------------------------------------------------------------------- Linear


@pytest.mark.parametrize("x_shape", [(5, 4), (4,), (2, 3, 4), (0, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_layer_matches_torch_with_copied_weights(x_shape, bias):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Linear(4, 3, bias=bias).double()
    ours = nn.Linear(4, 3, bias=bias).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = rng.standard_normal(x_shape)
    xa = autograd.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out_a, out_t = ours(xa), theirs(xt)
    np.testing.assert_allclose(out_a.data, out_t.detach().numpy(), atol=1e-12)
    g = rng.standard_normal(out_a.shape)
    out_a.backward(autograd.tensor(g))
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(xa.grad.data, xt.grad.numpy(), atol=1e-12)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), atol=1e-12, err_msg=name)


def test_linear_is_one_graph_node():
    layer = nn.Linear(3, 2)
    out = layer(autograd.randn(4, 3))
    assert out.grad_fn.name() == "AddmmBackward0"
    assert [t is p for t, p in zip(out.grad_fn.inputs[1:], layer.parameters())] == [True] * 2


def test_linear_float32_matches_torch():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Linear(8, 5)
    ours = nn.Linear(8, 5)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((6, 8)).astype(np.float32)
    out = ours(autograd.tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_linear_gradcheck_and_second_derivatives():
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    inputs = [autograd.tensor(v, requires_grad=True) for v in (x, w, b)]
    assert autograd.gradcheck(F.linear, inputs)
    assert autograd.gradcheck(lambda a, m: F.linear(a, m), inputs[:2])
    torch = pytest.importorskip("torch")
    _second_derivatives_match(lambda a, m, c: F.linear(a, m, c).tanh(),
                              lambda a, m, c: torch.nn.functional.linear(a, m, c).tanh(),
                              [x, w, b])


def test_linear_init_is_pytorchs_and_reproducible():
    autograd.manual_seed(3)
    a = nn.Linear(400, 50)
    autograd.manual_seed(3)
    b = nn.Linear(400, 50)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    bound = 1 / math.sqrt(400)
    for p in (a.weight, a.bias):
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= bound
    # U(-b, b) has standard deviation b/√3
    assert abs(a.weight.data.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert abs(a.weight.data.mean()) < 0.02 * bound


def test_linear_errors():
    layer = nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match=r"linear: mat1 and mat2 shapes cannot be multiplied "
                                           r"\(4x5 and 3x2\)"):
        layer(autograd.randn(4, 5))
    with pytest.raises(RuntimeError, match=r"same dtype.*float64.*float32"):
        layer(autograd.randn(4, 3, dtype=autograd.float64))


def test_linear_repr_and_attributes():
    layer = nn.Linear(2, 3, bias=False)
    assert repr(layer) == "Linear(in_features=2, out_features=3, bias=False)"
    assert layer.bias is None and layer.in_features == 2 and layer.out_features == 3
    assert layer.weight.shape == (3, 2)


# --------------------------------------------------------------------------- activations

ACTIVATIONS = [
    # (ours, torch's name, constructor args, functional form, its kwargs)
    (nn.ReLU, "ReLU", (), F.relu, {}),
    (nn.LeakyReLU, "LeakyReLU", (), F.leaky_relu, {}),
    (nn.LeakyReLU, "LeakyReLU", (0.2,), F.leaky_relu, {"negative_slope": 0.2}),
    (nn.Tanh, "Tanh", (), F.tanh, {}),
    (nn.Sigmoid, "Sigmoid", (), F.sigmoid, {}),
    (nn.GELU, "GELU", (), F.gelu, {}),
    (nn.GELU, "GELU", ("tanh",), F.gelu, {"approximate": "tanh"}),
    (nn.Softmax, "Softmax", (1,), F.softmax, {"dim": 1}),
    (nn.Softmax, "Softmax", (0,), F.softmax, {"dim": 0}),
    (nn.LogSoftmax, "LogSoftmax", (-1,), F.log_softmax, {"dim": -1}),
]


def _away_from_zero(shape):
    """Values whose finite differences never straddle the kinks at 0."""
    x = rng.standard_normal(shape) * 2
    return np.where(np.abs(x) < 0.05, 0.5, x)


@pytest.mark.parametrize(("cls", "torch_name", "args", "fn", "kwargs"), ACTIVATIONS)
def test_activation_layers_and_functions_match_torch(cls, torch_name, args, fn, kwargs):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, torch_name)(*args)
    x = _away_from_zero((4, 5))
    _grads_match(cls(*args), theirs, [x])
    _grads_match(lambda t: fn(t, **kwargs), theirs, [x])
    assert repr(cls(*args)) == repr(theirs)


@pytest.mark.parametrize(("cls", "torch_name", "args", "fn", "kwargs"), ACTIVATIONS)
def test_activation_float32_forward_matches_torch(cls, torch_name, args, fn, kwargs):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 7)).astype(np.float32) * 3
    out = cls(*args)(autograd.tensor(x))
    assert out.dtype == np.float32
    want = getattr(torch.nn, torch_name)(*args)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(out.data, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradcheck_and_second_and_third_derivatives(approximate):
    x = rng.standard_normal((3, 4)) * 2
    assert autograd.gradcheck(lambda t: F.gelu(t, approximate=approximate),
                              [autograd.tensor(x, requires_grad=True)])
    torch = pytest.importorskip("torch")
    _second_derivatives_match(
        lambda t: F.gelu(t, approximate=approximate),
        lambda t: torch.nn.functional.gelu(t, approximate=approximate), [x])
    # third derivative of Σ gelu at each point, through two create_graph passes
    xa = autograd.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    (d1a,) = autograd.grad(F.gelu(xa, approximate=approximate).sum(), xa, create_graph=True)
    (d1t,) = torch.autograd.grad(torch.nn.functional.gelu(xt, approximate=approximate).sum(),
                                 xt, create_graph=True)
    (d2a,) = autograd.grad(d1a.sum(), xa, create_graph=True)
    (d2t,) = torch.autograd.grad(d1t.sum(), xt, create_graph=True)
    d2a.sum().backward()
    d2t.sum().backward()
    np.testing.assert_allclose(xa.grad.data, xt.grad.numpy(), atol=1e-9)


def test_leaky_relu_gradcheck_and_slope_at_zero():
    x = _away_from_zero((3, 4))
    assert autograd.gradcheck(lambda t: F.leaky_relu(t, 0.3),
                              [autograd.tensor(x, requires_grad=True)])
    t = autograd.tensor([0.0, -1.0, 2.0], requires_grad=True)
    F.leaky_relu(t, 0.1).sum().backward()
    np.testing.assert_allclose(t.grad.data, [0.1, 0.1, 1.0])  # torch: slope at 0


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(autograd.randn(2), approximate="fast")


def test_softmax_without_dim_warns_and_uses_torchs_legacy_choice():
    torch = pytest.importorskip("torch")
    for shape in [(4,), (2, 3), (2, 3, 4)]:
        x = rng.standard_normal(shape)
        with pytest.warns(UserWarning, match="Implicit dimension"):
            ours = F.softmax(autograd.tensor(x))
        with pytest.warns(UserWarning):
            theirs = torch.nn.functional.softmax(torch.tensor(x))
        np.testing.assert_allclose(ours.data, theirs.numpy(), atol=1e-12)


def test_softmax_of_huge_logits_is_finite():
    x = autograd.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    out = F.log_softmax(x, dim=1)
    assert np.isfinite(out.data).all()
    out[0, 0].backward()
    assert np.isfinite(x.grad.data).all()


# --------------------------------------------------------------------------- Flatten, Identity


@pytest.mark.parametrize(("start", "end"), [(1, -1), (0, -1), (1, 2), (2, 3), (-2, -1)])
def test_flatten_matches_torch(start, end):
    torch = pytest.importorskip("torch")
    _grads_match(nn.Flatten(start, end), torch.nn.Flatten(start, end),
                 [rng.standard_normal((2, 3, 4, 5))])
    assert repr(nn.Flatten(start, end)) == repr(torch.nn.Flatten(start, end))


def test_identity_passes_anything_through():
    x = autograd.randn(3)
    assert nn.Identity(54, unused="x")(x) is x
    assert list(nn.Identity().parameters()) == []


def test_layers_have_no_parameters_unless_they_learn():
    for layer in (nn.ReLU(), nn.Tanh(), nn.Softmax(1), nn.Flatten(), nn.GELU()):
        assert list(layer.parameters()) == [] and layer.state_dict() == {}
