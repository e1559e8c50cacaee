"""``Tensor.register_post_accumulate_grad_hook`` and ``engine.queue_callback``: the
two engine features ``DistributedDataParallel`` is built on, held to PyTorch's
semantics."""

from __future__ import annotations

import numpy as np
import pytest

import autograd
from autograd import viz
from autograd.engine import queue_callback

torch = pytest.importorskip("torch")


def leaf(values) -> autograd.Tensor:
    return autograd.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_hook_sees_the_accumulated_grad_and_matches_torch():
    """Called with the leaf itself, after ``.grad`` was updated, once per backward,
    after the ``register_hook`` hooks (whose replacement it sees)."""
    seen, seen_t = [], []
    x = leaf([1.0, 2.0, 3.0])
    x.register_hook(lambda g: g * 10)
    x.register_post_accumulate_grad_hook(lambda t: seen.append((t is x, t.grad.data.copy())))
    xt = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    xt.register_hook(lambda g: g * 10)
    xt.register_post_accumulate_grad_hook(
        lambda t: seen_t.append((t is xt, t.grad.detach().numpy().copy())))
    for _ in range(2):  # the second call sees the sum of both backward passes
        (x * x + x * 3).sum().backward()
        (xt * xt + xt * 3).sum().backward()
    assert [s[0] for s in seen] == [True, True] == [s[0] for s in seen_t]
    for (_, ours), (_, theirs) in zip(seen, seen_t):
        np.testing.assert_allclose(ours, theirs)
    np.testing.assert_allclose(seen[1][1], 2 * seen[0][1])


def test_hooks_run_in_registration_order_and_handles_remove():
    calls = []
    w = leaf([1.0])
    first = w.register_post_accumulate_grad_hook(lambda t: calls.append("first"))
    w.register_post_accumulate_grad_hook(lambda t: calls.append("second"))
    (w * 2).sum().backward()
    first.remove()
    (w * 2).sum().backward()
    assert calls == ["first", "second", "second"]


def test_hook_may_remove_itself_while_running():
    calls = []
    w = leaf([1.0])
    handle = None

    def once(t):
        calls.append(1)
        handle.remove()

    handle = w.register_post_accumulate_grad_hook(once)
    for _ in range(2):
        (w * 2).sum().backward()
    assert calls == [1]


def test_each_leaf_gets_its_hook_in_backward_order():
    """Leaves nearer the loss are ready first (what DDP's bucket order relies on)."""
    order = []
    w1, w2 = leaf([[1.0, 2.0]]), leaf([[3.0], [4.0]])
    for name, w in (("w1", w1), ("w2", w2)):
        w.register_post_accumulate_grad_hook(lambda t, name=name: order.append(name))
    x = autograd.ones(3, 1, dtype=autograd.float64)
    ((x @ w1).relu() @ w2).sum().backward()
    assert order == ["w2", "w1"]


def test_not_called_by_autograd_grad_which_accumulates_nothing():
    calls = []
    x = leaf([1.0, 2.0])
    x.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    autograd.grad((x * x).sum(), x)
    assert calls == [] and x.grad is None


def test_hook_errors_match_torch():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="cannot be registered on non-leaf tensors"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        autograd.ones(2).register_post_accumulate_grad_hook(lambda t: None)
    xt = torch.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot be registered on non-leaf tensors"):
        (xt * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_queue_callback_runs_once_after_every_leaf_got_its_grad():
    events = []
    w1, w2 = leaf([1.0, 2.0]), leaf([3.0])

    def hook(t):
        events.append("hook")
        if events.count("hook") == 1:
            queue_callback(lambda: events.append(("end", w1.grad is not None,
                                                  w2.grad is not None)))

    w1.register_post_accumulate_grad_hook(hook)
    w2.register_post_accumulate_grad_hook(hook)
    ((w1 * w2).sum() * 3).backward()
    assert events == ["hook", "hook", ("end", True, True)]


def test_queued_callback_may_queue_another_and_both_run_in_order():
    events = []
    w = leaf([1.0])

    def hook(t):
        queue_callback(lambda: (events.append(1), queue_callback(lambda: events.append(2))))

    w.register_post_accumulate_grad_hook(hook)
    (w * 2).sum().backward()
    assert events == [1, 2]


def test_queue_callback_outside_backward_raises():
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        queue_callback(lambda: None)


def test_callbacks_of_a_failed_backward_are_dropped():
    events = []
    w = leaf([1.0, 2.0])
    v = leaf([1.0])

    def queue_then_fail(t):
        queue_callback(lambda: events.append("ran"))
        raise ValueError("boom")

    w.register_post_accumulate_grad_hook(queue_then_fail)
    with pytest.raises(ValueError, match="boom"):
        (w * 2).sum().backward()
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        queue_callback(lambda: None)
    (v * 2).sum().backward()  # a later backward does not inherit the dropped callback
    assert events == []


def test_nested_backward_in_a_hook_keeps_its_own_callbacks():
    events = []
    w, u = leaf([1.0]), leaf([2.0])

    def inner_hook(t):
        queue_callback(lambda: events.append("inner end"))

    def outer_hook(t):
        queue_callback(lambda: events.append("outer end"))
        (u * 3).sum().backward()
        events.append("inner backward returned")

    u.register_post_accumulate_grad_hook(inner_hook)
    w.register_post_accumulate_grad_hook(outer_hook)
    (w * 2).sum().backward()
    assert events == ["inner end", "inner backward returned", "outer end"]


def test_stepper_runs_queued_callbacks_at_the_end_and_none_while_paused():
    events = []
    x = leaf([1.0, 2.0])
    x.register_post_accumulate_grad_hook(
        lambda t: queue_callback(lambda: events.append("end")))
    loss = (x.exp() * 2).sum()
    stepper = viz.BackwardStepper(loss)
    stepper.step()
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        queue_callback(lambda: None)  # a paused backward is not running
    stepper.run()
    assert events == ["end"]
