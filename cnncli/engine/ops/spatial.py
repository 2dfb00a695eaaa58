"""Convolution and pooling ops."""
from __future__ import annotations

import numpy as np

from cnncli.engine.kernels import conv, pool
from cnncli.engine.ops.base import Arrays, Grads, Op, weight_grads
from cnncli.layers.conv import Conv2d
from cnncli.layers.pool import AdaptiveAvgPool, AvgPool, MaxPool


class Conv2dOp(Op):
    layer: Conv2d

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        layer, p = self.layer, params[0]
        self._x = inputs[0] if training else None
        return conv.conv2d_forward(inputs[0], p["weight"], p.get("bias"), layer.stride, layer.pads_flat,
                                   layer.dilation, layer.groups)

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        layer, p = self.layer, params[0]
        dx, dw, db = conv.conv2d_backward(self._x, p["weight"], dy, layer.stride, layer.pads_flat,
                                          layer.dilation, layer.groups, need_dx=self.needs_input_grad,
                                          need_db="bias" in p)
        return [dx], [weight_grads(p, dw, db)]


class MaxPoolOp(Op):
    layer: MaxPool

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        layer = self.layer
        y, self._argmax = pool.maxpool2d_forward(inputs[0], layer.kernel, layer.stride, layer.pads_flat,
                                                 layer.out_shape[1:])
        self._x_shape = inputs[0].shape
        return y

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        return [pool.maxpool2d_backward(dy, self._argmax, self._x_shape)], [{}]


class AvgPoolOp(Op):
    layer: AvgPool

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        layer = self.layer
        self._x_shape = inputs[0].shape
        return pool.avgpool2d_forward(inputs[0], layer.kernel, layer.stride, layer.pads_flat, layer.out_shape[1:])

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        layer = self.layer
        return [pool.avgpool2d_backward(dy, layer.kernel, layer.stride, layer.pads_flat, self._x_shape)], [{}]


class GlobalAvgPoolOp(Op):
    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        self._x_shape = inputs[0].shape
        return pool.global_avgpool_forward(inputs[0])

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        return [pool.global_avgpool_backward(dy, self._x_shape)], [{}]


class GlobalMaxPoolOp(Op):
    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        self._x_shape = inputs[0].shape
        y, self._argmax = pool.global_maxpool_forward(inputs[0])
        return y

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        return [pool.global_maxpool_backward(dy, self._argmax, self._x_shape)], [{}]


class AdaptiveAvgPoolOp(Op):
    layer: AdaptiveAvgPool

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        self._x_shape = inputs[0].shape
        return pool.adaptive_avgpool2d_forward(inputs[0], self.layer.out_shape[1:])

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        return [pool.adaptive_avgpool2d_backward(dy, self._x_shape)], [{}]
