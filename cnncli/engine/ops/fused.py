"""Op fusion: a chain of nodes runs as one op when nothing else reads the values in between.

FUSIONS below lists the chains (as data; cnncli/engine/plan.py matches them, the first that
fits wins). The convolutions must be ones conv_flat runs (one group, no dilation, equal
strides):
    conv2d -> batchnorm -> relu   batch norm statistics from the conv's epilogue; its backward
    conv2d -> batchnorm           folded into the conv's backward prologue (a relu6 or leaky
                                  relu after it runs as its own op: its gate in the prologue
                                  ran a branch per value on small planes and made MobileNet's
                                  step 12.0 ms instead of 8.5, bench/PROFILE.md)
    conv2d -> relu -> maxpool     pool kernel = stride = k, no padding, floor-sized output
    conv2d -> relu
    add (two inputs) -> relu
    dense -> relu
    batchnorm -> relu (relu6, leaky_relu), after any other layer (ops/norm.py)
Fused ops store fewer intermediate tensors and make fewer passes over memory. Conv -> relu
(-> maxpool), add -> relu and dense -> relu give what the nodes give one after the other
(the same values; a relu of -0.0 may give +0.0); conv -> batchnorm computes the batch
variance as E[y^2] - mean^2 in float64 instead of the two-pass sum, equal to float32
round-off (tests/engine/test_fusion.py checks both). A fused op keeps the op contract
(ops/base.py): per-node lists of params, buffers and gradients, one per layer of its chain.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnncli.engine.kernels import activation, conv, dense, norm
from cnncli.engine.ops.base import Arrays, Grads, Op, weight_grads
from cnncli.engine.ops.norm import FUSED_ACTIVATIONS, BatchNormOp, fused_activation, update_running_stats
from cnncli.engine.plan import Fusion
from cnncli.layers.activation import ReLU
from cnncli.layers.base import Layer
from cnncli.layers.conv import Conv2d
from cnncli.layers.dense import Dense
from cnncli.layers.merge import Add
from cnncli.layers.norm import BatchNorm
from cnncli.layers.pool import MaxPool


def pool_factor(pool: Layer, conv_shape: tuple[int, ...]) -> int:
    """k if `pool` is a k x k max pooling with stride k, no padding and floor-sized output, else 0."""
    assert isinstance(pool, MaxPool)
    k = pool.kernel[0]
    ok = (pool.kernel == (k, k) and tuple(pool.stride) == (k, k) and pool.pads_flat == (0, 0, 0, 0)
          and tuple(pool.out_shape[1:]) == (conv_shape[1] // k, conv_shape[2] // k))
    return k if ok and k < 128 else 0  # codes are int8


class ConvReluOp(Op):
    """relu(conv2d(x)) (chain conv, relu) or maxpool_k(relu(conv2d(x))) (conv, relu, maxpool)."""

    layer: Conv2d

    def __init__(self, layers: Sequence[Layer], rng: np.random.Generator) -> None:
        super().__init__(layers, rng)
        self.pool = pool_factor(layers[2], self.layer.out_shape) if len(layers) == 3 else 0

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        x, p = inputs[0], params[0]
        y, codes = conv.conv2d_relu_forward(x, p["weight"], p.get("bias"), self.layer.stride, self.layer.pads_flat,
                                            self.pool)
        if training:
            self._x, self._y, self._codes = x, y, codes
        return y

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        p = params[0]
        dx, dw, db = conv.conv2d_relu_backward(self._x, p["weight"], dy, self._y, self._codes, self.layer.stride,
                                               self.layer.pads_flat, self.pool, self.needs_input_grad, "bias" in p)
        return [dx], [weight_grads(p, dw, db)] + [{}] * (len(self.layers) - 1)


class ConvBatchNormOp(Op):
    """[relu](batchnorm(conv2d(x))) (chain conv, batchnorm[, relu]), batch norm as BatchNormOp
    does it (running statistics updated the same way), with the formulas of norm.py's conv section."""

    layer: Conv2d

    def __init__(self, layers: Sequence[Layer], rng: np.random.Generator) -> None:
        super().__init__(layers, rng)
        self.bn = layers[1]
        self.act, self.slope = fused_activation(layers[2] if len(layers) == 3 else None)

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        x, p, q = inputs[0], params[0], params[1]
        eps, stride, pads = self.bn.args["eps"], self.layer.stride, self.layer.pads_flat
        if not training:
            y = conv.conv2d_forward(x, p["weight"], p.get("bias"), stride, pads, (1, 1), 1)
            invstd = 1.0 / np.sqrt(buffers[1]["running_var"].astype(np.float64) + eps)
            mean = buffers[1]["running_mean"]
        else:
            y, sums = conv.conv2d_stats_forward(x, p["weight"], p.get("bias"), stride, pads)
            count = y.size // y.shape[1]
            mean = sums[0] / count
            with np.errstate(invalid="ignore"):  # inf inputs: NaN statistics, caught by the trainer
                var = np.maximum(sums[1] / count - mean * mean, 0.0)
            invstd = 1.0 / np.sqrt(var + eps)
            update_running_stats(buffers[1], mean, var, count, self.bn.args["momentum"])
        scale = q["weight"] * invstd
        z = norm.batchnorm_apply(y, scale, q["bias"] - mean * scale, self.act, self.slope)
        if training:
            self._x, self._y, self._z, self._mean, self._invstd = x, y, z, mean, invstd
        return z

    def backward(self, dz: np.ndarray, params: list[Arrays]) -> Grads:
        p, q = params[0], params[1]
        coef, dgamma, dbeta = norm.batchnorm_grad_coefficients(dz, self._z, self._y, q["weight"], self._mean,
                                                               self._invstd, self.act, self.slope)
        dx, dw, db = conv.conv2d_bn_backward(self._x, p["weight"], dz, self._z, self._y, coef, self.layer.stride,
                                             self.layer.pads_flat, self.act != activation.NO_ACTIVATION,
                                             self.needs_input_grad, "bias" in p)
        grads = [weight_grads(p, dw, db), {"weight": dgamma, "bias": dbeta}]
        return [dx], grads + [{}] * (len(self.layers) - 2)


class AddReluOp(Op):
    """relu(a + b); both inputs get dy * (output > 0)."""

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        y = activation.add_relu_forward(inputs[0], inputs[1])
        if training:
            self._y = y
        return y

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        g = activation.relu_backward(dy, self._y)
        return [g, g], [{}, {}]

    def backward_of_sum(self, dy: np.ndarray, more: np.ndarray, params: list[Arrays]) -> Grads:
        """The sum in the relu's pass (a residual block's input: its branch's and its shortcut's)."""
        g = activation.relu_backward_of_sum(dy, more, self._y)
        return [g, g], [{}, {}]


class DenseReluOp(Op):
    """relu(x @ w.T + b), the relu applied in place on the dense output (numpy; NaN kept);
    backward: dy where y > 0, else 0 (a select, as relu_backward: a NaN in dy where y <= 0
    is dropped)."""

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        x, p = inputs[0], params[0]
        y = dense.dense_forward(x, p["weight"], p.get("bias"))
        np.maximum(y, 0, out=y)
        if training:
            self._x, self._y = x, y
        return y

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        p = params[0]
        g = np.where(self._y > 0, dy, np.float32(0))
        dx, dw, db = dense.dense_backward(self._x, p["weight"], g, need_dx=self.needs_input_grad)
        return [dx], [weight_grads(p, dw, db), {}]


def _flat(layers: list[Layer]) -> bool:
    """The chain starts with a convolution that conv_flat runs."""
    c = layers[0]
    assert isinstance(c, Conv2d)
    return conv.flat_eligible(c.stride, c.dilation, c.groups)


FUSIONS: tuple[Fusion, ...] = (
    Fusion((Conv2d, BatchNorm, ReLU), ConvBatchNormOp, _flat),
    Fusion((Conv2d, BatchNorm), ConvBatchNormOp, _flat),
    Fusion((Conv2d, ReLU, MaxPool), ConvReluOp, lambda ls: _flat(ls) and pool_factor(ls[2], ls[0].out_shape) > 0),
    Fusion((Conv2d, ReLU), ConvReluOp, _flat),
    Fusion((Add, ReLU), AddReluOp, lambda ls: len(ls[0].inputs) == 2),
    Fusion((Dense, ReLU), DenseReluOp),
    *(Fusion((BatchNorm, act), BatchNormOp) for act in FUSED_ACTIVATIONS),
)
