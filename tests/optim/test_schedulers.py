"""Learning-rate schedulers against torch.optim.lr_scheduler: the same lr sequences."""

import math

import pytest

import autograd
import optim
from optim import lr_scheduler

EPOCHS = 40
LRS = (0.1, 0.03)  # two param groups, two starting lrs


def _optimizer(lib, lib_optim):
    groups = [{"params": [lib.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS]
    return lib_optim.SGD(groups, lr=1.0)


class Halve:
    """A callable object (not a function): LambdaLR saves its attributes."""

    def __init__(self):
        self.every = 6

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


SCHEDULES = [
    ("StepLR", {"step_size": 7}),
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 5, 12, 30]}),
    ("MultiStepLR", {"milestones": [30, 2], "gamma": 0.7}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),
    ("LambdaLR", {"lr_lambda": lambda epoch: 1 / (1 + epoch)}),
    ("LambdaLR", {"lr_lambda": [lambda epoch: 0.95**epoch, Halve()]}),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(SCHEDULES)]


def _lr_sequence(lib, lib_optim, lib_sched, name, kwargs, epochs=EPOCHS):
    opt = _optimizer(lib, lib_optim)
    sched = getattr(lib_sched, name)(opt, **kwargs)
    lrs = [sched.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
        assert lrs[-1] == [group["lr"] for group in opt.param_groups]
    return lrs


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES, ids=IDS)
def test_lr_sequence_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = _lr_sequence(autograd, optim, lr_scheduler, name, kwargs)
    theirs = _lr_sequence(torch, torch.optim, torch.optim.lr_scheduler, name, kwargs)
    assert len(ours) == EPOCHS + 1
    for epoch, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"epoch {epoch}"  # the same float operations, bit for bit
    assert ours[-1] != ours[0]  # the schedule did change the lr


def test_cosine_closed_form():
    """The recursive form follows η_min + (η_0 - η_min)(1 + cos(π e / T)) / 2."""
    lrs = _lr_sequence(autograd, optim, lr_scheduler, "CosineAnnealingLR",
                       {"T_max": 10, "eta_min": 0.01})
    for epoch, (lr, _) in enumerate(lrs):
        expected = 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * epoch / 10)) / 2
        assert lr == pytest.approx(expected, rel=1e-9, abs=1e-12)


PLATEAU_METRICS = [10, 9, 8, 8, 8.0005, 8, 8, 8, 7, 7, 7, 7, 7, 7, 6.9999, 7, 7, 8, 9, 9,
                   9, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2.9, 2.9, 2.9, 2.9, 2.9, 2.9, 2.9, 2.9, 2.9]
PLATEAUS = [
    {},
    {"patience": 2},
    {"patience": 1, "cooldown": 2, "factor": 0.5},
    {"patience": 0, "threshold": 0.2, "threshold_mode": "abs", "min_lr": [0.01, 0.002]},
    {"mode": "max", "patience": 1, "factor": 0.3},
    {"mode": "max", "patience": 2, "threshold_mode": "abs", "threshold": 0.5, "min_lr": 1e-3},
    {"patience": 0, "factor": 0.5, "eps": 0.02},
]


@pytest.mark.parametrize("kwargs", PLATEAUS, ids=[str(k) for k in PLATEAUS])
def test_reduce_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    sequences = []
    for lib, lib_optim in ((autograd, optim), (torch, torch.optim)):
        opt = _optimizer(lib, lib_optim)
        sched = lib_optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
        lrs = [sched.get_last_lr()]
        for metric in PLATEAU_METRICS:
            opt.step()
            sched.step(lib.tensor(metric, dtype=lib.float64))  # a one-element Tensor
            lrs.append(sched.get_last_lr())
        sequences.append((lrs, sched.num_bad_epochs, sched.best, sched.last_epoch))
    ours, theirs = sequences
    assert ours == theirs  # lrs, bad-epoch count, best metric, epoch: all exact
    assert ours[0][-1] != ours[0][0]  # the lr was reduced


def test_scheduler_sets_initial_lr_and_base_lrs():
    opt = _optimizer(autograd, optim)
    sched = lr_scheduler.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert sched.base_lrs == list(LRS) and sched.last_epoch == 0
    assert sched.get_last_lr() == list(LRS)


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES[:-1], ids=IDS[:-1])
def test_state_dict_round_trip(name, kwargs):
    straight = _lr_sequence(autograd, optim, lr_scheduler, name, kwargs)
    opt = _optimizer(autograd, optim)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    for _ in range(15):
        opt.step()
        sched.step()
    fresh_opt = _optimizer(autograd, optim)
    fresh = getattr(lr_scheduler, name)(fresh_opt, **kwargs)
    fresh_opt.load_state_dict(opt.state_dict())
    fresh.load_state_dict(sched.state_dict())
    assert fresh.last_epoch == 15
    resumed = []
    for _ in range(EPOCHS - 15):
        fresh_opt.step()
        fresh.step()
        resumed.append(fresh.get_last_lr())
    assert resumed == straight[16:]


def test_lambda_state_dict_keeps_callable_objects_only():
    opt = _optimizer(autograd, optim)
    halve = Halve()
    halve.every = 2
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, halve])
    saved = sched.state_dict()
    assert saved["lr_lambdas"] == [None, {"every": 2}]
    other = Halve()
    lr_scheduler.LambdaLR(_optimizer(autograd, optim), [lambda e: 1.0, other]).load_state_dict(
        saved
    )
    assert other.every == 2


def test_resume_with_last_epoch():
    opt = _optimizer(autograd, optim)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    lr_scheduler.ExponentialLR(opt, gamma=0.5)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    assert sched.last_epoch == 4 and sched.get_last_lr() == list(LRS)  # no jump on resume


def test_scheduler_errors():
    opt = _optimizer(autograd, optim)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be positive"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match=r"Factor should be < 1\.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode average is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="average")
    with pytest.raises(ValueError, match="threshold mode percent is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="percent")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0, 0, 0])
    with pytest.raises(NotImplementedError, match="get_lr"):
        lr_scheduler.LRScheduler(opt)


def test_plateau_min_lr_follows_an_added_group():
    opt = _optimizer(autograd, optim)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=0.05)
    opt.add_param_group({"params": [autograd.zeros(1, requires_grad=True)], "lr": 1.0})
    sched.step(1.0)
    sched.step(2.0)
    assert sched.get_last_lr() == [pytest.approx(0.05), 0.03, pytest.approx(0.1)]
    listed = lr_scheduler.ReduceLROnPlateau(_optimizer(autograd, optim), min_lr=[0, 0])
    listed.optimizer.add_param_group({"params": [autograd.zeros(1, requires_grad=True)]})
    listed.patience = 0
    listed.step(1.0)
    with pytest.raises(RuntimeError, match="3 param groups but min_lrs has 2"):
        listed.step(2.0)
