"""Optimizers against torch.optim: same trajectories, same state, same errors."""

import warnings

import numpy as np
import pytest
from devices import DEVICE

import autograd
import optim

STEPS = 30
RTOL = 1e-6

# (name, options): every option of every optimizer, alone and combined
CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1, "nesterov": True,
             "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-3}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "alpha": 0.9}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3, "maximize": True}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-4}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.5}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "maximize": True}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in opts.items())}" for name, opts in CASES]

STATE_KEYS = {
    "SGD": {"momentum_buffer"},
    "Adagrad": {"step", "sum"},
    "RMSprop": {"step", "square_avg", "momentum_buffer", "grad_avg"},
    "Adam": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "AdamW": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
}


# --------------------------------------------------------------------------- problem
def _initial_values():
    """A 3-4-1 tanh net and its data, float64."""
    rng = np.random.default_rng(0)
    return {
        "W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4),
        "W2": rng.normal(size=(4, 1)), "b2": rng.normal(size=1),
        "x": rng.normal(size=(8, 3)), "y": rng.normal(size=(8, 1)),
    }


NAMES = ("W1", "b1", "W2", "b2")


class Problem:
    """The same net in one library (``lib`` is ``autograd`` or ``torch``)."""

    def __init__(self, lib, values=None):
        values = values or _initial_values()
        self.lib = lib
        # ours on the device under test (CHAINGRAD_TEST_DEVICE), torch's on the CPU
        on = {"device": DEVICE} if lib is autograd else {}
        self.params = [lib.tensor(values[n].copy(), requires_grad=True, **on) for n in NAMES]
        self.x, self.y = lib.tensor(values["x"], **on), lib.tensor(values["y"], **on)

    def loss(self, maximize=False):
        W1, b1, W2, b2 = self.params
        out = (self.x @ W1 + b1).tanh() @ W2 + b2
        loss = ((out - self.y) ** 2).mean()
        # with maximize the optimizer ascends, so hand it the negated loss to stay bounded
        return -loss if maximize else loss

    def closure(self, opt, maximize=False):
        def closure():
            opt.zero_grad()
            loss = self.loss(maximize)
            loss.backward()
            return loss
        return closure

    def values(self):
        return [np.array(p.detach().numpy()) for p in self.params]


def _groups(params, opts, split):
    """One group, or two with different options (the second group's lr halved and,
    where the optimizer has one, another momentum / weight decay)."""
    if not split:
        return params, opts
    second = {"lr": opts["lr"] / 2}
    if "momentum" in opts:
        second["momentum"] = opts["momentum"] / 2
    if "weight_decay" in opts:
        second["weight_decay"] = opts["weight_decay"] * 3
    return [{"params": params[:2]}, {"params": params[2:], **second}], opts


def _make(lib_optim, name, params, opts, split=False):
    groups, opts = _groups(params, opts, split)
    extra = {"foreach": False} if lib_optim.__name__ == "torch.optim" else {}
    return getattr(lib_optim, name)(groups, **opts, **extra)


def _run(problem, opt, steps, maximize, trajectory):
    closure = problem.closure(opt, maximize)
    for _ in range(steps):
        loss = opt.step(closure)
        trajectory.append((float(loss.item()), problem.values()))


def _assert_same_trajectory(ours, theirs, rtol=RTOL):
    assert len(ours) == len(theirs)
    for step, ((our_loss, our_values), (their_loss, their_values)) in enumerate(
        zip(ours, theirs)
    ):
        np.testing.assert_allclose(our_loss, their_loss, rtol=rtol, err_msg=f"loss, step {step}")
        for name, a, b in zip(NAMES, our_values, their_values):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12,
                                       err_msg=f"{name} after step {step + 1}")


# --------------------------------------------------------------------------- parity
@pytest.mark.parametrize("split", [False, True], ids=["one_group", "two_groups"])
@pytest.mark.parametrize(("name", "opts"), CASES, ids=IDS)
def test_trajectory_matches_torch(name, opts, split):
    torch = pytest.importorskip("torch")
    maximize = opts.get("maximize", False)
    ours, theirs = Problem(autograd), Problem(torch)
    our_opt = _make(optim, name, ours.params, opts, split)
    their_opt = _make(torch.optim, name, theirs.params, opts, split)
    our_traj, their_traj = [], []
    _run(ours, our_opt, STEPS, maximize, our_traj)
    _run(theirs, their_opt, STEPS, maximize, their_traj)
    _assert_same_trajectory(our_traj, their_traj)
    # the loss went somewhere: the test would notice an optimizer that does nothing
    assert abs(our_traj[-1][0] - our_traj[0][0]) > 1e-3

    # the state, in PyTorch's layout, holds the same buffers
    our_sd, their_sd = our_opt.state_dict(), their_opt.state_dict()
    assert set(our_sd["state"]) == set(their_sd["state"])
    for index, their_state in their_sd["state"].items():
        our_state = our_sd["state"][index]
        assert set(our_state) == set(their_state) <= STATE_KEYS[name]
        for key, value in their_state.items():
            np.testing.assert_allclose(np.asarray(our_state[key], dtype=float),
                                       value.numpy(), rtol=RTOL, atol=1e-12, err_msg=key)
    for our_group, their_group in zip(our_sd["param_groups"], their_sd["param_groups"]):
        assert our_group["params"] == their_group["params"]
        for key, value in our_group.items():
            assert value == their_group[key], key


@pytest.mark.parametrize(("name", "opts"), CASES, ids=IDS)
def test_state_dict_round_trip_mid_run(name, opts):
    maximize = opts.get("maximize", False)
    straight = Problem(autograd)
    opt = _make(optim, name, straight.params, opts, split=True)
    uninterrupted = []
    _run(straight, opt, STEPS, maximize, uninterrupted)

    half = STEPS // 2
    first = Problem(autograd)
    opt = _make(optim, name, first.params, opts, split=True)
    _run(first, opt, half, maximize, [])
    saved = opt.state_dict()
    values = dict(zip(NAMES, first.values()), **{k: _initial_values()[k] for k in "xy"})
    _run(first, opt, 3, maximize, [])  # later steps must not leak into ``saved``

    # twice: the first resumed run must not have changed ``saved`` either
    for _ in range(2):
        resumed = Problem(autograd, values)
        fresh_opts = {**opts, "lr": 123.0}  # the saved options win over the constructor's
        fresh = _make(optim, name, resumed.params, fresh_opts, split=True)
        fresh.load_state_dict(saved)
        rest = []
        _run(resumed, fresh, STEPS - half, maximize, rest)
        for (_, a), (_, b) in zip(rest, uninterrupted[half:]):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_plain_step_loop_matches_closure_form(name):
    """The usual loop (zero_grad, backward, step) and ``step(closure)`` agree, and
    ``step(closure)`` returns the closure's loss, computed with grad on."""
    opts = dict(next(o for n, o in CASES if n == name))
    a, b = Problem(autograd), Problem(autograd)
    opt_a, opt_b = _make(optim, name, a.params, opts), _make(optim, name, b.params, opts)
    for _ in range(5):
        opt_a.zero_grad()
        a.loss().backward()
        assert opt_a.step() is None
        before = b.loss().item()
        with autograd.no_grad():  # the closure still records its graph
            loss = opt_b.step(b.closure(opt_b))
        assert loss.requires_grad
        assert loss.item() == before  # the loss at the parameters before the update
    for x, y in zip(a.values(), b.values()):
        np.testing.assert_array_equal(x, y)


def test_step_returns_closure_loss():
    p = autograd.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)  # the loss before the update
    np.testing.assert_allclose(p.data, [0.8, -1.6], rtol=1e-6)


# --------------------------------------------------------------------------- behaviour
def test_update_records_no_graph_and_keeps_dtype():
    p = autograd.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.1, amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    assert p.dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in opt.state[p].items() if k != "step")
    assert p.grad.data is not opt.state[p]["exp_avg"].data


def test_params_without_grad_are_skipped():
    a = autograd.tensor([1.0], requires_grad=True)
    b = autograd.tensor([1.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    (a * 2).sum().backward()
    opt.step()
    assert a.item() != 1.0 and b.item() == 1.0
    assert b not in opt.state and a in opt.state


def test_sgd_momentum_buffer_is_a_copy_of_the_first_gradient():
    p = autograd.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    (p * 3).sum().backward()
    opt.step()
    buffer = opt.state[p]["momentum_buffer"]
    np.testing.assert_array_equal(buffer.data, [3.0, 3.0])  # no dampening on step 1
    assert not np.shares_memory(buffer.data, p.grad.data)


def test_zero_grad():
    p = autograd.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad
    np.testing.assert_array_equal(p.grad.data, [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_param_groups_fill_defaults_and_add_param_group():
    a, b, c = (autograd.tensor([1.0], requires_grad=True) for _ in range(3))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)
    assert opt.param_groups[1]["params"][0] is b  # a lone Tensor became a list
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.0
    assert "Parameter Group 2" in repr(opt) and "momentum: 0.0" in repr(opt)


def test_adagrad_state_exists_before_the_first_step():
    p = autograd.tensor([1.0, 2.0], requires_grad=True, dtype=autograd.float64)
    opt = optim.Adagrad([p], initial_accumulator_value=0.3)
    state = opt.state_dict()["state"][0]
    assert state["step"] == 0
    np.testing.assert_array_equal(state["sum"].data, [0.3, 0.3])


# --------------------------------------------------------------------------- errors
BAD_ARGUMENTS = [
    ("SGD", {"lr": -1}),
    ("SGD", {"lr": 0.1, "momentum": -0.5}),
    ("SGD", {"lr": 0.1, "weight_decay": -1e-3}),
    ("SGD", {"lr": 0.1, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}),
    ("Adagrad", {"lr": -0.01}),
    ("Adagrad", {"lr_decay": -1}),
    ("Adagrad", {"weight_decay": -1}),
    ("Adagrad", {"initial_accumulator_value": -1}),
    ("Adagrad", {"eps": -1}),
    ("RMSprop", {"lr": -1}),
    ("RMSprop", {"eps": -1}),
    ("RMSprop", {"momentum": -1}),
    ("RMSprop", {"weight_decay": -1}),
    ("RMSprop", {"alpha": -1}),
    ("Adam", {"lr": -1}),
    ("Adam", {"eps": -1}),
    ("Adam", {"betas": (1.0, 0.999)}),
    ("Adam", {"betas": (0.9, -0.1)}),
    ("Adam", {"weight_decay": -1}),
    ("AdamW", {"betas": (0.9, 1.5)}),
    ("AdamW", {"lr": float("nan")}),
]


@pytest.mark.parametrize(("name", "opts"), BAD_ARGUMENTS,
                         ids=[f"{n}-{o}" for n, o in BAD_ARGUMENTS])
def test_invalid_arguments_raise_like_torch(name, opts):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], **opts)
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)([autograd.zeros(1, requires_grad=True)], **opts)
    assert str(ours.value) == str(theirs.value)


def test_invalid_params():
    p = autograd.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match=r"can only optimize Tensors.*ndarray"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="param_group must be a dict"):
        optim.SGD([p], lr=0.1).add_param_group([p])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optim.SGD([p, p], lr=0.1)
    assert any("duplicate parameters" in str(w.message) for w in caught)


def test_load_state_dict_validates_groups_and_shapes():
    a = autograd.tensor([1.0, 2.0], requires_grad=True)
    b = autograd.tensor([3.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    (a.sum() + b.sum()).backward()
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([a]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"'exp_avg' of shape \(2,\) for parameter 0 of shape"):
        optim.Adam([b, a]).load_state_dict(saved)


def test_base_optimizer_without_rule():
    p = autograd.tensor([1.0], requires_grad=True)
    opt = optim.Optimizer([p], {"lr": 0.1})
    p.sum().backward()
    with pytest.raises(NotImplementedError, match="override step"):
        opt.step()


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_step_refuses_a_grad_of_another_shape(name):
    """A gradient whose array was swapped for one of another shape is never broadcast
    into the update (assigning ``p.grad`` itself is refused earlier, as in PyTorch)."""
    p = autograd.ones(3, requires_grad=True)
    p.grad = autograd.ones(3)
    p.grad.data = np.ones(1, dtype=np.float32)
    opt = getattr(optim, name)([p], lr=0.1)
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*shape \(1,\)"):
        opt.step()
    np.testing.assert_array_equal(p.data, np.ones(3))
