"""Activations, softmax, add and concat ops."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from cnncli.engine.kernels import activation
from cnncli.engine.ops.base import Arrays, Grads, Op


class ActivationOp(Op):
    """y = f(x); backward reads x (ReLU family) or y (sigmoid, tanh, softmax), whichever is cheaper.

    A subclass names its kernels: `f(x, *extra)` and `grad(dy, x or y, *extra)`."""

    f: ClassVar[Callable[..., np.ndarray]]
    grad: ClassVar[Callable[..., np.ndarray]]
    reads_output: ClassVar[bool] = False

    def extra(self) -> tuple[Any, ...]:
        """Arguments after the array (the leaky ReLU's slope)."""
        return ()

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        y = type(self).f(inputs[0], *self.extra())
        if training:
            self._saved = y if self.reads_output else inputs[0]
        return y

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        return [type(self).grad(dy, self._saved, *self.extra())], [{}]


class ReluOp(ActivationOp):
    f, grad = activation.relu_forward, activation.relu_backward


class Relu6Op(ActivationOp):
    f, grad = activation.relu6_forward, activation.relu6_backward


class LeakyReluOp(ActivationOp):
    f, grad = activation.leaky_relu_forward, activation.leaky_relu_backward

    def extra(self) -> tuple[Any, ...]:
        return (np.float32(self.layer.args["slope"]),)


class SigmoidOp(ActivationOp):
    f, grad, reads_output = activation.sigmoid_forward, activation.sigmoid_backward, True


class TanhOp(ActivationOp):
    f, grad, reads_output = activation.tanh_forward, activation.tanh_backward, True


class SoftmaxOp(ActivationOp):
    f, grad, reads_output = activation.softmax_forward, activation.softmax_backward, True


class AddOp(Op):
    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        out = inputs[0] + inputs[1]
        for x in inputs[2:]:
            out += x
        return out

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        return [dy] * len(self.layer.inputs), [{}]


class ConcatOp(Op):
    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        self._sizes = [x.shape[1] for x in inputs]
        return np.concatenate(inputs, axis=1)

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        bounds = np.cumsum(self._sizes)[:-1]
        return [np.ascontiguousarray(part) for part in np.split(dy, bounds, axis=1)], [{}]
