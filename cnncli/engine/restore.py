"""A trained network from a spec and a checkpoint (refused if the two do not match)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cnncli.engine.checkpoint import check_compatible, load_checkpoint
from cnncli.engine.network import Network
from cnncli.graph import Graph


def restore_network(graph: Graph, path: Path) -> tuple[Network, dict[str, Any]]:
    """(network with the checkpoint's weights and buffers, checkpoint metadata)."""
    arrays, _, meta = load_checkpoint(path)
    network = Network(graph)
    check_compatible(path, meta, arrays, network.state(), graph.signature())
    network.load_state(arrays)
    return network, meta
