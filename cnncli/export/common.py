"""What every exporter shares: node names as identifiers, the weights to export, the input transform.

Weights are keyed `<node>/<tensor>` (tensor: weight, bias, running_mean, running_var), as
`Network.state()` and checkpoints key them; tensors have PyTorch's layouts (conv weight
[F, C/groups, kh, kw], dense weight [units, features]).
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnncli.graph import Graph


@dataclass(frozen=True)
class InputTransform:
    """How raw data becomes what the network was trained on: x' = (x · scale − mean[c]) / std[c].

    `scale` is 1/255 for 8-bit images (the model then takes pixel values 0-255), 1 for data
    stored as floats; mean and std are the training split's per-channel statistics."""

    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def from_meta(cls, meta: dict[str, Any], where: str = "checkpoint") -> InputTransform:
        """From a checkpoint's header: the run's preprocessing (raw float data: scale 1)."""
        from cnncli.engine.checkpoint import run_preprocessing

        pre = run_preprocessing(Path(where), meta)
        return cls(1.0 if pre.raw else pre.scale, pre.mean, pre.std)

    def describe(self) -> str:
        """One line for docstrings: what the model expects and does first."""
        units = {1 / 255: "pixel values 0-255", 1 / 65535: "16-bit pixel values 0-65535"}.get(
            self.scale, "values as stored in the data")
        return (f"takes {units} (float32, [N, C, H, W]) and standardises them itself: "
                f"x' = (x * {self.scale:.10g} - mean) / std with mean {list(self.mean)} and std {list(self.std)}")


def python_names(graph: Graph) -> dict[str, str]:
    """A valid, unique Python identifier for every node: `basic_1.residual_1.conv2d_1` ->
    `basic_1_residual_1_conv2d_1` (non-identifier characters become `_`)."""
    taken: set[str] = {"input", "x"}
    out: dict[str, str] = {}
    for node in graph.nodes:
        base = re.sub(r"\W", "_", node.name)
        if not base or base[0].isdigit() or keyword.iskeyword(base):
            base = f"n_{base}"
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        out[node.name] = name
    return out


def class_name(spec_name: str) -> str:
    """A CamelCase class name from the spec's name: 'ResNet-18' -> 'ResNet18', 'my net' -> 'MyNet'."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", spec_name) if w]
    name = "".join(w[0].upper() + w[1:] for w in words) or "Net"
    return name if name[0].isalpha() else f"Net{name}"


def initial_state(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """The weights `cnn train --seed SEED` starts from (PyTorch's default initialisation)."""
    from cnncli.engine.init import init_buffers, init_params  # numpy only: no Numba

    rng = np.random.default_rng(seed)
    state: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        for name, array in {**init_params(node.layer, rng), **init_buffers(node.layer)}.items():
            state[f"{node.name}/{name}"] = array
    return state


def checkpoint_state(graph: Graph, path: Path) -> tuple[dict[str, np.ndarray], InputTransform]:
    """Weights and input transform from a checkpoint of this spec (refused, saying why, if it is not)."""
    from cnncli.engine.checkpoint import check_compatible, load_checkpoint

    arrays, _, meta = load_checkpoint(path)
    expected = {f"{node.name}/{name}": np.empty(shape, np.float32) for node in graph.nodes
                for name, shape in {**node.layer.param_shapes(), **node.layer.buffer_shapes()}.items()}
    check_compatible(path, meta, arrays, expected, graph.signature())
    return {key: arrays[key] for key in expected}, InputTransform.from_meta(meta, str(path))
