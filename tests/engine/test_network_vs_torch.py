"""Whole networks: our loss and every parameter gradient against PyTorch autograd running the
same graph with copied weights (reference: torch.nn.functional, float64; skipped without torch)."""
import numpy as np
import pytest

from cnncli.engine.kernels.loss import softmax_cross_entropy
from cnncli.engine.network import Network
from cnncli.graph import build_graph
from cnncli.spec import load_spec_text

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_forward(graph, params, buffers, x, training):
    """Run our graph node by node with torch ops; params/buffers are torch tensors by node."""
    values = {"input": x}
    for node in graph.nodes:
        layer, args = node.layer, node.layer.args
        inputs = [values[name] for name in layer.inputs]
        p = params.get(node.name, {})
        kind = layer.type_name
        if kind == "conv2d":
            top, bottom, left, right = layer.pads_flat
            y = F.conv2d(F.pad(inputs[0], (left, right, top, bottom)), p["weight"], p.get("bias"), layer.stride, 0,
                         layer.dilation, layer.groups)
        elif kind in ("maxpool", "avgpool"):
            (top, bottom), (left, right) = layer.pads
            assert (top, left) == (bottom, right), "torch pools take symmetric padding only"
            fn = F.max_pool2d if kind == "maxpool" else F.avg_pool2d
            y = fn(inputs[0], layer.kernel, layer.stride, (top, left), ceil_mode=layer.ceil_mode)
        elif kind == "global_avgpool":
            y = inputs[0].mean(dim=(2, 3), keepdim=True)
        elif kind == "global_maxpool":
            y = inputs[0].amax(dim=(2, 3), keepdim=True)
        elif kind == "adaptive_avgpool":
            y = F.adaptive_avg_pool2d(inputs[0], args["output"])
        elif kind == "batchnorm":
            bn = buffers[node.name]
            y = F.batch_norm(inputs[0], bn["running_mean"], bn["running_var"], p["weight"], p["bias"],
                             training, args["momentum"], args["eps"])
        elif kind == "dense":
            y = F.linear(inputs[0], p["weight"], p.get("bias"))
        elif kind == "flatten":
            y = inputs[0].flatten(1)
        elif kind == "add":
            y = sum(inputs[1:], inputs[0])
        elif kind == "concat":
            y = torch.cat(inputs, dim=1)
        elif kind == "dropout":
            y = inputs[0]
        elif kind == "leaky_relu":
            y = F.leaky_relu(inputs[0], args["slope"])
        elif kind == "softmax":
            y = inputs[0]  # fused into the loss, as our engine does
        else:
            y = {"relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[kind](inputs[0])
        values[node.name] = y
    return values[graph.nodes[-1].name]


def compare(spec_text, input_shape, batch=4, classes=None, seed=0, training=True):
    graph = build_graph(load_spec_text(spec_text, "net.yaml"))
    net = Network(graph, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *input_shape)).astype(np.float32)
    k = graph.output.layer.out_shape[0]
    y = rng.integers(0, k, batch)

    params = {n.name: {k2: torch.tensor(v.astype(np.float64), requires_grad=True) for k2, v in p.items()}
              for n, p in zip(net.nodes, net.params)}
    buffers = {n.name: {k2: torch.tensor(v.astype(np.float64)) for k2, v in b.items()}
               for n, b in zip(net.nodes, net.buffers)}
    logits_t = torch_forward(graph, params, buffers, torch.tensor(x, dtype=torch.float64), training)
    loss_t = F.cross_entropy(logits_t, torch.tensor(y))
    loss_t.backward()

    logits = np.ascontiguousarray(net.forward(x, training=training))
    loss, dlogits = softmax_cross_entropy(logits, y)
    np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=1e-4, atol=1e-4)
    assert abs(float(loss) - loss_t.item()) < 1e-4
    if not training:  # evaluation mode is forward only
        return
    net.backward(dlogits)
    largest = max(float(p.grad.abs().max()) for layer in params.values() for p in layer.values())
    for node, grads in zip(net.nodes, net.grads):
        for name, g in grads.items():
            expected = params[node.name][name].grad.numpy()
            # relative to the tensor's own scale; gradients that are analytically zero (a bias
            # before batch norm) are compared against float32 round-off of the whole network
            scale = max(np.abs(expected).max(), 1e-2 * largest)
            np.testing.assert_allclose(g / scale, expected / scale, atol=2e-4, err_msg=f"{node.name}/{name}")
    for node, bufs in zip(net.nodes, net.buffers):  # running statistics updated as torch does
        for name, b in bufs.items():
            np.testing.assert_allclose(b, buffers[node.name][name].numpy(), rtol=1e-4, atol=1e-5)


SMALL_RESNET = """
input: [3, 12, 12]
blocks:
  basic:
    params: {c: 8, stride: 1}
    layers:
      - residual:
          body:
            - conv2d: {filters: $c, kernel: 3, stride: $stride, padding: 1, bias: false}
            - batchnorm
            - relu
            - conv2d: {filters: $c, kernel: 3, padding: 1, bias: false}
            - batchnorm
          shortcut: []
      - relu
  down:
    params: {c: 16}
    layers:
      - residual:
          body:
            - conv2d: {filters: $c, kernel: 3, stride: 2, padding: 1, bias: false}
            - batchnorm
            - relu
            - conv2d: {filters: $c, kernel: 3, padding: 1, bias: false}
            - batchnorm
          shortcut:
            - conv2d: {filters: $c, kernel: 1, stride: 2, bias: false}
            - batchnorm
      - relu
layers:
  - conv2d: {filters: 8, kernel: 3, padding: 1, bias: false}
  - batchnorm
  - relu
  - basic: {c: 8}
  - down: {c: 16}
  - global_avgpool
  - flatten
  - dense: 5
"""

INCEPTION = """
input: [6, 9, 9]
layers:
  - concat:
      branches:
        - [conv2d: {filters: 4, kernel: 1}, relu]
        - [conv2d: {filters: 3, kernel: 1}, relu, conv2d: {filters: 5, kernel: 3, padding: 1}, relu]
        - [conv2d: {filters: 2, kernel: 1}, relu, conv2d: {filters: 3, kernel: 5, padding: 2}, relu]
        - [maxpool: {kernel: 3, stride: 1, padding: 1}, conv2d: {filters: 2, kernel: 1}, relu]
        - []
  - maxpool: {kernel: 3, stride: 2, ceil_mode: true}
  - adaptive_avgpool: 2
  - flatten
  - dense: {units: 7, activation: tanh}
  - dense: 4
  - softmax
"""

FOUR_READERS = """
input: [3, 8, 8]
layers:
  - conv2d: {filters: 6, kernel: 3, padding: 1}
  - relu
  - concat:
      branches:
        - [conv2d: {filters: 4, kernel: 1}, relu]
        - [conv2d: {filters: 3, kernel: 3, padding: 1}]
        - []
        - [maxpool: {kernel: 3, stride: 1, padding: 1}]
  - global_avgpool
  - flatten
  - dense: 4
"""

EVERYTHING_ELSE = """
input: [2, 11, 10]
layers:
  - conv2d: {filters: 4, kernel: [3, 2], stride: [2, 1], padding: same, dilation: 1}
  - leaky_relu: 0.1
  - conv2d: {filters: 4, kernel: 3, groups: 4, padding: 2, dilation: 2, name: dw}
  - relu6
  - avgpool: {kernel: 2, padding: 1, ceil_mode: true}
  - sigmoid
  - conv2d: {filters: 4, kernel: 1, name: side, inputs: [dw]}
  - global_maxpool
  - flatten
  - batchnorm
  - dense: 3
"""


def test_small_resnet_matches_torch():
    compare(SMALL_RESNET, (3, 12, 12))


def test_small_resnet_in_evaluation_mode_matches_torch():
    compare(SMALL_RESNET, (3, 12, 12), training=False)


def test_inception_block_with_identity_branch_and_softmax_matches_torch():
    compare(INCEPTION, (6, 9, 9))


def test_a_tensor_read_by_four_layers_matches_torch():
    # the relu's output gets four gradient summands (network.backward holds two, folds the rest)
    compare(FOUR_READERS, (3, 8, 8))


def test_grouped_dilated_same_padding_and_unused_branch_match_torch():
    # 'side' reads 'dw' but the loss path does not reach avgpool/sigmoid, so they get no gradient
    compare(EVERYTHING_ELSE, (2, 11, 10), batch=5)


@pytest.mark.parametrize("training", [True, False])
def test_mobilenet_zoo_spec_matches_torch(training):
    # specs/mobilenet_mnist.yaml whole (depthwise stride 1 and 2, pointwise conv -> batch norm,
    # relu6): loss, every gradient and the running statistics against torch autograd
    from pathlib import Path

    spec = Path(__file__).resolve().parents[2] / "specs" / "mobilenet_mnist.yaml"
    compare(spec.read_text(), (1, 28, 28), batch=8, training=training)


FUSED_ACTIVATIONS = """
input: [3, 10, 10]
layers:
  - conv2d: {filters: 8, kernel: 3, padding: 1, bias: false}   # conv -> batchnorm -> leaky relu, one op
  - batchnorm
  - leaky_relu: 0.2
  - conv2d: {filters: 8, kernel: 3, stride: 2, padding: 1, depthwise: true}
  - batchnorm                                                  # batchnorm -> leaky relu, one op
  - leaky_relu: 0.05
  - conv2d: {filters: 8, kernel: 3, groups: 2, padding: 1}
  - batchnorm                                                  # batchnorm -> relu, one op
  - relu
  - flatten
  - dense: 16
  - batchnorm                                                  # batch norm of [N, C] -> relu6, one op
  - relu6
  - dense: 3
"""


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_with_fused_leaky_relu_relu6_and_relu_matches_torch(training):
    compare(FUSED_ACTIVATIONS, (3, 10, 10), batch=6, training=training)
