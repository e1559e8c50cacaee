"""Graph semantics of the engine: accumulation, retain_graph, freeing, hooks,
grad mode, very deep graphs, memory, the backward driver and in-place checks."""

from __future__ import annotations

import gc
import sys
import threading
import tracemalloc
import weakref

import numpy as np
import pytest

import autograd
from autograd import Scalar, Tensor
from autograd.engine import Node, Step, iter_backward


def leaf(values, dtype=np.float64) -> Tensor:
    return autograd.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def ones_like_seed(t: Tensor) -> Tensor:
    return autograd.ones_like(t)


# --------------------------------------------------------------------------- accumulation


def test_grad_accumulates_across_two_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0, 6.0])
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [5.0, 7.0, 9.0])


def test_retain_graph_allows_second_backward_and_doubles_grads():
    x = leaf([1.0, -2.0])
    y = (x * x * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(first, 3 * np.array([1.0, 4.0]))
    np.testing.assert_allclose(x.grad.data, 2 * first)


def test_second_backward_without_retain_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_graph_is_freed_after_backward():
    x = leaf([1.0, 2.0])
    hidden = x * 2
    hidden_ref = weakref.ref(hidden)
    y = hidden.exp().sum()
    node = y.grad_fn
    del hidden
    assert hidden_ref() is not None, "the graph keeps its saved input alive before backward"
    y.backward()
    assert hidden_ref() is None, "backward must drop the saved intermediate tensor"
    assert node.inputs is None


def test_retain_graph_keeps_saved_tensors():
    x = leaf([1.0, 2.0])
    hidden = x * 2
    hidden_ref = weakref.ref(hidden)
    y = hidden.exp().sum()
    del hidden
    y.backward(retain_graph=True)
    assert hidden_ref() is not None


def test_diamond_graph_sums_both_paths():
    x = leaf([0.5, -1.0, 2.0])
    a = x * 2
    b = x.exp()
    y = (a * b).sum()
    y.backward()
    v = x.data
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(v) + 2 * v * np.exp(v))


def test_diamond_reused_intermediate_matches_torch():
    torch = pytest.importorskip("torch")
    values = [0.3, -0.7, 1.1]
    x = leaf(values)
    h = x.tanh()
    (h * h + h.sin() * h).sum().backward()
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    th = tx.tanh()
    (th * th + th.sin() * th).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- non-leaf grads


def test_non_leaf_grad_stays_none():
    x = leaf([1.0, 2.0])
    h = x * 3
    (h * h).sum().backward()
    assert h.grad is None
    assert not h.is_leaf and x.is_leaf
    assert x.grad is not None


def test_retain_grad_keeps_non_leaf_gradient():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    assert h.retains_grad
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    np.testing.assert_allclose(x.grad.data, 18 * x.data)


def test_retain_grad_values_match_torch_and_accumulate():
    torch = pytest.importorskip("torch")
    values = [[0.2, -0.4], [1.5, 0.9]]
    x = leaf(values)
    h = x @ x
    h.retain_grad()
    loss = (h.sigmoid() * h).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    th = tx @ tx
    th.retain_grad()
    tloss = (th.sigmoid() * th).sum()
    tloss.backward(retain_graph=True)
    tloss.backward()
    np.testing.assert_allclose(h.grad.data, th.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- hooks


def test_leaf_hook_called_once_with_total_gradient():
    x = leaf([1.0, 2.0])
    calls = []
    x.register_hook(lambda g: calls.append(g.data.copy()))
    (x * 2 + x * 3).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], [5.0, 5.0])


def test_non_leaf_hook_called_once_with_total_gradient():
    x = leaf([1.0, 2.0])
    h = x * 2
    calls = []
    h.register_hook(lambda g: calls.append(g.data.copy()))
    (h * h + h).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], 2 * h.data + 1)


def test_hook_return_value_replaces_gradient():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 10)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 20 * x.data)

    y = leaf([1.0, 2.0])
    h = y * 2
    h.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    # dL/dh = 2h, scaled by 10, then dh/dy = 2
    np.testing.assert_allclose(y.grad.data, 2 * 10 * 2 * h.data)


def test_hook_replacement_matches_torch():
    torch = pytest.importorskip("torch")
    values = [0.5, -1.5, 2.0]
    x = leaf(values)
    h = x.exp()
    h.register_hook(lambda g: g * g)
    (h * x).sum().backward()
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    th = tx.exp()
    th.register_hook(lambda g: g * g)
    (th * tx).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)


def test_hook_handle_remove():
    x = leaf([1.0, 2.0])
    calls = []
    handle = x.register_hook(lambda g: calls.append(1) or g * 100)
    handle.remove()
    (x * 2).sum().backward()
    assert calls == []
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])

    y = leaf([1.0])
    h = y * 3
    handle = h.register_hook(lambda g: calls.append(1) or g * 100)
    handle.remove()
    h.sum().backward()
    assert calls == []
    np.testing.assert_allclose(y.grad.data, [3.0])


def test_hook_runs_before_retain_grad_stores():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.retain_grad()
    h.register_hook(lambda g: g * 5)
    h.sum().backward()
    np.testing.assert_allclose(h.grad.data, [5.0, 5.0])
    np.testing.assert_allclose(x.grad.data, [10.0, 10.0])


# --------------------------------------------------------------------------- grad mode


def test_no_grad_context_records_nothing():
    x = leaf([1.0, 2.0])
    with autograd.no_grad():
        y = x * 2
        assert not autograd.is_grad_enabled()
    assert autograd.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad


def test_nested_grad_modes():
    x = leaf([1.0])
    with autograd.no_grad():
        with autograd.enable_grad():
            y = x * 2
            assert autograd.is_grad_enabled()
            with autograd.set_grad_enabled(False):
                z = x * 2
                assert not autograd.is_grad_enabled()
            assert autograd.is_grad_enabled()
        assert not autograd.is_grad_enabled()
        w = x * 2
    assert autograd.is_grad_enabled()
    assert y.requires_grad and not z.requires_grad and not w.requires_grad


def test_grad_modes_as_decorators():
    x = leaf([1.0])

    @autograd.no_grad()
    def without(t):
        return t * 2, autograd.is_grad_enabled()

    @autograd.enable_grad()
    def with_grad(t):
        return t * 2

    @autograd.set_grad_enabled(False)
    def set_off(t):
        return t * 2

    assert autograd.is_grad_enabled(), "a set_grad_enabled decorator must not leak the mode"
    y, mode = without(x)
    assert not y.requires_grad and mode is False
    with autograd.no_grad():
        assert with_grad(x).requires_grad
    assert not set_off(x).requires_grad
    assert autograd.is_grad_enabled()


def test_decorators_restore_mode_after_exception():
    @autograd.no_grad()
    def boom():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        boom()
    assert autograd.is_grad_enabled()


def test_set_grad_enabled_as_plain_call_sets_mode():
    try:
        autograd.set_grad_enabled(False)
        assert not autograd.is_grad_enabled()
        assert not (leaf([1.0]) * 2).requires_grad
        autograd.set_grad_enabled(True)
        assert autograd.is_grad_enabled()
    finally:
        autograd.set_grad_enabled(True)


def test_set_grad_enabled_context_restores_previous_mode():
    with autograd.no_grad():
        with autograd.set_grad_enabled(True):
            assert autograd.is_grad_enabled()
        assert not autograd.is_grad_enabled()
    assert autograd.is_grad_enabled()


def test_grad_mode_is_per_thread():
    x = leaf([1.0, 2.0])
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with autograd.no_grad():
            entered.set()
            checked.wait(10)
            seen["worker_mode"] = autograd.is_grad_enabled()
            seen["worker_records"] = (x * 2).requires_grad

    thread = threading.Thread(target=worker)
    thread.start()
    assert entered.wait(10)
    # the worker sits inside no_grad right now; this thread must still record
    main_mode = autograd.is_grad_enabled()
    main_records = (x * 2).requires_grad
    checked.set()
    thread.join(10)
    assert main_mode is True and main_records is True
    assert seen == {"worker_mode": False, "worker_records": False}


def test_new_thread_starts_with_grad_enabled():
    seen = []
    with autograd.no_grad():
        thread = threading.Thread(target=lambda: seen.append(autograd.is_grad_enabled()))
        thread.start()
        thread.join(10)
    assert seen == [True]


def test_concurrent_backward_on_one_graph_loses_no_update():
    """Threads running backward(retain_graph=True) on one shared graph each add their
    whole gradient to the leaf (PyTorch's guarantee). A tiny switch interval makes
    the interpreter swap threads often, so a lost update shows in every run."""
    n_threads, reps, trials = 4, 20, 30
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(trials):
            x = leaf([1.0, 2.0, 3.0])
            w = leaf([0.5, -1.0, 2.0])
            y = (x * w).sum()
            start = threading.Barrier(n_threads)

            def work(y=y, start=start):
                start.wait(10)
                for _ in range(reps):
                    y.backward(retain_graph=True)

            threads = [threading.Thread(target=work) for _ in range(n_threads)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            np.testing.assert_array_equal(x.grad.data, n_threads * reps * w.data)
            np.testing.assert_array_equal(w.grad.data, n_threads * reps * x.data)
    finally:
        sys.setswitchinterval(previous)


# --------------------------------------------------------------------------- deep graphs


def test_million_op_scalar_chain_backpropagates():
    a = Scalar(0.5)
    x = a
    for _ in range(1_000_000):
        x = x + 1e-6
    x.backward()
    assert a.grad == 1.0
    assert x.data == pytest.approx(1.5)


def test_deep_tensor_chain_backpropagates():
    # 10^5 nodes is 100x Python's recursion limit; 10^6 takes ~7 s, too slow for CI
    a = leaf([1.0, 2.0])
    x = a
    for _ in range(100_000):
        x = x + 1.0
    x.sum().backward()
    np.testing.assert_allclose(a.grad.data, [1.0, 1.0])
    np.testing.assert_allclose(x.data, [100_001.0, 100_002.0])


def test_million_op_chain_dropped_without_backward():
    a = Scalar(1.0)
    y = a * 1.0
    first = weakref.ref(y)  # the far end of the chain: alive only through it
    for _ in range(1_000_000):
        y = y * 1.0
    del y  # freeing a million linked nodes must not overflow the C stack
    assert first() is None
    b = a * 2
    b.backward()
    assert a.grad == 2.0


def test_deep_tensor_chain_dropped_without_backward():
    a = leaf([1.0])
    x = a * 1.0
    first = weakref.ref(x)
    for _ in range(100_000):
        x = x * 1.0
    del x
    assert first() is None


# --------------------------------------------------------------------------- memory


def _training_step(w: Tensor, b: Tensor, x: Tensor, target: Tensor) -> None:
    loss = (((x @ w + b).tanh() - target) ** 2).mean()
    loss.backward()
    with autograd.no_grad():
        w.sub_(0.01 * w.grad)
        b.sub_(0.01 * b.grad)
    w.grad = None
    b.grad = None


def test_memory_stays_flat_over_training_steps():
    autograd.manual_seed(0)
    w = autograd.randn(8, 4, requires_grad=True)
    b = autograd.zeros(4, requires_grad=True)
    x = autograd.randn(16, 8)
    target = autograd.randn(16, 4)
    for _ in range(50):  # warm caches before measuring
        _training_step(w, b, x, target)
    tracemalloc.start()
    try:
        for _ in range(1000):
            _training_step(w, b, x, target)
        current_1000, peak_1000 = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(1000):
            _training_step(w, b, x, target)
        current_2000, peak_2000 = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 1000 steps with a leak of even one small array per step would add > 100 KB
    assert current_2000 - current_1000 < 16 * 1024, (current_1000, current_2000)
    assert peak_2000 - peak_1000 < 16 * 1024, (peak_1000, peak_2000)


def _our_garbage(build) -> list:
    """Objects of chaingrad's classes that only the cycle collector could free."""
    gc.collect()
    gc.garbage.clear()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        build()
        gc.collect()
        ours = [type(o).__name__ for o in gc.garbage if isinstance(o, (Tensor, Scalar, Node))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return ours


def _tensor_graph(backward: bool) -> None:
    x = autograd.randn(3, 4, requires_grad=True)
    w = autograd.randn(4, 2, requires_grad=True)
    h = (x @ w).relu()
    h.retain_grad()
    h.register_hook(lambda g: g * 1.0)
    y = (h.exp() + h.sigmoid()).sum() + x[0].sum() + autograd.cat([x, x]).mean()
    if backward:
        y.backward()


def _scalar_graph(backward: bool) -> None:
    a, b = Scalar(2.0), Scalar(-1.0)
    y = (a * b + a.exp()).tanh() / (b ** 2 + 1)
    assert y.grad_fn.scalar is y  # the cached view of a Scalar's own node: no cycle
    if backward:
        y.backward()


class _Square(autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


def _function_graph(backward: bool) -> None:
    x = autograd.randn(3, requires_grad=True)
    y = _Square.apply(x).sum()
    if backward:
        y.backward()


@pytest.mark.parametrize("backward", [False, True], ids=["dropped", "after_backward"])
@pytest.mark.parametrize("build", [_tensor_graph, _scalar_graph,
                                   _function_graph],
                         ids=["tensor", "scalar", "function"])
def test_graph_makes_no_reference_cycles(build, backward):
    assert _our_garbage(lambda: build(backward)) == []


# --------------------------------------------------------------------------- backward driver


def _op_nodes(root) -> set:
    seen, stack = set(), [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(v.grad_fn for v in node.inputs if v.requires_grad)
    return seen


def _graph(values):
    x = leaf(values)
    w = leaf([[0.5, -1.0], [2.0, 0.25]])
    h = (x @ w).tanh()
    return x, w, (h * h + h.exp() * x).sum()


def test_iter_backward_yields_one_step_per_op_node():
    _, _, loss = _graph([[1.0, 2.0], [-0.5, 0.3]])
    nodes = _op_nodes(loss)
    steps = list(iter_backward([loss], [ones_like_seed(loss)]))
    assert all(isinstance(s, Step) for s in steps)
    assert len(steps) == len(nodes)
    assert {s.node for s in steps} == nodes
    assert steps[0].node is loss.grad_fn
    assert steps[0].grad_output.data == 1.0
    assert [len(s.grad_inputs) for s in steps].count(2) >= 3  # matmul, mul, add, ...


def test_iter_backward_step_by_step_matches_backward():
    values = [[1.0, 2.0], [-0.5, 0.3]]
    x1, w1, loss1 = _graph(values)
    loss1.backward()
    x2, w2, loss2 = _graph(values)
    n_nodes = len(_op_nodes(loss2))
    driver = iter_backward([loss2], [ones_like_seed(loss2)])
    count = 0
    while True:
        try:
            step = next(driver)
        except StopIteration:
            break
        count += 1
        assert isinstance(step, Step)
    assert count == n_nodes
    np.testing.assert_allclose(x2.grad.data, x1.grad.data, rtol=1e-15)
    np.testing.assert_allclose(w2.grad.data, w1.grad.data, rtol=1e-15)


def test_iter_backward_is_lazy():
    x, w, loss = _graph([[1.0, 2.0], [-0.5, 0.3]])
    driver = iter_backward([loss], [ones_like_seed(loss)])
    next(driver)
    assert x.grad is None and w.grad is None, "leaves get gradients only as steps run"


# --------------------------------------------------------------------------- in-place checks


def _mul_then_modify(modify) -> None:
    x = leaf([1.0, 2.0, 3.0])
    w = autograd.tensor([4.0, 5.0, 6.0], dtype=np.float64)
    y = (x * w).sum()  # Mul saves w to compute dy/dx = w
    with autograd.no_grad():
        modify(x, w)
    y.backward()
    return x


def _iadd(x, w):
    w += 1


INPLACE_CHANGES = {
    "add_": lambda x, w: w.add_(1),
    "setitem": lambda x, w: w.__setitem__(0, 5.0),
    "iadd": _iadd,
    "view_of_saved": lambda x, w: w[1:].mul_(2),
    "leaf_input": lambda x, w: x.zero_(),
}


@pytest.mark.parametrize("modify", INPLACE_CHANGES.values(), ids=INPLACE_CHANGES.keys())
def test_inplace_change_of_saved_tensor_raises(modify):
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _mul_then_modify(modify)


def test_inplace_change_of_base_of_saved_view_raises():
    base = autograd.tensor([1.0, 2.0, 3.0, 4.0])
    view = base[1:3]
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = (x * view).sum()
    base.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_inplace_change_of_saved_output_raises():
    x = leaf([1.0, 2.0])
    y = x.exp()  # d(exp x)/dx reuses the output
    loss = y.sum()
    with autograd.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_inplace_change_of_unrelated_tensor_is_fine():
    other = autograd.ones(3)
    x = _mul_then_modify(lambda x, w: other.add_(1))
    np.testing.assert_allclose(x.grad.data, [4.0, 5.0, 6.0])


def test_inplace_change_before_graph_is_built_is_fine():
    w = autograd.tensor([4.0, 5.0, 6.0], dtype=np.float64)
    w.add_(1)
    x = leaf([1.0, 2.0, 3.0])
    (x * w).sum().backward()
    np.testing.assert_allclose(x.grad.data, [5.0, 6.0, 7.0])
