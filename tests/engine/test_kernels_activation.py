"""Activation kernels.

References: torch.relu / F.relu6 / F.leaky_relu / torch.sigmoid / torch.tanh /
torch.softmax(dim=1) with autograd; a float64 finite-difference check for
softmax through our own kernels.
"""
from __future__ import annotations

import numpy as np
import pytest

from cnncli.engine.kernels import activation as act

torch = pytest.importorskip("torch")
F = torch.nn.functional

SHAPES = [(3, 4, 5, 6), (7, 10), (40000,)]


def torch_ref(fn, x, dy):
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt)
    y.backward(torch.tensor(dy))
    return y.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,fn,uses_output", [
    ("relu", torch.relu, False), ("relu6", F.relu6, False),
    ("sigmoid", torch.sigmoid, True), ("tanh", torch.tanh, True)])
def test_activation_matches_torch(randn, shape, name, fn, uses_output):
    # Reference: the torch function + autograd; inputs span the relu6 cut at 6.
    x, dy = randn(*shape) * 5, randn(*shape)
    y_ref, dx_ref = torch_ref(fn, x, dy)
    y = getattr(act, f"{name}_forward")(x)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-6)
    dx = getattr(act, f"{name}_backward")(dy, y if uses_output else x)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-6)
    assert y.shape == x.shape and dx.dtype == np.float32


@pytest.mark.parametrize("shape", SHAPES)
def test_leaky_relu_matches_torch(randn, shape):
    # Reference: torch F.leaky_relu(negative_slope=0.1) + autograd.
    x, dy = randn(*shape), randn(*shape)
    y_ref, dx_ref = torch_ref(lambda t: F.leaky_relu(t, 0.1), x, dy)
    np.testing.assert_allclose(act.leaky_relu_forward(x, 0.1), y_ref, rtol=1e-6)
    np.testing.assert_allclose(act.leaky_relu_backward(dy, x, 0.1), dx_ref, rtol=1e-6)


def test_sigmoid_extreme_inputs_do_not_overflow():
    # Reference: torch.sigmoid on +-100 (exact 0 / 1 limits).
    x = np.array([-100.0, -20.0, 0.0, 20.0, 100.0], np.float32)
    np.testing.assert_allclose(act.sigmoid_forward(x), torch.sigmoid(torch.tensor(x)).numpy(),
                               rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("shape", [(5, 7), (2, 4, 3, 5), (1, 3)])
def test_softmax_matches_torch(randn, shape):
    # Reference: torch.softmax(dim=1) + autograd; large offsets test stability.
    x, dy = randn(*shape) * 10 + 50, randn(*shape)
    y_ref, dx_ref = torch_ref(lambda t: torch.softmax(t, dim=1), x, dy)
    y = act.softmax_forward(x)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(act.softmax_backward(dy, y), dx_ref, rtol=1e-4, atol=1e-6)


def test_softmax_finite_differences_float64(rng, fd_check):
    # Reference: central finite differences in float64 through our own kernels.
    x, r = rng.standard_normal((3, 4, 2, 2)), rng.standard_normal((3, 4, 2, 2))
    dx = act.softmax_backward(r, act.softmax_forward(x))
    fd_check(lambda v: float(np.sum(act.softmax_forward(v) * r)), x, dx, rng)


@pytest.mark.parametrize("name", ["relu", "relu6", "sigmoid", "tanh"])
def test_nan_propagates_like_torch(name):
    # Reference: torch activations keep NaN (the trainer relies on it to stop).
    x = np.array([np.nan, -1.0, 7.0], np.float32)
    ref = getattr(torch.nn.functional, name)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(getattr(act, f"{name}_forward")(x), ref, rtol=1e-6)


def test_relu_backward_of_sum_is_relu_backward_of_the_sum(randn):
    # Reference: relu_backward on the NumPy sum, bit for bit; across several blocks, with a NaN
    # where the relu passes and one where it stops the gradient, and zeros in y.
    a, b, y = randn(3, 5, 70, 70), randn(3, 5, 70, 70), randn(3, 5, 70, 70)
    y[0, 0, 0, :4] = 0
    a[1, 2, 3, 4], y[1, 2, 3, 4] = np.nan, 1.0
    a[2, 2, 3, 4], y[2, 2, 3, 4] = np.nan, -1.0
    got = act.relu_backward_of_sum(a, b, y)
    np.testing.assert_array_equal(got, act.relu_backward(a + b, y))
    assert np.isnan(got[1, 2, 3, 4]) and got[2, 2, 3, 4] == 0
