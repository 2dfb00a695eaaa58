"""Parameter initialisation as PyTorch does it by default.

Conv and dense weights: kaiming_uniform(a=√5), i.e. U(−b, b) with b = 1/√fan_in, where
fan_in = C_in/groups · kh · kw (conv) or in_features (dense); biases U(−1/√fan_in, 1/√fan_in).
Batch norm: γ = 1, β = 0, running mean 0, running variance 1.
"""
from __future__ import annotations

from math import prod, sqrt

import numpy as np

from cnncli.layers.base import Layer


def init_params(layer: Layer, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fresh float32 parameters for one layer, shaped by `layer.param_shapes()`."""
    shapes = layer.param_shapes()
    if layer.type_name == "batchnorm":
        return {"weight": np.ones(shapes["weight"], np.float32), "bias": np.zeros(shapes["bias"], np.float32)}
    out: dict[str, np.ndarray] = {}
    if "weight" in shapes:
        fan_in = prod(shapes["weight"][1:])
        bound = 1.0 / sqrt(fan_in)
        for name, shape in shapes.items():
            out[name] = rng.uniform(-bound, bound, size=shape).astype(np.float32)
    return out


def init_buffers(layer: Layer) -> dict[str, np.ndarray]:
    """Running statistics: mean 0, variance 1."""
    shapes = layer.buffer_shapes()
    if not shapes:
        return {}
    return {"running_mean": np.zeros(shapes["running_mean"], np.float32),
            "running_var": np.ones(shapes["running_var"], np.float32)}
