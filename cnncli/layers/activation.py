"""Element-wise activations and softmax (over channels)."""
from __future__ import annotations

from cnncli.layers.args import Arg
from cnncli.layers.base import Layer, Shape, numel


class Activation(Layer):
    """An element-wise function: output shape = input shape, one FLOP per element."""

    def infer(self, in_shapes: list[Shape]) -> Shape:
        return in_shapes[0]

    def flops(self) -> int:
        """One operation per element."""
        return numel(self.out_shape)


class ReLU(Activation):
    """max(0, x)."""

    type_name = "relu"
    engine_op = "pointwise.ReluOp"
    summary = "max(0, x)"


class ReLU6(Activation):
    """min(max(0, x), 6)."""

    type_name = "relu6"
    engine_op = "pointwise.Relu6Op"
    summary = "min(max(0, x), 6)"


class LeakyReLU(Activation):
    """x if x > 0 else slope · x."""

    type_name = "leaky_relu"
    engine_op = "pointwise.LeakyReluOp"
    summary = "x if x > 0 else slope·x (slope)"
    main_arg = "slope"
    schema = {"slope": Arg("float", 0.01, minimum=0)}


class Sigmoid(Activation):
    """1 / (1 + e^−x)."""

    type_name = "sigmoid"
    engine_op = "pointwise.SigmoidOp"
    summary = "1 / (1 + e^−x)"


class Tanh(Activation):
    """tanh(x)."""

    type_name = "tanh"
    engine_op = "pointwise.TanhOp"
    summary = "tanh(x)"


class Softmax(Activation):
    """e^x_k / Σ_j e^x_j over the channel (or feature) axis."""

    type_name = "softmax"
    engine_op = "pointwise.SoftmaxOp"
    summary = "normalised exponentials over channels; fused with cross-entropy in training"

    def flops(self) -> int:
        """Three per element: exponential, sum, divide."""
        return 3 * numel(self.out_shape)
