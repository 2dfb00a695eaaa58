"""Label smoothing and gradient clipping in the Numba engine against PyTorch's own definitions:
torch.nn.functional.cross_entropy(..., label_smoothing=ε) with its autograd gradient, and
torch.nn.utils.clip_grad_norm_ over several tensors (our flat gradient vector is their concatenation)."""
from __future__ import annotations

import numpy as np
import pytest

from cnncli.engine.kernels.loss import softmax_cross_entropy
from cnncli.engine.trainer import clip_grad_norm

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.35, 1.0])
def test_label_smoothed_cross_entropy_and_gradient_equal_pytorchs(smoothing):
    rng = np.random.default_rng(3)
    logits = (rng.standard_normal((7, 5)) * 3).astype(np.float32)
    labels = rng.integers(0, 5, 7)
    loss, dlogits = softmax_cross_entropy(logits, labels, smoothing)
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(z, torch.tensor(labels), label_smoothing=smoothing)
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-6)
    np.testing.assert_allclose(dlogits, z.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e6])  # clipped hard, a little, not at all
def test_clipping_the_flat_gradient_equals_clip_grad_norm(max_norm):
    rng = np.random.default_rng(4)
    shapes = [(4, 3, 3, 3), (4,), (10, 36), (10,)]
    tensors = [rng.standard_normal(s).astype(np.float32) * 0.2 for s in shapes]
    flat = np.concatenate([t.ravel() for t in tensors])
    params = [torch.zeros(s, requires_grad=True) for s in shapes]
    for p, t in zip(params, tensors):
        p.grad = torch.tensor(t)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    norm = clip_grad_norm(flat, max_norm)
    assert norm == pytest.approx(float(total), rel=1e-6)
    np.testing.assert_allclose(flat, np.concatenate([p.grad.numpy().ravel() for p in params]), rtol=1e-6, atol=1e-8)
    if max_norm < norm:
        assert np.linalg.norm(flat) == pytest.approx(max_norm, rel=1e-5)
