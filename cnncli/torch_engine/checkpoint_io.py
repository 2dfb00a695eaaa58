"""Weights between checkpoints and PyTorch files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cnncli.atomic import atomic_writer
from cnncli.graph import Graph
from cnncli.torch_engine.module import GraphModule
from cnncli.torch_engine.state import load_module_arrays, torch_state_dict


def save_state_dict(graph: Graph, state: dict[str, np.ndarray], path: Path) -> None:
    """`net.pt`: the exported module's state dict holding `state` (checkpoint-keyed arrays), written atomically."""
    module = GraphModule(graph)
    load_module_arrays(module, state)
    with atomic_writer(path) as handle:
        torch.save(torch_state_dict(module), handle)
