"""Depthwise convolution kernels (kernels/conv_direct.py, through conv2d_forward / conv2d_backward
with groups == C) and their masked-vector row copies (kernels/rowcopy.py).

References: torch.nn.functional.conv2d(groups=C) with autograd (asymmetric padding applied with
F.pad); central finite differences in float64 through our own kernels; canvas.copy_rows (a
plain scalar loop) for the row copies. Tolerances: forward and dx are sums of at most KH*KW
float32 products, compared with rtol = atol = 2e-5; dw sums up to N*OH*OW products per tap in
float32 (then float64 across stacks), compared with rtol 1e-4 and atol 1e-5 of the largest |dw|.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest

from cnncli.engine.kernels.canvas import copy_rows
from cnncli.engine.kernels.conv import _geometry, conv2d_backward, conv2d_forward
from cnncli.engine.kernels.conv_direct import STACK_FLOATS, depthwise_geometry
from cnncli.engine.kernels.rowcopy import copy_block

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_depthwise(x, w, b, stride, pads, dilation, groups, dy):
    """(y, dx, dw, db) from PyTorch autograd."""
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    y = F.conv2d(F.pad(xt, (pads[2], pads[3], pads[0], pads[1])), wt, bt, stride, 0, dilation, groups)
    y.backward(torch.tensor(dy))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def check_against_torch(randn, n, c, h, width, mult, k, stride, pads, dilation):
    kh, kw = k
    x, w, b = randn(n, c, h, width), randn(c * mult, 1, kh, kw), randn(c * mult)
    args = (stride, pads, dilation, c)
    y = conv2d_forward(x, w, b, *args)
    dy = randn(*y.shape)
    y_ref, dx_ref, dw_ref, db_ref = torch_depthwise(x, w, b, *args, dy)
    dx, dw, db = conv2d_backward(x, w, dy, *args)
    assert y.shape == y_ref.shape and y.dtype == dx.dtype == dw.dtype == db.dtype == np.float32
    np.testing.assert_allclose(y, y_ref, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(dx, dx_ref, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-4, atol=1e-5 * np.abs(dw_ref).max())
    np.testing.assert_allclose(db, db_ref, rtol=1e-4, atol=1e-5 * np.abs(db_ref).max())


# (C, H, stride): the five depthwise layers of specs/mobilenet_mnist.yaml (3x3, padding 1)
MOBILENET = [(16, 28, 2), (32, 14, 1), (32, 14, 2), (64, 7, 1), (64, 7, 2)]


@pytest.mark.parametrize("c,h,s", MOBILENET)
@pytest.mark.parametrize("n", [3, 67])
def test_mobilenet_layers_match_torch(randn, c, h, s, n):
    # Reference: torch F.conv2d(groups=C) + autograd. n = 67 makes several stacks of samples per
    # channel with a shorter last one (the stack size comes from the shape: checked below).
    check_against_torch(randn, n, c, h, h, 1, (3, 3), (s, s), (1, 1, 1, 1), (1, 1))


def test_stacks_do_split_the_batch():
    # Reference: by hand, 16ch 28x28 stride 2 at batch 67: a stack's canvas (4 phases of 15x15)
    # fits STACK_FLOATS for 9 samples, so 8 stacks, the last of 4 samples.
    x = np.zeros((67, 16, 28, 28), np.float32)
    w = np.zeros((16, 1, 3, 3), np.float32)
    geo = _geometry(x, w, (2, 2), (1, 1, 1, 1), (1, 1), 16)
    g = depthwise_geometry(geo, 67, 16, 28, 28, 1)[0]
    assert (g.hq, g.wq, g.plane) == (15, 15, 225)
    assert g.stack == min(STACK_FLOATS // (4 * 225), 67 * 16 // 64) == 9


ODD = [
    # n, c, h, w, mult, (kh, kw), stride, pads (t, b, l, r), dilation
    (1, 3, 9, 6, 1, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),     # batch 1, H != W
    (3, 4, 11, 8, 1, (5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),    # 5x5 'same'
    (3, 5, 13, 10, 1, (3, 3), (3, 3), (1, 1, 1, 1), (1, 1)),   # stride 3
    (2, 3, 12, 9, 1, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2)),    # dilation 2
    (3, 4, 10, 7, 1, (3, 3), (2, 1), (0, 2, 1, 0), (1, 1)),    # asymmetric padding, stride (2, 1)
    (3, 4, 9, 9, 2, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),     # channel multiplier 2
    (2, 3, 9, 8, 3, (3, 2), (2, 3), (1, 0, 0, 1), (1, 2)),     # multiplier 3, everything uneven
    (3, 2, 2, 3, 1, (5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),     # plane smaller than the kernel
    (2, 3, 1, 1, 2, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),     # 1x1 plane
    (3, 4, 8, 8, 1, (3, 3), (2, 2), (0, 0, 0, 0), (1, 1)),     # last row / column never read
    (3, 4, 7, 7, 1, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1)),     # 1x1 stride 2: 3 phases unread
    (2, 2, 30, 40, 1, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),   # rows longer than a vector
    (2, 2, 33, 35, 1, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),   # ... at stride 2
]


@pytest.mark.parametrize("case", ODD)
def test_odd_shapes_match_torch(randn, case):
    # Reference: torch F.conv2d(groups=C) + autograd.
    check_against_torch(randn, *case)


def test_without_dx_and_without_bias(randn):
    # Reference: the full call (need_dx=False may only drop dx, need_db=False only db), and torch
    # with bias=None for the forward.
    x, w = randn(5, 8, 14, 14), randn(8, 1, 3, 3)
    args = ((2, 2), (1, 1, 1, 1), (1, 1), 8)
    y = conv2d_forward(x, w, None, *args)
    np.testing.assert_allclose(y, F.conv2d(torch.tensor(x), torch.tensor(w), None, 2, 1, 1, 8).numpy(),
                               rtol=2e-5, atol=2e-5)
    dy = randn(*y.shape)
    dx_full, dw_full, db_full = conv2d_backward(x, w, dy, *args)
    dx, dw, db = conv2d_backward(x, w, dy, *args, need_dx=False, need_db=False)
    assert dx is None and db is None
    np.testing.assert_array_equal(dw, dw_full)


def test_deterministic_across_runs_and_threads(randn):
    # Reference: the same call again, and at 1 thread: the work split (stacks of samples) comes
    # from the shape alone and every sum has a fixed order, so the bits must be equal.
    x, w, b = randn(67, 16, 28, 28), randn(16, 1, 3, 3), randn(16)
    args = ((2, 2), (1, 1, 1, 1), (1, 1), 16)
    dy = randn(67, 16, 14, 14)

    def run():
        return (conv2d_forward(x, w, b, *args),) + conv2d_backward(x, w, dy, *args)

    first = run()
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = run()
    finally:
        numba.set_num_threads(threads)
    for a, b_, c in zip(first, run(), single):
        assert np.array_equal(a, b_) and np.array_equal(a, c)


@pytest.mark.parametrize("stride,pads,dilation,mult", [
    ((1, 1), (1, 1, 1, 1), (1, 1), 1),
    ((2, 1), (1, 0, 0, 1), (1, 2), 2),
    ((2, 2), (1, 1, 1, 1), (1, 1), 1),
])
def test_finite_differences_float64(rng, fd_check, stride, pads, dilation, mult):
    # Reference: central finite differences in float64 through our own kernels (which accept
    # float64 as well).
    c = 3
    x = rng.standard_normal((2, c, 7, 6))
    w = rng.standard_normal((c * mult, 1, 3, 3))
    b = rng.standard_normal(c * mult)
    geo = (stride, pads, dilation, c)
    r = rng.standard_normal(conv2d_forward(x, w, b, *geo).shape)
    dx, dw, db = conv2d_backward(x, w, r, *geo)
    assert dx.dtype == dw.dtype == np.float64
    fd_check(lambda v: float(np.sum(conv2d_forward(v, w, b, *geo) * r)), x, dx, rng)
    fd_check(lambda v: float(np.sum(conv2d_forward(x, v, b, *geo) * r)), w, dw, rng)
    fd_check(lambda v: float(np.sum(conv2d_forward(x, w, v, *geo) * r)), b, db, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("steps", [(1, 1), (1, 2), (2, 1), (3, 1), (1, 3)])
def test_copy_block_matches_copy_rows(rng, dtype, steps):
    # Reference: canvas.copy_rows, a scalar loop of the same formula; the destination around the
    # copied values must stay as it was (masked lanes write nothing), rows of 0 to 40 values.
    dstep, sstep = steps
    for _ in range(60):
        rows, count = int(rng.integers(0, 5)), int(rng.integers(0, 41))
        ldd, lds = count * dstep + int(rng.integers(0, 4)), count * sstep + int(rng.integers(0, 4))
        d0, s0 = int(rng.integers(0, 5)), int(rng.integers(0, 5))
        src = rng.standard_normal(s0 + rows * lds + 1).astype(dtype)
        ours = rng.standard_normal(d0 + rows * ldd + 1).astype(dtype)
        ref = ours.copy()
        copy_block(ours, d0, ldd, dstep, src, s0, lds, sstep, rows, count)
        copy_rows(ref, d0, ldd, dstep, src, s0, lds, sstep, rows, count)
        np.testing.assert_array_equal(ours, ref)
