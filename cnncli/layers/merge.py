"""Layers that join several inputs: element-wise add and channel concatenation."""
from __future__ import annotations

from cnncli.layers.base import Layer, Shape, ShapeError, fmt_shape, numel


class Add(Layer):
    """y = x₁ + x₂ + …; all inputs must have the same shape."""

    type_name = "add"
    engine_op = "pointwise.AddOp"
    summary = "element-wise sum of two or more inputs of the same shape"
    min_inputs = 2
    max_inputs = None

    def infer(self, in_shapes: list[Shape]) -> Shape:
        first = in_shapes[0]
        for name, shape in zip(self.inputs[1:], in_shapes[1:]):
            if shape != first:
                raise ShapeError(f"add needs inputs of one shape, but '{self.inputs[0]}' is {fmt_shape(first)} "
                                 f"and '{name}' is {fmt_shape(shape)}")
        return first

    def flops(self) -> int:
        """(inputs − 1) adds per output element."""
        return (len(self.in_shapes) - 1) * numel(self.out_shape)


class Concat(Layer):
    """Join [C₁, H, W], [C₂, H, W], … into [C₁ + C₂ + …, H, W] (or flat vectors end to end)."""

    type_name = "concat"
    engine_op = "pointwise.ConcatOp"
    summary = "join inputs along channels (inputs, or branches)"
    min_inputs = 2
    max_inputs = None

    def infer(self, in_shapes: list[Shape]) -> Shape:
        first = in_shapes[0]
        for name, shape in zip(self.inputs[1:], in_shapes[1:]):
            if len(shape) != len(first) or shape[1:] != first[1:]:
                listing = ", ".join(f"'{n}' {fmt_shape(s)}" for n, s in zip(self.inputs, in_shapes))
                raise ShapeError(f"concat joins along channels, so all but the channel size must agree: {listing}")
        return (sum(s[0] for s in in_shapes),) + first[1:]
