"""Pictures of the graph: DOT text (no Graphviz needed) and a ``graphviz.Digraph``.

Both are written from one description, a :class:`Picture`, so they never
disagree. Boxes are values, ovals are ops, arrows run the way data flows
(inputs -> op -> output). Kinds of values differ by border and by a word in the
box, never by color alone: ``param`` (a leaf that requires grad) has a double
bold border, ``const`` a dashed one, ``output`` a thick rounded one.
"""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

from .labels import (
    compact_line,
    edge_labels,
    local_grads,
    namer,
    op_lines,
    op_title,
    value_kind,
    value_lines,
)
from .modules import cluster_id, group_by_module
from .walk import GraphWalk, too_many

# Fill colors are light tints of the Okabe-Ito palette (readable with every kind
# of color blindness); the border style and the text say the same thing.
STYLES = {
    "param": {"shape": "box", "style": "filled,bold", "peripheries": "2",
              "fillcolor": "#cce5f6"},
    "const": {"shape": "box", "style": "filled,dashed", "fillcolor": "#eeeeee"},
    "output": {"shape": "box", "style": "filled,rounded,bold", "penwidth": "2",
               "fillcolor": "#fde2c0"},
    "": {"shape": "box", "style": "rounded"},
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#f2f2f2"},
    "freed": {"shape": "ellipse", "style": "dotted"},
    "module": {"shape": "box3d", "style": "filled", "fillcolor": "#e3dcef"},
    "visited": {"style": "filled,bold", "fillcolor": "#d9d9d9"},
    "current": {"style": "filled,bold", "penwidth": "3", "fillcolor": "#ffd966"},
}
CLUSTER_STYLE = {"style": "rounded,dashed"}
EDGE_LABEL = {"fontsize": "11", "fontcolor": "#444444", "decorate": "true"}


#: above this many boxes and ovals, style="auto" draws the compact style
COMPACT_ABOVE = 60
STYLE_CHOICES = ("auto", "full", "compact")


class Highlight(NamedTuple):
    """What a stepper marks, by walk position: the step number of each visited op
    (from 1), the current op, the gradient each value received so far (values that
    keep no ``.grad`` included), and what each use of a value handed it."""

    visited: dict[int, int]
    current: int | None
    grads: dict[int, Any]
    parts: dict[int, list]


class Texts(NamedTuple):
    """The parts of a picture that read an op's saved state (formula, attributes,
    local derivatives): computed once, so a stepper can still draw them after the
    end of backward freed that state."""

    op_lines: dict[int, list[str]]
    edge_labels: list[str | None]  # one per walk edge
    freed: set[int]  # ops whose inputs backward had freed before the walk


class Picture:
    """Nodes (id, attributes, cluster or None), clusters and edges (from, to,
    attributes) of one drawing."""

    __slots__ = ("graph_attrs", "clusters", "nodes", "edges")

    def __init__(self, rankdir: str) -> None:
        self.graph_attrs = {"rankdir": rankdir}
        self.clusters: dict[str, dict[str, str]] = {}
        self.nodes: list[tuple[str, dict[str, str], str | None]] = []
        self.edges: list[tuple[str, str, dict[str, str]]] = []


def texts(walk: GraphWalk, compact: bool = False) -> Texts:
    """The :class:`Texts` of a walked graph, read while its ops are intact
    (``compact``: only what the compact style shows, the op names)."""
    op_text = {}
    edge_text: list[str | None] = []
    freed = set()
    for i, item in enumerate(walk.items):
        if walk.is_op(i):
            if item.inputs is None and not walk.predecessors[i]:
                freed.add(i)
            if compact:
                op_text[i] = [op_title(item)]
                continue
            op_text[i] = op_lines(item, i in freed)
            if i not in freed:
                edge_text += edge_labels(item)
        elif not compact:
            edge_text += [None] * len(walk.predecessors[i])
    if compact:
        edge_text = [None] * len(walk.edges)
    return Texts(op_text, edge_text, freed)


def graph_parts(walk: GraphWalk) -> dict[int, list]:
    """For each value used more than once, what each use handed back in the last
    backward: the use's output gradient times its local derivative. Only where the
    graph keeps both as numbers (Scalar graphs drawn after backward)."""
    uses = [0] * len(walk.items)
    for source, _ in walk.edges:
        uses[source] += 1
    parts: dict[int, list] = {}
    for i, item in enumerate(walk.items):
        if not walk.is_op(i) or len(walk.successors[i]) != 1:
            continue
        local = local_grads(item)
        out_grad = getattr(walk.items[walk.successors[i][0]], "grad", None)
        if local is None or not isinstance(out_grad, float):
            continue
        for source, d in zip(walk.predecessors[i], local):
            if uses[source] > 1:
                parts.setdefault(source, []).append(out_grad * d)
    return {k: v for k, v in parts.items() if len(v) == uses[k] and _adds_up(walk, k, v)}


def _adds_up(walk: GraphWalk, i: int, parts: list) -> bool:
    """True when the value's ``.grad`` is the sum of ``parts`` (one backward ran)."""
    grad = walk.items[i].grad
    total = sum(parts)
    return any(parts) and abs(total - grad) <= 1e-9 * max(1.0, abs(grad))


def build(
    walk: GraphWalk,
    show_grad: bool = True,
    rankdir: str = "LR",
    names: Any = None,
    modules: Any = None,
    collapse: bool = False,
    max_nodes: int | None = 500,
    highlight: Highlight | None = None,
    style: str = "auto",
    text: Texts | None = None,
) -> Picture:
    """The :class:`Picture` of a walked graph (see :func:`draw` for the options)."""
    if collapse and modules is None:
        raise ValueError("viz: collapse=True needs modules=<the model> to know what to collapse")
    if style not in STYLE_CHOICES:
        raise ValueError(f"viz: style must be one of {STYLE_CHOICES}, got {style!r}")
    grouping = group_by_module(walk, modules) if modules is not None else None
    member = grouping.member if grouping else {}
    name_of = namer(names, grouping.param_names if grouping else None)
    collapsed: dict[str, list[int]] = {}
    if collapse:
        for i, module in member.items():
            collapsed.setdefault(module, []).append(i)
    drawn = len(walk.items) - sum(map(len, collapsed.values())) + len(collapsed)
    if max_nodes is not None and drawn > max_nodes:
        raise too_many(max_nodes)
    compact = style == "compact" or (style == "auto" and drawn > COMPACT_ABOVE)
    if highlight is None:  # the sums are shown in the full style only
        parts = graph_parts(walk) if show_grad and not compact else {}
        highlight = Highlight({}, None, {}, parts)
    text = text or texts(walk, compact)
    picture = Picture(rankdir)
    node_id: dict[int, str] = {}
    order = list(collapsed)
    for i, item in enumerate(walk.items):
        module = member.get(i)
        if collapse and module is not None:
            node_id[i] = f"m{order.index(module)}"  # few modules: cheap
            continue
        node_id[i] = f"n{i}"
        if walk.is_op(i):
            attrs = _op_attrs(i, text.op_lines[i], i in text.freed, highlight, compact)
        else:
            attrs = _value_attrs(walk, i, name_of(item), highlight, show_grad, compact)
        cluster = None
        if module is not None:
            cluster = cluster_id(module)
            picture.clusters.setdefault(cluster, {"label": grouping.titles.get(module, module),
                                                  **CLUSTER_STYLE})
        picture.nodes.append((node_id[i], attrs, cluster))
    for k, (module, positions) in enumerate(collapsed.items()):
        label = _module_lines(walk, module, positions, grouping)
        picture.nodes.append((f"m{k}", {"label": "\n".join(label), **STYLES["module"]}, None))
    in_box = {i for positions in collapsed.values() for i in positions}
    seen = set()
    for (source, target), label in zip(walk.edges, text.edge_labels):
        edge = (node_id[source], node_id[target])
        if source in in_box or target in in_box:
            if edge[0] == edge[1] or edge in seen:
                continue  # inside one module's box, or made a duplicate by collapsing
            seen.add(edge)
            label = None
        attrs = {"label": label, **EDGE_LABEL} if label and not compact else {}
        picture.edges.append((*edge, attrs))
    return picture


def _value_attrs(walk: GraphWalk, i: int, name: str, highlight: Highlight,
                 show_grad: bool, compact: bool) -> dict[str, str]:
    item = walk.items[i]
    grad = highlight.grads.get(i, item.grad)
    kind = value_kind(item, item is walk.root)
    if compact:
        label = compact_line(item, name or kind, grad, show_grad)
    else:
        label = "\n".join(value_lines(item, name, kind, grad, show_grad,
                                      highlight.parts.get(i)))
    attrs = {"label": label, **STYLES[kind]}
    if item is walk.root:
        attrs["class"] = "root"
    return attrs


def _op_attrs(i: int, lines: list[str], freed: bool, highlight: Highlight,
              compact: bool) -> dict[str, str]:
    lines = lines[:1] if compact else list(lines)
    attrs = dict(STYLES["freed" if freed else "op"])
    step = highlight.visited.get(i)
    if i == highlight.current:
        lines.append(f"▶ {step}" if compact else f"▶ step {step} (now)")
        attrs.update(STYLES["current"])
        attrs["class"] = "current"
    elif step is not None:
        lines.append(f"✓ {step}" if compact else f"✓ step {step}")
        attrs.update(STYLES["visited"])
        attrs["class"] = "visited"
    if compact:
        lines = [" ".join(lines)]
    return {"label": "\n".join(lines), **attrs}


def _module_lines(walk: GraphWalk, module: str, positions: list, grouping: Any) -> list[str]:
    """A collapsed module's box: its name, how many ops and which, its parameters."""
    ops = [op_title(walk.items[i]) for i in positions if walk.is_op(i)]
    kinds = list(dict.fromkeys(ops))
    shown = ", ".join(kinds[:5]) + (", ..." if len(kinds) > 5 else "")
    lines = [grouping.titles.get(module, module), f"{len(ops)} ops: {shown}"]
    for i in positions:
        name = grouping.param_names.get(id(walk.items[i]))
        if name is not None:
            lines.append(f"{name.removeprefix(module + '.')} {tuple(walk.items[i].shape)}")
    return lines


# --------------------------------------------------------------------------- writers


def _escape(text: str) -> str:
    """``text`` as the inside of a DOT quoted string (lines break at ``\\n``)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _attr_list(attrs: dict[str, str]) -> str:
    # label first, then by name: the order graphviz.Digraph writes them in
    keys = sorted(attrs)
    if "label" in attrs:
        keys.remove("label")
        keys.insert(0, "label")
    return " ".join([f'{key}="{_escape(attrs[key])}"' for key in keys])


def dot_text(picture: Picture) -> str:
    """The DOT source of ``picture``."""
    out = ["digraph {", f"\tgraph [{_attr_list(picture.graph_attrs)}]"]
    by_cluster: dict[str | None, list] = {}
    for node, attrs, cluster in picture.nodes:
        by_cluster.setdefault(cluster, []).append(f"{node} [{_attr_list(attrs)}]")
    for cluster, attrs in picture.clusters.items():
        out.append(f"\tsubgraph {cluster} {{")
        out.append(f"\t\tgraph [{_attr_list(attrs)}]")
        out += ["\t\t" + line for line in by_cluster.get(cluster, ())]
        out.append("\t}")
    out += ["\t" + line for line in by_cluster.get(None, ())]
    for source, target, attrs in picture.edges:
        out.append(f"\t{source} -> {target}" + (f" [{_attr_list(attrs)}]" if attrs else ""))
    out.append("}")
    return "\n".join(out) + "\n"


def digraph(picture: Picture) -> Any:
    """``picture`` as a ``graphviz.Digraph``, statement for statement like :func:`dot_text`."""
    try:
        import graphviz
    except ImportError as err:
        raise ImportError(
            "viz.draw needs the graphviz Python package (pip install graphviz); "
            "viz.to_dot gives the DOT text without it"
        ) from err

    def quoted(attrs: dict[str, str]) -> dict[str, str]:
        return {key: graphviz.nohtml(_escape(value)) for key, value in attrs.items()}

    graph = _digraph_class(graphviz)(graph_attr=quoted(picture.graph_attrs))
    for cluster, attrs in picture.clusters.items():
        with graph.subgraph(name=cluster, graph_attr=quoted(attrs)) as sub:
            for node, node_attrs, where in picture.nodes:
                if where == cluster:
                    sub.node(node, **quoted(node_attrs))
    for node, attrs, cluster in picture.nodes:
        if cluster is None:
            graph.node(node, **quoted(attrs))
    for source, target, attrs in picture.edges:
        graph.edge(source, target, **quoted(attrs))
    return graph


_DIGRAPH: list = []


def _digraph_class(graphviz: Any) -> type:
    """``graphviz.Digraph`` whose notebook display holds a PNG beside the SVG."""
    if not _DIGRAPH:

        class Digraph(graphviz.Digraph):
            """A ``graphviz.Digraph`` that Jupyter shows as SVG with a PNG beside it:
            JupyterLab renders no SVG from a notebook it does not trust (one
            opened fresh from disk) but does render the PNG."""

            def _repr_mimebundle_(self, include: Any = None, exclude: Any = None,
                                  **kwargs: Any) -> dict:
                bundle = super()._repr_mimebundle_(include, exclude, **kwargs)
                wanted = (include is None or "image/png" in include) and not (
                    exclude and "image/png" in exclude)
                if "image/svg+xml" in bundle and wanted:
                    png = self.pipe(format="png")
                    bundle["image/png"] = base64.b64encode(png).decode("ascii")
                return bundle

        _DIGRAPH.append(Digraph)
    return _DIGRAPH[0]


# --------------------------------------------------------------------------- public


def _walk(root: Any, modules: Any, collapse: bool, max_nodes: int | None) -> GraphWalk:
    # collapsing can shrink a big graph under the limit, so only then walk it all
    early_limit = None if (collapse and modules is not None) else max_nodes
    return GraphWalk(root, early_limit)


def to_dot(
    root: Any,
    show_grad: bool = True,
    rankdir: str = "LR",
    *,
    names: Any = None,
    modules: Any = None,
    collapse: bool = False,
    max_nodes: int | None = 500,
    style: str = "auto",
) -> str:
    """The DOT text of the graph behind ``root`` (a Tensor or a Scalar); no
    Graphviz needed. Options as :func:`draw`."""
    walk = _walk(root, modules, collapse, max_nodes)
    return dot_text(build(walk, show_grad, rankdir, names, modules, collapse, max_nodes,
                          style=style))


def draw(
    root: Any,
    show_grad: bool = True,
    rankdir: str = "LR",
    *,
    names: Any = None,
    modules: Any = None,
    collapse: bool = False,
    max_nodes: int | None = 500,
    style: str = "auto",
) -> Any:
    """A ``graphviz.Digraph`` of the graph behind ``root`` (a Tensor or a Scalar).

    One box per value: its name, shape and dtype, its data (in full when small,
    else min/mean/max) and, with ``show_grad``, its gradient; a value used by
    several ops shows how its gradient was summed (``grad 7 = 3 + 3 + 1``). One
    oval per op: its name, formula and attributes. The edge from each input into
    an op carries the local derivative for that input (``local 1.5`` for a Scalar
    op, the formula ``dz/da = b`` for a Tensor op).

    ``style``: ``"full"`` as above; ``"compact"`` one line per value
    (``w1 | data 0.8 | grad -0.04``) and ops by name only, for large graphs;
    ``"auto"`` (default) picks compact above 60 boxes and ovals. ``rankdir``:
    ``"LR"`` (left to right) or ``"TB"`` (top to bottom). ``names``:
    ``{tensor: "x"}`` names Tensors (Scalars show their ``label``).
    ``modules=model`` names each parameter by its dotted name and draws each
    module's ops inside a box of its own; add ``collapse=True`` to draw each
    module as one box. More than ``max_nodes`` boxes and ovals raise ValueError
    (``max_nodes=None``: no limit).

    Jupyter shows the result inline, as SVG with a PNG beside it (JupyterLab
    shows the PNG where it does not trust a saved notebook's SVG);
    ``.render(path, format="svg")`` writes a file.
    """
    walk = _walk(root, modules, collapse, max_nodes)
    return digraph(build(walk, show_grad, rankdir, names, modules, collapse, max_nodes,
                         style=style))
