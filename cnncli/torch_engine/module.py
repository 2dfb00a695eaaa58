"""A spec's graph as a torch.nn.Module, built at run time from the same descriptions the exporter writes out.

Parameters are attributes named as `cnncli.export.common.python_names` names the nodes, so the
state dict's keys are `<attribute>.<tensor>` and equal those of the exported `net.py`.
"""
from __future__ import annotations

import torch
from torch import nn

from cnncli.engine.plan import logit_nodes
from cnncli.export.common import InputTransform, python_names
from cnncli.graph import Graph
from cnncli.spec.expand import INPUT
from cnncli.torch_engine.ops import TorchOp, torch_op


def resolve(dotted: str):  # type: ignore[no-untyped-def]
    """`nn.functional.relu` -> torch.nn.functional.relu."""
    target = torch
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


class GraphModule(nn.Module):
    """Runs the graph's nodes in order; `logits=True` stops before a final softmax (training fuses it
    with the loss); `transform` standardises raw inputs first (x * scale − mean) / std."""

    def __init__(self, graph: Graph, logits: bool = False, transform: InputTransform | None = None) -> None:
        super().__init__()
        self.names = python_names(graph)
        nodes = logit_nodes(graph.nodes) if logits else graph.nodes
        self.steps: list[tuple[str, list[str], TorchOp]] = []
        for node in nodes:
            op = torch_op(node.layer)
            if op.module is not None:
                self.add_module(self.names[node.name], getattr(nn, op.module)(*op.args, **op.kwargs))
            self.steps.append((node.name, list(node.layer.inputs), op))
        self.output_name = nodes[-1].name
        self.has_transform = transform is not None
        if transform is not None:
            shape = (1, len(transform.mean), 1, 1)
            self.register_buffer("input_mean", torch.tensor(transform.mean).view(shape), persistent=False)
            self.register_buffer("input_std", torch.tensor(transform.std).view(shape), persistent=False)
            self.input_scale = transform.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.has_transform:
            x = (x * self.input_scale - self.input_mean) / self.input_std
        values = {INPUT: x}
        for name, inputs, op in self.steps:
            values[name] = self._run(name, op, [values[i] for i in inputs])
        return values[self.output_name]

    def _run(self, name: str, op: TorchOp, xs: list[torch.Tensor]) -> torch.Tensor:
        if op.function == "add":
            out = xs[0]
            for other in xs[1:]:
                out = out + other
            return out
        if op.function == "concat":
            return torch.cat(xs, dim=1)
        x = xs[0]
        if op.pad is not None:
            x = nn.functional.pad(x, op.pad, value=op.pad_value)
        if op.module is not None:
            return getattr(self, self.names[name])(x)
        kwargs = {**op.kwargs, "training": self.training} if op.uses_training else op.kwargs
        return resolve(op.function)(x, *op.args, **kwargs)
