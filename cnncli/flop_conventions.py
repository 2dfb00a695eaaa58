"""Operation counts under the conventions users meet, and training (backward) FLOPs.

Each convention is what one tool reports for one image, layer by layer, with the model written
as torchvision writes it (docs/conventions.md has the table and the sources):
- `macs`: multiply-accumulates of conv and dense, bias excluded (torchvision's published figures).
- `flops`: ours, 2 · MACs + bias + normalisation, activation, pooling and merge operations.
- `fvcore` (0.1.5): MACs + 2 · elements per batch norm + input elements per adaptive/global average pool.
- `ptflops` (0.7, pytorch backend): MACs + bias; batch norm 2 · elements; ReLU-family, softmax: elements;
  every pooling: input elements.
- `thop` (0.1.1): MACs (bias ignored); batch norm 4 · elements; average pooling: output elements;
  adaptive average pooling: (kh·kw + 1) per output element; softmax 3n − 1; ReLU, max pooling: 0.
- `calflops` (0.3.2, the DeepSpeed profiler's formulas): conv 2 · MACs + bias; dense 2 · MACs (bias not
  counted); batch norm 2 · elements; ReLU-family, softmax: elements; every pooling: input elements.
Layers a tool does not see (add by `+`, concat, flatten, dropout, sigmoid and tanh in thop, ptflops
and calflops) count 0 there.

Training FLOPs (ours) per image = forward + backward, with backward per layer:
- conv and dense: 2 · MACs for the weight gradient, 2 · MACs for the input gradient (none when
  the layer reads only the network's input), plus one add per output element for the bias;
- every other layer: as many operations as its forward pass (one pass over the same elements).
So a network of convolutions costs about 3 × its forward FLOPs to train (Kaplan et al. 2020).
"""
from __future__ import annotations

from collections.abc import Callable

from cnncli.layers.base import Layer, numel
from cnncli.spec.expand import INPUT

RELUS = ("relu", "relu6", "leaky_relu")
POOLS = ("maxpool", "avgpool", "adaptive_avgpool", "global_avgpool", "global_maxpool")


def _bias(layer: Layer) -> int:
    """One add per output element when the layer has a bias."""
    return numel(layer.out_shape) if layer.args.get("bias") else 0


def _in(layer: Layer) -> int:
    return numel(layer.in_shape)


def _out(layer: Layer) -> int:
    return numel(layer.out_shape)


def _fvcore(layer: Layer) -> int:
    kind = layer.type_name
    if kind == "batchnorm":
        return 2 * _in(layer)
    if kind in ("adaptive_avgpool", "global_avgpool"):
        return _in(layer)
    return layer.macs()


def _ptflops(layer: Layer) -> int:
    kind = layer.type_name
    if kind in ("conv2d", "dense"):
        return layer.macs() + _bias(layer)
    if kind == "batchnorm":
        return 2 * _in(layer)
    if kind in RELUS or kind == "softmax":
        return _out(layer)
    return _in(layer) if kind in POOLS else 0


def _thop(layer: Layer) -> int:
    kind = layer.type_name
    if kind == "batchnorm":
        return 4 * _in(layer)
    if kind == "avgpool":
        return _out(layer)
    if kind in ("adaptive_avgpool", "global_avgpool"):
        _, h, w = layer.in_shape
        _, oh, ow = layer.out_shape
        return int((h / oh * w / ow + 1) * _out(layer))
    if kind == "softmax":
        return 3 * _out(layer) - 1
    return layer.macs()


def _calflops(layer: Layer) -> int:
    kind = layer.type_name
    if kind == "conv2d":
        return 2 * layer.macs() + _bias(layer)
    if kind == "dense":
        return 2 * layer.macs()
    if kind == "batchnorm":
        return 2 * _in(layer)
    if kind in RELUS or kind == "softmax":
        return _out(layer)
    return _in(layer) if kind in POOLS else 0


CONVENTIONS: dict[str, tuple[Callable[[Layer], int], str]] = {
    "flops": (lambda layer: layer.flops(), "ours: 2 x MACs + bias, normalisation, activation, pooling, merges"),
    "macs": (lambda layer: layer.macs(), "torchvision's published figures: conv and dense MACs, no bias"),
    "fvcore": (_fvcore, "fvcore FlopCountAnalysis: MACs + batch norm + adaptive average pooling"),
    "ptflops": (_ptflops, "ptflops get_model_complexity_info: MACs + bias, norms, activations, pooling"),
    "thop": (_thop, "thop profile: MACs, no bias; norms and average pooling; ReLU and max pooling free"),
    "calflops": (_calflops, "calflops / DeepSpeed profiler: 2 x MACs + conv bias, norms, activations, pooling"),
}


def count(layer: Layer, convention: str) -> int:
    """The layer's operations for one image under `convention` (a key of CONVENTIONS)."""
    return CONVENTIONS[convention][0](layer)


def backward_flops(layer: Layer) -> int:
    """Backward operations for one image (module docstring): weight and input gradients, bias sums."""
    if layer.macs():
        reads_input_only = all(name == INPUT for name in layer.inputs)
        return 2 * layer.macs() + (0 if reads_input_only else 2 * layer.macs()) + _bias(layer)
    return layer.flops()
