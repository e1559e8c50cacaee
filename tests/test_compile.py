"""autograd.compile: a traced training step replays the same array calls as eager
(bitwise: the same numpy calls in the same order), on every kind of model the
project trains; it falls back to eager with a warning when it cannot trace; and
its printed program runs and gives the same result."""

from __future__ import annotations

import functools
import gc
import itertools
import json
import re
import tracemalloc
import warnings

import numpy as np
import pytest

import autograd
import nn
import optim
from autograd import CompileWarning
from autograd.function import Op

STEPS = 100


# --------------------------------------------------------------------------- models


def tensor_mlp(seed: int = 0) -> tuple:
    """A 20-16-16-5 MLP written with Tensor ops, SGD momentum on .data (velocities
    kept in Tensors), the loss of benchmarks/core_mlp_step.py."""
    rng = np.random.default_rng(seed)
    sizes = (20, 16, 16, 5)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        params.append(autograd.tensor(rng.standard_normal((fan_in, fan_out)).astype(
            np.float32) * np.sqrt(2 / fan_in), requires_grad=True))
        params.append(autograd.zeros(fan_out, requires_grad=True))
    velocities = [autograd.zeros_like(p) for p in params]
    w1, b1, w2, b2, w3, b3 = params

    def step(x, labels):
        for p in params:
            p.grad = None
        logits = ((x @ w1 + b1).relu() @ w2 + b2).relu() @ w3 + b3
        rows = autograd.arange(x.shape[0])
        loss = -logits.log_softmax(1)[rows, labels].mean()
        loss.backward()
        with autograd.no_grad():
            for p, v in zip(params, velocities):
                v.data *= 0.9
                v.data += p.grad.data
                p.data -= 0.01 * v.data
        return loss

    return params + velocities, step, ((8, 20), 5)


def _nn_step(model, optimizer, loss_fn=None):
    loss_fn = loss_fn or nn.CrossEntropyLoss()

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def nn_mlp(seed: int = 0) -> tuple:
    """nn layers with dropout (its mask drawn from the generator at every call),
    CrossEntropyLoss and SGD with Nesterov momentum through optim."""
    autograd.manual_seed(seed)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Dropout(0.25), nn.Linear(32, 5))
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    return _state(model, optimizer), _nn_step(model, optimizer), ((8, 20), 5)


def cnn(seed: int = 0) -> tuple:
    """Conv2d, max-pool, Flatten, Linear: the layers of benchmarks/cnn_step.py, small."""
    autograd.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(6 * 2 * 2, 5))
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return _state(model, optimizer), _nn_step(model, optimizer), ((4, 1, 8, 8), 5)


def batchnorm_adam(seed: int = 0) -> tuple:
    """BatchNorm (running statistics updated in place every step) and Adam (step
    counts and bias corrections in Python)."""
    autograd.manual_seed(seed)
    model = nn.Sequential(nn.Linear(20, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 5))
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    return _state(model, optimizer), _nn_step(model, optimizer), ((8, 20), 5)


def _state(model, optimizer) -> list:
    """Every tensor a step changes: parameters, buffers, optimizer state (read
    after the run, when lazily made state exists)."""
    def read():
        tensors = list(model.parameters()) + list(model.buffers())
        for state in optimizer.state.values():
            tensors += [v for v in state.values() if isinstance(v, autograd.Tensor)]
        return tensors

    read.optimizer = optimizer
    return read


def language_model(kind: str, seed: int = 0) -> tuple:
    """The LM job's model (chaingrad train --task lm) and its step: embeddings,
    causal attention with dropout (transformer) or a stacked LSTM with dropout
    between layers, clipping, AdamW with a learning rate set between calls."""
    from autograd.cli import lm

    autograd.manual_seed(seed)
    config = {"model": kind, "vocab_size": 11, "block_size": 8, "d_model": 16,
              "layers": 2, "heads": 2, "dropout": 0.1, "vocab": None}
    model = lm.build_model(config)
    optimizer = lm.build_optimizer(model, "adamw", 3e-3)
    parts = {"model": model, "net": model, "optimizer": optimizer,
             "world": _OneProcess()}
    train_step = lm.make_train_step(parts, compiled=False)
    calls = itertools.count()

    def set_lr():  # what the job's loop does before each step, outside it
        for group in optimizer.param_groups:
            group["lr"] = lm.lr_at(next(calls), STEPS, 3e-3, 10)

    train_step.before = set_lr
    return _state(model, optimizer), train_step, ("tokens", (4, 8), 11)


class _OneProcess:
    @staticmethod
    def backward(loss):
        loss.backward()


MODELS = {"tensor_mlp": tensor_mlp, "nn_mlp_dropout": nn_mlp, "cnn": cnn,
          "batchnorm_adam": batchnorm_adam,
          "transformer_lm": functools.partial(language_model, "transformer"),
          "lstm_lm": functools.partial(language_model, "lstm")}


def batches(spec: tuple, n: int, seed: int = 1) -> list:
    rng = np.random.default_rng(seed)
    if spec[0] == "tokens":  # windows of token ids and their next tokens
        _, shape, vocab = spec
        return [(autograd.tensor(rng.integers(0, vocab, shape)),
                 autograd.tensor(rng.integers(0, vocab, shape))) for _ in range(n)]
    shape, classes = spec
    return [(autograd.tensor(rng.standard_normal(shape).astype(np.float32)),
             autograd.tensor(rng.integers(0, classes, shape[0])))
            for _ in range(n)]


def _tensors(state) -> list:
    return state() if callable(state) else state


def train(make, compiled: bool, n: int = STEPS) -> tuple:
    state, step, spec = make()
    before = getattr(step, "before", None)  # Python the caller runs before each step
    run = autograd.compile(step) if compiled else step
    losses = []
    for x, y in batches(spec, n):
        if before is not None:
            before()
        losses.append(run(x, y).item())
    return losses, _tensors(state), run


# --------------------------------------------------------------------------- equality


@pytest.mark.parametrize("name", MODELS)
def test_compiled_training_equals_eager_bitwise(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        losses, state, step = train(MODELS[name], compiled=True)
    eager_losses, eager_state, _ = train(MODELS[name], compiled=False)
    assert step.eager_reason is None and step.program is not None
    assert losses == eager_losses
    assert len(state) == len(eager_state)
    for ours, theirs in zip(state, eager_state):
        assert ours.data.dtype == theirs.data.dtype
        np.testing.assert_array_equal(ours.data, theirs.data)
        if theirs.grad is not None:
            np.testing.assert_array_equal(ours.grad.data, theirs.grad.data)


def test_replays_build_no_graph_and_make_no_op_objects(monkeypatch):
    _, step, spec = tensor_mlp()
    step = autograd.compile(step)
    data = batches(spec, 5)
    for x, y in data[:3]:
        step(x, y)
    assert step.program is not None
    applied = []
    original = Op.apply.__func__
    monkeypatch.setattr(Op, "apply", classmethod(
        lambda cls, *a, **k: applied.append(cls) or original(cls, *a, **k)))
    loss = step(*data[3])
    assert applied == []  # no op ran: the program is array calls only
    assert loss.grad_fn is None and not loss.requires_grad


def test_memory_stays_flat_over_replays():
    _, step, spec = nn_mlp()
    step = autograd.compile(step)
    data = batches(spec, 4)
    for x, y in data:
        step(x, y)
    gc.collect()
    tracemalloc.start()
    try:
        # interpreter and numpy caches fill up over the first ~1500 calls (~80 KiB
        # of 56-byte blocks), then stop growing
        for _ in range(2000):
            step(*data[0])
        first, _ = tracemalloc.get_traced_memory()
        for _ in range(1000):
            step(*data[0])
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert second - first < 8 * 1024, (first, second)


def test_each_input_shape_gets_its_own_program_and_results_do_not_alias():
    state, step, _ = tensor_mlp()
    compiled = autograd.compile(step)
    eager_state, eager_step, _ = tensor_mlp()
    for n_rows in (8, 3, 8, 3, 8, 3, 8, 3, 8):
        (x, y), = batches(((n_rows, 20), 5), 1, seed=n_rows)
        ours, theirs = compiled(x, y), eager_step(x, y)
        assert ours.item() == theirs.item()
    first = compiled(x, y)
    eager_step(x, y)
    held = first.item()
    other = batches(((8, 20), 5), 1, seed=99)[0]
    compiled(*other)
    eager_step(*other)
    assert first.item() == held  # a returned loss is the caller's own copy
    for ours, theirs in zip(state, eager_state):
        np.testing.assert_array_equal(ours.data, theirs.data)


def test_a_learning_rate_schedule_between_calls_is_followed():
    """optimizer.step() runs as Python at every replay: a scheduler's new learning
    rate (or Adam's step count) is read then, as in eager mode."""
    def run(compiled):
        autograd.manual_seed(0)
        model = nn.Sequential(nn.Linear(20, 5))
        optimizer = optim.Adam(model.parameters(), lr=0.1)
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
        step = _nn_step(model, optimizer)
        step = autograd.compile(step) if compiled else step
        for k, (x, y) in enumerate(batches(((8, 20), 5), 12)):
            step(x, y)
            if k % 3 == 2:
                scheduler.step()
        return [p.data.copy() for p in model.parameters()]

    for ours, theirs in zip(run(True), run(False)):
        np.testing.assert_array_equal(ours, theirs)


# --------------------------------------------------------------------------- fallback

W = None


def _fallback_steps() -> dict:
    rng = np.random.default_rng(0)
    w = autograd.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    raw_velocity = np.zeros((4, 3), np.float32)
    counter = [0]

    def forward_backward(x):
        w.grad = None
        loss = (x @ w).tanh().sum()
        loss.backward()
        return loss

    def item(x):
        loss = forward_backward(x)
        with autograd.no_grad():
            w.data -= 0.1 * w.grad.data
        return loss.item()

    def branch(x):
        loss = forward_backward(x)
        if loss > 0:  # a Python branch on a tensor's value
            with autograd.no_grad():
                w.data -= 0.1 * w.grad.data
        return loss

    def raw_state(x):
        loss = forward_backward(x)
        raw_velocity[...] *= 0.9  # state outside any Tensor: a trace cannot see it
        raw_velocity[...] += w.grad.data
        with autograd.no_grad():
            w.data -= 0.1 * raw_velocity
        return loss

    def python_number(x):
        loss = forward_backward(x)
        counter[0] += 1
        with autograd.no_grad():
            w.data -= (0.1 / counter[0]) * w.grad.data
        return loss

    return {"item": (item, r"\.item\(\)"), "branch": (branch, r"bool\(\)"),
            "raw_state": (raw_state, "raw array"),
            "python_number": (python_number, "differ from one call to the next")}, w


@pytest.mark.parametrize("case", ["item", "branch", "raw_state", "python_number"])
def test_untraceable_step_falls_back_to_eager_with_a_warning(case):
    steps, w = _fallback_steps()
    fn, reason = steps[case]
    eager_steps, eager_w = _fallback_steps()
    eager_fn = eager_steps[case][0]
    compiled = autograd.compile(fn)
    data = [autograd.tensor(np.random.default_rng(k).standard_normal((5, 4)).astype(
        np.float32)) for k in range(6)]
    with pytest.warns(CompileWarning, match=reason) as record:
        for x in data:
            ours, theirs = compiled(x), eager_fn(x)
            ours = ours.item() if isinstance(ours, autograd.Tensor) else ours
            theirs = theirs.item() if isinstance(theirs, autograd.Tensor) else theirs
            assert ours == theirs
    assert len([r for r in record if r.category is CompileWarning]) == 1  # said once
    assert compiled.program is None and re.search(reason, compiled.eager_reason)
    assert "test_compile.py" in compiled.eager_reason or case == "python_number"
    np.testing.assert_array_equal(w.data, eager_w.data)


def test_compile_rejects_what_is_not_a_function():
    with pytest.raises(TypeError, match="expected a function"):
        autograd.compile(3)


# --------------------------------------------------------------------------- printing


@pytest.mark.parametrize("name", MODELS)
def test_every_printed_program_runs_as_its_replay_does(name):
    """For every model: the printed program, run from the same state on the same
    batch (and the same random draws), leaves the state the replay leaves."""
    state, step, spec = MODELS[name]()
    before = getattr(step, "before", None)
    compiled = autograd.compile(step)
    data = batches(spec, 5)
    for x, y in data[:4]:
        if before is not None:
            before()
        compiled(x, y)
    program = compiled.program
    assert program is not None
    tensors = _tensors(state)
    start = [(t.data.copy(), None if t.grad is None else t.grad.data.copy()) for t in tensors]
    optimizer = getattr(state, "optimizer", None)
    counts = {} if optimizer is None else {  # Adam's step counts: Python numbers
        id(s): {k: v for k, v in s.items() if not isinstance(v, autograd.Tensor)}
        for s in optimizer.state.values()}
    generator = autograd.random.default_generator()
    draws = generator.bit_generator.state
    x, y = data[4]
    replayed = compiled(x, y).item()
    after = [t.data.copy() for t in tensors]
    for t, (array, grad) in zip(tensors, start):
        np.copyto(t.data, array)
        if grad is not None:
            np.copyto(t.grad.data, grad)
    for s in [] if optimizer is None else optimizer.state.values():
        s.update(counts[id(s)])
    generator.bit_generator.state = draws
    text, namespace = program.source()
    exec(compile(text, "<program>", "exec"), namespace)
    printed = namespace["step"](x.data, y.data)
    assert float(printed) == replayed
    for t, array in zip(tensors, after):
        np.testing.assert_array_equal(t.data, array)


def test_printed_program_reads_as_one_line_per_rule():
    _, step, spec = tensor_mlp()
    compiled = autograd.compile(step)
    for x, y in batches(spec, 3):
        compiled(x, y)
    text = str(compiled.program)
    assert text.startswith("def step(x0, x1):")
    assert "# ---- forward" in text and "# ---- backward" in text
    lines = text.splitlines()
    rules = [line.rsplit("# ", 1)[1] for line in lines if re.search(r"# \w+Backward0$", line)]
    # the MLP's graph: 3 matmuls, 3 bias adds, 2 relus, log_softmax, index, mean, neg
    assert sorted(set(rules)) == ["AddBackward0", "IndexBackward0", "LogSoftmaxBackward0",
                                  "MeanBackward0", "MmBackward0", "NegBackward0",
                                  "ReluBackward0"]
    assert rules.count("MmBackward0") == 3 and rules.count("ReluBackward0") == 2
    assert rules.count("AddBackward0") == 3
    assert any("x0.T @" in line for line in lines)  # dW1 = x^T g, as one would write it
    assert "# ---- step" in text and " *= 0.9" in text  # the update, as written


# --------------------------------------------------------------------------- main job


@pytest.mark.parametrize(("model", "epochs"), [("mlp", 4), ("cnn", 1)])
def test_chaingrad_train_compile_equals_eager(tmp_path, model, epochs):
    pytest.importorskip("sklearn")
    from autograd.cli import main

    runs = {}
    for flag in ("", "--compile"):
        out = tmp_path / (flag or "eager")
        args = ["train", "--no-progress", "--model", model, "--epochs", str(epochs),
                "--out", str(out)]
        with warnings.catch_warnings():
            warnings.simplefilter("error", CompileWarning)  # it must not fall back
            assert main(args + ([flag] if flag else [])) == 0
        runs[flag] = (json.loads((out / "metrics.json").read_text()),
                      np.load(out / "checkpoint.npz"))
    (eager, eager_ckpt), (ours, ours_ckpt) = runs[""], runs["--compile"]
    assert ours["history"] == eager["history"]  # every epoch's loss and accuracy
    assert sorted(ours_ckpt.files) == sorted(eager_ckpt.files)
    for name in eager_ckpt.files:  # every tensor; the metadata text has the run's time
        if eager_ckpt[name].dtype.kind != "U":
            np.testing.assert_array_equal(ours_ckpt[name], eager_ckpt[name])


def test_chaingrad_train_compile_refuses_several_processes(capsys):
    from autograd.cli import main

    assert main(["train", "--compile", "--nproc", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--compile runs in one process" in err and err.count("\n") == 1


def test_a_post_accumulate_grad_hook_keeps_the_step_eager():
    """DistributedDataParallel all-reduces from such hooks, with MPI: work a replay
    of numpy calls would skip, so the step must stay eager."""
    _, step, spec = tensor_mlp()
    w = autograd.tensor(np.ones(3), requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    compiled = autograd.compile(step)
    with pytest.warns(CompileWarning, match="post-accumulate-grad hook"):
        for x, y in batches(spec, 3):
            compiled(x, y)
    assert compiled.program is None


def test_tensors_in_unreachable_cycles_are_not_state():
    """compile scans the tensors alive in the process; garbage not yet collected
    (a model in a reference cycle, left by earlier code) is not alive: here its
    hook would otherwise keep the step eager."""
    _, step, spec = tensor_mlp()
    w = autograd.tensor(np.ones(3), requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda t: None)
    cycle = [w]
    cycle.append(cycle)
    del cycle, w
    compiled = autograd.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for x, y in batches(spec, 4):
            compiled(x, y)
    assert compiled.program is not None


def test_state_rebound_between_calls_is_traced_again():
    """A replay reads the arrays the trace saw: when a tensor gets a new array in
    between (p.data = ..., p.grad = None outside the step), it traces again."""
    state, step, spec = tensor_mlp()
    eager_state, eager_step, _ = tensor_mlp()
    compiled = autograd.compile(step)
    data = batches(spec, 12)
    for k, (x, y) in enumerate(data):
        if k == 6:
            for s in (state, eager_state):
                s[0].data = s[0].data * 0.5  # a new array for w1
        assert compiled(x, y).item() == eager_step(x, y).item()
    assert compiled.program is not None
    for ours, theirs in zip(state, eager_state):
        np.testing.assert_array_equal(ours.data, theirs.data)


def test_gradients_reset_outside_a_step_that_zeroes_them_keep_it_compiled():
    """Only bindings the program reads matter: setting p.grad = None between calls
    of a step that zeroes the gradients itself changes nothing for it."""
    state, step, spec = tensor_mlp()
    compiled = autograd.compile(step)
    for x, y in batches(spec, 6):
        compiled(x, y)
        for p in state:
            p.grad = None
    assert compiled.program is not None
    traced = compiled.program
    compiled(*batches(spec, 1, seed=5)[0])
    assert compiled.program is traced  # replayed, not traced again


@pytest.mark.parametrize("bad", [11, -1])
def test_a_replay_checks_indices_as_eager_does(bad):
    """Index checks read values: a replay runs them again on its own inputs, so an
    index out of range raises IndexError (numpy would wrap -1 to the last row)."""
    state, step, spec = language_model("transformer")
    compiled = autograd.compile(step)
    data = batches(spec, 4)
    for x, y in data[:3]:
        compiled(x, y)
    assert compiled.program is not None
    x, y = data[3]
    x.data[1, 2] = bad
    before = [t.data.copy() for t in _tensors(state)]
    with pytest.raises(IndexError, match=f"embedding: index {bad} is out of range"):
        compiled(x, y)
    for t, array in zip(_tensors(state), before):  # raised before any update
        np.testing.assert_array_equal(t.data, array)
    assert "raises on bad values" in str(compiled.program)


def test_an_index_select_in_a_step_compiles_and_checks_its_index():
    w = autograd.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)

    def step(index):
        w.grad = None
        loss = w.index_select(0, index).sum()
        loss.backward()
        with autograd.no_grad():
            w.data -= 0.5 * w.grad.data
        return loss

    compiled = autograd.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for rows in ([0, 1], [2, 2], [3, 0], [1, 3]):
            compiled(autograd.tensor(rows))
    assert compiled.program is not None
    with pytest.raises(IndexError, match="index_select"):
        compiled(autograd.tensor([0, 4]))


def test_chaingrad_train_lm_compile_equals_eager(tmp_path):
    """The second main job, compiled: every loss and every tensor of the checkpoint
    as eager, with dropout (replayed from the same generator) and the learning-rate
    schedule (set between steps, read by the optimizer's step)."""
    from autograd.cli import main

    runs = {}
    for flag in ("", "--compile"):
        out = tmp_path / (flag or "eager")
        args = ["train", "--task", "lm", "--steps", "12", "--eval-every", "6",
                "--d-model", "16", "--layers", "1", "--heads", "2", "--block-size", "16",
                "--batch-size", "4", "--dropout", "0.1", "--eval-batches", "2",
                "--no-progress", "--out", str(out)]
        with warnings.catch_warnings():
            warnings.simplefilter("error", CompileWarning)
            assert main(args + ([flag] if flag else [])) == 0
        runs[flag] = (json.loads((out / "metrics.json").read_text()),
                      np.load(out / "checkpoint.npz"))
    (eager, eager_ckpt), (ours, ours_ckpt) = runs[""], runs["--compile"]
    for key in ("train_loss", "val_loss", "lr"):
        assert ours["history"][key] == eager["history"][key]
    assert ours["sample"] == eager["sample"]
    assert sorted(ours_ckpt.files) == sorted(eager_ckpt.files)
    for name in eager_ckpt.files:
        if eager_ckpt[name].dtype.kind != "U":
            np.testing.assert_array_equal(ours_ckpt[name], eager_ckpt[name])


# --------------------------------------------------------------------------- devices
# compile traces numpy: on another device (here the strict test device, which
# refuses host conversions and numpy mixing as CuPy does) a step must run eagerly
# and say so, or fail as eager fails; never replay a CPU program on moved state.


def _sgd_mlp():
    """An nn MLP and its plain-SGD step (no optimizer state: the model can move
    between devices mid-run, as with torch)."""
    autograd.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 5))
    return model, _nn_step(model, optim.SGD(model.parameters(), lr=0.05))


def _moved_run(compiled: bool) -> tuple:
    """Five steps on the CPU, then the model and the batches on the strict device."""
    model, step = _sgd_mlp()
    run = autograd.compile(step) if compiled else step
    losses, caught = [], []
    for k, (x, y) in enumerate(batches(((8, 20), 5), 9)):
        if k == 5:
            model.to("strict")
        device = "cpu" if k < 5 else "strict"
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            losses.append(run(x.to(device), y.to(device)).item())
        caught += [str(r.message) for r in record if r.category is CompileWarning]
        if compiled and k == 4:
            assert run.program is not None  # replaying on the CPU before the move
    return losses, caught, run


def test_a_step_moved_to_another_device_runs_eagerly_and_says_so():
    try:
        eager = _moved_run(compiled=False)[0]
        gc.collect()  # its model, now on the device, is gone before the compiled run
        losses, caught, run = _moved_run(compiled=True)
        assert losses == eager
        assert len(caught) == 1, caught  # said once
        assert "traces numpy" in caught[0] and "strict:0" in caught[0]
        assert "StrictArray" in caught[0] and run.program is None
    finally:
        gc.collect()  # no device tensor outlives the test (compile scans live tensors)


def test_a_cpu_program_never_replays_on_state_moved_to_another_device():
    """Moving the model re-binds its arrays: the replay sees it and runs eagerly,
    which fails with PyTorch's mixed-device error on CPU inputs."""
    try:
        model, step = _sgd_mlp()
        compiled = autograd.compile(step)
        data = batches(((8, 20), 5), 5)
        for x, y in data[:4]:
            compiled(x, y)
        assert compiled.program is not None
        model.to("strict")
        x, y = data[4]
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            compiled(x, y)
    finally:
        del model, step, compiled
        gc.collect()


@pytest.mark.parametrize("task", ["digits", "lm"])
def test_chaingrad_train_compile_refuses_another_device(tmp_path, capsys, task):
    from autograd.cli import main

    out = tmp_path / "run"
    argv = ["train", "--task", task, "--device", "strict", "--compile", "--no-progress",
            "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--compile traces CPU (numpy) steps only" in err and err.count("\n") == 1
    assert not out.exists()
