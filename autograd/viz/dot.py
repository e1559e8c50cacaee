"""Pictures of the graph: DOT text (no Graphviz needed) and a ``graphviz.Digraph``.

Both are written from one description, a :class:`Picture`, so they never
disagree. Boxes are values, ovals are ops, arrows run the way data flows
(inputs -> op -> output). Kinds of values differ by border and by a word in the
box, never by color alone: ``param`` (a leaf that requires grad) has a double
bold border, ``const`` a dashed one, ``output`` a thick rounded one.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .labels import namer, op_lines, op_title, value_kind, value_lines
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


class Highlight(NamedTuple):
    """What a stepper marks, by walk position: the step number of each visited op,
    the current op, and gradients to show on values that keep no ``.grad``."""

    visited: dict[int, int]
    current: int | None
    grads: dict[int, Any]


class Picture:
    """Nodes (id, attributes, cluster or None), clusters and edges of one drawing."""

    __slots__ = ("graph_attrs", "clusters", "nodes", "edges")

    def __init__(self, rankdir: str) -> None:
        self.graph_attrs = {"rankdir": rankdir}
        self.clusters: dict[str, dict[str, str]] = {}
        self.nodes: list[tuple[str, dict[str, str], str | None]] = []
        self.edges: list[tuple[str, str]] = []


def build(
    walk: GraphWalk,
    show_grad: bool = True,
    rankdir: str = "LR",
    names: Any = None,
    modules: Any = None,
    collapse: bool = False,
    max_nodes: int | None = 500,
    highlight: Highlight | None = None,
) -> Picture:
    """The :class:`Picture` of a walked graph (see :func:`draw` for the options)."""
    if collapse and modules is None:
        raise ValueError("viz: collapse=True needs modules=<the model> to know what to collapse")
    grouping = group_by_module(walk, modules) if modules is not None else None
    member = grouping.member if grouping else {}
    name_of = namer(names, grouping.param_names if grouping else None)
    highlight = highlight or Highlight({}, None, {})
    picture = Picture(rankdir)
    node_id: dict[int, str] = {}
    collapsed: dict[str, list[int]] = {}
    for i, item in enumerate(walk.items):
        module = member.get(i)
        if collapse and module is not None:
            collapsed.setdefault(module, []).append(i)
            node_id[i] = f"m{list(collapsed).index(module)}"  # few modules: cheap
            continue
        node_id[i] = f"n{i}"
        if walk.is_op(i):
            attrs = _op_attrs(walk, i, highlight)
        else:
            grad = highlight.grads.get(i, item.grad)
            kind = value_kind(item, item is walk.root)
            lines = value_lines(item, name_of(item), kind, grad, show_grad)
            attrs = {"label": "\n".join(lines), **STYLES[kind]}
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
    for source, target in walk.edges:
        edge = (node_id[source], node_id[target])
        if source in in_box or target in in_box:
            if edge[0] == edge[1] or edge in seen:
                continue  # inside one module's box, or made a duplicate by collapsing
            seen.add(edge)
        picture.edges.append(edge)
    if max_nodes is not None and len(picture.nodes) > max_nodes:
        raise too_many(max_nodes)
    return picture


def _op_attrs(walk: GraphWalk, i: int, highlight: Highlight) -> dict[str, str]:
    node = walk.items[i]
    freed = node.inputs is None and not walk.predecessors[i]
    lines = op_lines(node, freed)
    attrs = dict(STYLES["freed" if freed else "op"])
    if i == highlight.current:
        lines.append(f"▶ step {highlight.visited[i]} (now)")
        attrs.update(STYLES["current"])
    elif i in highlight.visited:
        lines.append(f"✓ step {highlight.visited[i]}")
        attrs.update(STYLES["visited"])
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
    out += [f"\t{source} -> {target}" for source, target in picture.edges]
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

    graph = graphviz.Digraph(graph_attr=quoted(picture.graph_attrs))
    for cluster, attrs in picture.clusters.items():
        with graph.subgraph(name=cluster, graph_attr=quoted(attrs)) as sub:
            for node, node_attrs, where in picture.nodes:
                if where == cluster:
                    sub.node(node, **quoted(node_attrs))
    for node, attrs, cluster in picture.nodes:
        if cluster is None:
            graph.node(node, **quoted(attrs))
    for source, target in picture.edges:
        graph.edge(source, target)
    return graph


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
) -> str:
    """The DOT text of the graph behind ``root`` (a Tensor or a Scalar); no
    Graphviz needed. Options as :func:`draw`."""
    walk = _walk(root, modules, collapse, max_nodes)
    return dot_text(build(walk, show_grad, rankdir, names, modules, collapse, max_nodes))


def draw(
    root: Any,
    show_grad: bool = True,
    rankdir: str = "LR",
    *,
    names: Any = None,
    modules: Any = None,
    collapse: bool = False,
    max_nodes: int | None = 500,
) -> Any:
    """A ``graphviz.Digraph`` of the graph behind ``root`` (a Tensor or a Scalar).

    One box per value (name, shape, dtype, data or min/mean/max when large, grad
    when ``show_grad``), one oval per op (its name and attributes). ``rankdir``:
    ``"LR"`` (left to right) or ``"TB"``. ``names``: ``{tensor: "x"}`` names Tensors
    (Scalars show their ``label``). ``modules=model`` names each parameter by its
    dotted name and draws each module's ops inside a box of its own; add
    ``collapse=True`` to draw each module as one box. More than ``max_nodes`` boxes
    and ovals raise ValueError (``max_nodes=None``: no limit). Jupyter shows the
    result inline; ``.render(path, format="svg")`` writes a file.
    """
    walk = _walk(root, modules, collapse, max_nodes)
    return digraph(build(walk, show_grad, rankdir, names, modules, collapse, max_nodes))
