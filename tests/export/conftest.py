"""Shared by the export tests: each zoo spec with random weights and batch-norm statistics, an input,
and what our Numba engine computes for it in evaluation mode (computed once per test session:
the PyTorch and ONNX tests compare against the same reference outputs)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest

from cnncli.cli.common import load_graph
from cnncli.export.common import initial_state
from cnncli.graph import Graph
from cnncli.zoo import zoo_specs

ZOO = sorted(zoo_specs())


@dataclass(frozen=True)
class EngineCase:
    """A zoo spec, its weights (`<node>/<tensor>`), a standardised input batch and the engine's output
    (logits, or probabilities when the spec ends in softmax)."""

    name: str
    graph: Graph
    state: dict[str, np.ndarray]
    x: np.ndarray
    expected: np.ndarray


def random_state(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """The engine's initial weights, with batch norm's γ, β and running statistics made non-trivial."""
    rng = np.random.default_rng(seed)
    state = initial_state(graph, seed)
    for key, value in state.items():
        if key.endswith("/running_mean") or (key.endswith("/bias") and "batchnorm" in key):
            state[key] = rng.normal(0, 0.1, value.shape).astype(np.float32)
        elif key.endswith("/running_var") or (key.endswith("/weight") and "batchnorm" in key):
            state[key] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
    return state


def engine_output(graph: Graph, state: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Our engine's eval-mode output for x: the logits, softmaxed when the spec ends in softmax."""
    from cnncli.engine.network import Network

    network = Network(graph)
    network.load_state(state)
    logits = np.asarray(network.forward(np.ascontiguousarray(x), training=False), np.float64)
    if graph.nodes[-1].layer.type_name != "softmax":
        return logits
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@cache
def engine_case(name: str) -> EngineCase:
    _, graph = load_graph(name)
    state = random_state(graph, seed=0)
    batch = 1 if graph.input_shape[-1] >= 128 else 3
    x = np.random.default_rng(1).standard_normal((batch, *graph.input_shape)).astype(np.float32)
    return EngineCase(name, graph, state, x, engine_output(graph, state, x))


@pytest.fixture(params=ZOO)
def zoo_case(request: pytest.FixtureRequest) -> EngineCase:
    """Every zoo spec, with the engine's reference output."""
    return engine_case(request.param)
