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
from cnncli.layers.args import ArgContext
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


MAX_SEARCH_NODES = 5_000  # above this, finding the input size that fits (~25 builds) would take too long


def looks_channels_last(shape: Shape) -> bool:
    """[H, W, C] written the Keras way: a small last dimension (1-4 channels) after two larger ones."""
    return len(shape) == 3 and shape[2] <= 4 < min(shape[0], shape[1])


def input_order_hint(shape: Shape) -> str:
    """A hint when the input looks like Keras's [H, W, C]; '' otherwise."""
    if not looks_channels_last(shape):
        return ""
    h, w, c = shape
    return f"input {fmt_shape(shape)} looks like [H, W, C] (Keras's order); cnn reads input as [C, H, W]: " \
           f"write input: [{c}, {h}, {w}]"


def smallest_fitting_input(spec: Spec, shape: Shape, limit: int = 4096) -> Shape | None:
    """The smallest square-scaled [C, H', W'] (H, W grown together) for which every node fits,
    by doubling then bisection on the growth; None if even `limit` pixels do not."""
    def fits(extra: int) -> bool:
        try:
            _build(spec, (shape[0], shape[1] + extra, shape[2] + extra))
        except SpecError:
            return False
        return True

    low, high = 0, 1
    while not fits(high):
        low, high = high, high * 2
        if shape[1] + high > limit:
            return None
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if fits(middle) else (middle, high)
    return (shape[0], shape[1] + high, shape[2] + high)


def _odd_branch(node_spec: NodeSpec, in_shapes: list[Shape], specs: dict[str, NodeSpec]) -> SpecError | None:
    """For a `concat: {branches}` whose branches disagree in H, W: an error at the node that ends the odd branch
    (the first input whose H, W differ from the most common ones)."""
    from_branches = bool(node_spec.groups) and node_spec.groups[-1] == (node_spec.name, "concat")
    if not from_branches or any(len(s) != len(in_shapes[0]) for s in in_shapes):
        return None
    common = max(in_shapes, key=lambda s: sum(t[1:] == s[1:] for t in in_shapes))
    odd, shape = next((n, s) for n, s in zip(node_spec.inputs, in_shapes) if s[1:] != common[1:])
    if odd not in specs:
        return None
    return specs[odd].context.error(None, f"this branch ends at {fmt_shape(shape)}, but '{node_spec.name}' "
                                          f"joins it with {fmt_shape(common[1:])} (H, W) from the other inputs; "
                                          f"give this branch padding or stride that keeps H, W "
                                          f"(e.g. padding: same)")


def _shape_message(err: ShapeError, node_spec: NodeSpec, in_shapes: list[Shape], input_shape: Shape) -> str:
    listing = ", ".join(f"'{n}' {fmt_shape(s)}" for n, s in zip(node_spec.inputs, in_shapes))
    message = f"{err.message} (node '{node_spec.name}', input {listing})"
    if node_spec.hint:
        message += f"; {node_spec.hint}"
    if input_order_hint(input_shape):
        message += f"; {input_order_hint(input_shape)}"
    return message


def build_graph(spec: Spec, input_shape: Shape | None = None) -> Graph:
    """Instantiate every node, propagate shapes, and report the first that does not fit; when a
    window outgrows a map deep in the network, say which input size would fit."""
    shape_in = tuple(input_shape) if input_shape is not None else spec.input_shape
    try:
        return _build(spec, shape_in)
    except _TooSmall as small:
        searchable = len(shape_in) == 3 and len(spec.nodes) <= MAX_SEARCH_NODES
        fitting = smallest_fitting_input(spec, shape_in) if searchable else None
        if fitting is not None:
            small.message += (f"; the input {fmt_shape(shape_in)} is too small for this network: it fits from "
                              f"--input {','.join(map(str, fitting))} (or input: {list(fitting)} in the spec)")
        raise small.context.error(small.argument, small.message) from None


class _TooSmall(SpecError):
    """A window larger than its input after the first layer (a larger --input may be the fix)."""

    def __init__(self, context: ArgContext, argument: str | None, message: str) -> None:
        super().__init__(context.position, context.path, message)
        self.context, self.argument, self.message = context, argument, message


def _build(spec: Spec, shape_in: Shape) -> Graph:
    shapes: dict[str, Shape] = {INPUT: shape_in}
    fields: dict[str, Field] = {INPUT: Field((1, 1), (1, 1))}
    specs: dict[str, NodeSpec] = {}
    nodes: list[Node] = []
    for node_spec in spec.nodes:
        layer = LAYER_TYPES[node_spec.type](node_spec.name, node_spec.inputs, node_spec.args)
        in_shapes = [shapes[name] for name in node_spec.inputs]
        try:
            layer.bind(in_shapes)
        except ShapeError as err:
            message = _shape_message(err, node_spec, in_shapes, shape_in)
            odd = _odd_branch(node_spec, in_shapes, specs)
            if odd is not None:
                raise odd
            if err.argument == "kernel" and nodes and not looks_channels_last(shape_in):
                raise _TooSmall(node_spec.context, err.argument, message)
            raise node_spec.context.error(err.argument, message) from None
        shapes[layer.name] = layer.out_shape
        specs[layer.name] = node_spec
        fields[layer.name] = _propagate_field(layer, [fields[n] for n in node_spec.inputs])
        nodes.append(Node(layer, node_spec, fields[layer.name]))
    return Graph(spec.name, shape_in, nodes)
