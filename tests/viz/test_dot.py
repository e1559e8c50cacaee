"""viz.to_dot / viz.draw: exact structure of small graphs, labels, styles that do
not rely on color, module clusters, the node limit, and huge graphs."""

from __future__ import annotations

import base64
import shutil
import time

import numpy as np
import pytest

import autograd
from autograd import Scalar, viz
from autograd.viz.dot import STYLES

graphviz = pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="the Graphviz `dot` binary is not installed (apt-get install graphviz)",
)


def ops_and_values(nodes: dict) -> tuple[list, list]:
    ops = [n for n, a in nodes.items() if a["shape"] == "ellipse"]
    values = [n for n, a in nodes.items() if a["shape"] == "box"]
    return ops, values


def by_first_line(nodes: dict) -> dict:
    return {a["label"].split("\n")[0]: a for a in nodes.values()}


# --------------------------------------------------------------------------- structure


def test_neuron_structure_and_labels(make_neuron, dot_parser):
    g = make_neuron()
    g["o"].backward(retain_graph=True)
    nodes, edges = dot_parser(viz.to_dot(g["o"]))
    ops, values = ops_and_values(nodes)
    assert len(values) == 10  # x1 w1 x2 w2 b, x1*w1, x2*w2, their sum, n, o
    assert len(ops) == 5  # mul mul add add tanh
    assert len(edges) == 14  # 9 inputs into ops + 5 ops into their outputs
    boxes = by_first_line(nodes)
    assert "data 0.7071" in boxes["o · output"]["label"]
    assert "grad 1" in boxes["o · output"]["label"]
    assert "grad -1.5" in boxes["x1 · param"]["label"]
    assert "grad 1" in boxes["w1 · param"]["label"]
    assert "data 6.881" in boxes["b · param"]["label"]
    assert "data 0.8814\ngrad 0.5" in boxes["n"]["label"]
    titles = sorted(nodes[n]["label"].split("\n")[0] for n in ops)
    assert titles == ["add (+)", "add (+)", "mul (*)", "mul (*)", "tanh"]
    # every edge runs the way data flows: value -> op -> value
    for a, b in edges:
        assert (a in ops) != (b in ops)
    into_tanh = [a for a, b in edges if nodes[b]["label"].startswith("tanh")]
    assert [nodes[a]["label"].split("\n")[0] for a in into_tanh] == ["n"]


def test_show_grad_false_and_rankdir(make_neuron):
    o = make_neuron()["o"]
    text = viz.to_dot(o, show_grad=False, rankdir="TB")
    assert "\\ngrad " not in text and "data 0.7071" in text
    assert "grad " in viz.to_dot(o)
    assert 'rankdir="TB"' in text


def test_reused_value_gets_two_edges(dot_parser):
    a = Scalar(3.0, label="a")
    nodes, edges = dot_parser(viz.to_dot(a * a))
    assert len(nodes) == 3
    assert edges.count(("n0", "n1")) == 2


def test_tensor_labels_names_shapes_data_summary_attrs(dot_parser):
    small = autograd.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    big = autograd.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    out = (big.sum(dim=1, keepdim=True) * 2.0).sum() + small.exp().mean()
    out.backward(retain_graph=True)
    nodes, _ = dot_parser(viz.to_dot(out, names={small: "small", big: "big"}))
    boxes = by_first_line(nodes)
    s = boxes["small · param"]["label"]
    assert "(2, 2) float32" in s
    assert "data [[1, 2], [3, 4]]" in s  # small tensors in full
    assert "grad [[0.6796, 1.847], [5.021, 13.65]]" in s  # exp(x) / 4
    b = boxes["big · param"]["label"]
    assert "(3, 4) float64" in b
    assert "data min 0  mean 5.5  max 11" in b  # large ones summarised
    assert "grad all 2" in b
    assert "data 2" in boxes["const"]["label"]
    sum_ops = [a["label"] for a in nodes.values() if a["label"].startswith("sum")]
    assert "sum\nz = Σ x over dim\ndim=(1,)\nkeepdim=True" in sum_ops
    assert nodes[next(iter(nodes))]["shape"] == "box"


def edge_label(nodes: dict, edges: list, source: str, op_title: str) -> list[str]:
    """The labels of the edges from the value titled ``source`` into ops titled ``op_title``."""
    return [attrs.get("label") for a, b, attrs in edges
            if nodes[a]["label"].split("\n")[0] == source
            and nodes[b]["label"].split("\n")[0] == op_title]


def test_scalar_edges_carry_each_inputs_local_derivative(make_neuron, dot_parser):
    nodes, edges = dot_parser(viz.to_dot(make_neuron()["o"]), edge_attrs=True)
    # x1*w1: d/dx1 = w1 = -3, d/dw1 = x1 = 2; tanh: 1 - tanh²(0.8814) = 0.5
    assert edge_label(nodes, edges, "x1 · param", "mul (*)") == ["local -3"]
    assert edge_label(nodes, edges, "w1 · param", "mul (*)") == ["local 2"]
    assert edge_label(nodes, edges, "n", "tanh") == ["local 0.5"]
    assert edge_label(nodes, edges, "b · param", "add (+)") == ["local 1"]
    # edges out of an op (op -> its value) carry nothing
    assert all(not attrs for a, b, attrs in edges if nodes[a]["shape"] == "ellipse")
    assert not any("local" in a["label"] for a in nodes.values())  # not on the ovals


def test_tensor_edges_carry_each_inputs_derivative_formula(dot_parser):
    a = autograd.tensor([1.0, 2.0], requires_grad=True)
    b = autograd.tensor([3.0, 4.0], requires_grad=True)
    w = autograd.ones(2, 2, requires_grad=True)
    out = ((a * b) @ w).relu().sum()
    nodes, edges = dot_parser(viz.to_dot(out, names={"a": a, "b": b, "w": w}),
                              edge_attrs=True)
    assert edge_label(nodes, edges, "a · param", "mul") == ["dz/da = b"]
    assert edge_label(nodes, edges, "b · param", "mul") == ["dz/db = a"]
    assert edge_label(nodes, edges, "w · param", "mm") == ["dZ/dB · G = Aᵀ @ G"]  # no aside
    relu = next(a for a in nodes.values() if a["label"].startswith("relu"))
    assert relu["label"].startswith("relu\nz = max(a, 0)")  # the formula names the input
    mul = next(a for a in nodes.values() if a["label"].startswith("mul"))
    assert mul["label"] == "mul\nz = a * b"


def test_a_value_used_several_times_shows_how_its_gradient_was_summed(dot_parser):
    x = Scalar(3.0, label="x")
    f = x * x + x
    assert "grad 0" in viz.to_dot(f) and " = " not in viz.to_dot(f).split("grad")[1][:12]
    f.backward(retain_graph=True)
    boxes = by_first_line(dot_parser(viz.to_dot(f))[0])
    assert boxes["x · param"]["label"] == "x · param\ndata 3\ngrad 7 = 3 + 3 + 1"
    assert boxes["output"]["label"].endswith("grad 1")  # used once: no sum
    f.backward(retain_graph=True)  # every Scalar accumulates: the sum still holds
    boxes = by_first_line(dot_parser(viz.to_dot(f))[0])
    assert boxes["x · param"]["label"].endswith("\ngrad 14 = 6 + 6 + 2")
    x.zero_grad()  # the parts no longer add up to x's grad: no sum is claimed
    boxes = by_first_line(dot_parser(viz.to_dot(f))[0])
    assert boxes["x · param"]["label"].endswith("\ngrad 0")
    assert "grad 7 = " not in viz.to_dot(f, style="compact")


def test_stepper_shows_the_sum_as_it_builds(dot_parser):
    x = autograd.tensor([3.0], requires_grad=True)
    loss = (x * x + x).sum()
    stepper = viz.BackwardStepper(loss, names={x: "x"})

    def x_label() -> str:
        return by_first_line(dot_parser(stepper.draw().source)[0])["x · param"]["label"]

    stepper.goto(2)  # sum, then add: x got 1 from its use in add
    assert x_label().endswith("\ngrad [1]")
    stepper.run()  # mul hands it 3 and 3
    assert x_label().endswith("\ngrad [7] = [1] + [3] + [3]")
    np.testing.assert_array_equal(x.grad.data, [7.0])

    m = autograd.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    stepper = viz.BackwardStepper((m * m + m).sum(), names={m: "m"})
    stepper.run()
    label = by_first_line(dot_parser(stepper.draw().source)[0])["m · param"]["label"]
    assert label.endswith("grad min 1  mean 12  max 23\n  = the sum over its 3 uses")


def test_style_compact_is_one_line_per_value_and_chosen_for_large_graphs(dot_parser):
    small = chain(5)
    nodes, edges = dot_parser(viz.to_dot(small, style="compact"), edge_attrs=True)
    assert all("\n" not in a["label"] for a in nodes.values())
    assert "x | data 0.5 | grad 0" in [a["label"] for a in nodes.values()]
    assert not any(attrs for *_, attrs in edges)  # no edge labels either
    assert "\n" in viz.to_dot(small)  # small graphs: full by default
    big = chain(40)  # 81 boxes and ovals: compact by default
    nodes, _ = dot_parser(viz.to_dot(big))
    assert all("\n" not in a["label"] for a in nodes.values())
    nodes, _ = dot_parser(viz.to_dot(big, style="full"))
    assert any("\n" in a["label"] for a in nodes.values())
    with pytest.raises(ValueError, match="style must be one of"):
        viz.to_dot(small, style="tiny")
    t = autograd.randn(8, 16, requires_grad=True)
    nodes, _ = dot_parser(viz.to_dot((t * 2).sum(), names={t: "t"}, style="compact"))
    line = by_first_line(nodes)["t | (8, 16) | data mean " + summarize_mean(t)]["label"]
    assert "|" in line


def summarize_mean(t) -> str:
    return f"{float(t.data.mean()):.4g}"


@needs_dot
def test_notebook_display_has_a_png_beside_the_svg(make_neuron):
    bundle = viz.draw(make_neuron()["o"])._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "image/png" not in viz.draw(make_neuron()["o"])._repr_mimebundle_(
        exclude=["image/png"])


def test_names_accepts_name_to_tensor_mapping(dot_parser):
    w = autograd.ones(3, requires_grad=True)
    nodes, _ = dot_parser(viz.to_dot((w * 2).sum(), names={"w": w}))
    assert "w · param" in by_first_line(nodes)


def test_kinds_differ_without_color(dot_parser):
    """param, const, output, intermediate and op look different in shape or border
    and say what they are in words; color only repeats it."""
    shapes = {
        kind: tuple((k, v) for k, v in sorted(style.items()) if k != "fillcolor")
        for kind, style in STYLES.items() if kind in ("param", "const", "output", "", "op")
    }
    assert len(set(shapes.values())) == len(shapes)
    c = Scalar(2.0, label="c", requires_grad=False)
    x = Scalar(1.0, label="x")
    nodes, _ = dot_parser(viz.to_dot(c * x))
    boxes = by_first_line(nodes)
    assert "dashed" in boxes["c · const"]["style"]
    assert boxes["x · param"]["peripheries"] == "2"
    assert "bold" in boxes["output"]["style"]


def test_user_function_and_freed_graph(dot_parser):
    class Cube(autograd.Function):
        """z = x³.   dz/dx = 3x²"""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x**2

    x = autograd.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x).sum()
    nodes, _ = dot_parser(viz.to_dot(y))
    assert "cube" in [a["label"].split("\n")[0] for a in nodes.values()]
    y.backward()  # frees the graph: the picture stops at the freed node and says why
    nodes, edges = dot_parser(viz.to_dot(y))
    assert len(nodes) == 2 and len(edges) == 1
    assert any("retain_graph=True" in a["label"] for a in nodes.values())


def test_reading_never_changes_the_graph(make_neuron):
    g = make_neuron()
    node = g["o"].grad_fn
    inputs_before = node.inputs
    first = viz.to_dot(g["o"])
    assert viz.to_dot(g["o"]) == first
    assert len(node.inputs) == len(inputs_before)
    assert all(a is b for a, b in zip(node.inputs, inputs_before))
    assert all(v.grad == 0.0 for k, v in g.items())
    g["o"].backward()
    assert g["x1"].grad == pytest.approx(-1.5)


def test_bad_root():
    with pytest.raises(TypeError, match="Tensor or a Scalar"):
        viz.to_dot([1.0, 2.0])


# --------------------------------------------------------------------------- Digraph


def test_draw_is_a_digraph_with_the_same_statements(make_neuron, dot_parser):
    o = make_neuron()["o"]
    graph = viz.draw(o)
    assert isinstance(graph, graphviz.Digraph)
    drawn_nodes, drawn_edges = dot_parser(graph.source)
    text_nodes, text_edges = dot_parser(viz.to_dot(o))
    assert drawn_edges == text_edges
    assert drawn_nodes.keys() == text_nodes.keys()
    for name in text_nodes:
        assert drawn_nodes[name]["label"] == text_nodes[name]["label"]


@needs_dot
def test_draw_renders_svg_and_matches_to_dot_layout(make_neuron):
    g = make_neuron()
    g["x1"].label = 'quote " and back\\slash'  # escaping must survive both writers
    o = g["o"]
    svg = viz.draw(o).pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "tanh" in svg and "back\\slash" in svg
    plain_drawn = viz.draw(o).pipe(format="plain")
    plain_text = graphviz.Source(viz.to_dot(o)).pipe(format="plain")
    assert plain_drawn == plain_text


@needs_dot
def test_mlp_renders_with_clusters(make_mlp_loss):
    model, _, loss = make_mlp_loss()
    svg = viz.draw(loss, modules=model).pipe(format="svg").decode()
    assert "layers.0 (Linear)" in svg


def test_draw_mlp_is_fast(make_mlp_loss):
    model, x, loss = make_mlp_loss()
    start = time.perf_counter()
    graph = viz.draw(loss, modules=model, names={x: "x"})
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, f"draw took {elapsed:.3f} s"
    assert "layers.2.bias" in graph.source


# --------------------------------------------------------------------------- modules


def test_modules_group_ops_into_clusters(make_mlp_loss, dot_parser):
    model, x, loss = make_mlp_loss()
    nodes, _ = dot_parser(viz.to_dot(loss, modules=model, names={x: "x"}))
    clusters = {a["cluster"] for a in nodes.values()} - {None}
    assert clusters == {"cluster_layers_0", "cluster_layers_1", "cluster_layers_2"}
    inside = {}
    for a in nodes.values():
        inside.setdefault(a["cluster"], []).append(a["label"].split("\n")[0])
    # the layer's parameters (by dotted name), x @ W.T + b, and the layer's output
    assert sorted(inside["cluster_layers_0"]) == sorted(
        ["layers.0.weight · param", "layers.0.bias · param", "permute", "mm", "add",
         "(4, 8) float64", "(16, 8) float64", "(16, 8) float64"])
    outside = inside[None]
    assert outside.count("relu") == 2 and "x · const" in outside and "pow" in outside
    text = viz.to_dot(loss, modules=model)
    assert 'label="layers.1 (Linear)"' in text


def test_collapse_draws_each_module_as_one_box(make_mlp_loss, dot_parser):
    model, _, loss = make_mlp_loss()
    nodes, edges = dot_parser(viz.to_dot(loss, modules=model, collapse=True))
    boxes = [a for a in nodes.values() if a["shape"] == "box3d"]
    assert [b["label"].split("\n")[0] for b in boxes] == [
        "layers.0 (Linear)", "layers.1 (Linear)", "layers.2 (Linear)"]
    assert "3 ops: permute, mm, add" in boxes[0]["label"]
    assert "weight (8, 4)" in boxes[0]["label"] and "bias (8,)" in boxes[0]["label"]
    assert all(a["cluster"] is None for a in nodes.values())
    assert len(edges) == len(set(edges))
    full, _ = dot_parser(viz.to_dot(loss))
    assert len(nodes) == len(full) - 3 * 8 + 3  # 8 boxes and ovals per layer become 1
    m0 = next(n for n, a in nodes.items() if a["label"].startswith("layers.0"))
    relu = [b for a, b in edges if a == m0]
    assert len(relu) == 1 and nodes[relu[0]]["label"].startswith("relu")


def test_collapse_needs_modules(make_neuron):
    with pytest.raises(ValueError, match="modules="):
        viz.to_dot(make_neuron()["o"], collapse=True)


def test_modules_must_look_like_a_model(make_neuron):
    with pytest.raises(TypeError, match="named_modules"):
        viz.to_dot(make_neuron()["o"], modules=object())


# --------------------------------------------------------------------------- size


def chain(n_ops: int) -> Scalar:
    x = Scalar(0.5, label="x")
    for _ in range(n_ops):
        x = x.tanh()
    return x


def test_node_limit_says_how_to_raise_it():
    root = chain(300)  # 601 boxes and ovals
    with pytest.raises(ValueError, match=r"max_nodes=500") as info:
        viz.to_dot(root)
    assert "max_nodes=None" in str(info.value) and "collapse=True" in str(info.value)
    with pytest.raises(ValueError, match="max_nodes=100"):
        viz.draw(root, max_nodes=100)
    assert viz.to_dot(root, max_nodes=601).count("->") == 600


def test_collapse_brings_a_big_model_under_the_limit(make_mlp_loss):
    model, _, loss = make_mlp_loss()
    with pytest.raises(ValueError):
        viz.to_dot(loss, modules=model, max_nodes=30)
    viz.to_dot(loss, modules=model, collapse=True, max_nodes=30)


def test_hundred_thousand_node_chain_does_not_crash():
    root = chain(50_000)  # 50,001 values + 50,000 ops
    text = viz.to_dot(root, max_nodes=None)
    assert text.count("->") == 100_000
    assert text.count("tanh") == 50_000


def test_op_attributes_of_a_conv_window(dot_parser):
    F = pytest.importorskip("nn.functional")
    x = autograd.randn(1, 1, 5, 5)
    w = autograd.randn(2, 1, 3, 3, requires_grad=True)
    nodes, _ = dot_parser(viz.to_dot(F.conv2d(x, w, stride=2, padding=1).sum()))
    conv = next(a["label"] for a in nodes.values() if a["shape"] == "ellipse"
                and "kernel" in a["label"])
    assert "kernel=(3, 3)" in conv and "stride=(2, 2)" in conv
    assert "padding=(1, 1, 1, 1)" in conv
