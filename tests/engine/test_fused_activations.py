"""Batch norm with a fused activation (relu, relu6, leaky relu): the kernels and the plans.

References: torch.nn.functional (float64 autograd) for the kernels, including values past
relu6's upper clamp and exactly at 0; the fusion rules of ops/fused.py's docstring for the
plans. Whole networks with these chains are compared with PyTorch in test_network_vs_torch.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnncli.engine.kernels import activation, conv, norm
from cnncli.engine.network import Network
from cnncli.engine.ops.fused import ConvBatchNormOp
from cnncli.engine.ops.norm import BatchNormOp
from cnncli.graph import build_graph
from cnncli.spec import load_spec

torch = pytest.importorskip("torch")
F = torch.nn.functional

ACTIVATIONS = {  # op -> (slope, the torch function)
    activation.RELU: (0.0, F.relu),
    activation.RELU6: (0.0, F.relu6),
    activation.LEAKY_RELU: (0.15, lambda t: F.leaky_relu(t, 0.15)),
}


def _batch(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x [5, 4, 6, 7] and gamma, beta large enough that relu6 clamps above 6 and below 0."""
    x = rng.standard_normal((5, 4, 6, 7)).astype(np.float32)
    return x, np.array([4.0, -3.0, 0.5, 5.0], np.float32), np.array([3.0, 1.0, -0.2, 0.0], np.float32)


@pytest.mark.parametrize("op", list(ACTIVATIONS))
def test_batchnorm_with_activation_matches_torch(op: int) -> None:
    slope, fn = ACTIVATIONS[op]
    rng = np.random.default_rng(op + 7)
    x, gamma, beta = _batch(rng)
    z, mean, invstd = norm.batchnorm_train_forward(x, gamma, beta, 1e-5, op, slope)
    xt, gt, bt = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, gamma, beta))
    zt = fn(F.batch_norm(xt, None, None, gt, bt, True, 0.1, 1e-5))
    assert (zt.detach().numpy() >= 6).any() or op != activation.RELU6  # the upper clamp is exercised
    np.testing.assert_allclose(z, zt.detach().numpy(), rtol=1e-5, atol=1e-5)
    dz = rng.standard_normal(x.shape).astype(np.float32)
    zt.backward(torch.tensor(dz.astype(np.float64)))
    dx, dgamma, dbeta = norm.batchnorm_backward(dz, x, gamma, mean, invstd, z, op, slope)
    for ours, ref in [(dx, xt.grad), (dgamma, gt.grad), (dbeta, bt.grad)]:
        ref = ref.numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    scale = gamma * invstd  # evaluation-mode apply with the same statistics
    np.testing.assert_allclose(norm.batchnorm_apply(x, scale, beta - mean * scale, op, slope), z, rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("op", [activation.NO_ACTIVATION, activation.RELU])
def test_conv_batchnorm_relu_backward_matches_torch(op: int) -> None:
    # conv -> batchnorm (-> relu) as the fused op computes it: statistics from the conv
    # epilogue, the gradient through the conv's prologue (modes BN, BN_RELU).
    slope, fn = ACTIVATIONS.get(op, (0.0, lambda t: t))
    rng = np.random.default_rng(op + 11)
    x = rng.standard_normal((3, 3, 9, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    _, gamma, beta = _batch(rng)
    y, sums = conv.conv2d_stats_forward(x, w, None, (1, 1), (1, 1, 1, 1))
    count = y.size // y.shape[1]
    mean = sums[0] / count
    invstd = 1.0 / np.sqrt(sums[1] / count - mean * mean + 1e-5)
    scale = gamma * invstd
    z = norm.batchnorm_apply(y, scale, beta - mean * scale, op, slope)
    dz = rng.standard_normal(z.shape).astype(np.float32)
    coef, dgamma, dbeta = norm.batchnorm_grad_coefficients(dz, z, y, gamma, mean, invstd, op, slope)
    dx, dw, _ = conv.conv2d_bn_backward(x, w, dz, z, y, coef, (1, 1), (1, 1, 1, 1), op == activation.RELU,
                                        need_db=False)
    xt, wt, gt, bt = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w, gamma, beta))
    zt = fn(F.batch_norm(F.conv2d(xt, wt, padding=1), None, None, gt, bt, True, 0.1, 1e-5))
    np.testing.assert_allclose(z, zt.detach().numpy(), rtol=1e-4, atol=1e-4)
    zt.backward(torch.tensor(dz.astype(np.float64)))
    for ours, ref in [(dx, xt.grad), (dw, wt.grad), (dgamma, gt.grad), (dbeta, bt.grad)]:
        ref = ref.numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())


def test_mobilenet_plan_fuses_batchnorm_relu6_after_depthwise_convs() -> None:
    # Reference: ops/fused.py's rules on specs/mobilenet_mnist.yaml: the stem and each pointwise
    # conv (one group) take their batch norm, their relu6 runs on its own; each depthwise
    # conv's batch norm takes its relu6.
    graph = build_graph(load_spec(Path(__file__).resolve().parents[2] / "specs" / "mobilenet_mnist.yaml"))
    steps = Network(graph).steps
    conv_bn = [s.op for s in steps if isinstance(s.op, ConvBatchNormOp)]
    bn_act = [s.op for s in steps if isinstance(s.op, BatchNormOp)]
    assert len(conv_bn) == 6 and all(op.act == activation.NO_ACTIVATION and len(op.layers) == 2 for op in conv_bn)
    assert len(bn_act) == 5 and all(op.act == activation.RELU6 and len(op.layers) == 2 for op in bn_act)
    assert len([s for s in steps if type(s.op).__name__ == "Relu6Op"]) == 6
