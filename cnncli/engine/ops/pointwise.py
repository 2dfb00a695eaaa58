"""Activations, softmax, add and concat ops."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cnncli.engine.kernels import activation
from cnncli.engine.ops.base import Arrays, Op
from cnncli.layers.base import Layer


class ActivationOp(Op):
    """y = f(x); backward reads x (ReLU family) or y (sigmoid, tanh, softmax), whichever is cheaper."""

    def __init__(self, layer: Layer, forward: Callable[..., np.ndarray], backward: Callable[..., np.ndarray],
                 reads_output: bool, extra: tuple = ()) -> None:
        super().__init__(layer)
        self.fn, self.grad, self.reads_output, self.extra = forward, backward, reads_output, extra

    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        y = self.fn(inputs[0], *self.extra)
        if training:
            self._saved = y if self.reads_output else inputs[0]
        return y

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        return [self.grad(dy, self._saved, *self.extra)], {}


def activation_op(layer: Layer) -> ActivationOp:
    """The op of an activation layer, by type name."""
    kind = layer.type_name
    if kind == "leaky_relu":
        return ActivationOp(layer, activation.leaky_relu_forward, activation.leaky_relu_backward, False,
                            (np.float32(layer.args["slope"]),))
    reads_output = kind in ("sigmoid", "tanh", "softmax")
    return ActivationOp(layer, getattr(activation, f"{kind}_forward"), getattr(activation, f"{kind}_backward"),
                        reads_output)


class AddOp(Op):
    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        out = inputs[0] + inputs[1]
        for x in inputs[2:]:
            out += x
        return out

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        return [dy] * len(self.layer.inputs), {}


class ConcatOp(Op):
    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        self._sizes = [x.shape[1] for x in inputs]
        return np.concatenate(inputs, axis=1)

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        bounds = np.cumsum(self._sizes)[:-1]
        return [np.ascontiguousarray(part) for part in np.split(dy, bounds, axis=1)], {}
