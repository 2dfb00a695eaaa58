"""Executes a layer graph on batches: forward, backward, parameters in one flat buffer.

All parameters live in one contiguous float32 vector (`flat`) and each layer's tensors are
views into it; gradients likewise (`flat_grad`). Optimizers and checkpoints then work on two
arrays, whatever the network. If the graph ends in softmax, `forward` returns the logits
before it: training fuses softmax with the cross-entropy, and `predict_proba` applies it.
The nodes run as `steps` (ops/fused.py): one op per node, except for chains such as
conv -> relu -> maxpool, which run as one fused op (same results; batch norm's statistics
to float32 round-off).
"""
from __future__ import annotations

import numpy as np

from cnncli.engine.init import init_buffers, init_params
from cnncli.engine.kernels.activation import softmax_forward
from cnncli.engine.ops import make_op
from cnncli.engine.ops.fused import FusedOp, plan_steps
from cnncli.graph import Graph
from cnncli.spec.expand import INPUT


class Network:
    """A graph made runnable: parameters, buffers, and one op per node."""

    def __init__(self, graph: Graph, seed: int = 0, fuse: bool = True) -> None:
        """`fuse=False` runs every node as its own op (for tests and debugging)."""
        self.graph = graph
        init_rng = np.random.default_rng(seed)
        self.dropout_rng = np.random.default_rng([seed, 1])
        nodes = graph.nodes
        self.ends_in_softmax = nodes[-1].layer.type_name == "softmax"
        self.nodes = nodes[:-1] if self.ends_in_softmax and len(nodes) > 1 else nodes
        self.steps = plan_steps(self.nodes, [make_op(node.layer, self.dropout_rng) for node in self.nodes], fuse)
        for step in self.steps:
            step.op.needs_input_grad = step.inputs != [INPUT]
        fresh = [init_params(node.layer, init_rng) for node in self.nodes]
        total = sum(a.size for layer in fresh for a in layer.values())
        self.flat = np.zeros(total, np.float32)
        self.flat_grad = np.zeros(total, np.float32)
        self.params: list[dict[str, np.ndarray]] = []
        self.grads: list[dict[str, np.ndarray]] = []
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
        self._last_use = self._last_uses()

    def _last_uses(self) -> dict[str, int]:
        """For each activation, the index of the last step that reads it (to free it early)."""
        last: dict[str, int] = {}
        for s, step in enumerate(self.steps):
            for name in step.inputs:
                last[name] = s
        return last

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """Logits (the graph's output, before a final softmax) for a batch [N, C, H, W]."""
        values: dict[str, np.ndarray] = {INPUT: x}
        for s, step in enumerate(self.steps):
            inputs = [values[name] for name in step.inputs]
            if isinstance(step.op, FusedOp):
                params, buffers = [self.params[i] for i in step.nodes], [self.buffers[i] for i in step.nodes]
            else:
                params, buffers = self.params[step.nodes[0]], self.buffers[step.nodes[0]]
            values[step.output] = step.op.forward(inputs, params, buffers, training)
            for name in step.inputs:
                if self._last_use[name] == s:
                    del values[name]
        return values[self.nodes[-1].name]

    def backward(self, dlogits: np.ndarray) -> None:
        """Fill `flat_grad` from the loss gradient w.r.t. the logits (after a training forward)."""
        pending: dict[str, np.ndarray] = {self.nodes[-1].name: dlogits}
        for step in reversed(self.steps):
            op = step.op
            dy = pending.pop(step.output, None)
            if dy is None:  # a step whose output does not reach the loss
                for i in step.nodes:
                    for g in self.grads[i].values():
                        g[...] = 0
                continue
            if isinstance(op, FusedOp):
                dxs, per_node = op.backward(dy, [self.params[i] for i in step.nodes])
            else:
                dxs, grads = op.backward(dy, self.params[step.nodes[0]])
                per_node = [grads]
            for i, grads in zip(step.nodes, per_node):
                for name, g in grads.items():
                    self.grads[i][name][...] = g
            for name, dx in zip(step.inputs, dxs):
                if name == INPUT or dx is None:
                    continue
                if name in pending:
                    pending[name] = pending[name] + dx
                else:
                    pending[name] = dx
            op.clear()

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities: softmax of the logits, in evaluation mode."""
        logits = self.forward(x, training=False)
        return softmax_forward(np.ascontiguousarray(logits))

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
