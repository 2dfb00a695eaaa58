"""Layer type -> op."""
from __future__ import annotations

import numpy as np

from cnncli.engine.ops.base import Op
from cnncli.engine.ops.dense import DenseOp, FlattenOp
from cnncli.engine.ops.norm import BatchNormOp, DropoutOp
from cnncli.engine.ops.pointwise import AddOp, ConcatOp, activation_op
from cnncli.engine.ops.spatial import (
    AdaptiveAvgPoolOp,
    AvgPoolOp,
    Conv2dOp,
    GlobalAvgPoolOp,
    GlobalMaxPoolOp,
    MaxPoolOp,
)
from cnncli.layers.base import Layer
from cnncli.layers.norm import Dropout
from cnncli.layers.registry import ACTIVATIONS

_OPS: dict[str, type[Op]] = {
    "conv2d": Conv2dOp, "maxpool": MaxPoolOp, "avgpool": AvgPoolOp, "global_avgpool": GlobalAvgPoolOp,
    "global_maxpool": GlobalMaxPoolOp, "adaptive_avgpool": AdaptiveAvgPoolOp, "batchnorm": BatchNormOp,
    "dense": DenseOp, "flatten": FlattenOp, "add": AddOp, "concat": ConcatOp,
}


def make_op(layer: Layer, rng: np.random.Generator) -> Op:
    """The op that executes `layer`; dropout draws its masks from `rng`."""
    if layer.type_name in ACTIVATIONS:
        return activation_op(layer)
    if isinstance(layer, Dropout):
        return DropoutOp(layer, rng)
    return _OPS[layer.type_name](layer)
