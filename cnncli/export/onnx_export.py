"""A spec's graph as an ONNX model, built with the `onnx` package alone (no PyTorch).

The model has one input `input`, float32 [batch, C, H, W] with a dynamic batch, and one
output `output`; every spec node is an ONNX node of the same name whose output tensor also
bears its name (the last node's is `output`), with its shape recorded as value_info so Netron
shows it. Weights are initializers named `<node>/<tensor>`. With an InputTransform the model
first computes x' = (x · scale − mean[c]) / std[c] (nodes `input/scale`, `input/subtract_mean`,
`input/divide_std`), so it takes raw data units. A final softmax is kept.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from cnncli import __version__
from cnncli.atomic import atomic_writer
from cnncli.errors import UsageError
from cnncli.export.common import InputTransform
from cnncli.export.onnx_layers import Parts, emit
from cnncli.graph import Graph
from cnncli.spec.expand import INPUT

DEFAULT_OPSET = 20  # PyTorch 2.x's default; onnxruntime runs it from 1.17 on
MIN_OPSET = 13  # Softmax over one axis (axis=1 on [N, C, H, W]) and Dropout's ratio input need 13
OUTPUT = "output"
_PROTOBUF_LIMIT = 2**31 - 2**24  # a ModelProto cannot serialise past 2 GiB; leave room for the graph


def _tensor_names(graph: Graph, transform: InputTransform | None) -> dict[str, str]:
    """Spec node name -> ONNX tensor name: itself, `output` for the last node (a non-last node
    named `output` becomes `output/value`), and the (standardised) input for INPUT."""
    names = {INPUT: "input/standardised" if transform else INPUT}
    for node in graph.nodes:
        names[node.name] = f"{OUTPUT}/value" if node.name == OUTPUT else node.name
    names[graph.output.name] = OUTPUT
    return names


def _standardise(parts: Parts, graph: Graph, transform: InputTransform) -> None:
    """x' = (x · scale − mean[c]) / std[c], mean and std shaped [C, 1, 1] to broadcast over [N, C, H, W]."""
    channels = graph.input_shape[0]
    for what, values in (("mean", transform.mean), ("std", transform.std)):
        if len(values) not in (1, channels):
            raise UsageError(f"the input normalisation has {len(values)} {what} values, but the input of "
                             f"'{graph.name}' is {list(graph.input_shape)}; was the checkpoint trained on other "
                             f"data?")
    shape = (-1,) + (1,) * (len(graph.input_shape) - 1)
    scaled = parts.op("Mul", [INPUT, parts.const("input/scale_factor", np.array(transform.scale))],
                      "input/scaled", "input/scale")
    centred = parts.op("Sub", [scaled, parts.const("input/mean", np.reshape(transform.mean, shape))],
                       "input/centred", "input/subtract_mean")
    parts.op("Div", [centred, parts.const("input/std", np.reshape(transform.std, shape))],
             "input/standardised", "input/divide_std")


def describe_input(transform: InputTransform | None) -> str:
    """The input convention, for the model's doc_string and metadata."""
    if transform is not None:
        return f"Input 'input' {transform.describe()}."
    return ("Input 'input' takes data as the network sees it (float32, [N, C, H, W]): standardise it "
            "exactly as in training first; the model does no normalisation itself.")


def build_onnx(graph: Graph, weights: dict[str, np.ndarray], transform: InputTransform | None,
               opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """The ONNX model of `graph` with these weights (keyed `<node>/<tensor>`, PyTorch layouts)."""
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise UsageError(f"opset {opset} is out of range: this export needs {MIN_OPSET} to "
                         f"{onnx.defs.onnx_opset_version()} (the installed onnx package's newest); "
                         f"{DEFAULT_OPSET} is the default")
    size = sum(np.asarray(array).size * 4 for array in weights.values())
    if size > _PROTOBUF_LIMIT:
        raise UsageError(f"'{graph.name}' has {size / 2**30:.1f} GiB of weights; an ONNX file holds at most "
                         f"2 GiB (protobuf's limit); export a smaller network")
    model = onnx.ModelProto()
    parts = Parts(weights, model.graph)  # filled in place: a copy of VGG-16's weights costs seconds
    if transform is not None:
        _standardise(parts, graph, transform)
    names = _tensor_names(graph, transform)
    for node in graph.nodes:
        emit(parts, node, [names[source] for source in node.layer.inputs], names[node.name])

    last = graph.output
    output_doc = (f"class probabilities (softmax node '{last.name}')" if last.layer.type_name == "softmax"
                  else f"logits, the output of node '{last.name}' ({last.layer.type_name}); apply a softmax "
                       f"for class probabilities")
    onnx_graph = model.graph
    onnx_graph.name = graph.name
    onnx_graph.input.append(helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", *graph.input_shape],
                                                          doc_string=describe_input(transform)))
    onnx_graph.output.append(helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT,
                                                           ["batch", *last.layer.out_shape], doc_string=output_doc))
    onnx_graph.value_info.extend(
        helper.make_tensor_value_info(names[node.name], TensorProto.FLOAT, ["batch", *node.layer.out_shape])
        for node in graph.nodes[:-1])
    model.producer_name, model.producer_version = "cnncli", __version__
    model.doc_string = (f"{graph.name}, exported by cnncli {__version__}. {describe_input(transform)} "
                        f"Output 'output' [batch, {', '.join(map(str, last.layer.out_shape))}]: {output_doc}.")
    model.opset_import.append(helper.make_opsetid("", opset))
    model.ir_version = helper.find_min_ir_version_for(model.opset_import)
    helper.set_model_props(model, {"spec": graph.name, "input": describe_input(transform), "output": output_doc})
    return model


def save_onnx(model: onnx.ModelProto, path: Path) -> None:
    """Write the model to `path` atomically (a reader never sees half a file)."""
    with atomic_writer(path) as handle:
        handle.write(model.SerializeToString())
