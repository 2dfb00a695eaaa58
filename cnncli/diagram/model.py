"""What a diagram shows, before any geometry: one box per node (or collapsed block), and the edges.

Boxes carry their text lines and a kind that picks their colour; edges know whether they are
part of a shortcut: the non-first inputs of an `add`, traced back through single-input,
single-reader nodes to the fork they leave from (identity and projection shortcuts alike).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field, replace
from typing import Any

from cnncli.errors import SpecError
from cnncli.graph import Graph, Node, build_graph
from cnncli.grouping import Group, collapse
from cnncli.layers.base import Shape, fmt_shape
from cnncli.spec.expand import INPUT, NodeSpec
from cnncli.spec.loader import Spec

SHOW_CHOICES = ("params", "macs", "rf")
KINDS = {"conv2d": "conv", "maxpool": "pool", "avgpool": "pool", "global_avgpool": "pool",
         "global_maxpool": "pool", "adaptive_avgpool": "pool", "batchnorm": "norm", "dense": "dense",
         "add": "merge", "concat": "merge", "relu": "act", "relu6": "act", "leaky_relu": "act",
         "sigmoid": "act", "tanh": "act", "softmax": "act"}
OUTPUT = "output"
ERROR_WRAP = 56
NAME_CHARS = 28  # longer dotted names show their last parts (the full name is the box's id and tooltip)


@dataclass
class Box:
    """A drawn box: `name` in bold, then `lines`; `kind` picks the colour."""

    id: str
    name: str
    lines: list[str]
    kind: str
    repeat: int = 1
    error_lines: list[str] = field(default_factory=list)


@dataclass
class Edge:
    """Data flowing from box `source` to box `target` (ids); `shortcut` marks residual paths."""

    source: str
    target: str
    shortcut: bool = False


@dataclass
class Diagram:
    """Boxes in execution order (input first), edges in data order, and a title line."""

    title: str
    boxes: list[Box]
    edges: list[Edge]


def human(n: float) -> str:
    """1814073344 -> '1.81G' (three significant figures)."""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:g}"


def short_name(name: str) -> str:
    """A dotted name of more than NAME_CHARS keeps its first part and as many last parts as fit:
    'inception_1.concat_1.b2.basic_conv_1.conv2d_1' -> 'inception_1…conv2d_1'."""
    parts = name.split(".")
    if len(name) <= NAME_CHARS or len(parts) < 3:
        return name
    head, tail = parts[0], parts[-1]
    for part in reversed(parts[1:-1]):
        if len(head) + len(part) + len(tail) + 2 > NAME_CHARS:
            break
        tail = f"{part}.{tail}"
    return f"{head}…{tail}"


def _pair(value: tuple[int, int]) -> str:
    return f"{value[0]}×{value[1]}"


def _padding(padding: Any) -> str:
    if padding == "same":
        return "pad same"
    (top, bottom), (left, right) = padding
    if top == bottom == left == right:
        return f"pad {top}" if top else ""
    return f"pad {top},{bottom},{left},{right}"


def describe(type_name: str, args: dict[str, Any]) -> str:
    """The type and its key arguments: 'conv2d 64, 7×7, stride 2, pad 3'."""
    parts: list[str] = []
    if type_name == "conv2d":
        parts = [str(args["filters"]), _pair(args["kernel"])]
    elif type_name in ("maxpool", "avgpool"):
        parts = [_pair(args["kernel"])]
    if "stride" in args and args["stride"] != (1, 1):
        parts.append(f"stride {args['stride'][0] if args['stride'][0] == args['stride'][1] else _pair(args['stride'])}")
    if "padding" in args:
        parts.append(_padding(args["padding"]))
    if args.get("dilation", (1, 1)) != (1, 1):
        parts.append(f"dilation {_pair(args['dilation'])}")
    if args.get("groups", 1) != 1:
        parts.append(f"groups {args['groups']}")
    if args.get("ceil_mode"):
        parts.append("ceil")
    for key in ("units", "rate", "slope"):
        if key in args:
            parts.append(f"{args[key]:g}")
    if "output" in args:
        parts.append(f"to {_pair(args['output'])}")
    text = ", ".join(p for p in parts if p)
    return f"{type_name} {text}" if text else type_name


def _extras(show: tuple[str, ...], params: int, macs: int, node: Node) -> list[str]:
    out = []
    if "params" in show and params:
        out.append(f"{params:,} params")
    if "macs" in show and macs:
        out.append(f"{human(macs)} MACs")
    if "rf" in show and len(node.layer.out_shape) == 3:
        f = node.field
        size = f.size[0] if f.size[0] == f.size[1] else _pair(f.size)
        stride = f.stride[0] if f.stride[0] == f.stride[1] else _pair(f.stride)
        out.append(f"RF {size}, jump {stride}")
    return out


def _node_box(node: Node, show: tuple[str, ...]) -> Box:
    layer = node.layer
    lines = [describe(layer.type_name, layer.args), fmt_shape(layer.out_shape)]
    return Box(node.name, short_name(node.name), lines + _extras(show, layer.params(), layer.macs(), node),
               KINDS.get(layer.type_name, "other"))


def _group_box(group: Group, show: tuple[str, ...]) -> Box:
    name = short_name(group.name)
    if group.repeat > 1:
        name += f" … {group.names[-1].split('.')[-1]}"
    kind = f"{group.type} ×{group.repeat}" if group.repeat > 1 else group.type
    lines = [f"{kind}: {len(group.nodes)} layers", fmt_shape(group.out_shape)]
    totals = (f"{group.params:,} params" if group.params else "") + (
        f"{', ' if group.params else ''}{human(group.macs)} MACs" if group.macs else "")
    extras = _extras(tuple(s for s in show if s == "rf"), 0, 0, group.nodes[-1])
    return Box(group.name, name, lines + ([totals] if totals else []) + extras, "group", group.repeat)


def _unique(name: str, taken: dict[str, str]) -> str:
    """`name`, primed until no box id equals it (a group may share its name with a node)."""
    ids = set(taken.values())
    while name in ids:
        name += "'"
    return name


def _shortcut_edges(rows: list[Node | Group], owner: dict[str, str], edges: list[Edge]) -> None:
    """Mark the edges of each add's non-first inputs back to the fork they leave from."""
    readers: dict[str, int] = {}
    for edge in edges:
        readers[edge.source] = readers.get(edge.source, 0) + 1
    by_target: dict[str, list[Edge]] = {}
    for edge in edges:
        by_target.setdefault(edge.target, []).append(edge)
    for row in rows:
        if isinstance(row, Group) or row.layer.type_name != "add":
            continue
        for source in row.layer.inputs[1:]:
            edge = next(e for e in by_target[owner[row.name]] if e.source == owner[source])
            while True:
                edge.shortcut = True
                upstream = by_target.get(edge.source, [])
                if len(upstream) != 1 or readers[edge.source] != 1:
                    break
                edge = upstream[0]


def build_until_error(spec: Spec, input_shape: Shape | None = None) -> tuple[Graph, tuple[NodeSpec, SpecError] | None]:
    """The graph, or, for a spec that does not fit, the graph of the longest prefix of its nodes that
    does (found by bisection: a prefix fits whenever a longer one does) and the first node that does
    not, with the error the whole spec raises."""
    try:
        return build_graph(spec, input_shape), None
    except SpecError as error:
        failure = error
    fits, fails = 0, len(spec.nodes)
    while fails - fits > 1:
        middle = (fits + fails) // 2
        try:
            build_graph(replace(spec, nodes=spec.nodes[:middle]), input_shape)
            fits = middle
        except SpecError:
            fails = middle
    return build_graph(replace(spec, nodes=spec.nodes[:fits]), input_shape), (spec.nodes[fits], failure)


def build_diagram(graph: Graph, failure: tuple[NodeSpec, SpecError] | None = None, depth: int | None = None,
                  show: tuple[str, ...] = ()) -> Diagram:
    """Boxes and edges for a graph (cut at `depth`), with the failing node in red if there is one."""
    rows = collapse(graph, depth)
    boxes = [Box(INPUT, INPUT, [fmt_shape(graph.input_shape)], "terminal")]
    owner = {INPUT: INPUT}
    edges: list[Edge] = []
    for row in rows:
        box = _group_box(row, show) if isinstance(row, Group) else _node_box(row, show)
        box.id = _unique(box.id, owner)
        inputs = row.inputs if isinstance(row, Group) else row.layer.inputs
        for member in row.nodes if isinstance(row, Group) else [row]:
            owner[member.name] = box.id
        boxes.append(box)
        edges += [Edge(src, box.id) for src in dict.fromkeys(owner[s] for s in inputs)]
    _shortcut_edges(rows, owner, edges)
    params = sum(n.layer.params() for n in graph.nodes)
    macs = sum(n.layer.macs() for n in graph.nodes)
    title = f"{graph.name}: {params:,} params, {human(macs)} MACs"
    if failure is not None:
        node_spec, error = failure
        lines = [describe(node_spec.type, node_spec.args)]
        box = Box(_unique(node_spec.name, owner), node_spec.name, lines, "error",
                  error_lines=textwrap.wrap(error.message, ERROR_WRAP))
        boxes.append(box)
        edges += [Edge(owner[s], box.id) for s in dict.fromkeys(node_spec.inputs) if s in owner]
        return Diagram(f"{graph.name}: does not fit at node '{node_spec.name}'", boxes, edges)
    if graph.nodes:
        box = Box(_unique(OUTPUT, owner), OUTPUT, [fmt_shape(graph.output.layer.out_shape)], "terminal")
        boxes.append(box)
        edges.append(Edge(owner[graph.output.name], box.id))
    return Diagram(title, boxes, edges)
