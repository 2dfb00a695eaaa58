"""Dense and flatten ops."""
from __future__ import annotations

import numpy as np

from cnncli.engine.kernels import dense
from cnncli.engine.ops.base import Arrays, Op


class DenseOp(Op):
    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        self._x = inputs[0] if training else None
        return dense.dense_forward(inputs[0], params["weight"], params.get("bias"))

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        dx, dw, db = dense.dense_backward(self._x, params["weight"], dy, need_dx=self.needs_input_grad)
        grads = {"weight": dw}
        if "bias" in params:
            grads["bias"] = db
        return [dx], grads


class FlattenOp(Op):
    """A reshape: [N, C, H, W] -> [N, C·H·W] (a view, no copy)."""

    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        self._shape = inputs[0].shape
        return inputs[0].reshape(inputs[0].shape[0], -1)

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        return [dy.reshape(self._shape)], {}
