"""Dense (fully connected) kernels.

Reference: torch.nn.functional.linear with autograd.
"""
from __future__ import annotations

import numpy as np
import pytest

from cnncli.engine.kernels.dense import dense_backward, dense_forward

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("n,f,u,bias", [(1, 5, 3, True), (7, 16, 10, True), (64, 400, 120, True),
                                        (3, 4, 1, False), (256, 84, 10, True)])
def test_dense_matches_torch(randn, n, f, u, bias):
    # Reference: torch F.linear + autograd (dx, dw, db).
    x, w = randn(n, f), randn(u, f)
    b = randn(u) if bias else None
    dy = randn(n, u)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True) if bias else None
    y_ref = F.linear(xt, wt, bt)
    y_ref.backward(torch.tensor(dy))
    np.testing.assert_allclose(dense_forward(x, w, b), y_ref.detach().numpy(),
                               rtol=1e-4, atol=1e-4)
    dx, dw, db = dense_backward(x, w, dy)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(db, dy.sum(0), rtol=1e-5, atol=1e-5)
    if bias:
        np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-4, atol=1e-4)
    dx_none, dw2, _ = dense_backward(x, w, dy, need_dx=False)
    assert dx_none is None
    np.testing.assert_array_equal(dw2, dw)
