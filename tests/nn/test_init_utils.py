"""nn.init (gains, fans, distributions, seeding) and nn.utils gradient clipping,
against torch's formulas and results."""

import math

import numpy as np
import pytest

import autograd
import nn
from nn import init

# --------------------------------------------------------------------------- gains and fans


@pytest.mark.parametrize(("nonlinearity", "param"), [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None),
])
def test_calculate_gain_matches_torch(nonlinearity, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", [(3, 5), (4, 3, 2, 2), (6, 2, 3)])
def test_fans_match_torch(shape):
    torch = pytest.importorskip("torch")
    assert init._calculate_fan_in_and_fan_out(autograd.zeros(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(autograd.zeros(5))


# --------------------------------------------------------------------------- distributions

SHAPE = (300, 200)  # fan_in 200, fan_out 300; 60,000 draws


def _std_of_uniform(bound):
    return bound / math.sqrt(3)


@pytest.mark.parametrize(("fill", "low", "high", "std"), [
    (lambda t: init.uniform_(t, -2.0, 3.0), -2.0, 3.0, 5 / math.sqrt(12)),
    (lambda t: init.xavier_uniform_(t, gain=2.0), -2 * math.sqrt(6 / 500),
     2 * math.sqrt(6 / 500), _std_of_uniform(2 * math.sqrt(6 / 500))),
    (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), -1 / math.sqrt(200),
     1 / math.sqrt(200), _std_of_uniform(1 / math.sqrt(200))),
    (lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"),
     -math.sqrt(6 / 300), math.sqrt(6 / 300), _std_of_uniform(math.sqrt(6 / 300))),
])
def test_uniform_initialisers_have_pytorchs_bounds(fill, low, high, std):
    t = autograd.empty(*SHAPE)
    assert fill(t) is t
    assert t.data.min() >= low and t.data.max() <= high
    assert t.data.min() < low + 0.01 * (high - low)  # the whole range is used
    assert abs(t.data.std() - std) < 0.02 * std


@pytest.mark.parametrize(("fill", "mean", "std"), [
    (lambda t: init.normal_(t, 1.5, 0.5), 1.5, 0.5),
    (lambda t: init.xavier_normal_(t), 0.0, math.sqrt(2 / 500)),
    (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), 0.0, math.sqrt(2 / 200)),
    (lambda t: init.kaiming_normal_(t, a=0.1, mode="fan_out"), 0.0,
     math.sqrt(2 / 1.01) / math.sqrt(300)),
])
def test_normal_initialisers_have_pytorchs_std(fill, mean, std):
    t = fill(autograd.empty(*SHAPE))
    assert abs(t.data.mean() - mean) < 0.02 * std + 1e-3
    assert abs(t.data.std() - std) < 0.02 * std


def test_constant_zeros_ones():
    t = autograd.empty(3, 2)
    assert init.constant_(t, 0.25) is t and (t.data == 0.25).all()
    assert not init.zeros_(t).data.any()
    assert (init.ones_(t).data == 1).all()


def test_initialisers_keep_the_parameter_a_leaf_and_its_dtype():
    p = nn.Parameter(autograd.zeros(4, 3, dtype=autograd.float64))
    init.kaiming_uniform_(p)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None and p.dtype == np.float64
    assert p.data.any()


def test_manual_seed_makes_initialisation_reproducible():
    draws = []
    for _ in range(2):
        autograd.manual_seed(7)
        draws.append([init.normal_(autograd.empty(5)).data.copy(),
                      init.xavier_uniform_(autograd.empty(3, 4)).data.copy(),
                      nn.Linear(4, 2).weight.data.copy()])
    for a, b in zip(*draws):
        np.testing.assert_array_equal(a, b)
    autograd.manual_seed(8)
    assert not np.array_equal(init.normal_(autograd.empty(5)).data, draws[0][0])


def test_mode_is_checked_and_empty_tensors_are_left_alone():
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(autograd.empty(2, 2), mode="fan_avg")
    assert init.kaiming_uniform_(autograd.empty(0, 3)).shape == (0, 3)


# --------------------------------------------------------------------------- clipping


def _grads_pair(shapes, scale=1.0):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(s) * scale for s in shapes]
    ours = [autograd.zeros(*s, dtype=autograd.float64, requires_grad=True) for s in shapes]
    theirs = [torch.zeros(*s, dtype=torch.float64, requires_grad=True) for s in shapes]
    for p, q, g in zip(ours, theirs, grads):
        p.grad = autograd.tensor(g)
        q.grad = torch.tensor(g)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ours, theirs = _grads_pair([(3, 4), (4,), (2, 2, 2)])
    total_ours = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total_ours, autograd.Tensor)
    assert total_ours.item() == pytest.approx(total_theirs.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_result_has_the_requested_norm():
    ours, _ = _grads_pair([(10,), (5, 5)], scale=10.0)
    before = nn.utils.clip_grad_norm_(ours, 1.0).item()
    assert before > 1
    after = math.sqrt(sum((p.grad.data ** 2).sum() for p in ours))
    assert after == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_skips_missing_grads_and_takes_one_tensor():
    p = autograd.zeros(3, requires_grad=True)
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0
    p.grad = autograd.tensor([3.0, 4.0, 0.0])
    assert nn.utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8, 0.0], rtol=1e-5)


def test_clip_grad_norm_nonfinite():
    p = autograd.zeros(2, requires_grad=True)
    p.grad = autograd.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_on_a_model_after_backward():
    torch = pytest.importorskip("torch")
    ours = nn.Linear(3, 2).double()
    theirs = torch.nn.Linear(3, 2).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((4, 3)) * 5
    (ours(autograd.tensor(x)) ** 2).sum().backward()
    (theirs(torch.tensor(x)) ** 2).sum().backward()
    a = nn.utils.clip_grad_norm_(ours.parameters(), 0.1)
    b = torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.1)
    assert a.item() == pytest.approx(b.item())
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-10)


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _grads_pair([(3, 4), (5,)])
    assert nn.utils.clip_grad_value_(ours, 0.5) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
        assert np.abs(p.grad.data).max() <= 0.5
