"""Scalar, the micrograd-style teaching unit: values and gradients against
torch in float64, micrograd's README example, the shared engine, hooks, errors."""

from __future__ import annotations

import gc
import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd import Scalar
from autograd.engine import Step, iter_backward

torch = pytest.importorskip("torch")

reals = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False)
positives = st.floats(min_value=0.1, max_value=3.0)
nonzero = reals.filter(lambda v: abs(v) > 0.1)
FAST = settings(max_examples=30, deadline=None)

# name -> (op on Scalars or torch tensors, strategy for a, strategy for b)
BINARY = {
    "add": (lambda a, b: a + b, reals, reals),
    "sub": (lambda a, b: a - b, reals, reals),
    "mul": (lambda a, b: a * b, reals, reals),
    "div": (lambda a, b: a / b, reals, nonzero),
    "pow": (lambda a, b: a**b, positives, reals),
    "chain": (lambda a, b: (a * b + a).tanh() * (b - a).sigmoid() / (1 + a * a), reals, reals),
}
UNARY = {
    "neg": (lambda a: -a, reals),
    "exp": (lambda a: a.exp(), reals),
    "log": (lambda a: a.log(), positives),
    "tanh": (lambda a: a.tanh(), reals),
    "relu": (lambda a: a.relu(), nonzero),
    "sigmoid": (lambda a: a.sigmoid(), reals),
    "pow_const": (lambda a: a**3, reals),
    "radd": (lambda a: 2.5 + a, reals),
    "rsub": (lambda a: 2.5 - a, reals),
    "rmul": (lambda a: 2.5 * a, reals),
    "rdiv": (lambda a: 2.5 / a, nonzero),
    "rpow": (lambda a: 2.5**a, reals),
}


def torch_value_and_grads(op, *values):
    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    out = op(*leaves)
    out.backward()
    return out.item(), [t.grad.item() if t.grad is not None else 0.0 for t in leaves]


@pytest.mark.parametrize("name", BINARY)
def test_binary_ops_match_torch(name):
    op, a_values, b_values = BINARY[name]

    @FAST
    @given(a_values, b_values)
    def check(a_value, b_value):
        a, b = Scalar(a_value), Scalar(b_value)
        out = op(a, b)
        out.backward()
        expected, (ga, gb) = torch_value_and_grads(op, a_value, b_value)
        assert out.data == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert a.grad == pytest.approx(ga, rel=1e-9, abs=1e-12)
        assert b.grad == pytest.approx(gb, rel=1e-9, abs=1e-12)

    check()


@pytest.mark.parametrize("name", UNARY)
def test_unary_and_reflected_ops_match_torch(name):
    op, values = UNARY[name]

    @FAST
    @given(values)
    def check(value):
        a = Scalar(value)
        out = op(a)
        out.backward()
        expected, (ga,) = torch_value_and_grads(op, value)
        assert out.data == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert a.grad == pytest.approx(ga, rel=1e-9, abs=1e-12)

    check()


def test_relu_gradient_at_zero_is_zero():
    a = Scalar(0.0)
    a.relu().backward()
    assert a.grad == 0.0


def test_sigmoid_is_stable_for_large_inputs():
    assert Scalar(-800.0).sigmoid().data == 0.0
    assert Scalar(800.0).sigmoid().data == 1.0


def micrograd_readme(make):
    """The example of micrograd's README, written once for any value class."""
    a = make(-4.0)
    b = make(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return a, b, g


def test_micrograd_readme_example():
    a, b, g = micrograd_readme(Scalar)
    g.backward()
    assert g.data == pytest.approx(24.7041, abs=1e-4)
    assert a.grad == pytest.approx(138.8338, abs=1e-4)
    assert b.grad == pytest.approx(645.5773, abs=1e-4)


def test_micrograd_readme_example_matches_micrograd_and_torch():
    engine = pytest.importorskip("micrograd.engine")
    ours = micrograd_readme(Scalar)
    ours[2].backward()
    theirs = micrograd_readme(engine.Value)
    theirs[2].backward()
    a, b, g = micrograd_readme(
        lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))
    g.backward()
    assert ours[2].data == pytest.approx(theirs[2].data, rel=1e-12)
    assert ours[2].data == pytest.approx(g.item(), rel=1e-12)
    for mine, micro, reference in zip(ours[:2], theirs[:2], (a, b)):
        assert mine.grad == pytest.approx(micro.grad, rel=1e-12)
        assert mine.grad == pytest.approx(reference.grad.item(), rel=1e-12)


def test_reused_value_gets_the_summed_gradient():
    a = Scalar(3.0)
    (a * a + a).backward()
    assert a.grad == 7.0


def test_retained_second_backward_doubles_leaf_grads_like_torch():
    # micrograd leaves gradients on intermediates, so its second pass gives 36 here
    x = Scalar(2.0)
    z = (x * x) * 3
    z.backward(retain_graph=True)
    z.backward(retain_graph=True)
    tx = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    tz = (tx * tx) * 3
    tz.backward(retain_graph=True)
    tz.backward()
    assert x.grad == tx.grad.item() == 24.0


def test_second_backward_without_retain_graph_raises():
    x = Scalar(2.0)
    y = x.exp() * x
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_constants_need_no_grad():
    c = Scalar(2.0, requires_grad=False)
    out = c * 3
    assert out.grad_fn is None and not out.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        out.backward()


# --------------------------------------------------------------------------- shared engine


def _count_nodes(root) -> int:
    seen, stack = set(), [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(v.grad_fn for v in node.inputs if v.requires_grad)
    return len(seen)


def test_scalar_runs_on_the_tensor_engine_driver():
    a, b, g = micrograd_readme(Scalar)
    n_nodes = _count_nodes(g)
    steps = list(iter_backward([g], [1.0]))
    assert len(steps) == n_nodes
    assert all(isinstance(s, Step) for s in steps)
    assert steps[0].node is g.grad_fn and steps[0].grad_output == 1.0
    assert a.grad == pytest.approx(138.8338, abs=1e-4)
    assert b.grad == pytest.approx(645.5773, abs=1e-4)


def test_stepping_the_driver_gives_the_same_grads_as_backward():
    a1, b1, g1 = micrograd_readme(Scalar)
    g1.backward()
    a2, b2, g2 = micrograd_readme(Scalar)
    driver = iter_backward([g2], [1.0])
    next(driver)
    assert a2.grad == 0.0, "leaves are reached only at the end"
    for _ in driver:
        pass
    assert (a2.grad, b2.grad) == (a1.grad, b1.grad)


def test_a_scalar_op_is_one_tracked_object():
    """A Scalar made by an op is its own graph node: one object the cyclic garbage
    collector tracks per op (a value plus a node would be two)."""
    a = Scalar(0.5)
    x = a * 1.0  # warm caches before counting
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        chain = [x]
        for _ in range(2000):
            chain.append(chain[-1] * 1.0001 + a)
        grown = len(gc.get_objects()) - before
    finally:
        gc.enable()
    # 4000 ops; the constants 1.0001 are Scalars too (2000 more); + the list's growth
    assert 6000 <= grown <= 6010, grown


def test_grad_fn_is_a_stable_view_of_the_scalar_itself():
    a, b = Scalar(2.0), Scalar(3.0)
    y = a * b
    node = y.grad_fn
    assert node is y.grad_fn and node.scalar is y and a.grad_fn is None
    assert node.inputs == (a, b) and node.local_grads == (3.0, 2.0)
    assert node.name() == "mul" and node.vjp(2.0) == (6.0, 4.0)
    assert y.is_leaf is False and a.is_leaf is True
    y.backward()
    assert node.inputs is None and node.local_grads is None  # freed by backward
    with pytest.raises(RuntimeError, match="freed"):
        node.vjp(1.0)


def test_paused_driver_refuses_a_second_pass_until_it_ends():
    """The gradient being summed lives on the Scalars, so a second pass through a
    graph whose first pass is paused must fail loudly, not mix the two sums."""
    x = Scalar(2.0)
    y = (x * x) * 3
    driver = iter_backward([y], [1.0], retain_graph=True)
    next(driver)
    with pytest.raises(RuntimeError, match="has not finished"):
        y.backward(retain_graph=True)
    for _ in driver:
        pass
    assert x.grad == 12.0
    y.backward()  # the first pass has ended: fine now
    assert x.grad == 24.0


def test_dropped_driver_releases_the_graph_for_other_passes():
    x = Scalar(2.0)
    y = x * x
    driver = iter_backward([y], [1.0], retain_graph=True)
    next(driver)
    del driver  # closing the generator ends its pass
    y.backward()
    assert x.grad == 4.0


def test_threads_through_one_scalar_graph_never_mix_their_sums():
    x = Scalar(1.5)
    y = x
    for _ in range(3000):
        y = y * 1.0 + x * 0.0
    outcomes = []

    def run():
        try:
            y.backward(retain_graph=True)
            outcomes.append("ok")
        except RuntimeError as err:
            assert "has not finished" in str(err)
            outcomes.append("refused")

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 4
    assert x.grad == outcomes.count("ok") * 1.0  # each pass that ran added exactly 1


# --------------------------------------------------------------------------- hooks


def test_hook_on_leaf_sees_the_total_gradient_once():
    a = Scalar(3.0)
    calls = []
    a.register_hook(calls.append)
    (a * a + 2 * a).backward()
    assert calls == [8.0]
    assert a.grad == 8.0


def test_hook_return_value_replaces_gradient():
    a, b = Scalar(3.0), Scalar(-1.0)
    a.register_hook(lambda g: g * 10)
    (a * b).backward()
    assert a.grad == -10.0 and b.grad == 3.0


def test_hook_on_non_leaf_is_refused():
    a = Scalar(1.0)
    with pytest.raises(RuntimeError, match="leaves"):
        (a * 2).register_hook(print)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("value", [0.0, -2.0])
def test_log_of_non_positive_raises(value):
    with pytest.raises(ValueError, match="log") as info:
        Scalar(value).log()
    assert str(value) in str(info.value)


def test_division_by_zero_raises():
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        Scalar(1.0) / 0
    with pytest.raises(ZeroDivisionError):
        1.0 / Scalar(0.0)


def test_invalid_powers_raise():
    with pytest.raises(ZeroDivisionError):
        Scalar(0.0) ** -1
    with pytest.raises(ValueError, match="not a real number"):
        Scalar(-8.0) ** 0.5


def test_non_numbers_are_refused():
    with pytest.raises(TypeError, match="real number"):
        Scalar("abc")
    assert Scalar(Scalar(2.5)).data == 2.5
    assert isinstance(Scalar(3).data, float)


def test_exp_overflow_gives_inf():
    assert math.isinf(Scalar(1000.0).exp().data)
