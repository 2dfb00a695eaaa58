"""Fused ops (cnncli/engine/ops/fused.py) against the same network run node by node.

Reference: Network(..., fuse=False), which runs every node as its own op (each of those ops
is tested against PyTorch in test_kernels_*.py and test_network_vs_torch.py). conv -> relu
(-> maxpool), dense -> relu and add -> relu must give identical values; conv -> batchnorm computes the
variance in one pass instead of two, so it is compared to float32 round-off. A LeNet-5 run
is also compared with PyTorch directly, and training twice must give identical weights.
"""
from __future__ import annotations

import numpy as np
import pytest

from cnncli.engine.kernels.activation import NO_ACTIVATION, RELU
from cnncli.engine.kernels.loss import softmax_cross_entropy
from cnncli.engine.network import Network
from cnncli.engine.ops.fused import AddReluOp, ConvBatchNormOp, ConvReluOp
from cnncli.engine.optim import Adam
from cnncli.graph import build_graph
from cnncli.spec import load_spec_text

LENET = """
input: [1, 28, 28]
layers:
  - conv2d: {filters: 6, kernel: 5, padding: 2}
  - relu
  - maxpool: 2
  - conv2d: {filters: 16, kernel: 5}
  - relu
  - maxpool: 2
  - flatten
  - dense: 120
  - relu
  - dense: 10
"""

# odd sizes (floor pooling drops a row and a column), 3x3 pooling, a stride-2 conv -> relu,
# and a conv whose output is also read by another node (so not fused with its relu)
ODD = """
input: [3, 15, 13]
layers:
  - conv2d: {filters: 5, kernel: 3, padding: [1, 0]}
  - relu
  - maxpool: 3
  - conv2d: {filters: 4, kernel: 3, stride: 2, padding: 1}
  - relu
  - conv2d: {filters: 4, kernel: 1, name: side}
  - relu: {name: shared}
  - conv2d: {filters: 4, kernel: 1, inputs: [side]}
  - add: {inputs: [shared, conv2d_3]}
  - flatten
  - dense: 3
"""

RESNET = """
input: [3, 10, 10]
blocks:
  down:
    params: {c: 8}
    layers:
      - residual:
          body:
            - conv2d: {filters: $c, kernel: 3, stride: 2, padding: 1, bias: false}
            - batchnorm
            - relu
            - conv2d: {filters: $c, kernel: 3, padding: 1}
            - batchnorm
          shortcut:
            - conv2d: {filters: $c, kernel: 1, stride: 2, bias: false}
            - batchnorm
      - relu
layers:
  - conv2d: {filters: 4, kernel: 3, padding: 1, bias: false}
  - batchnorm
  - relu
  - down: {c: 8}
  - global_avgpool
  - flatten
  - dense: 5
"""


def nets(spec: str, seed: int = 0) -> tuple[Network, Network]:
    graph = build_graph(load_spec_text(spec, "net.yaml"))
    return Network(graph, seed=seed), Network(graph, seed=seed, fuse=False)


def step(net: Network, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logits of a training forward; fills net.flat_grad."""
    logits = np.ascontiguousarray(net.forward(x, training=True))
    _, dlogits = softmax_cross_entropy(logits, y)
    net.backward(dlogits)
    return logits


def fused_kinds(net: Network) -> list[str]:
    return [type(s.op).__name__ for s in net.steps if len(s.nodes) > 1]


def test_plans_fuse_the_chains_and_only_those() -> None:
    # Reference: the rules in ops/fused.py's docstring, applied by hand to the specs above.
    assert fused_kinds(nets(LENET)[0]) == ["ConvReluOp", "ConvReluOp", "DenseReluOp"]
    odd = nets(ODD)[0]
    assert fused_kinds(odd) == ["ConvReluOp", "ConvReluOp"]  # 'side' has two readers
    assert [s.op.pool for s in odd.steps if isinstance(s.op, ConvReluOp)] == [3, 0]
    resnet = nets(RESNET)[0]
    assert fused_kinds(resnet) == ["ConvBatchNormOp"] * 4 + ["AddReluOp"]
    acts = [s.op.act for s in resnet.steps if isinstance(s.op, ConvBatchNormOp)]
    assert acts == [RELU, RELU, NO_ACTIVATION, NO_ACTIVATION]
    assert all(len(s.nodes) == 1 for s in nets(LENET)[1].steps)


@pytest.mark.parametrize("spec,shape", [(LENET, (1, 28, 28)), (ODD, (3, 15, 13))])
def test_conv_relu_pool_fusion_is_bit_identical(spec: str, shape: tuple[int, ...]) -> None:
    # Reference: the unfused network (same kernels' sums, same max-pool tie rule).
    fused, plain = nets(spec)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, *shape)).astype(np.float32)
    x[0, 0, :4, :4] = 0.5  # ties inside pooling windows
    y = rng.integers(0, plain.graph.output.layer.out_shape[0], 9)
    np.testing.assert_array_equal(step(fused, x, y), step(plain, x, y))
    np.testing.assert_array_equal(fused.flat_grad, plain.flat_grad)
    np.testing.assert_array_equal(fused.forward(x, training=False), plain.forward(x, training=False))


def test_conv_batchnorm_and_add_relu_fusion_match_to_round_off() -> None:
    # Reference: the unfused network; batch statistics differ only in float64 summation order.
    fused, plain = nets(RESNET)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((6, 3, 10, 10)) * 3 + 1).astype(np.float32)
    y = rng.integers(0, 5, 6)
    np.testing.assert_allclose(step(fused, x, y), step(plain, x, y), rtol=1e-5, atol=1e-5)
    scale = np.abs(plain.flat_grad).max()
    np.testing.assert_allclose(fused.flat_grad / scale, plain.flat_grad / scale, atol=1e-5)
    for a, b in zip(fused.buffers, plain.buffers):
        for name in a:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused.forward(x, training=False), plain.forward(x, training=False),
                               rtol=1e-5, atol=1e-5)


def test_non_finite_inputs_reach_the_loss_through_fused_ops() -> None:
    # Reference: IEEE semantics, as in the unfused ops: NaN survives relu and max pooling, and
    # batch statistics of a batch holding a NaN are NaN for every sample.
    lenet, _ = nets(LENET)
    x = np.zeros((2, 1, 28, 28), np.float32)
    x[1, 0, 5, 5] = np.nan
    np.testing.assert_array_equal(np.isfinite(lenet.forward(x, training=True)), [[True] * 10, [False] * 10])
    resnet, _ = nets(RESNET)
    x = np.zeros((2, 3, 10, 10), np.float32)
    x[1, 0, 5, 5] = np.nan
    assert not np.isfinite(resnet.forward(x, training=True)).any()


def test_lenet_gradients_match_torch() -> None:
    # Reference: torch.nn.functional (float64) on the same weights; loss and every gradient.
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    net, _ = nets(LENET, seed=3)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    step(net, x, y)
    p = [{k: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in d.items()} for d in net.params]
    conv1, conv2, d1, d2 = [q for q in p if q]
    h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(x, dtype=torch.float64), conv1["weight"], conv1["bias"],
                                     padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, conv2["weight"], conv2["bias"])), 2).flatten(1)
    logits = F.linear(F.relu(F.linear(h, d1["weight"], d1["bias"])), d2["weight"], d2["bias"])
    F.cross_entropy(logits, torch.tensor(y)).backward()
    for ours, theirs in zip([g for g in net.grads if g], [q for q in p if q]):
        for name in ours:
            ref = theirs[name].grad.numpy()
            np.testing.assert_allclose(ours[name], ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_training_is_deterministic() -> None:
    # Reference: the same run twice (static work split, per-thread partial sums in fixed order).
    def train() -> np.ndarray:
        net, _ = nets(RESNET, seed=5)
        opt = Adam(net.flat.size)
        rng = np.random.default_rng(5)
        for _ in range(3):
            x = rng.standard_normal((16, 3, 10, 10)).astype(np.float32)
            step(net, x, rng.integers(0, 5, 16))
            opt.step(net.flat, net.flat_grad, 1e-2)
        return net.flat.copy()

    np.testing.assert_array_equal(train(), train())


def test_add_relu_gradient_reaches_both_inputs() -> None:
    # Reference: d relu(a + b) / da = d/db = [a + b > 0].
    op = next(s.op for s in nets(RESNET)[0].steps if isinstance(s.op, AddReluOp))
    a = np.array([[1.0, -2.0, 0.5]], np.float32)
    b = np.array([[-3.0, 1.0, 0.25]], np.float32)
    out = op.forward([a, b], [{}, {}], [{}, {}], True)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 0.75]])
    (ga, gb), grads = op.backward(np.ones_like(a), [{}, {}])
    np.testing.assert_array_equal(ga, [[0.0, 0.0, 1.0]])
    assert gb is ga and grads == [{}, {}]
