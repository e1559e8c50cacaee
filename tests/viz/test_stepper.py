"""viz.BackwardStepper: one node of the same backward driver per step; its end
state is backward()'s, back() replays consistently, and it explains each step."""

from __future__ import annotations

import html
import math
import re
import shutil
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd
from autograd import Scalar, viz
from autograd.ops.elementwise import Mul
from autograd.ops.scalar import RULES
from autograd.viz.widget import MAX_WIDTH_PT, frame, node_box, svg_size, window_size

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
    assert first.step == 1 and first.op == "tanh" and first.node is g["o"].grad_fn
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
    assert [r.step for r in records] == list(range(1, len(records) + 1))
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
        assert again.node is old.node and again.step == old.step == k
        assert same(again.grad_output, old.grad_output)
        assert all(same(a, b) for a, b in zip(again.grad_inputs, old.grad_inputs))
        assert all(same(a, b) for a, b in zip([p.grad for p in params], grads_after[k]))
    stepper.reset()
    assert stepper.records == [] and all(p.grad is None for p in params)
    assert stepper.back() is None  # nothing to undo


def test_end_frees_the_graph_but_the_stepper_can_step_back(make_mlp_loss):
    model, _, loss = make_mlp_loss()
    params = model.parameters()
    stepper = viz.BackwardStepper(loss)
    stepper.run()
    final = [p.grad for p in params]
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()  # freed, as backward() leaves it
    assert "✓ step 1" in stepper.draw().source  # the picture survives the freeing
    stepper.back()  # no retain_graph needed: the stepper kept what it needs
    assert len(stepper.records) == len(stepper) - 1 and not stepper.done
    stepper.goto(2)
    assert stepper.current.step == 2
    stepper.run()
    assert all(same(a, b) for a, b in zip(final, [p.grad for p in params]))
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()  # freed again at the end

    model, _, kept = make_mlp_loss(seed=1)
    stepper = viz.BackwardStepper(kept, retain_graph=True)
    stepper.run()
    stepper.back()
    stepper.run()
    first = [p.grad for p in model.parameters()]
    kept.backward()  # the graph is still there: a second backward doubles the grads
    for g, p in zip(first, model.parameters()):
        np.testing.assert_allclose(p.grad.data, 2 * g.data)


def test_scalar_graph_steps_back_after_the_end(make_neuron):
    g = make_neuron()
    stepper = viz.BackwardStepper(g["o"])
    stepper.run()
    assert g["o"].grad_fn.inputs is None  # freed, as by backward
    stepper.reset()
    assert g["x1"].grad == 0.0 and g["n"].grad == 0.0
    records = stepper.run()
    assert [r.step for r in records] == [1, 2, 3, 4, 5]
    assert g["x1"].grad == pytest.approx(-1.5)


@pytest.mark.parametrize("kind", ["scalar", "tensor"])
def test_stepper_after_backward_explains_to_a_learner(kind, make_neuron, make_mlp_loss):
    loss = make_neuron()["o"] if kind == "scalar" else make_mlp_loss()[2]
    loss.backward()
    with pytest.raises(RuntimeError) as info:
        viz.BackwardStepper(loss)
    message = str(info.value)
    assert "already run through this graph and freed it" in message
    assert "second time" not in message  # not the error for calling backward twice
    assert message.splitlines()[-1].strip() == "loss.backward(retain_graph=True)"


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
    assert lines[1] == ("step 1: tanh  grad_output 1  rule: d(tanh a)/da = 1 - tanh² a  "
                        "-> n: 0.5")
    assert lines[2].startswith("step 2: add (+)  grad_output 0.5") and "b: 0.5" in lines[2]
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
    visited = [a for a in nodes.values() if "✓ step 1" in a["label"]]
    current = [a for a in nodes.values() if "▶ step 2 (now)" in a["label"]]
    assert len(visited) == 1 and len(current) == 1
    assert current[0]["penwidth"] == "3" and "bold" in current[0]["style"]
    assert visited[0]["label"].startswith("mean")
    root = next(a for a in nodes.values() if a["label"].startswith("output"))
    assert "grad 1" in root["label"]  # the gradient a non-leaf received is shown
    assert any(a["label"].startswith("x · const") for a in nodes.values())


def widget_parts(box):
    """Prev, slider, Next, the status line and the picture of a stepper widget."""
    (prev, slider, next_), status, picture = box.children[0].children, *box.children[1:]
    return prev, slider, next_, status, picture


needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="the Graphviz `dot` binary is not installed (apt-get install graphviz)")


@needs_dot
def test_show_widget_follows_the_stepper(make_neuron):
    pytest.importorskip("ipywidgets")
    g = make_neuron()
    stepper = viz.BackwardStepper(g["o"], names=None)
    stepper.run()  # already run: show() starts from the beginning
    prev, slider, next_, status, picture = widget_parts(stepper.show())
    assert slider.value == 0 and slider.max == 5 and stepper.records == []
    assert prev.disabled and not next_.disabled
    assert "Before step 1 of 5" in status.value and 'class="node root"' in picture.value
    sizes = set()
    for k in range(1, 6):
        next_.click()
        assert slider.value == k == len(stepper.records) == stepper.current.step
        assert f"Step {k} of 5" in status.value  # the same number everywhere
        assert f"▶ step {k} (now)" in picture.value
        assert picture.value.count("(now)") == 1
        sizes.add(re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+ [\d.]+)"',
                            picture.value).group(1))
    assert len(sizes) == 1  # the picture keeps its size: nothing jumps
    assert stepper.done and next_.disabled and "✓ Done" in status.value
    assert "x1 = -1.5" in status.value and "w1 = 1" in status.value  # the leaves' grads
    next_.click()
    assert slider.value == 5  # Next at the end stays at the end
    prev.click()  # no retain_graph asked for: stepping back still works
    assert slider.value == 4 and not stepper.done and "Step 4 of 5" in status.value
    assert g["x1"].grad == 0.0 and "Error" not in status.value
    slider.value = 0
    assert stepper.records == [] and g["w1"].grad == 0.0


@needs_dot
def test_show_lays_a_wide_graph_out_top_to_bottom(make_neuron):
    pytest.importorskip("ipywidgets")
    stepper = viz.BackwardStepper(make_neuron()["o"])
    stepper.run()
    width, height = svg_size(stepper.draw(rankdir="LR").pipe(format="svg").decode())
    assert width > height  # the neuron drawn left to right is wide...
    tall = window_size(stepper.draw(rankdir="TB").pipe(format="svg").decode())

    def window(box) -> tuple:
        found = re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"',
                          widget_parts(box)[4].value)
        return tuple(float(v) for v in found.groups())

    assert window(stepper.show()) == pytest.approx(tall, abs=0.01)  # ...so: top to bottom
    # draw options pass through: left to right, compact
    box = stepper.show(rankdir="LR", style="compact")
    assert window(box)[0] == pytest.approx(min(width, MAX_WIDTH_PT), rel=0.2)
    assert "w1 | data -3 | grad" in html.unescape(widget_parts(box)[4].value)


@needs_dot
def test_frame_keeps_the_current_node_in_the_window(make_mlp_loss):
    _, x, loss = make_mlp_loss()
    stepper = viz.BackwardStepper(loss, names={x: "x"})
    stepper.run()
    final = stepper.draw(rankdir="TB").pipe(format="svg").decode()
    window = window_size(final)
    assert svg_size(final)[1] > window[1]  # taller than the window: it must follow
    for k in range(1, len(stepper) + 1):
        stepper.goto(k)
        svg = stepper.draw(rankdir="TB").pipe(format="svg").decode()
        framed = frame(svg, window, "current")
        x0, y0, w, h = (float(v) for v in re.search(
            r'viewBox="([-\d.]+) ([-\d.]+) ([\d.]+) ([\d.]+)"', framed).groups())
        assert (w, h) == pytest.approx(window, abs=0.01)
        left, top, right, bottom = node_box(svg, "current")
        assert x0 <= left and right <= x0 + w and y0 <= top and bottom <= y0 + h, k


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


@needs_dot
def test_show_a_leaf_loss():
    pytest.importorskip("ipywidgets")
    prev, slider, next_, status, picture = widget_parts(viz.BackwardStepper(Scalar(2.0)).show())
    assert slider.max == 0 and prev.disabled and next_.disabled
    assert "Nothing to step through" in status.value and "<svg" in picture.value
