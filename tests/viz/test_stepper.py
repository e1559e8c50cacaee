"""viz.BackwardStepper: one node of the same backward driver per step; its end
state is backward()'s, back() replays consistently, and it explains each step."""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd
from autograd import Scalar, viz
from autograd.ops.elementwise import Mul
from autograd.ops.scalar import RULES

FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def count_op_nodes(root) -> int:
    """Op nodes behind ``root`` that backward visits, counted without the engine."""
    seen, stack = set(), [root]
    while stack:
        value = stack.pop()
        node = value.grad_fn
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(v for v in node.inputs if v.requires_grad)
    return len(seen)


def same(a, b) -> bool:
    """Bitwise-equal gradients (nan equal to nan): both runs are the same code."""
    if a is None or b is None:
        return a is None and b is None
    a = np.asarray(getattr(a, "data", a))
    b = np.asarray(getattr(b, "data", b))
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


# --------------------------------------------------------------------------- Scalar


def test_neuron_steps(make_neuron):
    g = make_neuron()
    stepper = viz.BackwardStepper(g["o"])
    assert len(stepper) == 5 and not stepper.done and stepper.records == []
    first = stepper.step()
    assert first._fields[:5] == ("node", "op", "grad_output", "rule", "grad_inputs")
    assert first.index == 0 and first.op == "tanh" and first.node is g["o"].grad_fn
    assert first.grad_output == 1.0
    assert first.rule == RULES["tanh"][1]
    assert first.grad_inputs[0] == pytest.approx(0.5)
    assert first.inputs == (g["n"],)
    rest = stepper.run()
    assert [r.op for r in rest] == ["tanh", "add (+)", "add (+)", "mul (*)", "mul (*)"]
    assert stepper.done and stepper.step() is None
    x1_w1 = next(r for r in rest if r.inputs[0] is g["x1"])
    assert x1_w1.rule == RULES["mul"][1]
    assert x1_w1.grad_output == pytest.approx(0.5)
    assert x1_w1.grad_inputs == pytest.approx((-1.5, 1.0))  # (g·w1, g·x1)
    assert g["x1"].grad == pytest.approx(-1.5) and g["w2"].grad == 0.0


def test_neuron_end_state_equals_backward(make_neuron):
    stepped, reference = make_neuron(), make_neuron()
    viz.BackwardStepper(stepped["o"]).run()
    reference["o"].backward()
    for name in reference:  # leaves and, as Scalars keep them, intermediate grads
        assert stepped[name].grad == reference[name].grad, name


SCALAR_OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "tanh": lambda a, b: a.tanh(), "sigmoid": lambda a, b: a.sigmoid(),
    "relu": lambda a, b: a.relu(), "neg": lambda a, b: -a,
    "times_const": lambda a, b: 1.5 * a, "square": lambda a, b: a**2,
}


def run_scalar_program(values: list, program: list) -> tuple[list, Scalar]:
    """A random expression graph: each op takes earlier values (leaves or results)."""
    pool = [Scalar(v, label=f"x{i}") for i, v in enumerate(values)]
    for op, i, j in program:
        pool.append(SCALAR_OPS[op](pool[i % len(pool)], pool[j % len(pool)]))
    return pool, pool[-1]


scalar_programs = st.tuples(
    st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=4),
    st.lists(st.tuples(st.sampled_from(sorted(SCALAR_OPS)), st.integers(0, 50),
                       st.integers(0, 50)), min_size=1, max_size=12),
)


@FAST
@given(scalar_programs)
def test_random_scalar_graphs_end_like_backward(case):
    values, program = case
    stepped, root = run_scalar_program(values, program)
    reference, ref_root = run_scalar_program(values, program)
    stepper = viz.BackwardStepper(root)
    assert len(stepper) == count_op_nodes(root)
    records = list(stepper)
    assert len(records) == len(stepper) and stepper.done
    assert [r.index for r in records] == list(range(len(records)))
    ref_root.backward()
    for a, b in zip(stepped, reference):
        assert same(a.grad, b.grad)


# --------------------------------------------------------------------------- Tensor

SHAPES = [(), (3,), (1, 3), (2, 3), (2, 1)]
TENSOR_OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "tanh": lambda a, b: a.tanh(), "sigmoid": lambda a, b: a.sigmoid(),
    "relu": lambda a, b: a.relu(), "exp_tanh": lambda a, b: a.tanh().exp(),
    "square": lambda a, b: a**2, "mean": lambda a, b: a.mean(),
    "sum_last": lambda a, b: a.sum(dim=-1, keepdim=True) if a.ndim else a * 2.0,
    "div": lambda a, b: a / (b * b + 1.0),
}


def run_tensor_program(seed: int, shapes: list, program: list) -> tuple[list, object]:
    rng = np.random.default_rng(seed)
    pool = [autograd.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    leaves = list(pool)
    for op, i, j in program:
        pool.append(TENSOR_OPS[op](pool[i % len(pool)], pool[j % len(pool)]))
    return leaves, pool[-1].sum()


tensor_programs = st.tuples(
    st.integers(0, 2**16),
    st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3),
    st.lists(st.tuples(st.sampled_from(sorted(TENSOR_OPS)), st.integers(0, 50),
                       st.integers(0, 50)), min_size=0, max_size=10),
)


@FAST
@given(tensor_programs)
def test_random_tensor_graphs_end_like_backward(case):
    stepped, root = run_tensor_program(*case)
    reference, ref_root = run_tensor_program(*case)
    stepper = viz.BackwardStepper(root)
    n_ops = count_op_nodes(root)
    assert len(stepper) == n_ops
    assert len(stepper.run()) == n_ops
    ref_root.backward()
    for a, b in zip(stepped, reference):
        assert same(a.grad, b.grad)


def test_back_then_step_is_consistent(make_mlp_loss):
    model, _, loss = make_mlp_loss()
    params = model.parameters()
    stepper = viz.BackwardStepper(loss, retain_graph=True)
    grads_after = [[p.grad for p in params]]  # grads_after[k]: after k steps
    records = []
    while (record := stepper.step()) is not None:
        records.append(record)
        grads_after.append([p.grad for p in params])
    assert len(records) == len(stepper) == count_op_nodes(loss)
    for k in (len(records), 5, 1):
        stepper.goto(k)
        stepper.back()
        assert len(stepper.records) == k - 1 and not stepper.done
        assert all(same(a, b) for a, b in zip([p.grad for p in params], grads_after[k - 1]))
        again = stepper.step()
        old = records[k - 1]
        assert again.node is old.node and again.index == old.index == k - 1
        assert same(again.grad_output, old.grad_output)
        assert all(same(a, b) for a, b in zip(again.grad_inputs, old.grad_inputs))
        assert all(same(a, b) for a, b in zip([p.grad for p in params], grads_after[k]))
    stepper.reset()
    assert stepper.records == [] and all(p.grad is None for p in params)
    assert stepper.back() is None  # nothing to undo


def test_end_frees_the_graph_unless_retained(make_mlp_loss):
    _, _, loss = make_mlp_loss()
    stepper = viz.BackwardStepper(loss)
    stepper.run()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        stepper.back()
    assert "✓ step 0" in stepper.draw().source  # the picture survives the freeing
    with pytest.raises(RuntimeError, match="second time"):
        viz.BackwardStepper(loss)

    model, _, kept = make_mlp_loss(seed=1)
    stepper = viz.BackwardStepper(kept, retain_graph=True)
    stepper.run()
    stepper.back()
    stepper.run()
    first = [p.grad for p in model.parameters()]
    kept.backward()  # the graph is still there: a second backward doubles the grads
    for g, p in zip(first, model.parameters()):
        np.testing.assert_allclose(p.grad.data, 2 * g.data)


def test_stepping_starts_from_existing_grads():
    x = autograd.tensor([1.0, 2.0], requires_grad=True)
    x.grad = autograd.tensor([10.0, 10.0])
    stepper = viz.BackwardStepper((x * x).sum(), retain_graph=True)
    stepper.run()
    np.testing.assert_array_equal(x.grad.data, [12.0, 14.0])  # accumulated, as backward
    stepper.reset()
    np.testing.assert_array_equal(x.grad.data, [10.0, 10.0])


def test_non_scalar_loss_needs_gradient():
    x = autograd.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="implicitly"):
        viz.BackwardStepper(x * 3.0)
    viz.BackwardStepper(x * 3.0, gradient=autograd.tensor([1.0, -1.0])).run()
    np.testing.assert_array_equal(x.grad.data, [3.0, -3.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        viz.BackwardStepper(Scalar(1.0, requires_grad=False) * 2)
    with pytest.raises(TypeError):
        viz.BackwardStepper(3.0)


def test_rules_come_from_the_op(monkeypatch):
    a = autograd.tensor([1.0, 2.0], requires_grad=True)
    stepper = viz.BackwardStepper((a * a).sum())
    records = stepper.run()
    assert records[1].op == "mul"
    assert records[1].rule == "z = a * b. dz/da = b, dz/db = a"
    assert records[0].rule.startswith("z = Σ x over dim.")
    monkeypatch.setattr(Mul, "rule", "d(ab) = a db + b da")
    records = viz.BackwardStepper((a * a).sum()).run()
    assert records[1].rule == "d(ab) = a db + b da"


def test_multi_output_function():
    class SplitScale(autograd.Function):
        """(y1, y2) = (2x, 3x).   dx = 2·g1 + 3·g2"""

        @staticmethod
        def forward(ctx, x):
            return x * 2.0, x * 3.0

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2.0 + g2 * 3.0

    def build():
        x = autograd.tensor([1.0, -1.0], requires_grad=True)
        y1, y2 = SplitScale.apply(x)
        return x, (y1 * y2).sum()

    x, loss = build()
    stepper = viz.BackwardStepper(loss)
    records = stepper.run()
    split = next(r for r in records if r.op == "splitscale")
    assert split.rule == "(y1, y2) = (2x, 3x). dx = 2·g1 + 3·g2"
    assert isinstance(split.grad_output, list) and len(split.grad_output) == 2
    ref_x, ref_loss = build()
    ref_loss.backward()
    assert same(x.grad, ref_x.grad)
    source = stepper.draw().source
    assert source.count("✓ step") == len(records) - 1 and source.count("▶ step") == 1


def test_grad_inputs_match_torch():
    torch = pytest.importorskip("torch")
    a_np = np.array([[0.5, -1.0], [2.0, 0.1]])
    b_np = np.array([3.0, -2.0])
    a = autograd.tensor(a_np, requires_grad=True)
    b = autograd.tensor(b_np, requires_grad=True)
    records = viz.BackwardStepper((a.tanh() * b).sum()).run()
    assert [r.op for r in records] == ["sum", "mul", "tanh"]

    ta = torch.tensor(a_np, requires_grad=True)
    tb = torch.tensor(b_np, requires_grad=True)
    tt = ta.tanh()
    tp = tt * tb
    tt.retain_grad()
    tp.retain_grad()
    tp.sum().backward()
    np.testing.assert_allclose(records[0].grad_inputs[0].data, tp.grad.numpy())
    np.testing.assert_allclose(records[1].grad_inputs[0].data, tt.grad.numpy())
    np.testing.assert_allclose(records[1].grad_inputs[1].data, tb.grad.numpy())
    np.testing.assert_allclose(records[2].grad_inputs[0].data, ta.grad.numpy())
    np.testing.assert_allclose(a.grad.data, ta.grad.numpy())


# --------------------------------------------------------------------------- showing


def test_trace_text(make_neuron):
    g = make_neuron()
    stepper = viz.BackwardStepper(g["o"], retain_graph=True)
    assert str(stepper).splitlines() == ["BackwardStepper: 0 of 5 steps, loss 0.7071"]
    stepper.step()
    stepper.step()
    lines = str(stepper).splitlines()
    assert len(lines) == 3
    assert lines[1] == ("[0] tanh  grad_output 1  rule: d(tanh a)/da = 1 - tanh² a  "
                        "-> n: 0.5")
    assert lines[2].startswith("[1] add (+)  grad_output 0.5") and "b: 0.5" in lines[2]
    stepper.run()
    text = str(stepper)
    assert "(done)" in text and "x1: -1.5, w1: 1" in text
    assert repr(stepper) == "<BackwardStepper 5/5 steps>"


def test_draw_marks_visited_and_current(make_mlp_loss, dot_parser):
    _, x, loss = make_mlp_loss()
    stepper = viz.BackwardStepper(loss, names={x: "x"})
    nodes, _ = dot_parser(stepper.draw().source)
    assert not any("step" in a["label"] for a in nodes.values())
    stepper.step()
    stepper.step()
    nodes, _ = dot_parser(stepper.draw().source)
    visited = [a for a in nodes.values() if "✓ step 0" in a["label"]]
    current = [a for a in nodes.values() if "▶ step 1 (now)" in a["label"]]
    assert len(visited) == 1 and len(current) == 1
    assert current[0]["penwidth"] == "3" and "bold" in current[0]["style"]
    assert visited[0]["label"].startswith("mean")
    root = next(a for a in nodes.values() if a["label"].startswith("output"))
    assert "grad 1" in root["label"]  # the gradient a non-leaf received is shown
    assert any(a["label"].startswith("x · const") for a in nodes.values())


class _Slider:
    def __init__(self, value, min, max, description):
        self._value, self.min, self.max, self._observers = value, min, max, []

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, new):
        self._value = new
        for fn in self._observers:
            fn({"new": new})

    def observe(self, fn, names):
        self._observers.append(fn)


class _Button:
    def __init__(self, description):
        self.description, self._handlers = description, []

    def on_click(self, fn):
        self._handlers.append(fn)

    def click(self):
        for fn in self._handlers:
            fn(self)


class _Output:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def clear_output(self, wait=False):
        pass


def _box(children):
    return types.SimpleNamespace(children=children)


def test_show_widget_moves_the_stepper(make_neuron, monkeypatch):
    shown = []
    widgets = types.ModuleType("ipywidgets")
    widgets.IntSlider, widgets.Button, widgets.Output = _Slider, _Button, _Output
    widgets.HBox = widgets.VBox = _box
    ipython = types.ModuleType("IPython")
    display = types.ModuleType("IPython.display")
    display.display = shown.append
    ipython.display = display
    monkeypatch.setitem(sys.modules, "ipywidgets", widgets)
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)

    g = make_neuron()
    stepper = viz.BackwardStepper(g["o"], retain_graph=True)
    box = stepper.show()
    prev, slider, next_ = box.children[0].children
    assert slider.max == 5 and len(shown) == 1
    next_.click()
    next_.click()
    assert len(stepper.records) == 2 and "▶ step 1 (now)" in shown[-1].source
    slider.value = 5
    assert stepper.done and g["x1"].grad == pytest.approx(-1.5)
    prev.click()
    assert len(stepper.records) == 4 and g["x1"].grad == 0.0


def test_show_without_ipywidgets_says_what_to_install(make_neuron, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    stepper = viz.BackwardStepper(make_neuron()["o"])
    with pytest.raises(ImportError, match="pip install ipywidgets"):
        stepper.show()


def test_scalar_leaf_loss_has_no_steps():
    x = Scalar(2.0)
    stepper = viz.BackwardStepper(x)
    assert len(stepper) == 0 and stepper.step() is None and stepper.done
    assert x.grad == 1.0
    assert math.isclose(x.data, 2.0)
