"""Convolution and pooling ops."""
from __future__ import annotations

import numpy as np

from cnncli.engine.kernels import conv, pool
from cnncli.engine.ops.base import Arrays, Op
from cnncli.layers.conv import Conv2d
from cnncli.layers.pool import AdaptiveAvgPool, AvgPool, MaxPool


class Conv2dOp(Op):
    layer: Conv2d

    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        layer = self.layer
        self._x = inputs[0] if training else None
        return conv.conv2d_forward(inputs[0], params["weight"], params.get("bias"), layer.stride,
                                   layer.pads_flat, layer.dilation, layer.groups)

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        layer = self.layer
        dx, dw, db = conv.conv2d_backward(self._x, params["weight"], dy, layer.stride, layer.pads_flat,
                                          layer.dilation, layer.groups, need_dx=self.needs_input_grad,
                                          need_db="bias" in params)
        grads = {"weight": dw}
        if "bias" in params:
            grads["bias"] = db
        return [dx], grads


class MaxPoolOp(Op):
    layer: MaxPool

    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        layer = self.layer
        y, self._argmax = pool.maxpool2d_forward(inputs[0], layer.kernel, layer.stride, layer.pads_flat,
                                                 layer.out_shape[1:])
        self._x_shape = inputs[0].shape
        return y

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        return [pool.maxpool2d_backward(dy, self._argmax, self._x_shape)], {}


class AvgPoolOp(Op):
    layer: AvgPool

    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        layer = self.layer
        self._x_shape = inputs[0].shape
        return pool.avgpool2d_forward(inputs[0], layer.kernel, layer.stride, layer.pads_flat, layer.out_shape[1:])

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        layer = self.layer
        return [pool.avgpool2d_backward(dy, layer.kernel, layer.stride, layer.pads_flat, self._x_shape)], {}


class GlobalAvgPoolOp(Op):
    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        self._x_shape = inputs[0].shape
        return pool.global_avgpool_forward(inputs[0])

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        return [pool.global_avgpool_backward(dy, self._x_shape)], {}


class GlobalMaxPoolOp(Op):
    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        self._x_shape = inputs[0].shape
        y, self._argmax = pool.global_maxpool_forward(inputs[0])
        return y

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        return [pool.global_maxpool_backward(dy, self._argmax, self._x_shape)], {}


class AdaptiveAvgPoolOp(Op):
    layer: AdaptiveAvgPool

    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        self._x_shape = inputs[0].shape
        return pool.adaptive_avgpool2d_forward(inputs[0], self.layer.out_shape[1:])

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        return [pool.adaptive_avgpool2d_backward(dy, self._x_shape)], {}
