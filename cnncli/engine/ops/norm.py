"""Batch normalisation and dropout ops."""
from __future__ import annotations

import numpy as np

from cnncli.engine.kernels import norm
from cnncli.engine.ops.base import Arrays, Grads, Op
from cnncli.layers.norm import BatchNorm, Dropout


def update_running_stats(buffers: Arrays, mean: np.ndarray, var: np.ndarray, count: int, momentum: float) -> None:
    """running = (1 − momentum) · running + momentum · batch, the variance unbiased (· n / (n − 1))."""
    unbiased = var * count / max(count - 1, 1)
    buffers["running_mean"] *= 1 - momentum
    buffers["running_mean"] += momentum * mean
    buffers["running_var"] *= 1 - momentum
    buffers["running_var"] += (momentum * unbiased).astype(np.float32)


class BatchNormOp(Op):
    """Training: batch statistics, and running stats updated as PyTorch does:
    running = (1 − momentum) · running + momentum · batch (unbiased variance: · n / (n − 1))."""

    layer: BatchNorm

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        x, p, b = inputs[0], params[0], buffers[0]
        eps, momentum = self.layer.args["eps"], self.layer.args["momentum"]
        if not training:
            return norm.batchnorm_eval_forward(x, p["weight"], p["bias"], b["running_mean"], b["running_var"], eps)
        y, mean, invstd = norm.batchnorm_train_forward(x, p["weight"], p["bias"], eps)
        update_running_stats(b, mean, 1.0 / (invstd.astype(np.float64) ** 2) - eps, x.size // x.shape[1], momentum)
        self._x, self._mean, self._invstd = x, mean, invstd
        return y

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        dx, dgamma, dbeta = norm.batchnorm_backward(dy, self._x, params[0]["weight"], self._mean, self._invstd)
        return [dx], [{"weight": dgamma, "bias": dbeta}]


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
