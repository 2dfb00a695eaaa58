"""Each graph node as PyTorch expresses it: one description serves the run-time module and the code exporter.

A node is either a module holding parameters or state (`nn.Conv2d`, `nn.Linear`,
`nn.BatchNorm1d/2d`), which becomes an attribute named after the node, or a stateless function
(`F.max_pool2d`, `torch.flatten`, ...), called in `forward`. Padding that PyTorch's layers
cannot express (asymmetric 'same' padding) becomes an explicit `F.pad` first, with -inf for max
pooling, so that windows and average-pool divisors equal the engine's (count_include_pad, the
window clipped at the padded edge).
No PyTorch import here: the descriptions are plain data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnncli.errors import UsageError
from cnncli.layers.base import Layer


@dataclass(frozen=True)
class TorchOp:
    """How one node runs in PyTorch.

    module: `torch.nn` class name for nodes with parameters/state (constructed with `args`, `kwargs`);
    function: dotted name under `torch` for stateless nodes (`nn.functional.relu`, `flatten`), called as
    function(x, *args, **kwargs), or the merges "add" and "concat" over all inputs;
    pad: (left, right, top, bottom) applied with `pad_value` before the node, or None."""

    module: str | None = None
    function: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    pad: tuple[int, int, int, int] | None = None
    pad_value: float = 0.0
    uses_training: bool = False  # function takes training=self.training (dropout)


def _pair(value: tuple[int, int]) -> int | tuple[int, int]:
    """7 for (7, 7), else the pair (PyTorch takes both)."""
    return value[0] if value[0] == value[1] else (value[0], value[1])


def _padding(layer: Any) -> tuple[int | tuple[int, int], tuple[int, int, int, int] | None]:
    """(padding argument, explicit pad or None): symmetric padding goes to the layer itself."""
    (top, bottom), (left, right) = layer.pads
    if top == bottom and left == right:
        return _pair((top, left)), None
    return 0, (left, right, top, bottom)


def _conv(layer: Any) -> TorchOp:
    padding, pad = _padding(layer)
    kwargs = {"kernel_size": _pair(layer.kernel), "stride": _pair(layer.stride), "padding": padding,
              "dilation": _pair(layer.dilation), "groups": layer.groups, "bias": layer.args["bias"]}
    return TorchOp(module="Conv2d", args=(layer.in_shape[0], layer.filters), kwargs=kwargs, pad=pad)


def _pool(layer: Any, name: str) -> TorchOp:
    padding, pad = _padding(layer)
    kwargs = {"kernel_size": _pair(layer.kernel), "stride": _pair(layer.stride), "padding": padding,
              "ceil_mode": layer.ceil_mode}
    fill = float("-inf") if name == "max_pool2d" else 0.0
    return TorchOp(function=f"nn.functional.{name}", kwargs=kwargs, pad=pad, pad_value=fill)


def _batchnorm(layer: Any) -> TorchOp:
    kind = "BatchNorm2d" if len(layer.in_shape) == 3 else "BatchNorm1d"
    return TorchOp(module=kind, args=(layer.in_shape[0],),
                   kwargs={"eps": layer.args["eps"], "momentum": layer.args["momentum"]})


def _adaptive(layer: Any) -> TorchOp:
    return TorchOp(function="nn.functional.adaptive_avg_pool2d", args=(_pair(layer.args["output"]),))


_BUILDERS: dict[str, Any] = {
    "conv2d": _conv,
    "maxpool": lambda layer: _pool(layer, "max_pool2d"),
    "avgpool": lambda layer: _pool(layer, "avg_pool2d"),
    "global_avgpool": lambda layer: TorchOp(function="nn.functional.adaptive_avg_pool2d", args=(1,)),
    "global_maxpool": lambda layer: TorchOp(function="nn.functional.adaptive_max_pool2d", args=(1,)),
    "adaptive_avgpool": _adaptive,
    "batchnorm": _batchnorm,
    "dropout": lambda layer: TorchOp(function="nn.functional.dropout", kwargs={"p": layer.args["rate"]},
                                     uses_training=True),
    "dense": lambda layer: TorchOp(module="Linear", args=(layer.in_shape[0], layer.units),
                                   kwargs={"bias": layer.args["bias"]}),
    "flatten": lambda layer: TorchOp(function="flatten", args=(1,)),
    "relu": lambda layer: TorchOp(function="nn.functional.relu"),
    "relu6": lambda layer: TorchOp(function="nn.functional.relu6"),
    "leaky_relu": lambda layer: TorchOp(function="nn.functional.leaky_relu",
                                        kwargs={"negative_slope": layer.args["slope"]}),
    "sigmoid": lambda layer: TorchOp(function="sigmoid"),
    "tanh": lambda layer: TorchOp(function="tanh"),
    "softmax": lambda layer: TorchOp(function="softmax", kwargs={"dim": 1}),
    "add": lambda layer: TorchOp(function="add"),
    "concat": lambda layer: TorchOp(function="concat"),
}


def torch_op(layer: Layer) -> TorchOp:
    """The PyTorch form of a bound layer (UsageError for a type this exporter does not know)."""
    builder = _BUILDERS.get(layer.type_name)
    if builder is None:
        raise UsageError(f"node '{layer.name}': layer type {layer.type_name} has no PyTorch form yet")
    return builder(layer)
