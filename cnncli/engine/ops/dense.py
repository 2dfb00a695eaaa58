"""Dense and flatten ops."""
from __future__ import annotations

import numpy as np

from cnncli.engine.kernels import dense
from cnncli.engine.ops.base import Arrays, Grads, Op, weight_grads


class DenseOp(Op):
    """y = x @ w.T + b."""

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        self._x = inputs[0] if training else None
        return dense.dense_forward(inputs[0], params[0]["weight"], params[0].get("bias"))

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        p = params[0]
        dx, dw, db = dense.dense_backward(self._x, p["weight"], dy, need_dx=self.needs_input_grad)
        return [dx], [weight_grads(p, dw, db)]


class FlattenOp(Op):
    """A reshape: [N, C, H, W] -> [N, C·H·W] (a view, no copy)."""

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        self._shape = inputs[0].shape
        return inputs[0].reshape(inputs[0].shape[0], -1)

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        return [dy.reshape(self._shape)], [{}]
