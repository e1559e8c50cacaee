"""Graphs the viz tests draw and step through: micrograd's neuron, a small MLP
behind a duck-typed model (named_modules / named_parameters, as nn.Module has),
and a parser for the DOT text the tests read back."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

import autograd
from autograd import Scalar


def neuron() -> dict:
    """tanh(x1*w1 + x2*w2 + b), the values of micrograd's lecture."""
    x1, x2 = Scalar(2.0, label="x1"), Scalar(0.0, label="x2")
    w1, w2 = Scalar(-3.0, label="w1"), Scalar(1.0, label="w2")
    b = Scalar(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "n": n, "o": o}


class Linear:
    """``x @ weight.T + bias``: a layer as an nn.Module would hold it."""

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator) -> None:
        self.weight = autograd.tensor(rng.standard_normal((n_out, n_in)), requires_grad=True)
        self.bias = autograd.tensor(rng.standard_normal(n_out), requires_grad=True)

    def named_parameters(self, prefix: str = ""):
        yield prefix + "weight", self.weight
        yield prefix + "bias", self.bias

    def __call__(self, x):
        return x @ self.weight.T + self.bias


class MLP:
    """Three Linear layers with ReLU between, registered as ``layers.0`` .. ``layers.2``."""

    def __init__(self, sizes=(4, 8, 8, 3), seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.layers = [Linear(a, b, rng) for a, b in itertools.pairwise(sizes)]

    def named_modules(self):
        yield "", self
        yield "layers", self.layers
        for i, layer in enumerate(self.layers):
            yield f"layers.{i}", layer

    def named_parameters(self):
        for i, layer in enumerate(self.layers):
            yield from layer.named_parameters(f"layers.{i}.")

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def __call__(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = x.relu()
        return x


def mlp_loss(seed: int = 0, batch: int = 16):
    model = MLP(seed=seed)
    rng = np.random.default_rng(seed + 1)
    x = autograd.tensor(rng.standard_normal((batch, 4)))
    target = autograd.tensor(rng.standard_normal((batch, 3)))
    loss = ((model(x) - target) ** 2).mean()
    return model, x, loss


_NODE = re.compile(r"^\t+(\w+) \[(.*)\]$")
_EDGE = re.compile(r"^\t(\w+) -> (\w+)(?: \[(.*)\])?$")
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s"\]]+)')


def _unquote(value: str) -> str:
    if value.startswith('"'):
        value = value[1:-1]
    return value.replace("\\n", "\n")


def parse_dot(text: str, edge_attrs: bool = False) -> tuple[dict, list]:
    """``({node: {attr: value, "cluster": name or None}}, [(from, to), ...])``;
    with ``edge_attrs``, edges are ``(from, to, {attr: value})``."""
    nodes, edges, cluster = {}, [], None
    for line in text.splitlines():
        if m := re.match(r"^\tsubgraph (\w+) \{$", line):
            cluster = m.group(1)
        elif line == "\t}":
            cluster = None
        elif (m := _NODE.match(line)) and m.group(1) != "graph":
            attrs = {k: _unquote(v) for k, v in _ATTR.findall(m.group(2))}
            nodes[m.group(1)] = {**attrs, "cluster": cluster}
        elif m := _EDGE.match(line):
            if edge_attrs:
                attrs = {k: _unquote(v) for k, v in _ATTR.findall(m.group(3) or "")}
                edges.append((m.group(1), m.group(2), attrs))
            else:
                edges.append(m.groups()[:2])
    return nodes, edges


@pytest.fixture
def make_neuron():
    return neuron


@pytest.fixture
def make_mlp_loss():
    return mlp_loss


@pytest.fixture
def dot_parser():
    return parse_dot
