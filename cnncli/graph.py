"""The layer graph: primitive nodes in execution order, with shapes and receptive fields.

Receptive field r and effective stride j (the input-pixel distance between neighbouring
outputs) propagate per axis from the input (r = 1, j = 1) through each windowed layer with
span k and stride s as
    r_out = r_in + (k − 1) · j_in,     j_out = j_in · s,
and through merges as the largest over the inputs (the widest path).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from cnncli.errors import SpecError
from cnncli.layers.base import Layer, Shape, ShapeError, fmt_shape
from cnncli.layers.registry import LAYER_TYPES
from cnncli.spec.expand import INPUT, NodeSpec
from cnncli.spec.loader import Spec


@dataclass(frozen=True)
class Field:
    """Receptive field and effective stride along (H, W)."""

    size: tuple[int, int]
    stride: tuple[int, int]


@dataclass
class Node:
    """A layer in the graph with its spec origin and receptive field."""

    layer: Layer
    spec: NodeSpec
    field: Field

    @property
    def name(self) -> str:
        return self.layer.name


@dataclass
class Graph:
    """A network: its input shape and nodes in execution (topological) order."""

    name: str
    input_shape: Shape
    nodes: list[Node]

    @property
    def output(self) -> Node:
        return self.nodes[-1]

    def signature(self) -> list[str]:
        """One line per node (name, type, arguments, inputs, output shape): equal signatures mean
        the same architecture, which is what a checkpoint must be loaded into."""
        return [f"{n.name} = {n.layer.type_name}({json.dumps(n.layer.args, sort_keys=True)}) "
                f"<- {', '.join(n.layer.inputs)} -> {list(n.layer.out_shape)}" for n in self.nodes]

    def consumers(self) -> dict[str, list[str]]:
        """For each node name, the names of the nodes that read its output."""
        out: dict[str, list[str]] = {INPUT: []}
        for node in self.nodes:
            out.setdefault(node.name, [])
            for source in node.layer.inputs:
                out[source].append(node.name)
        return out

    def unused(self) -> list[str]:
        """Nodes (other than the output) whose output nothing reads."""
        return [name for name, readers in self.consumers().items()
                if not readers and name not in (INPUT, self.output.name)]


def _propagate_field(layer: Layer, inputs: list[Field]) -> Field:
    size = tuple(max(f.size[a] for f in inputs) for a in (0, 1))
    stride = tuple(max(f.stride[a] for f in inputs) for a in (0, 1))
    window = layer.window()
    if window is None:
        return Field(size, stride)  # type: ignore[arg-type]
    return Field(size=(size[0] + (window.span[0] - 1) * stride[0], size[1] + (window.span[1] - 1) * stride[1]),
                 stride=(stride[0] * window.stride[0], stride[1] * window.stride[1]))


def build_graph(spec: Spec, input_shape: Shape | None = None) -> Graph:
    """Instantiate every node, propagate shapes, and report the first that does not fit."""
    graph, failure = build_graph_until_error(spec, input_shape)
    if failure is not None:
        raise failure[1]
    return graph


def build_graph_until_error(spec: Spec, input_shape: Shape | None = None
                            ) -> tuple[Graph, tuple[NodeSpec, SpecError] | None]:
    """The graph of the nodes that fit, and the first node that does not with its error (or None)."""
    shape_in = tuple(input_shape) if input_shape is not None else spec.input_shape
    shapes: dict[str, Shape] = {INPUT: shape_in}
    fields: dict[str, Field] = {INPUT: Field((1, 1), (1, 1))}
    nodes: list[Node] = []
    for node_spec in spec.nodes:
        layer = LAYER_TYPES[node_spec.type](node_spec.name, node_spec.inputs, node_spec.args)
        in_shapes = [shapes[name] for name in node_spec.inputs]
        try:
            layer.bind(in_shapes)
        except ShapeError as err:
            listing = ", ".join(f"'{n}' {fmt_shape(s)}" for n, s in zip(node_spec.inputs, in_shapes))
            message = f"{err.message} (node '{node_spec.name}', input {listing})"
            if node_spec.hint:
                message += f"; {node_spec.hint}"
            return Graph(spec.name, shape_in, nodes), (node_spec, node_spec.context.error(err.argument, message))
        shapes[layer.name] = layer.out_shape
        fields[layer.name] = _propagate_field(layer, [fields[n] for n in node_spec.inputs])
        nodes.append(Node(layer, node_spec, fields[layer.name]))
    return Graph(spec.name, shape_in, nodes), None
