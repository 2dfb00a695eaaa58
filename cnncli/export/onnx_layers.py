"""One spec node -> ONNX nodes that compute exactly what our engine computes (eval mode).

Each spec node becomes one ONNX node named after it, plus, where ONNX has no single operator
with our semantics, helper nodes and constants named `<node>/<what>` (spec names never hold a
'/', so these cannot collide). Pooling is written in ONNX's floor mode only, because ONNX's
ceil_mode formula and onnxruntime's disagree (onnxruntime drops a last window that starts in
the end padding, as PyTorch does; ONNX shape inference does not): a ceil_mode pool becomes a
floor-mode pool whose end padding reaches the last window,
    end = max(hi, (out − 1)·s + k − n − lo)    (< k, so onnxruntime accepts it),
and an average pool whose last window then overhangs the written padding is rescaled by
k_h·k_w / (d_h·d_w), d = min(start + k, n + hi) − start (PyTorch's count_include_pad divisor).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from onnx import GraphProto, TensorProto, helper

from cnncli.errors import UsageError
from cnncli.graph import Node
from cnncli.layers.pool import AvgPool
from cnncli.layers.windowed import WindowedLayer
from cnncli.shapes import adaptive_bins


@dataclass
class Parts:
    """The ONNX graph being assembled in place (weights are written once, straight into it)."""

    weights: dict[str, np.ndarray]
    graph: GraphProto

    def op(self, op_type: str, inputs: list[str], output: str, name: str, **attrs: Any) -> str:
        """Append one node; returns its output tensor's name."""
        self.graph.node.append(helper.make_node(op_type, inputs, [output], name=name, **attrs))
        return output

    def const(self, name: str, array: np.ndarray) -> str:
        """Add a float32 initializer (little-endian raw data, as ONNX stores it); returns its name."""
        tensor = self.graph.initializer.add()
        tensor.name, tensor.data_type = name, TensorProto.FLOAT
        values = np.asarray(array, "<f4")
        tensor.dims.extend(values.shape)
        tensor.raw_data = values.tobytes()
        return name

    def tensor(self, node: Node, tensor: str, shape: tuple[int, ...]) -> str:
        """The node's weight tensor `<node>/<tensor>` as an initializer, checked against its shape."""
        key = f"{node.name}/{tensor}"
        if key not in self.weights:
            raise UsageError(f"node '{node.name}' ({node.layer.type_name}): no '{key}' in the weights; "
                             f"export with weights of this spec (a checkpoint of it, or none for the seed's)")
        array = np.asarray(self.weights[key])
        if array.shape != shape:
            raise UsageError(f"node '{node.name}': '{key}' has shape {list(array.shape)}, the spec needs "
                             f"{list(shape)}; the weights are for another spec")
        return self.const(key, array)

    def params(self, node: Node, *names: str) -> list[str]:
        """Initializers for these of the node's parameters/buffers, in order (absent ones skipped)."""
        shapes = {**node.layer.param_shapes(), **node.layer.buffer_shapes()}
        return [self.tensor(node, n, shapes[n]) for n in names if n in shapes]


def onnx_pads(layer: WindowedLayer) -> list[int]:
    """ONNX pads [top, left, bottom, right] for floor mode that give the layer's output size."""
    begins, ends = [], []
    for n, k, (lo, hi), s, out in zip(layer.in_shape[1:], layer.kernel, layer.pads, layer.stride,
                                      layer.out_shape[1:]):
        begins.append(lo)
        ends.append(max(hi, (out - 1) * s + k - n - lo) if layer.ceil_mode else hi)
    return begins + ends


def avg_divisor_fix(layer: AvgPool) -> np.ndarray | None:
    """k_h·k_w / (d_h·d_w) per output cell [OH, OW], or None where every window is whole."""
    factors = []
    for n, k, (lo, hi), s, out in zip(layer.in_shape[1:], layer.kernel, layer.pads, layer.stride,
                                      layer.out_shape[1:]):
        starts = np.arange(out) * s - lo
        factors.append(k / (np.minimum(starts + k, n + hi) - starts))
    if all((f == 1).all() for f in factors):
        return None
    return np.outer(factors[0], factors[1])


def _window_attrs(layer: WindowedLayer) -> dict[str, Any]:
    return {"kernel_shape": list(layer.kernel), "strides": list(layer.stride), "pads": onnx_pads(layer)}


def conv2d(p: Parts, node: Node, xs: list[str], y: str) -> None:
    """Conv: weights [F, C/groups, kh, kw] as PyTorch has them; asymmetric 'same' pads map as they are."""
    layer = node.layer
    p.op("Conv", xs + p.params(node, "weight", "bias"), y, node.name, dilations=list(layer.dilation),
         group=layer.groups, **_window_attrs(layer))


def maxpool(p: Parts, node: Node, xs: list[str], y: str) -> None:
    """MaxPool pads with −inf, so padding never wins, as in PyTorch."""
    p.op("MaxPool", xs, y, node.name, **_window_attrs(node.layer))


def avgpool(p: Parts, node: Node, xs: list[str], y: str) -> None:
    """AveragePool counting padding (count_include_pad), then the overhang rescale if one is needed."""
    fix = avg_divisor_fix(node.layer)
    if fix is None:
        p.op("AveragePool", xs, y, node.name, count_include_pad=1, **_window_attrs(node.layer))
        return
    mean = p.op("AveragePool", xs, f"{node.name}/window_mean", f"{node.name}/window_mean", count_include_pad=1,
                **_window_attrs(node.layer))
    p.op("Mul", [mean, p.const(f"{node.name}/divisor_fix", fix)], y, node.name)


def adaptive_avgpool(p: Parts, node: Node, xs: list[str], y: str) -> None:
    """Equal bins: an AveragePool; otherwise y = A_h · x · A_wᵀ with A[i, j] = 1/|bin i| for j in bin i."""
    _, h, w = node.layer.in_shape
    oh, ow = node.layer.out_shape[1:]
    if (oh, ow) == (1, 1):
        p.op("GlobalAveragePool", xs, y, node.name)
    elif h % oh == 0 and w % ow == 0:
        kernel = [h // oh, w // ow]
        p.op("AveragePool", xs, y, node.name, kernel_shape=kernel, strides=kernel)
    else:
        rows, cols = (np.zeros((o, n), np.float32) for o, n in ((oh, h), (ow, w)))
        for matrix, bins in ((rows, adaptive_bins(h, oh)), (cols, adaptive_bins(w, ow))):
            for i, (start, end) in enumerate(bins):
                matrix[i, start:end] = 1 / (end - start)
        across = p.op("MatMul", [xs[0], p.const(f"{node.name}/col_bins", cols.T)], f"{node.name}/col_means",
                      f"{node.name}/col_means")
        p.op("MatMul", [p.const(f"{node.name}/row_bins", rows), across], y, node.name)


def batchnorm(p: Parts, node: Node, xs: list[str], y: str) -> None:
    """y = γ · (x − running_mean) / √(running_var + eps) + β, on [N, C, H, W] or [N, C]."""
    p.op("BatchNormalization", xs + p.params(node, "weight", "bias", "running_mean", "running_var"), y,
         node.name, epsilon=float(node.layer.args["eps"]))


def dropout(p: Parts, node: Node, xs: list[str], y: str) -> None:
    """Identity at inference; the ratio is kept so the file says what the spec had."""
    p.op("Dropout", xs + [p.const(f"{node.name}/ratio", np.array(node.layer.args["rate"]))], y, node.name)


def dense(p: Parts, node: Node, xs: list[str], y: str) -> None:
    """y = x · Wᵀ + b: Gemm with transB=1 takes PyTorch's [units, features] weight as it is."""
    p.op("Gemm", xs + p.params(node, "weight", "bias"), y, node.name, transB=1)


def relu6(p: Parts, node: Node, xs: list[str], y: str) -> None:
    """min(max(0, x), 6) as Clip(x, 0, 6)."""
    bounds = [p.const(f"{node.name}/{name}", np.array(v, np.float32)) for name, v in (("min", 0), ("max", 6))]
    p.op("Clip", xs + bounds, y, node.name)


def add(p: Parts, node: Node, xs: list[str], y: str) -> None:
    """x₁ + x₂ (Add), or Sum for three or more inputs."""
    p.op("Add" if len(xs) == 2 else "Sum", xs, y, node.name)


def _simple(op_type: str, **attrs: Any) -> Callable[[Parts, Node, list[str], str], None]:
    """An emitter for a layer that is one ONNX operator with fixed attributes."""
    def emit_simple(p: Parts, node: Node, xs: list[str], y: str) -> None:
        p.op(op_type, xs, y, node.name, **attrs)
    return emit_simple


def _leaky_relu(p: Parts, node: Node, xs: list[str], y: str) -> None:
    p.op("LeakyRelu", xs, y, node.name, alpha=float(node.layer.args["slope"]))


EMITTERS: dict[str, Callable[[Parts, Node, list[str], str], None]] = {
    "conv2d": conv2d, "maxpool": maxpool, "avgpool": avgpool, "adaptive_avgpool": adaptive_avgpool,
    "global_avgpool": _simple("GlobalAveragePool"), "global_maxpool": _simple("GlobalMaxPool"),
    "batchnorm": batchnorm, "dropout": dropout, "dense": dense, "flatten": _simple("Flatten", axis=1),
    "relu": _simple("Relu"), "relu6": relu6, "leaky_relu": _leaky_relu, "sigmoid": _simple("Sigmoid"),
    "tanh": _simple("Tanh"), "softmax": _simple("Softmax", axis=1), "add": add, "concat": _simple("Concat", axis=1),
}


def emit(parts: Parts, node: Node, xs: list[str], y: str) -> None:
    """Append the ONNX nodes of one spec node reading tensors `xs` and writing tensor `y`."""
    emitter = EMITTERS.get(node.layer.type_name)
    if emitter is None:
        where = f"{node.spec.context.position}: " if node.spec.context.position else ""
        raise UsageError(f"{where}node '{node.name}': layer type '{node.layer.type_name}' has no ONNX mapping yet "
                         f"(mapped: {', '.join(EMITTERS)}); export a spec without it")
    emitter(parts, node, xs, y)
