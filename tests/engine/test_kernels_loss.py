"""Softmax cross-entropy kernel.

References: torch.nn.functional.cross_entropy (mean reduction) with autograd,
and central finite differences in float64 through our own kernel.
"""
from __future__ import annotations

import numpy as np
import pytest

from cnncli.engine.kernels.loss import softmax_cross_entropy

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("n,k,scale", [(1, 10, 1.0), (64, 10, 3.0), (5, 3, 300.0)])
def test_cross_entropy_matches_torch(randn, rng, n, k, scale):
    # Reference: torch F.cross_entropy + autograd; scale=300 checks log-sum-exp stability.
    z = randn(n, k) * scale
    labels = rng.integers(0, k, n)
    zt = torch.tensor(z, requires_grad=True)
    loss_ref = F.cross_entropy(zt, torch.tensor(labels))
    loss_ref.backward()
    loss, dz = softmax_cross_entropy(z, labels)
    assert isinstance(loss, float) and np.isfinite(loss)
    assert loss == pytest.approx(loss_ref.item(), rel=1e-5, abs=1e-5)
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_cross_entropy_rejects_bad_labels(randn):
    # Reference: 3 classes take labels 0, 1, 2 only.
    with pytest.raises(ValueError, match=r"labels must be 2 integers in \[0, 3\)"):
        softmax_cross_entropy(randn(2, 3), np.array([0, 3]))


def test_cross_entropy_finite_differences_float64(rng, fd_check):
    # Reference: central finite differences in float64 through our own kernel.
    z, labels = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    _, dz = softmax_cross_entropy(z, labels)
    fd_check(lambda v: softmax_cross_entropy(v, labels)[0], z, dz, rng)
