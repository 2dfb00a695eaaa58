"""FLOP conventions against the tools themselves, and training FLOPs against PyTorch.

References: fvcore 0.1.5 (FlopCountAnalysis), ptflops 0.7 (get_model_complexity_info, pytorch
backend) and thop 0.1.1 (profile) run on the spec's PyTorch module (cnncli.torch_engine), and
torch.utils.flop_counter.FlopCounterMode for the backward pass. calflops is not installed here
(it pulls accelerate and huggingface-hub): its published formulas (calflops/pytorch_ops.py
0.3.2) are applied by hand to LeNet-5 below.
"""
import logging
import warnings

import pytest

from cnncli.cli.common import load_graph
from cnncli.flop_conventions import CONVENTIONS, backward_flops, count

torch = pytest.importorskip("torch")
SPECS = ["lenet5", "course/lenet_dlai", "resnet20_cifar", "googlenet", "resnet18"]


def _module(ref):
    from cnncli.torch_engine.module import GraphModule
    _, graph = load_graph(ref)
    nodes = graph.nodes[:-1] if graph.nodes[-1].layer.type_name == "softmax" else graph.nodes  # logits
    return graph, nodes, GraphModule(graph, logits=True).eval(), torch.zeros(1, *graph.input_shape)


def _total(nodes, convention, types=None):
    return sum(count(n.layer, convention) for n in nodes if types is None or n.layer.type_name in types)


@pytest.mark.parametrize("ref", SPECS)
def test_fvcore_ptflops_thop_agree_with_their_conventions(ref):
    fvcore = pytest.importorskip("fvcore.nn")
    ptflops = pytest.importorskip("ptflops")
    thop = pytest.importorskip("thop")
    graph, nodes, module, x = _module(ref)
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            analysis = fvcore.FlopCountAnalysis(module, x)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            assert analysis.total() == _total(nodes, "fvcore")
            ops, _ = ptflops.get_model_complexity_info(module, tuple(graph.input_shape), as_strings=False,
                                                       print_per_layer_stat=False, backend="pytorch")
            assert ops == _total(nodes, "ptflops")
            # thop sees only modules; our module runs pooling and activations as functions
            ops, _ = thop.profile(module, inputs=(x,), verbose=False)
            assert ops == _total(nodes, "thop", ("conv2d", "batchnorm", "dense"))
    finally:
        logging.disable(logging.NOTSET)


@pytest.mark.parametrize("text,module", [
    ("  - avgpool: {kernel: 3, stride: 2}\n", lambda: torch.nn.AvgPool2d(3, 2)),
    ("  - maxpool: 2\n", lambda: torch.nn.MaxPool2d(2)),
    ("  - adaptive_avgpool: {output: 3}\n", lambda: torch.nn.AdaptiveAvgPool2d(3)),
    ("  - global_avgpool\n", lambda: torch.nn.AdaptiveAvgPool2d(1)),
    ("  - relu\n", lambda: torch.nn.ReLU()),
    ("  - flatten\n  - softmax\n", lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Softmax(dim=1))),
])
def test_thop_on_the_module_forms_torchvision_uses(text, module):
    thop = pytest.importorskip("thop")
    from cnncli.graph import build_graph
    from cnncli.spec import load_spec_text
    graph = build_graph(load_spec_text("name: t\ninput: [4, 12, 12]\nlayers:\n" + text, "t.yaml"))
    ops, _ = thop.profile(module(), inputs=(torch.zeros(1, 4, 12, 12),), verbose=False)
    assert ops == _total(graph.nodes, "thop")


def test_calflops_formulas_by_hand_on_lenet5():
    _, graph = load_graph("lenet5")
    # conv1: 2·117,600 + 4,704 bias; conv2: 2·240,000 + 1,600; three tanh-free dense layers 2·MACs
    # (48,000 + 10,080 + 840), no bias; sigmoid: not counted; avgpool: input elements 4,704 + 1,600
    layers = [n.layer for n in graph.nodes]
    assert [n.type_name for n in layers][:3] == ["conv2d", "sigmoid", "avgpool"]
    want = (2 * 117_600 + 4_704) + (2 * 240_000 + 1_600) + 2 * (48_000 + 10_080 + 840) + 4_704 + 1_600
    assert _total(graph.nodes, "calflops") == want


def test_backward_matches_pytorchs_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    from cnncli.torch_engine.module import GraphModule
    for ref in ("lenet5", "resnet20_cifar"):
        _, graph = load_graph(ref)
        module = GraphModule(graph, logits=True)
        with FlopCounterMode(display=False) as counter:
            module(torch.zeros(1, *graph.input_shape)).sum().backward()
        counts = {str(k): v for k, v in counter.get_flop_counts()["Global"].items()}
        forward = counts.get("aten.convolution", 0) + counts.get("aten.addmm", 0)
        backward = counts.get("aten.convolution_backward", 0) + counts.get("aten.mm", 0)
        # PyTorch counts 2 · MACs, without bias or elementwise work, and no input gradient of the first layer
        assert forward == sum(2 * n.layer.macs() for n in graph.nodes)
        weighted = [n.layer for n in graph.nodes if n.layer.macs()]
        assert backward == sum(backward_flops(layer) - (layer.flops() - 2 * layer.macs()) for layer in weighted)


def test_every_convention_is_documented():
    text = open("docs/conventions.md", encoding="utf-8").read()
    assert all(f"`{name}`" in text for name in CONVENTIONS)
