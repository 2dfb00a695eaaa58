"""The block tree of a graph, cut at a depth: the rows of `--depth N` tables and diagrams.

Every primitive node records the composites it was expanded from (block uses, residuals and
their shortcuts, concats and their branches), outermost first (`NodeSpec.groups`). A group
at depth d is the d-th entry of that path; its name is the dotted prefix of its nodes.

`collapse(graph, N)` keeps nodes that sit in fewer than N groups as they are and replaces the
nodes of each depth-N group by one `Group` row, whose counts are the sums over its nodes:
    params = Σ params,  buffers = Σ buffers,  macs = Σ macs,  flops = Σ flops.
Consecutive groups of one parent with the same structure (node types, arguments and output
shapes, names relative to the group) merge into one row with `repeat` = the number of copies
and the counts summed, so the rows' totals always equal the graph's.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from cnncli.graph import Field, Graph, Node
from cnncli.layers.base import Shape


@dataclass
class Group:
    """Consecutive nodes of one composite (or `repeat` identical composites), with their totals."""

    name: str  # dotted prefix, e.g. "basic_1"
    type: str  # block or composite type: "basic", "residual", "shortcut", "concat", "branch" ...
    depth: int  # 1 for a top-level block
    nodes: list[Node]  # every primitive node inside (all copies), in execution order
    repeat: int = 1  # > 1 when the row stands for consecutive copies of the same block ("x3")
    names: list[str] = field(default_factory=list)  # the name of each copy (first is `name`)
    params: int = 0
    buffers: int = 0
    macs: int = 0
    flops: int = 0

    @property
    def out_shape(self) -> Shape:
        """The group's output shape (its last node's)."""
        return self.nodes[-1].layer.out_shape

    @property
    def field(self) -> Field:
        """Receptive field and effective stride at the group's output."""
        return self.nodes[-1].field

    @property
    def inputs(self) -> list[str]:
        """Names of the nodes outside the group that its nodes read, in first-use order."""
        inside = {node.name for node in self.nodes}
        outside = [src for node in self.nodes for src in node.layer.inputs if src not in inside]
        return list(dict.fromkeys(outside))

    def add(self, node: Node) -> None:
        self.nodes.append(node)
        self.params += node.layer.params()
        self.buffers += node.layer.buffers()
        self.macs += node.layer.macs()
        self.flops += node.layer.flops()

    def merge(self, other: Group) -> None:
        """Absorb the next copy of this group."""
        self.nodes += other.nodes
        self.names += other.names
        self.repeat += other.repeat
        self.params += other.params
        self.buffers += other.buffers
        self.macs += other.macs
        self.flops += other.flops


def _structure(group: Group, parent: tuple[tuple[str, str], ...]) -> tuple:
    """What two copies of a block share: parent, type, and every node's relative name, type,
    arguments and output shape (one copy's nodes only)."""
    prefix = group.name + "."
    copy = group.nodes[: len(group.nodes) // group.repeat]
    return (parent, group.type, tuple(
        (n.name.removeprefix(prefix), n.layer.type_name, json.dumps(n.layer.args, sort_keys=True),
         tuple(n.layer.out_shape)) for n in copy))


def collapse(graph: Graph, depth: int | None) -> list[Node | Group]:
    """Rows in execution order: nodes outside depth-`depth` groups, and one Group per such
    group (consecutive identical copies merged); `None` keeps every node."""
    if depth is None:
        return list(graph.nodes)
    if depth < 1:
        raise ValueError(f"depth must be 1 or more, got {depth}")
    rows: list[Node | Group] = []
    parents: dict[int, tuple[tuple[str, str], ...]] = {}  # id(group row) -> its parent path
    for node in graph.nodes:
        path = node.spec.groups
        if len(path) < depth:
            rows.append(node)
            continue
        name, type_name = path[depth - 1]
        last = rows[-1] if rows else None
        if isinstance(last, Group) and last.names[-1] == name:
            last.add(node)
            continue
        group = Group(name, type_name, depth, [], names=[name])
        group.add(node)
        parents[id(group)] = path[: depth - 1]
        rows.append(group)
    return _merge_repeats(rows, parents)


def _merge_repeats(rows: list[Node | Group], parents: dict[int, tuple[tuple[str, str], ...]]) -> list[Node | Group]:
    merged: list[Node | Group] = []
    for row in rows:
        last = merged[-1] if merged else None
        if (isinstance(row, Group) and isinstance(last, Group)
                and _structure(last, parents[id(last)]) == _structure(row, parents[id(row)])):
            last.merge(row)
        else:
            merged.append(row)
    return merged


def max_depth(graph: Graph) -> int:
    """The deepest nesting of groups in the graph (0 for a plain sequence of layers)."""
    return max((len(node.spec.groups) for node in graph.nodes), default=0)
