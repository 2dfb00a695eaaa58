"""Executes a layer graph on batches: forward, backward, parameters in one flat buffer.

All parameters live in one contiguous float32 vector (`flat`) and each layer's tensors are
views into it; gradients likewise (`flat_grad`). Optimizers and checkpoints then work on two
arrays, whatever the network.

Softmax at the end has its home here: the network computes logits (`forward`), the graph's
output before a final softmax (plan.logit_nodes); training fuses the softmax with the
cross-entropy (kernels/loss.py), and `predict_proba` applies it to the logits.

The nodes run as `steps`: one op per node, or one op for a chain such as conv -> relu ->
maxpool (ops/fused.py; same results, batch norm's statistics to float32 round-off). Every
step keeps one contract (ops/base.py): per-node lists of params, buffers and gradients.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnncli.engine.init import init_buffers, init_params
from cnncli.engine.kernels.activation import softmax_forward
from cnncli.engine.ops import Op, op_class
from cnncli.engine.ops.base import Arrays
from cnncli.engine.ops.fused import FUSIONS
from cnncli.engine.plan import Fusion, logit_nodes, match_chains
from cnncli.graph import Graph
from cnncli.spec.expand import INPUT


@dataclass
class Step:
    """One op of the executed program: reads `inputs`, writes `output`; `nodes` are the graph
    nodes it runs, and params, buffers and grads their tensors (one dict per node)."""

    op: Op
    inputs: list[str]
    output: str
    nodes: list[int]
    params: list[Arrays]
    buffers: list[Arrays]
    grads: list[Arrays]


class Network:
    """A graph made runnable: parameters, buffers, and the steps that run its nodes.

    `nodes` are the graph's nodes that compute the logits (all but a final softmax); `params`,
    `grads` and `buffers` hold one dict per node of `nodes`, in that order."""

    def __init__(self, graph: Graph, seed: int = 0, fuse: bool = True) -> None:
        """`fuse=False` runs every node as its own op (for tests and debugging)."""
        self.graph = graph
        init_rng = np.random.default_rng(seed)
        self.dropout_rng = np.random.default_rng([seed, 1])
        self.nodes = logit_nodes(graph.nodes)
        fresh = [init_params(node.layer, init_rng) for node in self.nodes]
        total = sum(a.size for layer in fresh for a in layer.values())
        self.flat = np.zeros(total, np.float32)
        self.flat_grad = np.zeros(total, np.float32)
        self.params: list[Arrays] = []
        self.grads: list[Arrays] = []
        offset = 0
        for layer_params in fresh:
            views, grad_views = {}, {}
            for name, array in layer_params.items():
                end = offset + array.size
                views[name] = self.flat[offset:end].reshape(array.shape)
                views[name][...] = array
                grad_views[name] = self.flat_grad[offset:end].reshape(array.shape)
                offset = end
            self.params.append(views)
            self.grads.append(grad_views)
        self.buffers = [init_buffers(node.layer) for node in self.nodes]
        self.steps = [self._step(fusion, chain) for fusion, chain in match_chains(self.nodes, FUSIONS if fuse else ())]
        self._last_use = {name: s for s, step in enumerate(self.steps) for name in step.inputs}

    def _step(self, fusion: Fusion | None, chain: list[int]) -> Step:
        """The step that runs nodes `chain` (a fusion's op, or the single node's own op)."""
        layers = [self.nodes[i].layer for i in chain]
        op = (fusion.op if fusion else op_class(layers[0]))(layers, self.dropout_rng)
        inputs = list(layers[0].inputs)
        op.needs_input_grad = inputs != [INPUT]
        return Step(op, inputs, layers[-1].name, chain, [self.params[i] for i in chain],
                    [self.buffers[i] for i in chain], [self.grads[i] for i in chain])

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """Logits (the graph's output, before a final softmax) for a batch [N, C, H, W]."""
        values: dict[str, np.ndarray] = {INPUT: x}
        for s, step in enumerate(self.steps):
            values[step.output] = step.op.forward([values[name] for name in step.inputs], step.params, step.buffers,
                                                  training)
            for name in step.inputs:
                if self._last_use[name] == s:
                    del values[name]
        return values[self.nodes[-1].name]

    def backward(self, dlogits: np.ndarray) -> None:
        """Fill `flat_grad` from the loss gradient w.r.t. the logits (after a training forward)."""
        # the gradient of each tensor still to be consumed, as one or two summands in arrival order
        # (a third is folded in: ((d1 + d2) + d3), so at most two are held); its consumer adds the two up
        pending: dict[str, list[np.ndarray]] = {self.nodes[-1].name: [dlogits]}
        for step in reversed(self.steps):
            dys = pending.pop(step.output, None)
            if dys is None:  # a step whose output does not reach the loss
                for grads in step.grads:
                    for g in grads.values():
                        g[...] = 0
                continue
            if len(dys) == 1:
                dxs, per_node = step.op.backward(dys[0], step.params)
            else:
                dxs, per_node = step.op.backward_of_sum(dys[0], dys[1], step.params)
            del dys
            for target, grads in zip(step.grads, per_node):
                for name, g in grads.items():
                    target[name][...] = g
            for name, dx in zip(step.inputs, dxs):
                if name == INPUT or dx is None:
                    continue
                summands = pending.setdefault(name, [])
                if len(summands) == 2:
                    summands[:] = [summands[0] + summands[1]]
                summands.append(dx)
            step.op.clear()

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities: softmax of the logits, in evaluation mode."""
        return softmax_forward(np.ascontiguousarray(self.forward(x, training=False)))

    # -- state, for checkpoints ------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """Parameters and buffers by `<node>/<tensor>` name (views; copy before mutating)."""
        out = {}
        for node, params, buffers in zip(self.nodes, self.params, self.buffers):
            for name, array in {**params, **buffers}.items():
                out[f"{node.name}/{name}"] = array
        return out

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy tensors in; names and shapes must match exactly (the caller checks the spec)."""
        for key, target in self.state().items():
            source = arrays[key]
            if source.shape != target.shape:
                raise ValueError(f"{key}: checkpoint has shape {source.shape}, network has {target.shape}")
            target[...] = source
