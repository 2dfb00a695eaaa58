"""The engine's graph walk (cnncli/engine/plan.py), the ops the layers name, their initial values.

References: the fusion rules applied by hand to small graphs; PyTorch's default initialisation
rule (U(−1/√fan_in, 1/√fan_in) for conv and dense weights and biases, γ = 1, β = 0, running
mean 0, variance 1) evaluated with numpy on the same generator; fresh interpreters for imports.
"""
from __future__ import annotations

import subprocess
import sys
from math import sqrt

import numpy as np
import pytest

from cnncli.engine.init import init_buffers, init_params
from cnncli.engine.ops import Op, op_class
from cnncli.engine.plan import Fusion, logit_nodes, match_chains
from cnncli.graph import build_graph
from cnncli.layers.activation import ReLU
from cnncli.layers.conv import Conv2d
from cnncli.layers.norm import BatchNorm
from cnncli.layers.registry import LAYER_TYPES
from cnncli.spec import load_spec_text

# every layer type once
ALL = """
input: [3, 12, 12]
layers:
  - conv2d: {filters: 4, kernel: 3, padding: 1, name: c1}
  - batchnorm
  - relu
  - conv2d: {filters: 4, kernel: 3, padding: 1, groups: 4, bias: false}
  - relu6
  - leaky_relu: 0.1
  - add: {inputs: [relu_1, leaky_relu_1]}
  - maxpool: 2
  - concat: {branches: [[avgpool: {kernel: 3, stride: 1, padding: 1}, sigmoid], [tanh]]}
  - adaptive_avgpool: 3
  - conv2d: {filters: 4, kernel: 1, name: side, inputs: [concat_1]}
  - global_maxpool: {inputs: [side]}
  - global_avgpool: {inputs: [adaptive_avgpool_1]}
  - concat: {inputs: [global_maxpool_1, global_avgpool_1], name: joined}
  - flatten
  - dropout: 0.2
  - dense: 6
  - softmax
"""


def graph(text: str):  # type: ignore[no-untyped-def]
    return build_graph(load_spec_text(text, "net.yaml"))


def test_every_layer_type_names_an_op_and_initial_values() -> None:
    # Reference: the layer registry; every tensor a layer allocates has a rule.
    g = graph(ALL)
    assert {n.layer.type_name for n in g.nodes} == set(LAYER_TYPES)
    for node in g.nodes:
        assert issubclass(op_class(node.layer), Op)
        tensors = {**node.layer.param_shapes(), **node.layer.buffer_shapes()}
        assert set(type(node.layer).init) >= set(tensors), node.name


def test_logit_nodes_drop_only_a_final_softmax() -> None:
    # Reference: by hand: the spec ends in softmax; a lone softmax is kept (it is the network).
    g = graph(ALL)
    assert [n.name for n in logit_nodes(g.nodes)] == [n.name for n in g.nodes[:-1]]
    assert logit_nodes(g.nodes[:-1]) == g.nodes[:-1]
    alone = graph("input: [5]\nlayers:\n  - softmax\n")
    assert [n.name for n in logit_nodes(alone.nodes)] == ["softmax_1"]


def test_fusion_patterns_are_data_and_need_single_readers() -> None:
    # Reference: the rule by hand: c1's output has one reader (batchnorm), so a (Conv2d,
    # BatchNorm) pattern takes it; relu_1 is read twice (conv2d_2 and add_1), so a chain cannot
    # run through it; 'side' is followed by global_maxpool, not relu.
    g = graph(ALL)
    names = [n.name for n in g.nodes]
    conv_relu = Fusion((Conv2d, ReLU), "conv+relu")
    program = match_chains(g.nodes, [conv_relu])
    assert [(f.op if f else None, [names[i] for i in chain]) for f, chain in program if f] == []
    three = Fusion((Conv2d, BatchNorm, ReLU), "cbr")
    program = match_chains(g.nodes, [three, conv_relu])
    fused = [(f.op, [names[i] for i in chain]) for f, chain in program if f]
    assert fused == [("cbr", ["c1", "batchnorm_1", "relu_1"])]
    assert sum(len(chain) for _, chain in program) == len(g.nodes)  # every node runs exactly once
    refused = Fusion((Conv2d, BatchNorm, ReLU), "never", when=lambda layers: False)
    assert all(f is None for f, _ in match_chains(g.nodes, [refused]))


def test_initial_values_follow_pytorch_rules_in_one_generator() -> None:
    # Reference: numpy draws of PyTorch's rule, weight then bias, from a generator in the same state.
    g = graph(ALL)
    conv, bn = g.nodes[0].layer, g.nodes[1].layer
    params = init_params(conv, np.random.default_rng(7))
    expected = np.random.default_rng(7)
    bound = 1 / sqrt(3 * 3 * 3)
    np.testing.assert_array_equal(params["weight"], expected.uniform(-bound, bound, (4, 3, 3, 3)).astype(np.float32))
    np.testing.assert_array_equal(params["bias"], expected.uniform(-bound, bound, (4,)).astype(np.float32))
    assert {k: v.tolist() for k, v in init_params(bn, np.random.default_rng(0)).items()} == {
        "weight": [1.0] * 4, "bias": [0.0] * 4}
    assert {k: v.tolist() for k, v in init_buffers(bn).items()} == {
        "running_mean": [0.0] * 4, "running_var": [1.0] * 4}
    assert init_params(g.nodes[2].layer, np.random.default_rng(0)) == {}


def test_unknown_engine_op_is_named() -> None:
    # Reference: a layer class that names no op gets a message saying so.
    class Bare(ReLU):
        engine_op = ""

    with pytest.raises(ValueError, match="layer type relu names no engine op"):
        op_class(Bare("x", ["input"], {}))


def test_plan_init_and_setup_import_no_numba() -> None:
    # Reference: a fresh interpreter's sys.modules (the exporters and the PyTorch engine use these).
    code = ("import sys, cnncli.engine.plan, cnncli.engine.init, cnncli.engine.setup; "
            "assert 'numba' not in sys.modules, 'numba imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
