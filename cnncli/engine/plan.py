"""The graph walk of the engines: which nodes produce the logits, and which chains run as one op.

No Numba here: the PyTorch engine and the exporters can walk a graph the way the Numba engine
does. The fusion patterns themselves are data (cnncli/engine/ops/fused.py: FUSIONS); this
module only matches them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cnncli.graph import Node
from cnncli.layers.activation import Softmax
from cnncli.layers.base import Layer


def logit_nodes(nodes: Sequence[Node]) -> list[Node]:
    """The nodes that compute the logits: all of them but a final softmax, which the engines
    fuse with the cross-entropy in training and apply to the logits for probabilities."""
    if len(nodes) > 1 and isinstance(nodes[-1].layer, Softmax):
        return list(nodes[:-1])
    return list(nodes)


@dataclass(frozen=True)
class Fusion:
    """A chain of layer types that one op runs, when each value inside the chain has exactly one
    reader (the next layer of the chain) and is not the output, and `when(layers)` holds."""

    chain: tuple[type[Layer], ...]
    op: Any  # what runs the chain; the caller builds it from the chain's layers
    when: Callable[[list[Layer]], bool] = lambda layers: True


def match_chains(nodes: Sequence[Node], fusions: Sequence[Fusion]) -> list[tuple[Fusion | None, list[int]]]:
    """The program for `nodes`: (the fusion that runs them, or None for a node's own op, and the
    node indices), in execution order; each node at its first node's place, the first fusion of
    `fusions` that matches wins."""
    readers: dict[str, list[int]] = {node.name: [] for node in nodes}
    for i, node in enumerate(nodes):
        for name in node.layer.inputs:
            if name in readers:
                readers[name].append(i)
    final = nodes[-1].name

    def extend(chain: list[int], kind: type[Layer]) -> bool:
        """Append the single reader of chain[-1] if it is a `kind` (and chain[-1] is not the output)."""
        last = nodes[chain[-1]].name
        if last == final or len(readers[last]) != 1 or type(nodes[readers[last][0]].layer) is not kind:
            return False
        chain.append(readers[last][0])
        return True

    def match(i: int, fusion: Fusion) -> list[int] | None:
        chain = [i]
        if type(nodes[i].layer) is not fusion.chain[0] or not all(extend(chain, k) for k in fusion.chain[1:]):
            return None
        return chain if fusion.when([nodes[j].layer for j in chain]) else None

    program: list[tuple[Fusion | None, list[int]]] = []
    absorbed: set[int] = set()
    for i in range(len(nodes)):
        if i in absorbed:
            continue
        found = next(((f, chain) for f in fusions if (chain := match(i, f)) is not None), (None, [i]))
        absorbed.update(found[1])
        program.append(found)
    return program
