"""Numbers only: one row per node and the totals, from a built graph.

Training memory per node at batch size N (fp32, 4 bytes a value), as our engine spends it:
    activations = N · output elements        (kept for backward; in-place layers included)
    weights = params,  gradients = params,  optimizer state = k · params
with k = 2 for Adam/AdamW, 1 for SGD with momentum, 0 for plain SGD.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cnncli.graph import Graph, Node
from cnncli.layers.base import numel

BYTES_PER_VALUE = 4
OPTIMIZER_STATE = {"adam": 2, "adamw": 2, "sgd_momentum": 1, "sgd": 0}


@dataclass
class Row:
    """One node of the analysis (what every report format shows)."""

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
    notes: list[str] = field(default_factory=list)

    @property
    def activation_values(self) -> int:
        return numel(self.output_shape)


@dataclass
class Analysis:
    """Rows in execution order and their totals."""

    name: str
    input_shape: tuple[int, ...]
    rows: list[Row]
    totals: dict[str, int]
    warnings: list[str]

    def param_memory_mb(self) -> float:
        """Parameter memory in MB (fp32, 10^6 bytes)."""
        return self.totals["params"] * BYTES_PER_VALUE / 1e6

    def training_memory(self, batch_size: int, optimizer: str = "adam") -> dict[str, int]:
        """Bytes needed to train at `batch_size`, by kind (see the module docstring)."""
        params = self.totals["params"]
        activations = batch_size * (numel(self.input_shape) + sum(r.activation_values for r in self.rows))
        memory = {
            "activations": activations * BYTES_PER_VALUE,
            "weights": params * BYTES_PER_VALUE,
            "gradients": params * BYTES_PER_VALUE,
            "optimizer_state": OPTIMIZER_STATE[optimizer] * params * BYTES_PER_VALUE,
            "buffers": self.totals["buffers"] * BYTES_PER_VALUE,
        }
        memory["total"] = sum(memory.values())
        return memory

    def to_json(self) -> dict[str, Any]:
        """The JSON object of SPEC.md ('The analysis, as JSON'), plus a few extra keys per row."""
        layers = []
        for row in self.rows:
            item = asdict(row)
            item["output_shape"] = list(row.output_shape)
            item["receptive_field"] = _square_or_pair(row.receptive_field)
            item["effective_stride"] = _square_or_pair(row.effective_stride)
            item["param_shapes"] = {k: list(v) for k, v in row.param_shapes.items()}
            del item["follows_previous"]
            layers.append(item)
        return {"name": self.name, "input": list(self.input_shape), "layers": layers,
                "totals": dict(self.totals), "warnings": list(self.warnings)}


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


def analyze(graph: Graph) -> Analysis:
    """Rows and totals for a graph."""
    spatial_input = len(graph.input_shape) == 3
    previous = ["input"] + [node.name for node in graph.nodes]
    rows = [_row(node, before, spatial_input) for node, before in zip(graph.nodes, previous)]
    params = sum(r.params for r in rows)
    totals = {
        "params": params, "trainable_params": params, "buffers": sum(r.buffers for r in rows),
        "macs": sum(r.macs for r in rows), "flops": sum(r.flops for r in rows),
    }
    warnings = [f"{row.name}: {note}" for row in rows for note in row.notes if "drops" in note]
    warnings += [f"{name}: its output is never used (only the last node is the network's output)"
                 for name in graph.unused()]
    return Analysis(graph.name, tuple(graph.input_shape), rows, totals, warnings)



