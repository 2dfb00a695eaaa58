"""The op contract: forward caches what backward reads (micrograd's pattern)."""
from __future__ import annotations

import numpy as np

from cnncli.layers.base import Layer

Arrays = dict[str, np.ndarray]


class Op:
    """Executes one bound layer on a batch.

    forward(inputs, params, buffers, training) -> output
    backward(dy, params) -> (gradient for each input, gradient for each param)
    """

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        self.needs_input_grad = True  # False when the only input is the data: skip computing dx

    def forward(self, inputs: list[np.ndarray], params: Arrays, buffers: Arrays, training: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, params: Arrays) -> tuple[list[np.ndarray], Arrays]:
        raise NotImplementedError

    def clear(self) -> None:
        """Drop cached arrays (after backward, or before evaluation)."""
        for key in [k for k in vars(self) if k.startswith("_")]:
            setattr(self, key, None)
