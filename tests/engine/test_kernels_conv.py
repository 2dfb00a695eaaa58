"""conv2d_forward / conv2d_backward.

References: torch.nn.functional.conv2d (asymmetric padding applied with F.pad)
and autograd for the grid tests; central finite differences in float64 run
through our own kernels called with float64 arrays for the FD tests.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnncli.engine.kernels.conv import conv2d_backward, conv2d_forward

torch = pytest.importorskip("torch")
F = torch.nn.functional

# (C, F, groups): dense, grouped (2 channels per group), depthwise, depthwise x2 filters
CHANNELS = [(3, 4, 1), (4, 6, 2), (4, 4, 4), (3, 6, 3)]
PADS = [(0, 0, 0, 0), (1, 1, 1, 1), (0, 1, 2, 0)]
GRID = list(itertools.product([1, 2, 3], PADS, [1, 2], CHANNELS, [1, 3]))


def torch_conv(x, w, b, stride, pads, dilation, groups, dy):
    """Reference forward and gradients (dx, dw, db) via PyTorch autograd."""
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    xp = F.pad(xt, (pads[2], pads[3], pads[0], pads[1]))
    y = F.conv2d(xp, wt, bt, stride, 0, dilation, groups)
    if dy is None:
        return y.detach().numpy()
    y.backward(torch.tensor(dy))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("stride,pads,dil,chans,n", GRID)
def test_conv_matches_torch(randn, stride, pads, dil, chans, n):
    # Reference: torch F.conv2d + autograd (forward, dx, dw, db).
    c, f, groups = chans
    x = randn(n, c, 9, 8)
    w = randn(f, c // groups, 3, 2)
    b = randn(f)
    y = conv2d_forward(x, w, b, (stride, stride), pads, (dil, dil), groups)
    dy = randn(*y.shape)
    y_ref, dx_ref, dw_ref, db_ref = torch_conv(x, w, b, stride, pads, (dil, dil), groups, dy)
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-4)
    dx, dw, db = conv2d_backward(x, w, dy, (stride, stride), pads, (dil, dil), groups)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(db, db_ref, rtol=1e-4, atol=1e-4)
    assert y.dtype == dx.dtype == dw.dtype == db.dtype == np.float32


@pytest.mark.parametrize("shape", [
    # LeNet conv1/conv2, ResNet 3x3 s2 and s1 'same', asymmetric 'same', 1x1 projection,
    # rectangular kernel + stride
    (5, 1, 28, 28, 6, 5, 5, (1, 1), (2, 2, 2, 2)),
    (4, 6, 14, 14, 16, 5, 5, (1, 1), (0, 0, 0, 0)),
    (3, 16, 12, 12, 32, 3, 3, (2, 2), (1, 1, 1, 1)),
    (3, 8, 10, 10, 8, 3, 3, (1, 1), (1, 1, 1, 1)),
    (2, 3, 6, 9, 4, 3, 3, (1, 1), (0, 2, 2, 0)),
    (3, 16, 8, 8, 32, 1, 1, (2, 2), (0, 0, 0, 0)),
    (2, 5, 11, 13, 7, 3, 4, (2, 3), (1, 0, 0, 2)),
])
def test_conv_real_shapes_match_torch(randn, shape):
    # Reference: torch F.conv2d + autograd, larger shapes (many GEMM chunks).
    n, c, h, wd, f, kh, kw, stride, pads = shape
    x, w, b = randn(n, c, h, wd), randn(f, c, kh, kw), randn(f)
    y = conv2d_forward(x, w, b, stride, pads, (1, 1), 1)
    dy = randn(*y.shape)
    refs = torch_conv(x, w, b, stride, pads, (1, 1), 1, dy)
    got = (y,) + conv2d_backward(x, w, dy, stride, pads, (1, 1), 1)
    for ours, ref in zip(got, refs):
        np.testing.assert_allclose(ours, ref, rtol=2e-4, atol=2e-4)


def test_conv_without_bias_and_without_dx(randn):
    # Reference: torch F.conv2d with bias=None; need_dx=False must skip dx only.
    x, w = randn(2, 3, 7, 7), randn(4, 3, 3, 3)
    y = conv2d_forward(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    ref = F.conv2d(torch.tensor(x), torch.tensor(w), None, 1, 1).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)
    dy = randn(*y.shape)
    dx, dw, db = conv2d_backward(x, w, dy, (1, 1), (1, 1, 1, 1), (1, 1), 1, need_dx=False)
    _, dw_full, db_full = conv2d_backward(x, w, dy, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert dx is None
    np.testing.assert_array_equal(dw, dw_full)
    np.testing.assert_array_equal(db, db_full)


def test_conv_rejects_bad_shapes(randn):
    # Reference: the shapes by hand: 3 channels do not fit weights for 2; a 3x3 kernel does not
    # fit an unpadded 2x2 image (conv_out = 0).
    with pytest.raises(ValueError, match=r"x has 3 channels, w \(4, 2, 3, 3\), groups=1"):
        conv2d_forward(randn(1, 3, 5, 5), randn(4, 2, 3, 3), None, (1, 1), (0,) * 4, (1, 1), 1)
    with pytest.raises(ValueError, match="conv2d output would be empty: 0x0"):
        conv2d_forward(randn(1, 3, 2, 2), randn(4, 3, 3, 3), None, (1, 1), (0,) * 4, (1, 1), 1)


@pytest.mark.parametrize("c,f,groups", [(3, 4, 1), (4, 4, 4)])
def test_conv_finite_differences_float64(rng, fd_check, c, f, groups):
    # Reference: central finite differences in float64 through our own kernels
    # (GEMM path for groups=1, direct path for depthwise).
    x = rng.standard_normal((2, c, 6, 7))
    w = rng.standard_normal((f, c // groups, 3, 3))
    b = rng.standard_normal(f)
    geo = ((2, 1), (1, 0, 0, 1), (1, 2), groups)
    r = rng.standard_normal(conv2d_forward(x, w, b, *geo).shape)
    dx, dw, db = conv2d_backward(x, w, r, *geo)
    fd_check(lambda v: float(np.sum(conv2d_forward(v, w, b, *geo) * r)), x, dx, rng)
    fd_check(lambda v: float(np.sum(conv2d_forward(x, v, b, *geo) * r)), w, dw, rng)
    fd_check(lambda v: float(np.sum(conv2d_forward(x, w, v, *geo) * r)), b, db, rng)


@pytest.mark.parametrize("groups,stride,bias", [(2, 1, True), (4, 1, False), (4, 2, True), (8, 1, True)])
def test_grouped_conv_through_conv_flat_per_group_matches_torch(randn, groups, stride, bias):
    # Reference: torch F.conv2d(groups=...) + autograd. Groups of 4-16 channels run as one
    # conv_flat call per channel slice (tiles; Winograd from 32 channels on).
    c = f = 32
    x, w = randn(3, c, 10, 9), randn(f, c // groups, 3, 3)
    b = randn(f) if bias else np.zeros(f, np.float32)
    pads = (1, 1, 1, 1)
    y = conv2d_forward(x, w, b if bias else None, (stride, stride), pads, (1, 1), groups)
    dy = randn(*y.shape)
    y_ref, dx_ref, dw_ref, db_ref = torch_conv(x, w, b, stride, pads, (1, 1), groups, dy)
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-4)
    dx, dw, db = conv2d_backward(x, w, dy, (stride, stride), pads, (1, 1), groups, need_db=bias)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-4, atol=1e-4 * np.abs(dw_ref).max())
    if bias:
        np.testing.assert_allclose(db, db_ref, rtol=1e-4, atol=1e-4)
    else:
        assert db is None
    assert conv2d_backward(x, w, dy, (stride, stride), pads, (1, 1), groups, need_dx=False)[0] is None
