"""The layer contract: every layer type is one class that owns its maths.

A layer is built from validated arguments, then `bind(in_shapes)` fixes its input shapes and
computes its output shape. Everything else (parameter shapes, buffers, MACs, FLOPs, the
window it slides for receptive fields) is derived from the bound shapes, so the analysis and
the training engine allocate and count exactly the same tensors.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, ClassVar

from cnncli.layers.args import Arg
from cnncli.shapes import AxisArithmetic

Shape = tuple[int, ...]


class ShapeError(Exception):
    """The layer cannot take these input shapes; `argument` names the culprit if there is one."""

    def __init__(self, message: str, argument: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.argument = argument


@dataclass(frozen=True)
class Window:
    """What a layer slides over its input, per axis (h, w): span of the (dilated) kernel, stride."""

    span: tuple[int, int]
    stride: tuple[int, int]


@dataclass(frozen=True)
class Note:
    """Something the user should know about a layer; `warning` ones are repeated on stderr."""

    kind: str  # "info" or "warning"
    text: str


def fmt_shape(shape: Shape) -> str:
    """[C, H, W] as text."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


def numel(shape: Shape) -> int:
    """Number of elements of a shape (1 for a scalar)."""
    return prod(shape)


def require_spatial(type_name: str, shape: Shape) -> tuple[int, int, int]:
    """Unpack [C, H, W] or explain why this input is not one."""
    if len(shape) != 3:
        raise ShapeError(f"{type_name} expects a [C, H, W] input, got {fmt_shape(shape)}"
                         + (" (already flattened; move it before flatten)" if len(shape) == 1 else ""))
    c, h, w = shape
    return c, h, w


class Layer:
    """Base class. Subclasses set `type_name`, `schema` and override `infer` and what they count."""

    type_name: ClassVar[str]
    summary: ClassVar[str] = ""
    main_arg: ClassVar[str | None] = None
    schema: ClassVar[dict[str, Arg]] = {}
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    # What the Numba engine needs, named here so that the layers package never imports it:
    # the op that runs the layer ("<module>.<class>" under cnncli.engine.ops), and the rule
    # that gives each parameter and buffer its initial value (by tensor name; cnncli.engine.init).
    engine_op: ClassVar[str] = ""
    init: ClassVar[dict[str, str]] = {}

    def __init__(self, name: str, inputs: list[str], args: dict[str, Any]) -> None:
        self.name = name
        self.inputs = inputs
        self.args = args
        self.in_shapes: list[Shape] = []
        self.out_shape: Shape = ()

    def bind(self, in_shapes: list[Shape]) -> Shape:
        """Fix the input shapes and compute the output shape (raises ShapeError)."""
        self.in_shapes = list(in_shapes)
        self.out_shape = self.infer(self.in_shapes)
        return self.out_shape

    @property
    def in_shape(self) -> Shape:
        return self.in_shapes[0]

    def infer(self, in_shapes: list[Shape]) -> Shape:
        """Output shape for these input shapes (batch dimension excluded)."""
        raise NotImplementedError

    def param_shapes(self) -> dict[str, Shape]:
        """Learnable tensors, named and shaped as PyTorch names and shapes them."""
        return {}

    def buffer_shapes(self) -> dict[str, Shape]:
        """Non-learned state (batch-norm running statistics)."""
        return {}

    def params(self) -> int:
        return sum(numel(s) for s in self.param_shapes().values())

    def buffers(self) -> int:
        return sum(numel(s) for s in self.buffer_shapes().values())

    def macs(self) -> int:
        """Multiply-accumulates of the layer's weights (conv and dense only), bias excluded."""
        return 0

    def flops(self) -> int:
        """The wider operation count (docs/conventions.md has the table)."""
        return 0

    def window(self) -> Window | None:
        """The window slid over the input, for receptive fields; None if the layer is pointwise."""
        return None

    def arithmetic(self) -> list[AxisArithmetic]:
        """The size formula of each spatial axis, with the numbers in it (windowed layers)."""
        return []

    def notes(self) -> list[Note]:
        """Things the user should know about this layer: padding chosen (info), rows dropped (warning)."""
        return []
