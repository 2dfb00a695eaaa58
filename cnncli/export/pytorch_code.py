"""`cnn export --to pytorch`: a readable, standalone PyTorch module for a spec (it never imports cnncli).

One class named after the spec; one attribute per node that holds parameters or statistics
(named after the node, as `python_names` makes it an identifier); a `forward` that follows the
graph, with each node's output shape in a comment. A value lives in `x` while the graph is a
chain and gets the node's name where a later node (a residual add, a concat) reads it again.
The node descriptions are those the run-time module uses (cnncli.torch_engine.ops), so the
exported class and `cnn train --engine torch` build the same network, with the same state dict.
"""
from __future__ import annotations

import textwrap
from typing import Any

from cnncli import __version__
from cnncli.export.common import InputTransform, class_name, python_names
from cnncli.graph import Graph
from cnncli.layers.base import fmt_shape
from cnncli.spec.expand import INPUT
from cnncli.torch_engine.ops import TorchOp, torch_op

_INDENT = " " * 8


def _literal(value: Any) -> str:
    """Python source for a plain argument value."""
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return f"float('{value}')"
    return repr(value)


# Arguments left out of the written code where they equal PyTorch's defaults (the run-time module passes all).
# Pooling keeps its stride: F.max_pool2d's default stride is the kernel, not 1.
_BATCHNORM = {"eps": 1e-5, "momentum": 0.1}
_POOL = {"padding": 0, "ceil_mode": False}
_DEFAULTS: dict[str | None, dict[str, object]] = {
    "Conv2d": {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True},
    "Linear": {"bias": True}, "BatchNorm2d": _BATCHNORM, "BatchNorm1d": _BATCHNORM,
    "nn.functional.max_pool2d": _POOL, "nn.functional.avg_pool2d": _POOL,
}


def _call_args(op: TorchOp, first: str | None) -> str:
    defaults = _DEFAULTS.get(op.module or op.function, {})
    parts = ([first] if first is not None else []) + [_literal(a) for a in op.args]
    parts += [f"{k}={_literal(v)}" for k, v in op.kwargs.items()
              if not (k in defaults and v == defaults[k] and type(v) is type(defaults[k]))]
    return ", ".join(parts)


def _function_name(dotted: str) -> str:
    return "F." + dotted.split(".", 2)[2] if dotted.startswith("nn.functional.") else f"torch.{dotted}"


def _variables(graph: Graph) -> dict[str, str]:
    """The local variable holding each value: `x` when only the very next node reads it, else its own name."""
    names = python_names(graph)
    order = [INPUT] + [node.name for node in graph.nodes]
    readers: dict[str, list[int]] = {name: [] for name in order}
    for position, node in enumerate(graph.nodes, start=1):
        for source in node.layer.inputs:
            readers[source].append(position)
    out = {}
    for position, name in enumerate(order):
        chained = readers[name] == [position + 1] or position == len(order) - 1
        out[name] = "x" if chained else (names[name] if name != INPUT else "x_in")
    return out


def _expression(op: TorchOp, attribute: str, inputs: list[str]) -> str:
    if op.function == "add":
        return " + ".join(inputs)
    if op.function == "concat":
        return f"torch.cat([{', '.join(inputs)}], dim=1)"
    x = inputs[0]
    if op.pad is not None:
        fill = f", value={_literal(op.pad_value)}" if op.pad_value else ""
        x = f"F.pad({x}, {op.pad}{fill})"
    if op.module is not None:
        return f"self.{attribute}({x})"
    call = _call_args(op, x)
    if op.uses_training:
        call += ", training=self.training"
    return f"{_function_name(op.function)}({call})"


def pytorch_source(graph: Graph, spec_file: str, transform: InputTransform | None) -> str:
    """The text of net.py for `graph`."""
    cls = class_name(graph.name)
    names, variables = python_names(graph), _variables(graph)
    init_lines, forward_lines = [], []
    c = graph.input_shape[0]
    if transform is not None:
        init_lines += [f'self.register_buffer("input_mean", torch.tensor({list(transform.mean)}).view(1, {c}, 1, 1), '
                       f'persistent=False)',
                       f'self.register_buffer("input_std", torch.tensor({list(transform.std)}).view(1, {c}, 1, 1), '
                       f'persistent=False)']
        forward_lines.append(f"x = (x * {transform.scale!r} - self.input_mean) / self.input_std"
                             f"  # standardised as in training")
    if variables[INPUT] != "x":
        forward_lines.append(f"{variables[INPUT]} = x")
    for node in graph.nodes:
        op, attribute = torch_op(node.layer), names[node.name]
        if op.module is not None:
            init_lines.append(f"self.{attribute} = nn.{op.module}({_call_args(op, None)})")
        expression = _expression(op, attribute, [variables[i] for i in node.layer.inputs])
        forward_lines.append(f"{variables[node.name]} = {expression}  # {node.name}: {fmt_shape(node.layer.out_shape)}")
    forward_lines.append(f"return {variables[graph.nodes[-1].name]}")
    out_shape = fmt_shape(graph.output.layer.out_shape)
    if transform is not None:
        takes = f"It {transform.describe()}, so it classifies exactly as `cnn evaluate` does."
    else:
        takes = ("It takes inputs as the network was trained on them (standardised per channel); "
                 "export with --weights to build the input normalisation in.")
    final = " (class probabilities: the spec ends in softmax)" if graph.nodes[-1].layer.type_name == "softmax" else ""
    header = [
        f'"""{graph.name}, exported by cnncli {__version__} from {spec_file}.', "",
        f"{cls}() takes a float32 batch [N, {', '.join(map(str, graph.input_shape))}] and returns "
        f"[N, {out_shape[1:]}{final}.",
        *textwrap.wrap(takes, 100),
        f'Weights: model = {cls}(); model.load_state_dict(torch.load("net.pt")) (if exported with --weights).',
        '"""',
        "import torch",
        "from torch import nn",
        "from torch.nn import functional as F",
        "", "",
        f"class {cls}(nn.Module):",
        f'    """{graph.name}: {len(graph.nodes)} nodes; shapes in comments exclude the batch dimension."""',
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
    ]
    body = header + [_INDENT + line for line in init_lines]
    body += ["", "    def forward(self, x: torch.Tensor) -> torch.Tensor:"]
    body += [_INDENT + line for line in forward_lines]
    return "\n".join(body) + "\n"
