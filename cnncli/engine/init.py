"""Initial values of parameters and buffers, as PyTorch gives them by default (numpy only, no Numba).

Each layer class names a rule per tensor (`Layer.init`, by tensor name); the rules:
    fan_in_uniform  U(−b, b) with b = 1/√fan_in, fan_in = C_in/groups · kh · kw (conv) or
                    in_features (dense): PyTorch's kaiming_uniform(a=√5) for weights, and its
                    bias rule (the same bound)
    ones, zeros     batch norm's γ = 1, β = 0, running mean 0, running variance 1
Random tensors are drawn in `param_shapes()` order, from one generator for the whole network.
"""
from __future__ import annotations

from collections.abc import Callable
from math import prod, sqrt

import numpy as np

from cnncli.layers.base import Layer, Shape

Rng = np.random.Generator | None  # None for buffers: no rule of theirs draws
Rule = Callable[[Shape, dict[str, Shape], Rng], np.ndarray]


def fan_in_uniform(shape: Shape, shapes: dict[str, Shape], rng: Rng) -> np.ndarray:
    """U(−1/√fan_in, 1/√fan_in), fan_in = the product of the weight's dimensions after the first."""
    assert rng is not None, "fan_in_uniform draws: parameters only"
    bound = 1.0 / sqrt(prod(shapes["weight"][1:]))
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def ones(shape: Shape, shapes: dict[str, Shape], rng: Rng) -> np.ndarray:
    return np.ones(shape, np.float32)


def zeros(shape: Shape, shapes: dict[str, Shape], rng: Rng) -> np.ndarray:
    return np.zeros(shape, np.float32)


RULES: dict[str, Rule] = {rule.__name__: rule for rule in (fan_in_uniform, ones, zeros)}


def _initial(layer: Layer, shapes: dict[str, Shape], rng: Rng) -> dict[str, np.ndarray]:
    return {name: RULES[layer.init[name]](shape, shapes, rng) for name, shape in shapes.items()}


def init_params(layer: Layer, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fresh float32 parameters for one layer, shaped by `layer.param_shapes()`."""
    return _initial(layer, layer.param_shapes(), rng)


def init_buffers(layer: Layer) -> dict[str, np.ndarray]:
    """Fresh float32 buffers (batch norm's running statistics), shaped by `layer.buffer_shapes()`."""
    return _initial(layer, layer.buffer_shapes(), None)
