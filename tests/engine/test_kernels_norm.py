"""Batch normalisation kernels.

References: torch.nn.functional.batch_norm (training and eval mode) with
autograd, torch's running_var update (unbiased) for the documented recovery
formula, and central finite differences in float64 through our own kernels.
"""
from __future__ import annotations

import numpy as np
import pytest

from cnncli.engine.kernels.norm import batchnorm_backward, batchnorm_eval_forward, batchnorm_train_forward

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (1, 2, 3, 3), (8, 5), (64, 16, 4, 4)])
def test_batchnorm_train_matches_torch(randn, shape):
    # Reference: torch F.batch_norm(training=True) + autograd, and its running_var.
    x = randn(*shape) * 3 + 1
    gamma, beta = randn(shape[1]), randn(shape[1])
    dy = randn(*shape)
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.tensor(beta, requires_grad=True)
    rm, rv = torch.zeros(shape[1]), torch.zeros(shape[1])
    y_ref = F.batch_norm(xt, rm, rv, gt, bt, training=True, momentum=1.0, eps=1e-5)
    y_ref.backward(torch.tensor(dy))
    y, mean, invstd = batchnorm_train_forward(x, gamma, beta, 1e-5)
    np.testing.assert_allclose(y, y_ref.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mean, rm.numpy(), rtol=1e-5, atol=1e-5)
    m = x.size // shape[1]
    if m > 1:  # documented recovery of the unbiased variance (momentum=1 -> rv = var_unb)
        var_unbiased = (invstd.astype(np.float64) ** -2 - 1e-5) * m / (m - 1)
        np.testing.assert_allclose(var_unbiased, rv.numpy(), rtol=1e-4)
    dx, dgamma, dbeta = batchnorm_backward(dy, x, gamma, mean, invstd)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dgamma, gt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dbeta, bt.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(3, 4, 5, 5), (6, 4)])
def test_batchnorm_eval_matches_torch(randn, rng, shape):
    # Reference: torch F.batch_norm(training=False) with running statistics.
    x, gamma, beta = randn(*shape), randn(shape[1]), randn(shape[1])
    rm = randn(shape[1])
    rv = rng.uniform(0.5, 2.0, shape[1]).astype(np.float32)
    y_ref = F.batch_norm(torch.tensor(x), torch.tensor(rm), torch.tensor(rv),
                         torch.tensor(gamma), torch.tensor(beta), training=False, eps=1e-3)
    y = batchnorm_eval_forward(x, gamma, beta, rm, rv, 1e-3)
    np.testing.assert_allclose(y, y_ref.numpy(), rtol=1e-5, atol=1e-5)


def test_batchnorm_finite_differences_float64(rng, fd_check):
    # Reference: central finite differences in float64 through our own kernels.
    x = rng.standard_normal((3, 2, 4, 3))
    gamma, beta = rng.standard_normal(2), rng.standard_normal(2)
    r = rng.standard_normal(x.shape)
    _, mean, invstd = batchnorm_train_forward(x, gamma, beta, 1e-5)
    dx, dgamma, dbeta = batchnorm_backward(r, x, gamma, mean, invstd)

    def loss(xv, gv, bv):
        return float(np.sum(batchnorm_train_forward(xv, gv, bv, 1e-5)[0] * r))
    fd_check(lambda v: loss(v, gamma, beta), x, dx, rng)
    fd_check(lambda v: loss(x, v, beta), gamma, dgamma, rng)
    fd_check(lambda v: loss(x, gamma, v), beta, dbeta, rng)
