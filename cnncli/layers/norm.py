"""Batch normalisation and dropout."""
from __future__ import annotations

from cnncli.layers.args import Arg
from cnncli.layers.base import Layer, Shape, ShapeError, fmt_shape, numel


class BatchNorm(Layer):
    """y = γ · (x − μ) / √(σ² + eps) + β per channel; μ, σ² from the batch in training and from
    running averages (updated with `momentum`) in evaluation."""

    type_name = "batchnorm"
    engine_op = "norm.BatchNormOp"
    init = {"weight": "ones", "bias": "zeros", "running_mean": "zeros", "running_var": "ones"}
    summary = "batch normalisation per channel (eps, momentum)"
    schema = {"eps": Arg("float", 1e-5, minimum=0, maximum=1, above=True),  # 1/sqrt(var + eps) needs eps > 0
              "momentum": Arg("float", 0.1, minimum=0, maximum=1)}

    def infer(self, in_shapes: list[Shape]) -> Shape:
        if len(in_shapes[0]) not in (1, 3):
            raise ShapeError(f"batchnorm expects [C, H, W] or [features], got {fmt_shape(in_shapes[0])}")
        return in_shapes[0]

    @property
    def channels(self) -> int:
        return self.in_shape[0]

    def param_shapes(self) -> dict[str, Shape]:
        return {"weight": (self.channels,), "bias": (self.channels,)}

    def buffer_shapes(self) -> dict[str, Shape]:
        return {"running_mean": (self.channels,), "running_var": (self.channels,)}

    def flops(self) -> int:
        """2 per element: the normalisation folds into one scale and one shift at inference."""
        return 2 * numel(self.out_shape)


class Dropout(Layer):
    """Training: zero each element with probability `rate`, scale the rest by 1/(1 − rate)."""

    type_name = "dropout"
    engine_op = "norm.DropoutOp"
    summary = "randomly zero elements in training (rate)"
    main_arg = "rate"
    schema = {"rate": Arg("float", 0.5, minimum=0, maximum=1, below=True)}

    def infer(self, in_shapes: list[Shape]) -> Shape:
        return in_shapes[0]
