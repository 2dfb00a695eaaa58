"""The op contract: every step of the program, one node or a fused chain, is an Op.

    forward(inputs, params, buffers, training) -> output
    backward(dy, params) -> (gradient for each input (None: not needed), gradients of each node's params)

`params`, `buffers` and the returned gradients are lists with one dict per node the op runs
(`len(op.layers)`; one for a plain layer). Forward caches what backward reads (micrograd's
pattern); `clear()` drops the cache.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnncli.layers.base import Layer

Arrays = dict[str, np.ndarray]
Grads = tuple[list[np.ndarray | None], list[Arrays]]


class Op:
    """Executes one layer, or a chain of layers (ops/fused.py), on a batch."""

    def __init__(self, layers: Sequence[Layer], rng: np.random.Generator) -> None:
        """`rng`: the network's dropout generator (the only op that draws is dropout's)."""
        self.layers = list(layers)
        self.layer = self.layers[0]
        self.rng = rng
        self.needs_input_grad = True  # False when the only input is the data: skip computing dx

    def forward(self, inputs: list[np.ndarray], params: list[Arrays], buffers: list[Arrays],
                training: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, params: list[Arrays]) -> Grads:
        raise NotImplementedError

    def backward_of_sum(self, dy: np.ndarray, more: np.ndarray, params: list[Arrays]) -> Grads:
        """backward(dy + more, params): the output's gradient when two layers read it (network.backward
        adds up any earlier ones). Ops that can take the sum in their own first pass override this."""
        return self.backward(dy + more, params)

    def clear(self) -> None:
        """Drop cached arrays (after backward, or before evaluation)."""
        for key in [k for k in vars(self) if k.startswith("_")]:
            setattr(self, key, None)


def weight_grads(params: Arrays, dw: np.ndarray, db: np.ndarray | None) -> Arrays:
    """The gradients of a conv or dense layer's params: weight, and bias if it has one."""
    return {"weight": dw, "bias": db} if "bias" in params else {"weight": dw}
