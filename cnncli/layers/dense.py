"""Fully connected layers and the flatten that feeds them."""
from __future__ import annotations

from cnncli.layers.args import Arg
from cnncli.layers.base import Layer, Shape, ShapeError, Window, fmt_shape, numel


class Flatten(Layer):
    """[C, H, W] -> [C·H·W] (row-major, as PyTorch's flatten)."""

    type_name = "flatten"
    engine_op = "dense.FlattenOp"
    summary = "[C, H, W] -> [C·H·W]"

    def infer(self, in_shapes: list[Shape]) -> Shape:
        return (numel(in_shapes[0]),)

    def window(self) -> Window | None:
        """Everything after a flatten sees the whole input it flattened."""
        if len(self.in_shape) != 3:
            return None
        _, h, w = self.in_shape
        return Window(span=(h, w), stride=(h, w))


class Dense(Layer):
    """y = W·x + b with W of shape [units, features] (PyTorch's Linear)."""

    type_name = "dense"
    engine_op = "dense.DenseOp"
    init = {"weight": "fan_in_uniform", "bias": "fan_in_uniform"}
    summary = "fully connected (units, bias, activation); needs a flat input"
    main_arg = "units"
    schema = {
        "units": Arg("int", minimum=1),
        "bias": Arg("bool", True),
        "activation": Arg("activation", None),
    }

    @property
    def units(self) -> int:
        return self.args["units"]

    def infer(self, in_shapes: list[Shape]) -> Shape:
        shape = in_shapes[0]
        if len(shape) != 1:
            raise ShapeError(f"dense expects a flat input [features], got {fmt_shape(shape)}; "
                             f"add '- flatten' before it (or global_avgpool, then flatten)")
        return (self.units,)

    def param_shapes(self) -> dict[str, Shape]:
        shapes: dict[str, Shape] = {"weight": (self.units, self.in_shape[0])}
        if self.args["bias"]:
            shapes["bias"] = (self.units,)
        return shapes

    def macs(self) -> int:
        """features · units."""
        return self.in_shape[0] * self.units

    def flops(self) -> int:
        """2 · MACs, plus one add per unit for the bias."""
        return 2 * self.macs() + (self.units if self.args["bias"] else 0)
