"""Batch normalisation and dropout ops."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnncli.engine.kernels import activation, norm
from cnncli.engine.ops.base import Arrays, Grads, Op
from cnncli.layers.activation import LeakyReLU, ReLU, ReLU6
from cnncli.layers.base import Layer
from cnncli.layers.norm import BatchNorm, Dropout

FUSED_ACTIVATIONS = (ReLU, ReLU6, LeakyReLU)  # the activations a batch norm runs in place (ops/fused.py)


def fused_activation(layer: Layer | None) -> tuple[int, float]:
    """(op, slope) of the kernels' activate_run / gate_run for one of FUSED_ACTIVATIONS, or
    (NO_ACTIVATION, 0) for None."""
    if layer is None:
        return activation.NO_ACTIVATION, 0.0
    if isinstance(layer, LeakyReLU):
        return activation.LEAKY_RELU, float(layer.args["slope"])
    return (activation.RELU6 if isinstance(layer, ReLU6) else activation.RELU), 0.0


def update_running_stats(buffers: Arrays, mean: np.ndarray, var: np.ndarray, count: int, momentum: float) -> None:
    """running = (1 − momentum) · running + momentum · batch, the variance unbiased (· n / (n − 1))."""
    unbiased = var * count / max(count - 1, 1)
    buffers["running_mean"] *= 1 - momentum
    buffers["running_mean"] += momentum * mean
    buffers["running_var"] *= 1 - momentum
    buffers["running_var"] += (momentum * unbiased).astype(np.float32)


class BatchNormOp(Op):
    """Training: batch statistics, and running stats updated as PyTorch does:
    running = (1 − momentum) · running + momentum · batch (unbiased variance: · n / (n − 1)).
    As the fused chain (batchnorm, relu | relu6 | leaky_relu) it applies the activation in the
    same pass, and its backward gates dy with the activation's derivative at the output."""

    layer: BatchNorm

    def __init__(self, layers: Sequence[Layer], rng: np.random.Generator) -> None:
        super().__init__(layers, rng)
        self.act, self.slope = fused_activation(layers[1] if len(layers) == 2 else None)

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        x, p, b = inputs[0], params[0], buffers[0]
        eps, momentum = self.layer.args["eps"], self.layer.args["momentum"]
        if not training:
            return norm.batchnorm_eval_forward(x, p["weight"], p["bias"], b["running_mean"], b["running_var"], eps,
                                               self.act, self.slope)
        y, mean, invstd = norm.batchnorm_train_forward(x, p["weight"], p["bias"], eps, self.act, self.slope)
        update_running_stats(b, mean, 1.0 / (invstd.astype(np.float64) ** 2) - eps, x.size // x.shape[1], momentum)
        self._x, self._y, self._mean, self._invstd = x, y, mean, invstd
        return y

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        dx, dgamma, dbeta = norm.batchnorm_backward(dy, self._x, params[0]["weight"], self._mean, self._invstd,
                                                    self._y, self.act, self.slope)
        return [dx], [{"weight": dgamma, "bias": dbeta}] + [{}] * (len(self.layers) - 1)


class DropoutOp(Op):
    """Training: y = x · mask / (1 − rate) with mask ~ Bernoulli(1 − rate) drawn from `rng`;
    evaluation: identity."""

    layer: Dropout

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        rate = self.layer.args["rate"]
        if not training or rate == 0:
            self._mask = None
            return inputs[0]
        keep = self.rng.random(inputs[0].shape, dtype=np.float32) >= rate
        self._mask = keep.astype(np.float32) * np.float32(1.0 / (1.0 - rate))
        return inputs[0] * self._mask

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        return [dy if self._mask is None else dy * self._mask], [{}]
