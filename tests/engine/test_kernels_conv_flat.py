"""The canvas convolution path (kernels/conv_flat.py, canvas.py, conv_epilogue.py).

References: torch.nn.functional.conv2d + autograd (asymmetric padding with F.pad) for the
geometry cases (shared padding columns, phase-split strides, row blocks, padding wider than
the kernel); our own unfused kernels (conv, relu, max pooling, batch norm) for the fused
entry points; numpy for the batch-norm statistics.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnncli.engine.kernels import conv, conv_plan, norm
from cnncli.engine.kernels.activation import NO_ACTIVATION, RELU, relu_forward
from cnncli.engine.kernels.pool import maxpool2d_forward

torch = pytest.importorskip("torch")
F = torch.nn.functional

# N, C, H, W, F, KH, KW, stride, pads (top, bottom, left, right)
CASES = [
    (2, 3, 9, 8, 4, 3, 3, 1, (1, 1, 1, 1)),      # shared zero column between rows
    (2, 3, 9, 8, 4, 3, 3, 1, (3, 0, 2, 3)),      # padding wider than kernel - 1: full canvas
    (2, 2, 7, 11, 3, 2, 4, 1, (0, 1, 3, 0)),     # rectangular kernel, asymmetric padding
    (3, 4, 10, 10, 5, 3, 3, 2, (1, 1, 1, 1)),    # phase-split canvas, no junk columns
    (3, 4, 11, 9, 5, 3, 3, 2, (0, 2, 1, 0)),     # odd sizes with stride 2
    (2, 4, 12, 12, 6, 1, 1, 2, (0, 0, 0, 0)),    # 1x1 stride 2: one phase of four
    (2, 3, 13, 10, 4, 4, 2, 3, (2, 1, 0, 1)),    # stride 3
    (2, 2, 1, 1, 3, 3, 3, 1, (1, 1, 1, 1)),      # a single pixel
    (2, 64, 32, 32, 8, 3, 3, 1, (1, 1, 1, 1)),   # big column blocks: several row blocks a sample
    (5, 1, 28, 28, 6, 5, 5, 1, (2, 2, 2, 2)),    # LeNet-5 conv1, two samples per task
    (3, 6, 14, 14, 16, 5, 5, 1, (0, 0, 0, 0)),   # LeNet-5 conv2: dx by scatter tiles (use_scatter)
]


@pytest.fixture(params=[None, 2, 3], ids=["side-rule", "side-2", "side-3"])
def side(request, monkeypatch):
    """Samples side by side in the direct tiles' canvases: the rule's (None), or forced to 2 or 3
    (at most the batch) for every conv_flat call of the test."""
    if request.param is not None:
        monkeypatch.setattr(conv_plan, "side_by_side", lambda oh, ow, slot, batch: min(request.param, batch))
    conv_plan.geometry.cache_clear()
    yield request.param
    conv_plan.geometry.cache_clear()


@pytest.fixture(params=[None, True, False], ids=["dx-rule", "dx-scatter", "dx-phases"])
def dx_method(request, monkeypatch):
    """The input gradient of the direct tiles: by use_scatter's choice (None), or forced to the
    scatter tiles (True) or the tiles per stride phase (False) for every conv_flat call of the test."""
    if request.param is not None:
        monkeypatch.setattr(conv_plan, "use_scatter", lambda *shape: request.param)
    conv_plan.geometry.cache_clear()
    yield request.param
    conv_plan.geometry.cache_clear()


def torch_grads(x, w, b, stride, pads, dy):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(F.pad(xt, (pads[2], pads[3], pads[0], pads[1])), wt, bt, stride)
    y.backward(torch.tensor(dy))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("case", CASES)
def test_geometry_matches_torch(randn, case, side, dx_method):
    # Reference: torch F.conv2d + autograd; with samples side by side in the canvases too, and
    # either way of computing dx.
    n, c, h, wd, f, kh, kw, s, pads = case
    x, w, b = randn(n, c, h, wd), randn(f, c, kh, kw), randn(f)
    assert conv.flat_eligible((s, s), (1, 1), 1)
    y = conv.conv2d_forward(x, w, b, (s, s), pads, (1, 1), 1)
    dy = randn(*y.shape)
    got = (y,) + conv.conv2d_backward(x, w, dy, (s, s), pads, (1, 1), 1)
    for ours, ref in zip(got, torch_grads(x, w, b, s, pads, dy)):
        np.testing.assert_allclose(ours, ref, rtol=2e-4, atol=2e-4 * max(1.0, np.abs(ref).max()))


def test_without_bias_gradient(randn):
    # Reference: the same call with need_db=True (db skipped, everything else unchanged).
    x, w = randn(3, 4, 8, 8), randn(5, 4, 3, 3)
    dy = randn(3, 5, 8, 8)
    args = ((1, 1), (1, 1, 1, 1), (1, 1), 1)
    dx, dw, db = conv.conv2d_backward(x, w, dy, *args, need_db=False)
    dx2, dw2, db2 = conv.conv2d_backward(x, w, dy, *args)
    assert db is None and db2 is not None
    np.testing.assert_array_equal(dx, dx2)
    np.testing.assert_array_equal(dw, dw2)


@pytest.mark.parametrize("shape,pool,stride", [((4, 3, 12, 12), 2, 1), ((3, 2, 11, 13), 3, 1),
                                               ((2, 64, 32, 32), 2, 1), ((3, 3, 12, 12), 2, 2),
                                               ((2, 3, 37, 36), 2, 1)])  # pooled rows of 18: over one vector
def test_conv_relu_pool_equals_the_unfused_kernels(randn, shape, pool, stride, side, dx_method):
    # Reference: conv2d_forward -> relu_forward -> maxpool2d_forward, bit for bit; ties and a NaN.
    x = randn(*shape)
    x[0, :, :4, :4] = 0.25
    x[-1, 0, 5, 5] = np.nan
    w, b = randn(6, shape[1], 3, 3), randn(6)
    pads = (1, 1, 1, 1)
    y, codes = conv.conv2d_relu_forward(x, w, b, (stride, stride), pads, pool)
    a = relu_forward(conv.conv2d_forward(x, w, b, (stride, stride), pads, (1, 1), 1))
    ref, arg = maxpool2d_forward(a, (pool, pool), (pool, pool), (0, 0, 0, 0),
                                 (a.shape[2] // pool, a.shape[3] // pool))
    np.testing.assert_array_equal(y, ref)
    hw = arg % a.shape[3], arg // a.shape[3]
    cell = (hw[1] % pool) * pool + hw[0] % pool
    expected = np.where(np.take_along_axis(a.reshape(*a.shape[:2], -1), arg.reshape(*arg.shape[:2], -1), 2)
                        .reshape(arg.shape) > 0, cell, -1)
    np.testing.assert_array_equal(codes, expected)
    # backward: the pooled gradient lands on the coded cells only
    dy = randn(*y.shape)
    dx, dw, db = conv.conv2d_relu_backward(x, w, dy, y, codes, (stride, stride), pads, pool)
    da = np.zeros_like(a)
    n_, c_, ph, pw = np.indices(y.shape)
    keep = codes >= 0
    da[n_[keep], c_[keep], (ph * pool + codes // pool)[keep], (pw * pool + codes % pool)[keep]] = dy[keep]
    refs = conv.conv2d_backward(x, w, da, (stride, stride), pads, (1, 1), 1)
    for ours, ref in zip((dx, dw, db), refs):
        np.testing.assert_array_equal(ours, ref)


def test_conv_relu_equals_the_unfused_kernels(randn, side):
    # Reference: conv2d_forward -> relu_forward, and backward through relu then conv.
    x, w, b = randn(3, 4, 9, 7), randn(5, 4, 3, 3), randn(5)
    pads = (1, 1, 1, 1)
    y, _ = conv.conv2d_relu_forward(x, w, b, (1, 1), pads)
    a = conv.conv2d_forward(x, w, b, (1, 1), pads, (1, 1), 1)
    np.testing.assert_array_equal(y, relu_forward(a))
    dy = randn(*y.shape)
    got = conv.conv2d_relu_backward(x, w, dy, y, np.empty((0, 0, 0, 0), np.int8), (1, 1), pads)
    ref = conv.conv2d_backward(x, w, dy * (a > 0), (1, 1), pads, (1, 1), 1)
    for ours, r in zip(got, ref):
        np.testing.assert_array_equal(ours, r)


@pytest.mark.parametrize("relu", [False, True])
def test_conv_batchnorm_equals_the_unfused_kernels(randn, relu, side):
    # Reference: numpy sums for the statistics; batchnorm_backward (+ relu) then conv2d_backward.
    x, w = randn(4, 3, 10, 10) * 2 + 1, randn(6, 3, 3, 3)
    pads, stride = (1, 1, 1, 1), (2, 2)
    y, sums = conv.conv2d_stats_forward(x, w, None, stride, pads)
    np.testing.assert_array_equal(y, conv.conv2d_forward(x, w, None, stride, pads, (1, 1), 1))
    y64 = y.astype(np.float64)
    np.testing.assert_allclose(sums, [y64.sum(axis=(0, 2, 3)), (y64 ** 2).sum(axis=(0, 2, 3))], rtol=1e-10)
    gamma, beta = randn(6), randn(6)
    z_ref, mean, invstd = norm.batchnorm_train_forward(y, gamma, beta, 1e-5)
    if relu:
        z_ref = relu_forward(z_ref)
    dz = randn(*y.shape)
    op = RELU if relu else NO_ACTIVATION
    coef, dgamma, dbeta = norm.batchnorm_grad_coefficients(dz, z_ref, y, gamma, mean, invstd, op)
    dx, dw, _ = conv.conv2d_bn_backward(x, w, dz, z_ref, y, coef, stride, pads, relu, need_db=False)
    g = dz * (z_ref > 0) if relu else dz
    dy_ref, dgamma_ref, dbeta_ref = norm.batchnorm_backward(g, y, gamma, mean, invstd)
    dx_ref, dw_ref, _ = conv.conv2d_backward(x, w, dy_ref, stride, pads, (1, 1), 1)
    for ours, ref in [(dgamma, dgamma_ref), (dbeta, dbeta_ref), (dx, dx_ref), (dw, dw_ref)]:
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    scale = gamma * invstd
    z = norm.batchnorm_apply(y, scale, beta - mean * scale, op)
    np.testing.assert_allclose(z, z_ref, rtol=1e-5, atol=1e-5)


def test_side_by_side_rule():
    # Reference: the tile columns per sample, up(OH * S * slot, COLS) / S, worked out by hand.
    from cnncli.engine.kernels.microkernel import COLS

    # 8x8 outputs at stride 2 (slot 9): 72 wide outputs, in 96 columns of 48 (AVX-512), 72 each two
    # by two; in 72 columns of 24 (AVX2) already
    two = 2 if COLS == 48 else 1
    assert conv_plan.side_by_side(8, 8, 9, 64) == two
    assert conv_plan.side_by_side(8, 8, 9, 1) == 1        # a batch of one
    assert conv_plan.side_by_side(16, 16, 17, 64) == 1     # 272 of 288 columns used: nothing to gain
    assert conv_plan.side_by_side(28, 28, 30, 64) == 1     # LeNet-5 conv1
    assert conv_plan.side_by_side(7, 7, 7, 64) == 1        # 1x1 without padding: no junk columns
    assert conv_plan.side_by_side(4, 4, 5, 64) == two      # 20 wide outputs: 48 columns, 24 each two by two; or 24
    g = conv_plan.geometry(32, 16, 16, 64, 3, 3, 2, (1, 1, 1, 1), 4)
    assert (g.side, g.slot, g.wq) == (two, 9, 9 * two)
    assert conv_plan.geometry(64, 8, 8, 64, 3, 3, 1, (1, 1, 1, 1), 4).side == 1   # Winograd: one sample a canvas
    forced = conv_plan.with_winograd(conv_plan.geometry(8, 8, 8, 8, 3, 3, 1, (1, 1, 1, 1), 4), True)
    assert forced.wino and (forced.side, forced.wq) == (1, 9)


def test_scatter_rule():
    # Reference: the multiply-adds per sample worked out by hand (use_scatter's docstring).
    from cnncli.engine.kernels.microkernel import COLS

    lenet2 = conv_plan.geometry(6, 14, 14, 16, 5, 5, 1, (0, 0, 0, 0), 4)
    assert lenet2.dx_scatter.size == 150 and lenet2.kernel_args(0, 0).scatter == 1
    # tap k of the (kh, kw, c) order: k = (kh * 5 + kw) * 6 + c, at (c * 5 + kh) * 5 + kw of offs
    assert lenet2.dx_scatter[(2 * 5 + 3) * 6 + 4] == (4 * 5 + 2) * 5 + 3
    # phases: the 14x14 canvas in whole tiles x 400 entries (f, kh, kw) x C padded to 8: 768k (AVX-512);
    # scatter: 152 taps x 16 filters x 10 wide rows of 14 in whole tiles: 350k
    up = lambda v: -(-v // COLS) * COLS  # noqa: E731
    phases = sum((q1 - q0) for _, q0, q1, _ in lenet2.dx_rows) * 16 * 25 * 8
    assert phases == up(14 * 14) * 400 * 8 and lenet2.npad == up(10 * 14)
    assert 152 * 16 * lenet2.npad <= 0.8 * phases
    # a ResNet stride-2 layer: the same count either way, so the phases stay
    assert conv_plan.geometry(32, 16, 16, 64, 3, 3, 2, (1, 1, 1, 1), 4).dx_scatter.size == 0


def test_tiles_compute_their_formulas(rng):
    # Reference: the plain NumPy versions beside the tiles (float64 formulas of microkernel.py),
    # themselves checked against explicit sums at one output.
    from numba import njit

    from cnncli.engine.kernels.microkernel import (
        COLS,
        LANES,
        ROWS,
        TAPS,
        conv_tile,
        conv_tile_reference,
        grad_block,
        grad_block_reference,
        grad_tile,
        grad_tile_reference,
        scatter_tile,
        scatter_tile_reference,
    )

    @njit
    def tiles(src, offs, w, dst, dy, goffs, dw, bw):
        conv_tile(src.ctypes.data, offs.ctypes.data, offs.size, w.ctypes.data, w.shape[1], dst.ctypes.data,
                  dst.shape[1])
        grad_tile(dy.ctypes.data, dy.shape[2], src.ctypes.data, goffs.ctypes.data, 5, dw.ctypes.data, dw.shape[1],
                  dy.shape[0], dy.shape[1] * dy.shape[2], 100)
        grad_block(dy.ctypes.data, dy.shape[2], src.ctypes.data + 28, 170, 5, bw.ctypes.data)

    src = rng.standard_normal(1000).astype(np.float32)
    offs = rng.integers(0, 900, 37)
    w = rng.standard_normal((37, ROWS + 2)).astype(np.float32)
    dst = np.zeros((ROWS, COLS + 5), np.float32)
    used = 5 * LANES  # 5 vectors per sample
    dy = rng.standard_normal((3, ROWS, used + 5)).astype(np.float32)  # 3 samples
    goffs = rng.integers(0, 550, TAPS)
    dw = np.ones((ROWS, TAPS + 1), np.float32)
    bw = np.ones(ROWS * ROWS + 1, np.float32)
    tiles(src, offs, w, dst, dy, goffs, dw, bw)
    ref = conv_tile_reference(src, offs, w)
    assert ref[1, 2] == pytest.approx(sum(float(w[k, 1]) * float(src[offs[k] + 2]) for k in range(37)))
    np.testing.assert_allclose(dst[:, :COLS], ref, rtol=1e-5, atol=1e-4)
    assert not dst[:, COLS:].any()
    grad = grad_tile_reference(dy.ravel(), dy.shape[2], src, goffs, 5, 3, ROWS * dy.shape[2], 100)
    assert grad[2, 1] == pytest.approx(sum(float(dy[j, 2, p]) * float(src[j * 100 + goffs[1] + p])
                                           for j in range(3) for p in range(used)))
    np.testing.assert_allclose(dw[:, :TAPS], 1 + grad, rtol=1e-5, atol=1e-4)
    assert (dw[:, TAPS:] == 1).all()
    block = grad_block_reference(dy.ravel(), dy.shape[2], src[7:], 170, 5)  # 4 x 4 sums, 4f + c
    assert block[4 * 2 + 3] == pytest.approx(sum(float(dy[0, 2, p]) * float(src[7 + 3 * 170 + p]) for p in range(used)))
    np.testing.assert_allclose(bw[:-1], 1 + block, rtol=1e-5, atol=1e-4)
    assert bw[-1] == 1

    @njit
    def scatter(src, lds, kk, w, dst, douts):
        scatter_tile(src.ctypes.data, lds, kk, w.ctypes.data, w.shape[1], dst.ctypes.data, douts.ctypes.data)

    out = rng.standard_normal(400).astype(np.float32)
    douts = np.array([7, 8, 200, 3])  # two taps overlapping, one after the other
    before = out.copy()
    scatter(src, 60, 13, w, out, douts)  # 13 rows: an odd count
    ref = scatter_tile_reference(before, src, 60, 13, w, douts)
    assert ref[210] == pytest.approx(before[210] + sum(float(w[k, 2]) * float(src[k * 60 + 10]) for k in range(13)))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-4)


def test_the_8_float_tiles_too(tmp_path):
    # Reference: this file's tests (torch, numpy, the unfused kernels) and those of the canvases'
    # row copies and of the depthwise kernels (NumPy), rerun in a process whose Numba target is
    # an AVX2 CPU (Haswell): on an AVX-512 machine the suite otherwise runs only the 16-float
    # tiles, and only 16-float rows (whose masked moves take another path than 8-float ones:
    # rowcopy._store_first). Its own Numba cache: kernels compiled for the other target must
    # not be shared.
    import os
    import platform
    import subprocess
    import sys

    from cnncli.engine.kernels.microkernel import LANES

    if LANES == 8 or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the 8-float tiles are the ones this machine runs")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_CPU_NAME": "haswell",
           "NUMBA_CPU_FEATURES": "+avx,+avx2,+fma,+sse4.2,+popcnt"}
    check = "from cnncli.engine.kernels.microkernel import LANES; assert LANES == 8, LANES"
    subprocess.run([sys.executable, "-c", check], env=env, check=True)
    here = Path(__file__).parent
    files = [__file__, str(here / "test_kernels_canvas.py"), str(here / "test_kernels_depthwise.py")]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files, "-k",
                          "not 8_float"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
