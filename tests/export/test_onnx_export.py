"""The ONNX export against three independent judges: onnx.checker (full check), ONNX shape
inference (strict) against our graph's shapes (`cnn shapes`), and onnxruntime's outputs against
our Numba engine's eval-mode forward, for every zoo spec and for small specs that exercise every
layer type and the awkward arguments. Pooling corner cases are also checked against PyTorch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from cnncli.cli.common import load_graph
from cnncli.engine.network import Network
from cnncli.errors import UsageError
from cnncli.export.common import InputTransform
from cnncli.export.onnx_export import DEFAULT_OPSET, OUTPUT, build_onnx, save_onnx
from cnncli.export.onnx_layers import EMITTERS
from cnncli.graph import Graph
from cnncli.layers.registry import LAYER_TYPES
from cnncli.zoo import zoo_specs

SPECS = Path(__file__).parent / "onnx_specs"
ZOO = sorted(zoo_specs())
BIG = {"alexnet", "vgg16"}  # over 60 M parameters: one image per batch
TOLERANCE = 3e-5  # of the output's largest magnitude: float32 round-off through a few dozen layers
# (the zoo nets with their initial weights give outputs from 0.02 to 4; seen: 2e-6 of that at most
# with the direct and F(2x2, 3x3) kernels, 1.3e-5 where the engine runs F(4x4, 3x3) Winograd on a
# 192-channel 3x3 layer: its transforms' coefficients (up to 8 and 1/24) round more)


def zeros_state(graph: Graph) -> dict[str, np.ndarray]:
    """Every parameter and buffer of the graph, zero (for the checks that do not run the model)."""
    return {f"{node.name}/{name}": np.zeros(shape, np.float32) for node in graph.nodes
            for name, shape in {**node.layer.param_shapes(), **node.layer.buffer_shapes()}.items()}


def dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def random_network(graph: Graph, seed: int = 0) -> tuple[Network, dict[str, np.ndarray]]:
    """The engine with the seed's weights and random batch-norm affine parameters and running
    statistics (so that eval-mode batch norm really normalises); returns it and its state (views)."""
    net = Network(graph, seed)
    rng = np.random.default_rng(seed + 1)
    draws = {"weight": lambda n: rng.uniform(0.5, 1.5, n), "bias": lambda n: rng.normal(0, 0.2, n),
             "running_mean": lambda n: rng.normal(0, 0.3, n), "running_var": lambda n: rng.uniform(0.5, 2.0, n)}
    batchnorms = {node.name for node in graph.nodes if node.layer.type_name == "batchnorm"}
    state = net.state()
    for key, array in state.items():
        node, tensor = key.rsplit("/", 1)
        if node in batchnorms:
            array[...] = draws[tensor](array.shape)
    return net, state


def engine_output(net: Network, graph: Graph, x: np.ndarray) -> np.ndarray:
    """What our engine classifies with: the eval-mode forward, then a final softmax if the spec has one."""
    return net.predict_proba(x) if graph.output.layer.type_name == "softmax" else net.forward(x, training=False)


def run_onnx(model: onnx.ModelProto | bytes, x: np.ndarray) -> np.ndarray:
    data = model if isinstance(model, bytes) else model.SerializeToString()
    (y,) = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"input": x})
    return y


def max_difference(graph: Graph, model: onnx.ModelProto | bytes, net: Network, x: np.ndarray,
                   onnx_input: np.ndarray | None = None) -> float:
    """Largest |onnxruntime − engine|, asserted within TOLERANCE of the output's scale."""
    expected = engine_output(net, graph, x)
    got = run_onnx(model, x if onnx_input is None else onnx_input)
    assert got.shape == expected.shape
    difference = float(np.abs(got - expected).max())
    assert difference <= TOLERANCE * float(np.abs(expected).max()) + 1e-12, difference
    return difference


def check_structure(graph: Graph, model: onnx.ModelProto) -> bytes:
    """With the shapes build_onnx recorded (value_info) taken out: the full checker, then strict
    shape inference must give every spec node's output the shape `cnn shapes` gives it after a
    symbolic batch dimension, and agree with what was recorded. Returns the serialised model
    (serialised once: VGG-16's is 528 MB)."""
    names = [n.name for n in model.graph.node]
    assert [node.name for node in graph.nodes if node.name not in names] == []
    assert [i.name for i in model.graph.input] == ["input"] and [o.name for o in model.graph.output] == [OUTPUT]
    recorded = {vi.name: dims(vi) for vi in model.graph.value_info}
    del model.graph.value_info[:]
    data = model.SerializeToString()
    onnx.checker.check_model(data, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(data, check_type=True, strict_mode=True)
    values = {vi.name: dims(vi) for vi in [*inferred.graph.value_info, *inferred.graph.output]}
    for node in graph.nodes:
        tensor = OUTPUT if node is graph.output else node.name
        assert values[tensor] == ["batch", *node.layer.out_shape], (node.name, values[tensor], node.layer.out_shape)
        assert tensor == OUTPUT or recorded[tensor] == values[tensor]
    return data


# -- the zoo ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ZOO)
def test_zoo_spec(name: str) -> None:
    # References: onnx.checker and ONNX shape inference against our graph's shapes; onnxruntime runs
    # the exported file and our engine the same weights, at the spec's own input size.
    _, graph = load_graph(name)
    net, state = random_network(graph)
    data = check_structure(graph, build_onnx(graph, state, None))
    x = np.random.default_rng(7).standard_normal((1 if name in BIG else 2, *graph.input_shape)).astype(np.float32)
    print(f"{name}: max |onnxruntime - engine| = {max_difference(graph, data, net, x):.3g}")


# -- small specs with every layer type and the awkward arguments ----------------------------------
@pytest.mark.parametrize("opset", [13, 17, DEFAULT_OPSET])
@pytest.mark.parametrize("spec", ["every_layer.yaml", "flat.yaml"])
def test_small_specs(spec: str, opset: int) -> None:
    # References: checker, shape inference and onnxruntime against our engine, at several opsets.
    _, graph = load_graph(str(SPECS / spec))
    net, state = random_network(graph, seed=3)
    model = build_onnx(graph, state, None, opset=opset)
    assert model.opset_import[0].version == opset
    x = np.random.default_rng(1).standard_normal((2, *graph.input_shape)).astype(np.float32)
    max_difference(graph, model, net, x)
    check_structure(graph, model)


def test_every_layer_type_has_a_mapping_and_is_in_the_test_spec() -> None:
    # Reference: the layer registry; a new layer type must get an ONNX mapping and a test.
    assert set(EMITTERS) == set(LAYER_TYPES)
    _, graph = load_graph(str(SPECS / "every_layer.yaml"))
    assert {node.layer.type_name for node in graph.nodes} == set(LAYER_TYPES)


def test_awkward_arguments_take_the_helper_paths() -> None:
    # Reference: hand computation of the spec's shapes (`cnn shapes` shows the same): the ceil_mode
    # max pool on 7 rows needs end padding 1 for its 4th window; the ceil_mode average pool's last
    # row window (start 3, kernel 3, input 4 + padding 1) holds 2 cells, so that row is scaled 3/2;
    # adaptive 2x1 -> 3x2 bins do not divide, so they become two MatMuls.
    _, graph = load_graph(str(SPECS / "every_layer.yaml"))
    model = build_onnx(graph, zeros_state(graph), None)
    nodes = {n.name: n for n in model.graph.node}
    attrs = {name: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute} for name, n in nodes.items()}
    assert attrs["stem"]["pads"] == [1, 1, 2, 2]  # 'same' with stride 2: top 1, left 1, bottom 2, right 2
    assert attrs["mix.b2.conv2d_1"]["dilations"] == [2, 2] and attrs["mix.b2.conv2d_1"]["group"] == 2
    assert attrs["maxpool_1"]["pads"] == [0, 0, 1, 0] and attrs["maxpool_1"].get("ceil_mode", 0) == 0
    assert nodes["avgpool_1"].op_type == "Mul" and attrs["avgpool_1/window_mean"]["pads"] == [1, 1, 2, 1]
    fix = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}["avgpool_1/divisor_fix"]
    np.testing.assert_allclose(fix, [[1, 1], [1, 1], [1.5, 1.5]])
    assert nodes["adaptive_avgpool_1"].op_type == "MatMul"
    assert nodes["sum3"].op_type == "Sum" and list(nodes["sum3"].input) == ["a", "b", "c"]
    assert attrs["leaky_relu_1"]["alpha"] == pytest.approx(0.2)
    assert nodes["softmax_2"].op_type == "Softmax" and attrs["softmax_2"]["axis"] == 1
    assert nodes["dense_1"].op_type == "Gemm" and list(nodes["dense_1"].input) == ["flatten_1", "dense_1/weight"]


# -- pooling against PyTorch ---------------------------------------------------------------------
POOL_CASES = [  # (n, kernel, stride, padding, ceil_mode)
    (7, 2, 2, 0, True), (8, 3, 2, 1, True), (5, 2, 3, 0, True), (6, 2, 3, 1, True), (5, 1, 3, 0, True),
    (9, 3, 3, 1, True), (3, 2, 2, 1, True), (10, 4, 3, 2, True), (7, 3, 2, 1, False), (6, 4, 1, 2, False),
    (11, 5, 4, 2, True), (4, 4, 1, 0, True),
]


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize(("n", "kernel", "stride", "padding", "ceil_mode"), POOL_CASES)
def test_pools_match_pytorch(tmp_path: Path, kind: str, n: int, kernel: int, stride: int, padding: int,
                             ceil_mode: bool) -> None:
    # Reference: PyTorch's max_pool2d / avg_pool2d (count_include_pad=True), including windows that
    # ceil_mode drops because they would start in the padding (5, 2, 3: ONNX's own formula keeps them).
    import torch
    import torch.nn.functional as F

    spec = tmp_path / "pool.yaml"
    spec.write_text(f"name: pool\ninput: [2, {n}, {n + 1}]\nlayers:\n  - {kind}: {{kernel: {kernel}, "
                    f"stride: {stride}, padding: {padding}, ceil_mode: {str(ceil_mode).lower()}}}\n")
    _, graph = load_graph(str(spec))
    x = np.random.default_rng(n).standard_normal((2, *graph.input_shape)).astype(np.float32)
    pool = F.max_pool2d if kind == "maxpool" else F.avg_pool2d
    expected = pool(torch.from_numpy(x), kernel, stride, padding, ceil_mode=ceil_mode).numpy()
    model = build_onnx(graph, {}, None)
    check_structure(graph, model)
    np.testing.assert_allclose(run_onnx(model, x), expected, rtol=1e-6, atol=1e-6)


ASYMMETRIC_CASES = [  # (n, kernel, stride, ((top, bottom), (left, right)))
    (7, 3, 2, ((0, 1), (1, 0))), (8, 4, 3, ((2, 0), (1, 2))), (6, 2, 2, ((1, 0), (0, 1))), (9, 5, 4, ((0, 2), (2, 1))),
]


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize(("n", "kernel", "stride", "pads"), ASYMMETRIC_CASES)
def test_pools_with_asymmetric_padding_match_engine(tmp_path: Path, kind: str, n: int, kernel: int, stride: int,
                                                     pads: tuple, ceil_mode: bool) -> None:
    # Reference: our engine (PyTorch has no asymmetric pool padding; the engine extends its rule:
    # count_include_pad counts the written padding, not a ceil_mode window's overhang past it).
    spec = tmp_path / "pool.yaml"
    padding = [list(p) for p in pads]
    spec.write_text(f"name: pool\ninput: [2, {n}, {n + 2}]\nlayers:\n  - {kind}: {{kernel: {kernel}, "
                    f"stride: {stride}, padding: {padding}, ceil_mode: {str(ceil_mode).lower()}}}\n")
    _, graph = load_graph(str(spec))
    model = build_onnx(graph, {}, None)
    check_structure(graph, model)
    x = np.random.default_rng(n).standard_normal((2, *graph.input_shape)).astype(np.float32)
    np.testing.assert_allclose(run_onnx(model, x), Network(graph).forward(x, training=False), rtol=1e-6, atol=1e-6)


# -- the input transform, the file, the description ------------------------------------------------
@pytest.mark.parametrize("spec", ["every_layer.yaml", "lenet5"])
def test_input_transform_takes_raw_pixels(spec: str) -> None:
    # Reference: our engine fed data standardised by hand, (x / 255 − mean) / std, while
    # onnxruntime gets the raw 0-255 values.
    _, graph = load_graph(spec if spec == "lenet5" else str(SPECS / spec))
    channels = graph.input_shape[0]
    transform = InputTransform(1 / 255, tuple(0.3 + 0.1 * c for c in range(channels)),
                               tuple(0.2 + 0.05 * c for c in range(channels)))
    net, state = random_network(graph, seed=5)
    model = build_onnx(graph, state, transform)
    raw = np.random.default_rng(2).integers(0, 256, (2, *graph.input_shape)).astype(np.float32)
    mean, std = (np.reshape(v, (-1, 1, 1)) for v in (transform.mean, transform.std))
    standardised = ((raw / 255 - mean) / std).astype(np.float32)
    max_difference(graph, model, net, standardised, onnx_input=raw)
    assert transform.describe() in model.doc_string and transform.describe() in model.graph.input[0].doc_string
    check_structure(graph, model)


def test_description_metadata_and_dynamic_batch(tmp_path: Path) -> None:
    # Reference: the file read back by onnx and run by onnxruntime at batch sizes 1 and 3.
    _, graph = load_graph("lenet5_relu")
    net, state = random_network(graph)
    path = tmp_path / "net.onnx"
    save_onnx(build_onnx(graph, state, None), path)
    model = onnx.load(str(path))
    onnx.checker.check_model(str(path), full_check=True)
    assert {p.key: p.value for p in model.metadata_props}["spec"] == graph.name == model.graph.name
    assert "no normalisation" in model.doc_string and model.producer_name == "cnncli"
    assert [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == ["batch", 1, 28, 28]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 1, 28, 28)).astype(np.float32)
        np.testing.assert_allclose(session.run(None, {"input": x})[0], engine_output(net, graph, x),
                                   rtol=1e-5, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["net.onnx"]  # no temporary file left behind


# -- what cannot be exported ------------------------------------------------------------------------
def test_refusals_name_the_problem() -> None:
    # Reference: the messages the brief asks for (node named, reason given).
    _, graph = load_graph("lenet5")
    state = zeros_state(graph)
    with pytest.raises(UsageError, match="opset 11 is out of range"):
        build_onnx(graph, state, None, opset=11)
    with pytest.raises(UsageError, match="node 'conv2d_1' .*no 'conv2d_1/bias'"):
        build_onnx(graph, {k: v for k, v in state.items() if k != "conv2d_1/bias"}, None)
    with pytest.raises(UsageError, match="'dense_1/weight' has shape \\[120, 5\\]"):
        build_onnx(graph, {**state, "dense_1/weight": np.zeros((120, 5), np.float32)}, None)
    with pytest.raises(UsageError, match=r"3 mean values, but the input of .LeNet-5. is \[1, 28, 28\]"):
        build_onnx(graph, state, InputTransform(1 / 255, (0.5, 0.5, 0.5), (0.2, 0.2, 0.2)))
    graph.nodes[1].layer.type_name = "mystery"  # a layer type added without an ONNX mapping
    with pytest.raises(UsageError, match=f"lenet5.yaml:\\d+:\\d+: node '{graph.nodes[1].name}': layer type 'mystery' "
                                         f"has no ONNX mapping"):
        build_onnx(graph, state, None)
