"""Golden figures for the model zoo: `specs/*.yaml` and `specs/course/*.yaml`.

Two references, and every test says which one it uses:

* DESIGN.md's table "Reference figures (torchvision 0.29, 224x224, batch 1)" and the course
  notes' own figures (written in each spec's header comment). Always run.
* The same models built by hand in PyTorch, `tests/reference/torch_zoo.py` (torchvision's
  definitions re-typed; torchvision itself does not install beside torch 2.13 CPU), compared
  layer by layer. Skipped when torch is not installed.

Conventions (SPEC.md): params as PyTorch counts them; buffers = batch-norm running mean and
variance; MACs = convolution and dense multiply-accumulates, bias excluded.
"""
from __future__ import annotations

import importlib.util
import math
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest
import yaml

from cnncli.analysis import analyze
from cnncli.graph import build_graph
from cnncli.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
COURSE = SPECS / "course"
TORCH_ZOO = Path(__file__).resolve().parent / "reference" / "torch_zoo.py"


class Figures(NamedTuple):
    params: int
    buffers: int
    macs: int


# DESIGN.md, "Reference figures (torchvision 0.29, 224x224, batch 1)". LeNet-5's row is for
# 1x32x32 without padding; D2L's 1x28x28 with padding 2 gives the same numbers (tested below).
DESIGN: dict[str, Figures] = {
    "lenet5": Figures(61_706, 0, 416_520),
    "lenet5_relu": Figures(61_706, 0, 416_520),
    "alexnet": Figures(61_100_840, 0, 714_188_480),
    "vgg16": Figures(138_357_544, 0, 15_470_264_320),
    "resnet18": Figures(11_689_512, 9_600, 1_814_073_344),
    "resnet50": Figures(25_557_032, 53_120, 4_089_184_256),
    "googlenet": Figures(6_624_904, 14_560, 1_498_376_192),
    # Not in DESIGN.md: CIFAR ResNet-20 with projection shortcuts, the benchmark workload of
    # issue 4; its figures come from tests/reference/torch_zoo.py (checked below).
    "resnet20_cifar": Figures(272_474, 1_568, 40_813_184),
    # Not in DESIGN.md: the Fashion-MNIST CNN of issue 3 (reference: tests/reference/torch_zoo.py).
    "fashion_cnn": Figures(215_466, 96, 3_024_384),
    # Not in DESIGN.md: the depthwise-separable workload of issue 13 (tests/reference/torch_zoo.py).
    "mobilenet_mnist": Figures(20_266, 1_088, 983_584),
}
N_CLASSES = {"lenet5": 10, "lenet5_relu": 10, "resnet20_cifar": 10, "fashion_cnn": 10,
             "mobilenet_mnist": 10}  # the rest: 1000 (ImageNet)
PRIMITIVES = {"conv2d", "batchnorm", "relu", "relu6", "sigmoid", "softmax", "maxpool", "avgpool",
              "adaptive_avgpool", "global_avgpool", "flatten", "dropout", "dense", "add", "concat"}

# The course notes (DeepLearning.AI "Convolutional Neural Networks"); hand counts, also
# checked against PyTorch when the specs were written. The headers of the files show the sums.
COURSE_FIGURES: dict[str, Figures] = {
    "simple_convnet": Figures(27_301, 0, 2_796_590),
    "lenet_dlai": Figures(62_958, 0, 849_320),
    "inception_vs_conv_inception": Figures(163_696, 0, 128_049_152),
    "inception_vs_conv_3x3": Figures(442_624, 0, 346_816_512),
    "inception_vs_conv_5x5": Figures(1_229_056, 0, 963_379_200),
}


@cache
def analysis_of(path: Path) -> Any:
    """Our analysis of one spec file (cached: several tests read the same one)."""
    return analyze(build_graph(load_spec(path)))


def zoo(name: str) -> Any:
    return analysis_of(SPECS / f"{name}.yaml")


def course(name: str) -> Any:
    return analysis_of(COURSE / f"{name}.yaml")


def rows_of(analysis: Any, *types: str) -> list[Any]:
    return [row for row in analysis.rows if row.type in types]


def shape(row: Any) -> tuple[int, ...]:
    return tuple(row.output_shape)


# ---------------------------------------------------------------------------------------------
# Reference: DESIGN.md's table (always run)
# ---------------------------------------------------------------------------------------------
def test_every_spec_in_the_zoo_has_reference_figures() -> None:
    # Reference: the file lists themselves, so a new spec cannot go untested.
    assert {p.stem for p in SPECS.glob("*.yaml")} == set(DESIGN)
    assert {p.stem for p in COURSE.glob("*.yaml")} == set(COURSE_FIGURES)


@pytest.mark.parametrize("name", sorted(DESIGN))
def test_zoo_totals_equal_design_table(name: str) -> None:
    # Reference: DESIGN.md's table (torchvision 0.29).
    totals = zoo(name).totals
    expected = DESIGN[name]
    assert (totals["params"], totals["buffers"], totals["macs"]) == expected
    assert totals["trainable_params"] == DESIGN[name].params  # nothing in the zoo is frozen


@pytest.mark.parametrize("name", sorted(DESIGN))
def test_zoo_columns_sum_to_totals_and_end_in_the_classes(name: str) -> None:
    # Reference: DESIGN.md ("the column sums equal the printed totals") and torchvision's heads.
    analysis = zoo(name)
    for column in ("params", "buffers", "macs", "flops"):
        assert sum(getattr(row, column) for row in analysis.rows) == analysis.totals[column], column
    assert shape(analysis.rows[-1]) == (N_CLASSES.get(name, 1000),)
    # residual, concat branches and blocks are expanded into primitive nodes
    assert {row.type for row in analysis.rows} <= PRIMITIVES


def test_zoo_merge_nodes_match_the_architectures() -> None:
    # Reference: the papers / torchvision: 8 and 16 residual blocks, 9 inception modules;
    # ResNet-20 (CIFAR): 9 blocks, three per stage.
    assert len(rows_of(zoo("resnet18"), "add")) == 8
    assert [shape(r) for r in rows_of(zoo("resnet20_cifar"), "add")] == [
        (16, 32, 32)] * 3 + [(32, 16, 16)] * 3 + [(64, 8, 8)] * 3
    assert len(rows_of(zoo("resnet50"), "add")) == 16
    assert len(rows_of(zoo("googlenet"), "concat")) == 9
    inception_3a = rows_of(zoo("googlenet"), "concat")[0]
    assert shape(inception_3a) == (256, 28, 28)
    assert [shape(r) for r in rows_of(zoo("resnet18"), "add")][::2] == [
        (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]


def test_googlenet_batchnorm_eps_is_torchvisions() -> None:
    # Reference: torchvision's BasicConv2d, BatchNorm2d(eps=0.001) (SPEC.md's default is 1e-5).
    raw = yaml.safe_load((SPECS / "googlenet.yaml").read_text())
    found: list[Any] = []

    def walk(value: Any) -> None:
        if value == "batchnorm":
            found.append(None)  # a bare `batchnorm` would take the default eps
        elif isinstance(value, dict):
            if "batchnorm" in value:
                found.append(value["batchnorm"].get("eps") if isinstance(value["batchnorm"], dict) else None)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(raw)
    assert found and set(found) == {0.001}
    assert len(rows_of(zoo("googlenet"), "batchnorm")) == 3 + 9 * 6


def test_lenet5_d2l_form_has_the_same_figures_as_the_1998_form(tmp_path: Path) -> None:
    # Reference: DESIGN.md's LeNet-5 row (1x32x32, no padding) against D2L's 1x28x28, padding 2.
    text = (SPECS / "lenet5.yaml").read_text()
    assert "input: [1, 28, 28]" in text and "padding: 2" in text
    original = tmp_path / "lenet5_1998.yaml"
    original.write_text(text.replace("input: [1, 28, 28]", "input: [1, 32, 32]")
                            .replace("padding: 2", "padding: 0"))
    d2l, lecun = zoo("lenet5"), analysis_of(original)
    for key in ("params", "buffers", "macs"):
        assert lecun.totals[key] == d2l.totals[key] == getattr(DESIGN["lenet5"], key)
    assert [(r.type, shape(r), r.params, r.macs) for r in lecun.rows] == \
           [(r.type, shape(r), r.params, r.macs) for r in d2l.rows]
    # `--input 1,32,32` alone keeps padding 2, so the first conv gives 32x32 (and more MACs)
    wider = analyze(build_graph(load_spec(SPECS / "lenet5.yaml"), (1, 32, 32)))
    assert shape(rows_of(wider, "conv2d")[0]) == (6, 32, 32)
    assert shape(rows_of(wider, "flatten")[0]) == (16 * 6 * 6,)


def test_lenet5_relu_trains_with_specs_example_defaults() -> None:
    # Reference: SPEC.md's `train:` example (epochs 10, batch 64, Adam lr 0.001), plus cosine decay.
    raw = yaml.safe_load((SPECS / "lenet5_relu.yaml").read_text())
    assert raw["train"] == {"epochs": 10, "batch_size": 64, "optimizer": {"adam": {"lr": 0.001}},
                            "schedule": "cosine"}
    analysis = zoo("lenet5_relu")
    assert len(rows_of(analysis, "maxpool")) == 2 and len(rows_of(analysis, "relu")) == 4
    assert not rows_of(analysis, "avgpool", "sigmoid")


# ---------------------------------------------------------------------------------------------
# Reference: the course notes (always run)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(COURSE_FIGURES))
def test_course_totals(name: str) -> None:
    # Reference: the course notes' figures, as summed in each file's header.
    totals = course(name).totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == COURSE_FIGURES[name]


def test_simple_convnet_shapes() -> None:
    # Reference: course notes, "Example of a simple convolutional network" (39x39x3 -> 7x7x40).
    analysis = course("simple_convnet")
    assert [shape(r) for r in rows_of(analysis, "conv2d", "flatten")] == [
        (10, 37, 37), (20, 17, 17), (40, 7, 7), (1960,)]


def test_lenet_dlai_table() -> None:
    # Reference: course notes, "Neural network example" table (shapes, activation sizes, params).
    analysis = course("lenet_dlai")
    layers = rows_of(analysis, "conv2d", "maxpool", "flatten", "dense")
    assert [(r.type, shape(r), r.params) for r in layers] == [
        ("conv2d", (8, 28, 28), 608),
        ("maxpool", (8, 14, 14), 0),
        ("conv2d", (16, 10, 10), 3_216),
        ("maxpool", (16, 5, 5), 0),
        ("flatten", (400,), 0),
        ("dense", (120,), 48_120),
        ("dense", (84,), 10_164),
        ("dense", (10,), 850),
    ]
    # the table's "activation size" column
    assert [math.prod(shape(r)) for r in layers] == [6_272, 1_568, 1_600, 400, 400, 120, 84, 10]
    assert analysis.rows[-1].type == "softmax"


def test_inception_module_is_cheaper_than_plain_convolutions() -> None:
    # Reference: course notes, "Inception network motivation": 28x28x192 -> 28x28x256.
    module = course("inception_vs_conv_inception")
    conv3, conv5 = course("inception_vs_conv_3x3"), course("inception_vs_conv_5x5")
    assert shape(module.rows[-1]) == shape(conv3.rows[-1]) == shape(conv5.rows[-1]) == (256, 28, 28)
    assert shape(rows_of(module, "concat")[0]) == (256, 28, 28)
    # per branch conv: 1x1 64 | 1x1 96, 3x3 128 | 1x1 16, 5x5 32 | pool proj 32
    assert [(r.params, r.macs) for r in rows_of(module, "conv2d")] == [
        (12_352, 9_633_792), (18_528, 14_450_688), (110_720, 86_704_128),
        (3_088, 2_408_448), (12_832, 10_035_200), (6_176, 4_816_896)]
    assert [(r.params, r.macs) for r in rows_of(conv3, "conv2d")] == [(442_624, 346_816_512)]
    assert [(r.params, r.macs) for r in rows_of(conv5, "conv2d")] == [(1_229_056, 963_379_200)]


# ---------------------------------------------------------------------------------------------
# Reference: the hand-built PyTorch models in tests/reference/torch_zoo.py (skipped w/o torch)
# ---------------------------------------------------------------------------------------------
# torch module class -> our row type; the rows of these types are compared in order.
# (Activations and dropout too: they have no figures, but their places in the order do.)
TORCH_KINDS = {
    "Conv2d": "conv2d", "Linear": "dense", "BatchNorm2d": "batchnorm",
    "MaxPool2d": "maxpool", "AvgPool2d": "avgpool", "AdaptiveAvgPool2d": "adaptive_avgpool",
    "ReLU": "relu", "ReLU6": "relu6", "Sigmoid": "sigmoid", "Dropout": "dropout",
}
OUR_KINDS = {"conv2d": "conv2d", "dense": "dense", "batchnorm": "batchnorm", "maxpool": "maxpool",
             "avgpool": "avgpool", "adaptive_avgpool": "adaptive_avgpool",
             "global_avgpool": "adaptive_avgpool", "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid",
             "dropout": "dropout"}


class LayerFigures(NamedTuple):
    kind: str
    output_shape: tuple[int, ...]
    params: int
    buffers: int
    macs: int


@pytest.fixture(scope="module")
def torch_zoo() -> ModuleType:
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("cnncli_tests_torch_zoo", TORCH_ZOO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def torch_layers(model: Any, input_shape: tuple[int, ...]) -> list[LayerFigures]:
    """Run `model` on zeros (batch 1) and record every call of a TORCH_KINDS module, in order."""
    import torch
    from torch import nn

    records: list[LayerFigures] = []

    def hook(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        macs = 0
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs = output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            macs = output.numel() * module.in_features
        buffers = sum(b.numel() for n, b in module.named_buffers(recurse=False)
                      if n in ("running_mean", "running_var"))
        records.append(LayerFigures(TORCH_KINDS[type(module).__name__], tuple(output.shape[1:]),
                                    sum(p.numel() for p in module.parameters(recurse=False)),
                                    buffers, macs))

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if type(m).__name__ in TORCH_KINDS]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for handle in handles:
            handle.remove()
    return records


def our_layers(analysis: Any) -> list[LayerFigures]:
    return [LayerFigures(OUR_KINDS[r.type], shape(r), r.params, r.buffers, r.macs)
            for r in analysis.rows if r.type in OUR_KINDS]


@pytest.mark.parametrize("name", sorted(DESIGN))
def test_torch_reference_matches_design_table(torch_zoo: ModuleType, name: str) -> None:
    # Reference: DESIGN.md's table, checking the hand-built torch model itself.
    builder, input_shape = torch_zoo.ZOO[name]
    model = builder()
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers()
                  if n.endswith(("running_mean", "running_var")))
    macs = sum(layer.macs for layer in torch_layers(model, input_shape))
    assert Figures(params, buffers, macs) == DESIGN[name]


@pytest.mark.parametrize("name", sorted(DESIGN))
def test_zoo_layers_equal_torch_layers(torch_zoo: ModuleType, name: str) -> None:
    # Reference: tests/reference/torch_zoo.py, layer by layer in execution order: type, output
    # shape (no batch), params, buffers and MACs of every conv/dense/batch-norm/pool (and the
    # places of the ReLU, sigmoid and dropout layers).
    builder, input_shape = torch_zoo.ZOO[name]
    analysis = zoo(name)
    assert tuple(yaml.safe_load((SPECS / f"{name}.yaml").read_text())["input"]) == input_shape
    theirs = torch_layers(builder(), input_shape)
    ours = our_layers(analysis)
    names = [r.name for r in analysis.rows if r.type in OUR_KINDS]
    for i, (mine, ref) in enumerate(zip(ours, theirs, strict=False)):
        assert mine == ref, f"layer {i} ({names[i]}): ours {mine} vs torch {ref}"
    assert len(ours) == len(theirs), f"{len(ours)} layers here, {len(theirs)} in torch"


# ---------------------------------------------------------------------------------------------
# Reference: torchvision itself (skipped unless torchvision imports; it does not install beside
# the torch 2.13 CPU build used in CI, so this runs where torch 2.14.1 + torchvision 0.29.1 are)
# ---------------------------------------------------------------------------------------------
TORCHVISION = {"alexnet": {}, "vgg16": {}, "resnet18": {}, "resnet50": {},
               "googlenet": {"aux_logits": False, "init_weights": False}}
FIGURE_KINDS = {"conv2d", "dense", "batchnorm", "maxpool", "avgpool", "adaptive_avgpool"}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_zoo_layers_equal_torchvision(name: str) -> None:
    # Reference: torchvision.models.<name>(weights=None): totals, and every conv/linear/
    # batch-norm/pool layer in execution order (torchvision calls some ReLUs as functions, so
    # activations are left out of the order here).
    models = pytest.importorskip("torchvision.models")
    model = getattr(models, name)(weights=None, **TORCHVISION[name])
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    theirs = [layer for layer in torch_layers(model, (3, 224, 224)) if layer.kind in FIGURE_KINDS]
    ours = [layer for layer in our_layers(zoo(name)) if layer.kind in FIGURE_KINDS]
    assert (params, buffers, sum(layer.macs for layer in theirs)) == DESIGN[name]
    assert ours == theirs
