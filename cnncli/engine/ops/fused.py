"""Op fusion: a chain of nodes runs as one op when nothing else reads the values in between.

The network executes a list of Steps; most are one node's op, but these chains become one
(convolutions that conv_flat runs: one group, no dilation, equal strides):
    conv2d -> relu -> maxpool     pool kernel = stride = k, no padding, floor-sized output
    conv2d -> relu
    conv2d -> batchnorm -> relu   batch norm statistics from the conv's epilogue; its backward
    conv2d -> batchnorm           folded into the conv's backward prologue
    add (two inputs) -> relu
    dense -> relu
Fused ops store fewer intermediate tensors and make fewer passes over memory. Conv -> relu
(-> maxpool), add -> relu and dense -> relu give what the nodes give one after the other
(the same values; a relu of -0.0 may give +0.0); conv -> batchnorm computes the batch
variance as E[y^2] - mean^2 in float64 instead of the two-pass sum, equal to float32
round-off (tests/engine/test_fusion.py checks both).
A step runs at its first node's place (all its inputs exist by then); the values inside a
chain must have exactly one reader, the next node of the chain, and must not be the output.
Fused ops (FusedOp) take and return per-node lists of params, buffers and grads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnncli.engine.kernels import activation, conv, dense, norm
from cnncli.engine.ops.base import Arrays, Op
from cnncli.engine.ops.norm import update_running_stats
from cnncli.graph import Node
from cnncli.layers.conv import Conv2d
from cnncli.layers.norm import BatchNorm
from cnncli.layers.pool import MaxPool


@dataclass
class Step:
    """One op of the executed program: reads `inputs`, writes `output`; `nodes` are the graph
    nodes it stands for (a plain op gets nodes[0]'s params and buffers, a FusedOp all)."""

    op: Op
    inputs: list[str]
    output: str
    nodes: list[int]


class FusedOp(Op):
    """forward(inputs, [params per node], [buffers per node], training);
    backward(dy, [params per node]) -> (input grads, [param grads per node])."""


class ConvReluOp(FusedOp):
    """relu(conv2d(x)) (pool = 0) or maxpool_k(relu(conv2d(x))) (pool = k)."""

    layer: Conv2d

    def __init__(self, layer: Conv2d, pool: int, n_nodes: int) -> None:
        super().__init__(layer)
        self.pool, self.n_nodes = pool, n_nodes

    def forward(self, inputs, params, buffers, training):  # type: ignore[no-untyped-def, override]
        x, p = inputs[0], params[0]
        y, codes = conv.conv2d_relu_forward(x, p["weight"], p.get("bias"), self.layer.stride, self.layer.pads_flat,
                                            self.pool)
        if training:
            self._x, self._y, self._codes = x, y, codes
        return y

    def backward(self, dy, params):  # type: ignore[no-untyped-def, override]
        p = params[0]
        dx, dw, db = conv.conv2d_relu_backward(self._x, p["weight"], dy, self._y, self._codes, self.layer.stride,
                                               self.layer.pads_flat, self.pool, self.needs_input_grad, "bias" in p)
        return [dx], [_weight_grads(p, dw, db)] + [{}] * (self.n_nodes - 1)


class ConvBatchNormOp(FusedOp):
    """[relu](batchnorm(conv2d(x))), batch norm as BatchNormOp does it (running statistics
    updated the same way), with the formulas of norm.py's conv section."""

    layer: Conv2d

    def __init__(self, layer: Conv2d, bn: BatchNorm, relu: bool) -> None:
        super().__init__(layer)
        self.bn, self.relu = bn, relu

    def forward(self, inputs, params, buffers, training):  # type: ignore[no-untyped-def, override]
        x, p, q = inputs[0], params[0], params[1]
        eps, stride, pads = self.bn.args["eps"], self.layer.stride, self.layer.pads_flat
        if not training:
            y = conv.conv2d_forward(x, p["weight"], p.get("bias"), stride, pads, (1, 1), 1)
            invstd = 1.0 / np.sqrt(buffers[1]["running_var"].astype(np.float64) + eps)
            mean = buffers[1]["running_mean"]
        else:
            y, sums = conv.conv2d_stats_forward(x, p["weight"], p.get("bias"), stride, pads)
            count = y.size // y.shape[1]
            mean = sums[0] / count
            with np.errstate(invalid="ignore"):  # inf inputs: NaN statistics, caught by the trainer
                var = np.maximum(sums[1] / count - mean * mean, 0.0)
            invstd = 1.0 / np.sqrt(var + eps)
            update_running_stats(buffers[1], mean, var, count, self.bn.args["momentum"])
        scale = q["weight"] * invstd
        z = norm.batchnorm_apply(y, scale, q["bias"] - mean * scale, self.relu)
        if training:
            self._x, self._y, self._z, self._mean, self._invstd = x, y, z, mean, invstd
        return z

    def backward(self, dz, params):  # type: ignore[no-untyped-def, override]
        p, q = params[0], params[1]
        coef, dgamma, dbeta = norm.batchnorm_grad_coefficients(dz, self._z, self._y, q["weight"], self._mean,
                                                               self._invstd, self.relu)
        dx, dw, db = conv.conv2d_bn_backward(self._x, p["weight"], dz, self._z, self._y, coef, self.layer.stride,
                                             self.layer.pads_flat, self.relu, self.needs_input_grad, "bias" in p)
        grads = [_weight_grads(p, dw, db), {"weight": dgamma, "bias": dbeta}]
        return [dx], grads + ([{}] if self.relu else [])


class AddReluOp(FusedOp):
    """relu(a + b); both inputs get dy * (output > 0)."""

    def forward(self, inputs, params, buffers, training):  # type: ignore[no-untyped-def, override]
        y = activation.add_relu_forward(inputs[0], inputs[1])
        if training:
            self._y = y
        return y

    def backward(self, dy, params):  # type: ignore[no-untyped-def, override]
        g = activation.relu_backward(dy, self._y)
        return [g, g], [{}, {}]


class DenseReluOp(FusedOp):
    """relu(x @ w.T + b), the relu applied in place on the dense output (numpy; NaN kept);
    backward: dy where y > 0, else 0 (a select, as relu_backward: a NaN in dy where y <= 0
    is dropped)."""

    def forward(self, inputs, params, buffers, training):  # type: ignore[no-untyped-def, override]
        x, p = inputs[0], params[0]
        y = dense.dense_forward(x, p["weight"], p.get("bias"))
        np.maximum(y, 0, out=y)
        if training:
            self._x, self._y = x, y
        return y

    def backward(self, dy, params):  # type: ignore[no-untyped-def, override]
        p = params[0]
        g = np.where(self._y > 0, dy, np.float32(0))
        dx, dw, db = dense.dense_backward(self._x, p["weight"], g, need_dx=self.needs_input_grad)
        return [dx], [_weight_grads(p, dw, db), {}]


def _weight_grads(params: Arrays, dw: np.ndarray, db: np.ndarray | None) -> Arrays:
    """The gradients of a conv or dense layer's params: weight, and bias if it has one."""
    return {"weight": dw, "bias": db} if "bias" in params else {"weight": dw}


def _pool_factor(pool: MaxPool, conv_shape: tuple[int, ...]) -> int:
    """k if `pool` is a k x k max pooling with stride k, no padding and floor-sized output, else 0."""
    k = pool.kernel[0]
    ok = (pool.kernel == (k, k) and tuple(pool.stride) == (k, k) and pool.pads_flat == (0, 0, 0, 0)
          and tuple(pool.out_shape[1:]) == (conv_shape[1] // k, conv_shape[2] // k))
    return k if ok and k < 128 else 0  # codes are int8


def plan_steps(nodes: list[Node], ops: list[Op], fuse: bool = True) -> list[Step]:
    """The program for `nodes` (ops[i] executes nodes[i]), with the chains above fused if `fuse`."""
    if not fuse:
        return [Step(op, list(node.layer.inputs), node.name, [i]) for i, (node, op) in enumerate(zip(nodes, ops))]
    readers: dict[str, list[int]] = {node.name: [] for node in nodes}
    for i, node in enumerate(nodes):
        for name in node.layer.inputs:
            if name in readers:
                readers[name].append(i)
    final = nodes[-1].name

    def next_of(i: int | None, kind: str) -> int | None:
        """The single node reading nodes[i] if it has type `kind` (and nodes[i] is not the output)."""
        if i is None or nodes[i].name == final or len(readers[nodes[i].name]) != 1:
            return None
        j = readers[nodes[i].name][0]
        return j if nodes[j].layer.type_name == kind else None

    steps, absorbed = [], set()
    for i, node in enumerate(nodes):
        if i in absorbed:
            continue
        layer = node.layer
        step = Step(ops[i], list(layer.inputs), node.name, [i])
        if isinstance(layer, Conv2d) and conv.flat_eligible(layer.stride, layer.dilation, layer.groups):
            bn, relu = next_of(i, "batchnorm"), next_of(i, "relu")
            if bn is not None:
                relu = next_of(bn, "relu")
                chain = [i, bn] + ([relu] if relu is not None else [])
                op: Op = ConvBatchNormOp(layer, nodes[bn].layer, relu is not None)
            elif relu is not None:
                pool = next_of(relu, "maxpool")
                k = _pool_factor(nodes[pool].layer, layer.out_shape) if pool is not None else 0
                chain = [i, relu, pool] if k else [i, relu]
                op = ConvReluOp(layer, k, len(chain))
            if bn is not None or relu is not None:
                step = Step(op, list(layer.inputs), nodes[chain[-1]].name, chain)
        elif layer.type_name == "dense" or (layer.type_name == "add" and len(layer.inputs) == 2):
            relu = next_of(i, "relu")
            if relu is not None:
                op = AddReluOp(layer) if layer.type_name == "add" else DenseReluOp(layer)
                step = Step(op, list(layer.inputs), nodes[relu].name, [i, relu])
        absorbed.update(step.nodes)
        steps.append(step)
    return steps
