"""Numbers only: one row per node (or per block at `--depth N`) and the totals, from a built graph.

Training memory at batch size N (fp32, 4 bytes a value), as our engine spends it:
    activations = N · output elements of every node (kept for backward; in-place layers included)
    weights = params,  gradients = params,  optimizer state = k · params
with k = 2 for Adam/AdamW, 1 for SGD with momentum, 0 for plain SGD.

Other tools' totals, labelled as theirs:
- Keras `model.summary()`: total = params + buffers, trainable = params, non-trainable = buffers
  (batch-norm moving mean and variance are non-trainable weights in Keras).
- torchinfo `summary()` (1.8): input size = N · input elements · 4 B; forward/backward pass =
  2 · 4 B · N · output elements of every leaf layer that has parameters; params size = 4 B ·
  params; estimated total = the three summed (MB = 10^6 bytes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnncli.graph import Graph, Node, input_order_hint
from cnncli.grouping import Group, collapse
from cnncli.layers.base import Note, numel

BYTES_PER_VALUE = 4
OPTIMIZER_STATE = {"adam": 2, "adamw": 2, "sgd_momentum": 1, "sgd": 0}


@dataclass
class Row:
    """One node of the analysis, or one block (`kind` "group") or the input (`kind` "input")."""

    name: str
    type: str
    inputs: list[str]
    output_shape: tuple[int, ...]
    params: int
    buffers: int
    macs: int
    flops: int
    receptive_field: tuple[int, int] | None
    effective_stride: tuple[int, int] | None
    follows_previous: bool = True
    param_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    arithmetic: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    kind: str = "layer"
    repeat: int = 1
    activations: int = -1  # values kept for backward per image; a group's sums its nodes
    nodes: list[str] = field(default_factory=list)  # the primitive nodes the row stands for

    def __post_init__(self) -> None:
        if self.activations < 0:
            self.activations = numel(self.output_shape)
        if not self.nodes and self.kind == "layer":
            self.nodes = [self.name]

    @property
    def activation_values(self) -> int:
        """Elements of the output, per image (the course's 'activation size')."""
        return numel(self.output_shape)

    def training_bytes(self, batch_size: int, optimizer: str) -> int:
        """4 B · (N · activations + (2 + k) · params): what this row costs to train (module docstring)."""
        return BYTES_PER_VALUE * (batch_size * self.activations + (2 + OPTIMIZER_STATE[optimizer]) * self.params)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "type": self.type, "inputs": list(self.inputs), "output_shape": list(self.output_shape),
            "params": self.params, "buffers": self.buffers, "macs": self.macs, "flops": self.flops,
            "receptive_field": _square_or_pair(self.receptive_field),
            "effective_stride": _square_or_pair(self.effective_stride),
            "activations": self.activation_values,
            "param_shapes": {k: list(v) for k, v in self.param_shapes.items()},
            "arithmetic": list(self.arithmetic), "notes": [note.text for note in self.notes],
        }


@dataclass
class Analysis:
    """Rows in execution order and their totals; `table_rows` is what a table shows (input row
    first, blocks collapsed at `depth`)."""

    name: str
    input_shape: tuple[int, ...]
    rows: list[Row]
    totals: dict[str, int]
    warnings: list[str]
    table_rows: list[Row] = field(default_factory=list)
    depth: int | None = None

    def param_memory_mb(self) -> float:
        """Parameter memory in MB (fp32, 10^6 bytes)."""
        return self.totals["params"] * BYTES_PER_VALUE / 1e6

    def training_memory(self, batch_size: int, optimizer: str = "adam") -> dict[str, int]:
        """Bytes needed to train at `batch_size`, by kind (see the module docstring)."""
        params = self.totals["params"]
        activations = batch_size * (numel(self.input_shape) + sum(r.activations for r in self.rows))
        memory = {
            "activations": activations * BYTES_PER_VALUE,
            "weights": params * BYTES_PER_VALUE,
            "gradients": params * BYTES_PER_VALUE,
            "optimizer_state": OPTIMIZER_STATE[optimizer] * params * BYTES_PER_VALUE,
            "buffers": self.totals["buffers"] * BYTES_PER_VALUE,
        }
        memory["total"] = sum(memory.values())
        return memory

    def keras_totals(self) -> dict[str, int]:
        """Keras's three counts (batch-norm statistics are non-trainable weights there)."""
        t = self.totals
        return {"total": t["params"] + t["buffers"], "trainable": t["params"], "non_trainable": t["buffers"]}

    def torchinfo_sizes(self, batch_size: int) -> dict[str, int]:
        """torchinfo's size block in bytes (module docstring): input, forward/backward, params, total."""
        n = batch_size * BYTES_PER_VALUE
        sizes = {"input": n * numel(self.input_shape),
                 "forward_backward": 2 * n * sum(r.activation_values for r in self.rows if r.params),
                 "params": BYTES_PER_VALUE * self.totals["params"]}
        sizes["total"] = sum(sizes.values())
        return sizes

    def to_json(self) -> dict[str, Any]:
        """The JSON object of SPEC.md ('The analysis, as JSON'), plus a few extra keys per row;
        with a depth, also the collapsed rows under `groups`."""
        data: dict[str, Any] = {
            "name": self.name, "input": list(self.input_shape), "layers": [row.to_json() for row in self.rows],
            "totals": dict(self.totals), "warnings": list(self.warnings),
            "keras_totals": self.keras_totals(),
        }
        if self.depth is not None:
            data["depth"] = self.depth
            data["groups"] = [dict(row.to_json(), kind=row.kind, repeat=row.repeat)
                              for row in self.table_rows if row.kind != "input"]
        return data


def _square_or_pair(value: tuple[int, int] | None) -> int | list[int] | None:
    if value is None:
        return None
    return value[0] if value[0] == value[1] else list(value)


def _row(node: Node, previous: str, spatial_input: bool) -> Row:
    layer = node.layer
    spatial = len(layer.out_shape) == 3 or spatial_input
    return Row(
        name=layer.name, type=layer.type_name, inputs=list(layer.inputs), output_shape=tuple(layer.out_shape),
        params=layer.params(), buffers=layer.buffers(), macs=layer.macs(), flops=layer.flops(),
        receptive_field=node.field.size if spatial else None,
        effective_stride=node.field.stride if spatial else None,
        follows_previous=layer.inputs == [previous],
        param_shapes=layer.param_shapes(),
        arithmetic=[a.formula() for a in layer.arithmetic()],
        notes=layer.notes(),
    )


def _group_row(group: Group, by_name: dict[str, Row], previous: str) -> Row:
    rows = [by_name[node.name] for node in group.nodes]
    spatial = rows[-1].receptive_field is not None
    return Row(
        name=group.name, type=group.type, inputs=group.inputs, output_shape=tuple(group.out_shape),
        params=group.params, buffers=group.buffers, macs=group.macs, flops=group.flops,
        receptive_field=group.field.size if spatial else None, effective_stride=group.field.stride if spatial else None,
        follows_previous=group.inputs == [previous], notes=[n for r in rows for n in r.notes],
        kind="group", repeat=group.repeat, activations=sum(r.activations for r in rows),
        nodes=[node.name for node in group.nodes],
    )


def _table_rows(graph: Graph, rows: list[Row], depth: int | None) -> list[Row]:
    """The input row, then each node's row, or at a depth each block's row."""
    spatial = len(graph.input_shape) == 3
    table = [Row("input", "input", [], tuple(graph.input_shape), 0, 0, 0, 0, (1, 1) if spatial else None,
                 (1, 1) if spatial else None, kind="input")]
    by_name = {row.name: row for row in rows}
    previous = "input"
    for item in collapse(graph, depth):
        if isinstance(item, Group):
            table.append(_group_row(item, by_name, previous))
            previous = item.nodes[-1].name
        else:
            table.append(by_name[item.name])
            previous = item.name
    return table


def analyze(graph: Graph, depth: int | None = None) -> Analysis:
    """Rows and totals for a graph; table rows collapsed at `depth` (None: every node)."""
    spatial_input = len(graph.input_shape) == 3
    previous = ["input"] + [node.name for node in graph.nodes]
    rows = [_row(node, before, spatial_input) for node, before in zip(graph.nodes, previous)]
    params = sum(r.params for r in rows)
    totals = {
        "params": params, "trainable_params": params, "buffers": sum(r.buffers for r in rows),
        "macs": sum(r.macs for r in rows), "flops": sum(r.flops for r in rows),
    }
    warnings = [f"{row.name}: {note.text}" for row in rows for note in row.notes if note.kind == "warning"]
    warnings += [input_order_hint(graph.input_shape)] if input_order_hint(graph.input_shape) else []
    warnings += [f"{name}: its output is never used (only the last node is the network's output)"
                 for name in graph.unused()]
    return Analysis(graph.name, tuple(graph.input_shape), rows, totals, warnings,
                    _table_rows(graph, rows, depth), depth)
