"""Winograd F(2x2, 3x3) and F(4x4, 3x3) for conv_flat's stride-1 3x3 layers (kernels/winograd.py,
winograd_ir.py, winograd4_ir.py).

References: PyTorch in float64 (F.conv2d and autograd; torch.nn.grad.conv2d_weight for the
weight gradient of each prologue mode, its dY' from the formulas of conv_flat's doc in NumPy)
for the convolution and its gradients, with the direct path's own error as the yardstick; the
textbook matrices B, G, A (Lavin & Gray 2016) in NumPy float64 for the three LLVM transforms;
the direct path (conv_flat's tiles) for the fused epilogue and prologue modes, which must not
care how Y or dx was computed; the same computation at 1 and 2 threads for determinism.
"""
from __future__ import annotations

import numpy as np
import pytest

from cnncli.engine.kernels import conv_plan
from cnncli.engine.kernels.conv_flat import BIAS, BN, BN_RELU, POOL, RELU

torch = pytest.importorskip("torch")
F = torch.nn.functional

# N, C, H, W, F, pads (top, bottom, left, right)
CASES = [
    (2, 16, 32, 32, 16, (1, 1, 1, 1)),   # ResNet-20 16->16 32x32
    (3, 32, 16, 16, 32, (1, 1, 1, 1)),   # ResNet-20 32->32 16x16
    (2, 64, 8, 8, 64, (1, 1, 1, 1)),     # ResNet-20 64->64 8x8
    (1, 3, 3, 3, 5, (1, 1, 1, 1)),       # a 3x3 image, batch 1
    (3, 5, 5, 7, 6, (0, 0, 0, 0)),       # 5x7, no padding: 3x5 outputs (odd rows and columns)
    (2, 17, 5, 7, 18, (2, 2, 2, 2)),     # padding 2; C and F not multiples of 4 or 16
    (3, 6, 9, 13, 7, (1, 1, 1, 1)),      # H != W
    (2, 4, 8, 6, 5, (0, 2, 1, 0)),       # asymmetric padding
    (2, 3, 40, 37, 4, (1, 1, 1, 1)),     # rows wider than one vector of tiles
    (3, 8, 6, 6, 8, (1, 1, 1, 1)),       # the last row's vector reaches past npad (F a multiple of 4)
    (37, 6, 7, 5, 9, (1, 1, 1, 1)),      # dW: batch not a multiple of the samples per task
    (2, 5, 6, 7, 4, (2, 2, 2, 2)),       # dW: OW odd and Wq = OW (the last tile's column wraps)
    # k tile rows per vector (tw = LANES / k: winograd_ir's _2 and _4 forms), th not a multiple of k:
    (3, 7, 5, 7, 9, (1, 1, 1, 1)),       # tw 4, th 3, odd rows and columns
    (2, 9, 13, 15, 6, (1, 1, 1, 1)),     # tw 8, th 7
    (2, 6, 6, 4, 5, (1, 1, 1, 1)),       # tw 2, th 3 (k = 4 with 8-float vectors)
    (37, 6, 7, 8, 9, (1, 1, 1, 1)),      # tw 4, batch 37 (dW tasks of 21 and 16, groups of 7, the last of 2)
]
RTOL = 2e-6  # max |error| / max |reference|: measured 0.7e-7 .. 4e-7 (direct path: 0.9e-7 .. 1e-6)
# F(4x4, 3x3) (forward, dx and dW): sides multiples of 4 (conv_plan.winograd4_fits)
CASES4 = [
    (2, 16, 32, 32, 16, (1, 1, 1, 1)),   # ResNet-20 16->16 32x32 (8 tiles a row)
    (3, 32, 16, 16, 32, (1, 1, 1, 1)),   # ResNet-20 32->32 16x16 (4 tiles a row)
    (2, 64, 8, 8, 64, (1, 1, 1, 1)),     # 64->64 8x8 (2 tiles a row; the rule keeps F(2x2) there)
    (2, 5, 16, 12, 6, (0, 2, 1, 1)),     # asymmetric padding, H != W, C and F not multiples of 4
    (3, 7, 24, 20, 9, (1, 1, 1, 1)),     # 6 and 5 tiles: one vector a tile row, junk lanes
    (2, 9, 64, 16, 6, (1, 1, 1, 1)),     # 16 tiles a row
    (2, 6, 4, 4, 5, (1, 1, 1, 1)),       # one tile
    (2, 3, 12, 16, 4, (1, 1, 1, 1)),     # 3 tile rows of 4 (k = 4 with 16-float vectors: th not a multiple)
    (37, 17, 8, 16, 18, (1, 1, 1, 1)),   # batch 37, F not a multiple of 4
]
RTOL4 = 1e-5  # measured 1.8e-6 .. 7e-6 for y and dx, 1e-6 .. 3e-6 for dW (transform coefficients up to 8 and 1/24)


def reference(x, w, b, pads, dy):
    """(y, dx, dw, db) by PyTorch in float64."""
    xt, wt, bt = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w, b))
    y = F.conv2d(F.pad(xt, (pads[2], pads[3], pads[0], pads[1])), wt, bt)
    y.backward(torch.tensor(dy.astype(np.float64)))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def run(x, w, b, pads, dy, wino: bool, mode=BIAS, m=None, **extra):
    """(y, dx, dw, db) through conv_plan with the Winograd choice (forward, dx, dW) forced on or off,
    F(m x m, 3x3) for the forward and dx (the rule's unless given)."""
    g = conv_plan.with_winograd(conv_plan.plan_for(x, w, 1, pads), wino, m=m)
    assert g.wino == g.wino_dw == wino
    y = np.empty((x.shape[0], w.shape[0], g.oh, g.ow), np.float32)
    conv_plan.flat_conv_forward(g, x, w, b, y, mode)
    return (y,) + conv_plan.flat_conv_backward(g, x, w, dy, mode, True, True, **extra)


def rel_err(a, ref):
    return float(np.abs(a - ref).max() / max(np.abs(ref).max(), 1e-30))


@pytest.mark.parametrize("case", CASES)
def test_forward_dx_dw_match_torch(randn, case):
    # Reference: PyTorch float64; the Winograd error (y, dx, dW) stays within RTOL and within a
    # small factor of the direct tiles' own float32 error.
    n, c, h, wd, f, pads = case
    x, w, b = randn(n, c, h, wd), randn(f, c, 3, 3), randn(f)
    oh, ow = h + pads[0] + pads[1] - 2, wd + pads[2] + pads[3] - 2
    dy = randn(n, f, oh, ow)
    refs = reference(x, w, b, pads, dy)
    wino, direct = run(x, w, b, pads, dy, True, m=2), run(x, w, b, pads, dy, False)
    for name, ours, plain, ref in zip(("y", "dx", "dw", "db"), wino, direct, refs):
        assert ours.shape == ref.shape, name
        err, base = rel_err(ours, ref), rel_err(plain, ref)
        assert err <= RTOL, (name, err)
        assert err <= 4 * base + 1e-7, (name, err, base)


@pytest.mark.parametrize("case", CASES4)
def test_f4_forward_dx_dw_match_torch(randn, case):
    # Reference: PyTorch float64; F(4x4, 3x3) within RTOL4 for y, dx and dW, db (the bias sums) within RTOL.
    n, c, h, wd, f, pads = case
    x, w, b = randn(n, c, h, wd), randn(f, c, 3, 3), randn(f)
    dy = randn(n, f, h, wd)
    for name, ours, ref in zip(("y", "dx", "dw", "db"), run(x, w, b, pads, dy, True, m=4),
                               reference(x, w, b, pads, dy)):
        assert ours.shape == ref.shape, name
        assert rel_err(ours, ref) <= (RTOL4 if name != "db" else RTOL), (name, rel_err(ours, ref))


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("mode", [RELU, BN, BN_RELU])
def test_epilogue_and_prologue_modes_match_the_direct_path(randn, mode, m):
    # Reference: the direct path in the same mode (same epilogue and prologue code; Y and dx
    # differ by rounding only). BN*: statistics of y, and the prologue dY' = A*g + B + D*(y - mu).
    # F(2x2, 3x3) on 10x9 images, F(4x4, 3x3) on 12x16.
    hw = (10, 9) if m == 2 else (12, 16)
    rtol = RTOL if m == 2 else RTOL4
    x, w, b = randn(3, 6, *hw), randn(7, 6, 3, 3), randn(7)
    pads = (1, 1, 1, 1)
    outs = []
    for wino in (True, False):
        g = conv_plan.with_winograd(conv_plan.plan_for(x, w, 1, pads), wino, m=m if wino else None)
        y = np.empty((3, 7, *hw), np.float32)
        stats = conv_plan.flat_conv_forward(g, x, w, b, y, mode)
        outs.append((y, stats))
    (y, stats), (y_ref, stats_ref) = outs
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=rtol * np.abs(y_ref).max())
    np.testing.assert_allclose(stats, stats_ref, rtol=1e-5, atol=1e-3)
    if mode != RELU:
        y64 = y.astype(np.float64)
        np.testing.assert_allclose(stats, [y64.sum(axis=(0, 2, 3)), (y64 ** 2).sum(axis=(0, 2, 3))], rtol=1e-9)
    else:
        assert not stats.any()
    dz = randn(*y.shape)
    coef = np.stack([randn(7), randn(7), randn(7), randn(7), np.zeros(7, np.float32)])
    extra = {"saved": y_ref} if mode == RELU else {"saved": y_ref, "yconv": y_ref, "coef": coef}
    grads = [conv_plan.flat_conv_backward(conv_plan.with_winograd(conv_plan.plan_for(x, w, 1, pads), wino,
                                                                  m=m if wino else None),
                                          x, w, dz, mode, True, True, **extra) for wino in (True, False)]
    (dx, dw, db), (dx_ref, dw_ref, db_ref) = grads
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=rtol * np.abs(dx_ref).max())
    np.testing.assert_allclose(dw, dw_ref, rtol=0, atol=rtol * np.abs(dw_ref).max())
    np.testing.assert_allclose(db, db_ref, rtol=0, atol=RTOL * np.abs(db_ref).max())  # tasks of other sizes


@pytest.mark.parametrize("m", [2, 4])
def test_pool_mode_matches_the_direct_path(randn, m):
    # Reference: the direct path's conv -> relu -> 2x2 max pool (values; the gradient given the
    # same pooling codes), itself checked against the unfused kernels in test_kernels_conv_flat.
    hw = (12, 10) if m == 2 else (12, 16)
    x, w, b = randn(3, 5, *hw), randn(6, 5, 3, 3), randn(6)
    pads = (1, 1, 1, 1)
    ys = []
    for wino in (True, False):
        g = conv_plan.with_winograd(conv_plan.plan_for(x, w, 1, pads), wino, m=m if wino else None)
        pooled = (3, 6, hw[0] // 2, hw[1] // 2)
        y, codes = np.empty(pooled, np.float32), np.empty(pooled, np.int8)
        conv_plan.flat_conv_forward(g, x, w, b, y, POOL, 2, codes)
        ys.append((g, y, codes))
    (g, y, codes), (g_ref, y_ref, codes_ref) = ys
    rtol = RTOL if m == 2 else RTOL4
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=rtol * np.abs(y_ref).max())
    assert (codes == codes_ref).mean() > 0.99  # a near-tie may go the other way after rounding
    dy = randn(*y.shape)
    dx, dw, db = conv_plan.flat_conv_backward(g, x, w, dy, POOL, True, True, 2, codes=codes)
    dx_ref, dw_ref, db_ref = conv_plan.flat_conv_backward(g_ref, x, w, dy, POOL, True, True, 2, codes=codes)
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=rtol * np.abs(dx_ref).max())
    np.testing.assert_allclose(dw, dw_ref, rtol=0, atol=rtol * np.abs(dw_ref).max())
    np.testing.assert_allclose(db, db_ref, rtol=0, atol=RTOL * np.abs(db_ref).max())  # tasks of other sizes


def prologue(mode, dz, saved, yconv, coef, codes=None, k=2, shape=None):
    """dY' of conv_flat's doc in NumPy float64: the gradient at the conv output for each mode."""
    dz = dz.astype(np.float64)
    if mode == POOL:  # dy at the cell each window's code names (-1: none)
        out = np.zeros(shape)
        n, f, ph, pw = np.nonzero(codes >= 0)
        c = codes[n, f, ph, pw]
        out[n, f, ph * k + c // k, pw * k + c % k] = dz[n, f, ph, pw]
        return out
    g = dz * (saved > 0) if mode in (RELU, BN_RELU) else dz
    if mode in (BN, BN_RELU):
        a, b, d, mu = (coef[i].astype(np.float64)[None, :, None, None] for i in range(4))
        return a * g + b + d * (yconv.astype(np.float64) - mu)
    return g


@pytest.mark.parametrize("pads, m", [((0, 0, 0, 0), 2), ((1, 1, 1, 1), 2), ((1, 1, 1, 1), 4)])
@pytest.mark.parametrize("mode", [BIAS, RELU, BN, BN_RELU, POOL])
def test_winograd_weight_gradient_matches_torch_in_every_mode(randn, mode, pads, m):
    # Reference: torch.nn.grad.conv2d_weight in float64 on dY' from the prologue's formulas
    # (prologue above); a batch that is not a multiple of the samples per task; F(2x2, 3x3) on
    # odd H and W, F(4x4, 3x3) on 12x8.
    n, c, (h, wd), f = 7, 6, ((11, 9) if m == 2 else (12, 8)), 5
    x, w, b = randn(n, c, h, wd), randn(f, c, 3, 3), randn(f)
    g = conv_plan.with_winograd(conv_plan.plan_for(x, w, 1, pads), True, m=m)
    assert g.wino_dw
    y = np.empty((n, f, g.oh, g.ow), np.float32)
    if mode == POOL:
        codes = np.empty((n, f, g.oh // 2, g.ow // 2), np.int8)
        pooled = np.empty(codes.shape, np.float32)
        conv_plan.flat_conv_forward(g, x, w, b, pooled, POOL, 2, codes)
        dz = randn(*codes.shape)
        _, dw, _ = conv_plan.flat_conv_backward(g, x, w, dz, POOL, True, True, 2, codes=codes)
        dyp = prologue(POOL, dz, None, None, None, codes, 2, y.shape)
    else:
        conv_plan.flat_conv_forward(g, x, w, b, y, mode)
        dz, coef = randn(*y.shape), np.stack([randn(f), randn(f), randn(f), randn(f), np.zeros(f, np.float32)])
        extra = {} if mode == BIAS else {"saved": y} if mode == RELU else {"saved": y, "yconv": y, "coef": coef}
        _, dw, _ = conv_plan.flat_conv_backward(g, x, w, dz, mode, True, True, **extra)
        dyp = prologue(mode, dz, y, y, coef)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[1]), (pads[2], pads[3])))
    ref = torch.nn.grad.conv2d_weight(torch.tensor(xp), w.shape, torch.tensor(dyp)).numpy()
    assert rel_err(dw, ref) <= (RTOL if m == 2 else RTOL4)



@pytest.mark.parametrize("group_bytes", [1, 40_000])
def test_weight_gradient_groups_bounded_by_bytes(randn, monkeypatch, group_bytes):
    # Reference: PyTorch float64. A byte cap below one sample's V + dM gives groups of one sample;
    # 40 kB gives groups of 2 here (8x10 outputs, 20 tiles: 16 * (8 + 8) * 20 * 4 = 20 kB per sample).
    monkeypatch.setattr(conv_plan, "_WINO_DW_GROUP_BYTES", group_bytes)
    per_sample = 16 * 16 * 20 * 4
    assert conv_plan._wino_dw_tasks(9, per_sample)[2] == max(1, group_bytes // per_sample)
    n, c, h, wd, f, pads = 9, 7, 8, 10, 6, (1, 1, 1, 1)
    x, w, b = randn(n, c, h, wd), randn(f, c, 3, 3), randn(f)
    dy = randn(n, f, h, wd)
    for name, ours, ref in zip(("y", "dx", "dw", "db"), run(x, w, b, pads, dy, True), reference(x, w, b, pads, dy)):
        assert rel_err(ours, ref) <= RTOL, name


def test_weight_gradient_groups_of_one_sample_for_large_images():
    # Reference: the rule's measurement (conv_plan._wino_dw_tasks: groups of 8 samples of 64x64
    # images were 1.3-2.2x slower than the direct tiles, groups within 4 MB faster).
    per_sample = lambda c, f, h: 16 * (c + f) * (h // 2) ** 2 * 4  # noqa: E731
    assert conv_plan._wino_dw_tasks(64, per_sample(64, 64, 8))[2] == 8   # 128 kB a sample
    assert conv_plan._wino_dw_tasks(64, per_sample(32, 32, 32))[2] == 4  # 1 MB
    assert conv_plan._wino_dw_tasks(64, per_sample(16, 16, 64))[2] == 2  # 2 MB
    assert conv_plan._wino_dw_tasks(64, per_sample(32, 32, 64))[2] == 1  # 4 MB
    assert conv_plan._wino_dw_tasks(16, per_sample(64, 64, 56))[2] == 1  # 6.4 MB

DETERMINISM = """
import hashlib, sys
import numpy as np
from cnncli.engine.setup import configure
configure(int(sys.argv[1]))
from cnncli.engine.kernels import conv_plan
from cnncli.engine.kernels.conv_flat import BN_RELU
rng = np.random.default_rng(5)
x, w = rng.standard_normal((2, 13, 32, 8, 8), dtype=np.float32), rng.standard_normal((32, 32, 3, 3), dtype=np.float32)
dz, y = rng.standard_normal((13, 32, 8, 8), dtype=np.float32), rng.standard_normal((13, 32, 8, 8), dtype=np.float32)
coef = rng.standard_normal((5, 32), dtype=np.float32)
digest = hashlib.sha256()
for xs in x:
    g = conv_plan.with_winograd(conv_plan.plan_for(xs, w, 1, (1, 1, 1, 1)), True)
    dw = conv_plan.flat_conv_backward(g, xs, w, dz, BN_RELU, True, True, saved=y, yconv=y, coef=coef)[1]
    digest.update(dw.tobytes())
x4, w4 = rng.standard_normal((13, 16, 16, 16), dtype=np.float32), rng.standard_normal((16, 16, 3, 3), dtype=np.float32)
g4 = conv_plan.plan_for(x4, w4, 1, (1, 1, 1, 1))
assert g4.wino_m == 4  # F(4x4, 3x3) too
dz4 = rng.standard_normal((13, 16, 16, 16), dtype=np.float32)
digest.update(conv_plan.flat_conv_backward(g4, x4, w4, dz4, BN_RELU, True, True, saved=dz4, yconv=dz4,
                                           coef=coef[:, :16])[1].tobytes())
print(digest.hexdigest())
"""


def test_winograd_weight_gradient_is_the_same_bits_at_1_and_2_threads():
    # Reference: the same computation in a process with 1 thread and one with 2 (and twice
    # in each, the workspaces then hold the previous call's values): per-task partials summed
    # in task order, tasks fixed by the batch and the shape, not by the thread count.
    import subprocess
    import sys

    runs = [subprocess.run([sys.executable, "-c", DETERMINISM, str(threads)], capture_output=True, text=True)
            for threads in (1, 2)]
    for run_ in runs:
        assert run_.returncode == 0, run_.stderr[-3000:]
    assert runs[0].stdout == runs[1].stdout


@pytest.mark.parametrize("k", [1, 2, 4])
def test_transforms_compute_the_textbook_formulas(rng, k):
    # Reference: B^T d B, A^T M A and A D A^T with the matrices of Lavin & Gray (2016), float64.
    # k = 1: one tile row per vector; k = 2, 4: the _2 / _4 forms, k tile rows per vector.
    from numba import njit

    from cnncli.engine.kernels import winograd_ir
    from cnncli.engine.kernels.microkernel import LANES

    suffix = "" if k == 1 else f"_{k}"
    in_rows, out_rows, dy_rows = (getattr(winograd_ir, f"wino_{name}_rows{suffix}") for name in ("in", "out", "dy"))
    bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
    at = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)

    @njit
    def all3(src, wq, nv, th, tw, v, xs, mm, dst, ldr, cols, rows, dm):
        in_rows(src.ctypes.data, wq, nv, th, tw, v.ctypes.data, xs)
        out_rows(mm.ctypes.data, xs, nv, th, tw, dst.ctypes.data, ldr, cols, rows)
        dy_rows(src.ctypes.data, wq, nv, th, tw, dm.ctypes.data, xs, cols)

    if k == 1:  # 2 tile rows of tw = LANES + 3 tiles (2 vectors, the second mostly junk lanes)
        th, tw, nv = 2, LANES + 3, 2
    else:  # tw = LANES / k, and a tile-row count that leaves the last vector partly past th
        th, tw, nv = k + 1, LANES // k, 1
    # outputs: 2*th - 1 rows (the last tile row writes one) of 2*tw - 1 columns (the last tile writes one)
    wq, xs, cols, rows = 2 * tw + 5, th * tw + LANES + 1, 2 * tw - 1, 2 * th - 1
    src = rng.standard_normal((2 * th + 2) * wq + 4 * LANES).astype(np.float32)
    mm = rng.standard_normal(16 * xs + LANES).astype(np.float32)
    v, dm = np.zeros(16 * xs + LANES, np.float32), np.zeros(16 * xs + LANES, np.float32)
    dst = np.full((2 * th + 1) * wq + 4 * LANES, 7.0, np.float32)
    all3(src, wq, nv, th, tw, v, xs, mm, dst, wq, cols, rows, dm)
    written = np.zeros(dst.size, bool)
    for ti in range(th):
        for j in range(tw):
            d = src.astype(np.float64)[(2 * ti + np.arange(4)[:, None]) * wq + 2 * j + np.arange(4)]
            t = ti * tw + j
            np.testing.assert_allclose(v[np.arange(16) * xs + t], (bt @ d @ bt.T).ravel(), rtol=1e-6, atol=1e-5)
            block = d[:2, :2] * (2 * j + np.arange(2) < cols)  # wino_dy_rows: columns >= cols read as 0
            np.testing.assert_allclose(dm[np.arange(16) * xs + t], (at.T @ block @ at).ravel(), rtol=1e-6,
                                       atol=1e-5)
            y = at @ mm.astype(np.float64)[np.arange(16) * xs + t].reshape(4, 4) @ at.T
            for i in range(2):
                for k_ in range(2):
                    if 2 * ti + i < rows and 2 * j + k_ < cols:
                        at_ = (2 * ti + i) * wq + 2 * j + k_
                        assert dst[at_] == pytest.approx(y[i, k_], rel=1e-5, abs=1e-5)
                        written[at_] = True
    assert written.sum() == rows * cols
    assert (dst[~written] == 7.0).all()  # masked stores: nothing past `cols` or `rows`


@pytest.mark.parametrize("k", [1, 2, 4])
def test_f4_transforms_compute_the_textbook_formulas(rng, k):
    # Reference: B^T d B and A^T M A of F(4x4, 3x3) with the matrices of Lavin & Gray (2016), float64.
    # k = 1: one tile row per vector; k = 2, 4: the _2 / _4 forms, k tile rows per vector.
    from numba import njit

    from cnncli.engine.kernels import winograd4_ir
    from cnncli.engine.kernels.microkernel import LANES

    suffix = "" if k == 1 else f"_{k}"
    in_rows, out_rows = (getattr(winograd4_ir, f"wino4_{name}_rows{suffix}") for name in ("in", "out"))
    bt = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
                   [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
    at = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float64)

    @njit
    def both(src, wq, nv, th, tw, v, xs, mm, dst, ldr, cols, rows):
        in_rows(src.ctypes.data, wq, nv, th, tw, v.ctypes.data, xs)
        out_rows(mm.ctypes.data, xs, nv, th, tw, dst.ctypes.data, ldr, cols, rows)

    if k == 1:  # 2 tile rows of tw = LANES + 3 tiles (2 vectors, the second mostly junk lanes)
        th, tw, nv = 2, LANES + 3, 2
    else:  # tw = LANES / k, and a tile-row count that leaves the last vector partly past th
        th, tw, nv = k + 1, LANES // k, 1
    # outputs: 4*th - 1 rows (the last tile row writes three) of 4*tw - 2 columns (the last tile writes two)
    wq, xs, cols, rows = 4 * tw + 7, th * tw + LANES + 1, 4 * tw - 2, 4 * th - 1
    src = rng.standard_normal((4 * th + 2) * wq + 4 * nv * LANES + 8).astype(np.float32)
    mm = rng.standard_normal(36 * xs + LANES).astype(np.float32)
    v = np.zeros(36 * xs + LANES, np.float32)
    dst = np.full((4 * th + 1) * wq + 4 * LANES, 7.0, np.float32)
    both(src, wq, nv, th, tw, v, xs, mm, dst, wq, cols, rows)
    written = np.zeros(dst.size, bool)
    for ti in range(th):
        for j in range(tw):
            d = src.astype(np.float64)[(4 * ti + np.arange(6)[:, None]) * wq + 4 * j + np.arange(6)]
            t = ti * tw + j
            np.testing.assert_allclose(v[np.arange(36) * xs + t], (bt @ d @ bt.T).ravel(), rtol=1e-5, atol=1e-4)
            y = at @ mm.astype(np.float64)[np.arange(36) * xs + t].reshape(6, 6) @ at.T
            for i in range(4):
                for k_ in range(4):
                    if 4 * ti + i < rows and 4 * j + k_ < cols:
                        at_ = (4 * ti + i) * wq + 4 * j + k_
                        assert dst[at_] == pytest.approx(y[i, k_], rel=1e-5, abs=1e-4)
                        written[at_] = True
    assert written.sum() == rows * cols
    assert (dst[~written] == 7.0).all()  # masked stores: nothing past `cols` or `rows`


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("flip", [False, True])
def test_weight_transform_is_g_g_gt(rng, m, flip):
    # Reference: G g G^T with G of F(2x2, 3x3) or F(4x4, 3x3) (Lavin & Gray 2016) in float64 by einsum.
    from cnncli.engine.kernels.winograd import transform_weights

    g2 = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    g4 = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
                   [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])
    g = g2 if m == 2 else g4
    w = rng.standard_normal((7, 5, 3, 3)).astype(np.float32)  # F 7, C 5
    kernels = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3) if flip else w  # [O, I, 3, 3]: dx's or the forward's
    ref = np.einsum("ak,oikl,bl->abio", g, kernels.astype(np.float64), g).reshape((m + 2) ** 2, *kernels.shape[1::-1])
    u = transform_weights(w, 9, flip=flip, m=m)
    assert u.shape == ((m + 2) ** 2, kernels.shape[1], 9) and not u[:, :, kernels.shape[0]:].any()
    np.testing.assert_allclose(u[:, :, :kernels.shape[0]], ref, rtol=1e-6, atol=1e-6)


def test_the_rule_picks_winograd_for_stride_1_3x3_only():
    # Reference: the task's rule (stride-2, 1x1 and 5x5 layers keep the direct path) and the
    # measured one (conv_plan.use_winograd).
    # ResNet-20: 16->16 32x32, 32->32 16x16 and 64->64 8x8 by Winograd; 8 channels (measured slower) direct
    assert conv_plan.geometry(16, 32, 32, 16, 3, 3, 1, (1, 1, 1, 1)).wino
    assert conv_plan.geometry(32, 16, 16, 32, 3, 3, 1, (1, 1, 1, 1)).wino
    assert conv_plan.geometry(64, 8, 8, 64, 3, 3, 1, (1, 1, 1, 1)).wino
    assert not conv_plan.geometry(8, 32, 32, 8, 3, 3, 1, (1, 1, 1, 1)).wino
    assert not conv_plan.geometry(16, 32, 32, 8, 3, 3, 1, (1, 1, 1, 1)).wino
    assert not conv_plan.geometry(3, 32, 32, 16, 3, 3, 1, (1, 1, 1, 1)).wino
    assert not conv_plan.geometry(16, 32, 32, 32, 3, 3, 2, (1, 1, 1, 1)).wino
    assert not conv_plan.geometry(16, 32, 32, 32, 1, 1, 1, (0, 0, 0, 0)).wino
    assert not conv_plan.geometry(6, 14, 14, 16, 5, 5, 1, (0, 0, 0, 0)).wino
    assert not conv_plan.with_winograd(conv_plan.geometry(6, 14, 14, 16, 5, 5, 1, (0, 0, 0, 0)), True).wino


def test_the_rule_picks_f4_from_16_wide_sides_that_are_multiples_of_4():
    # Reference: the measured rule (conv_plan.use_winograd4: F(4x4, 3x3) 1.15-1.25x faster forward at
    # 16x16 and 32x32, 0.63x at 8x8, bench/PROFILE.md) and the fit (sides multiples of 4).
    assert conv_plan.geometry(16, 32, 32, 16, 3, 3, 1, (1, 1, 1, 1)).wino_m == 4
    assert conv_plan.geometry(32, 16, 16, 32, 3, 3, 1, (1, 1, 1, 1)).wino_m == 4
    assert conv_plan.geometry(64, 8, 8, 64, 3, 3, 1, (1, 1, 1, 1)).wino_m == 2
    assert conv_plan.geometry(32, 14, 14, 32, 3, 3, 1, (1, 1, 1, 1)).wino_m == 2
    assert conv_plan.geometry(32, 18, 18, 32, 3, 3, 1, (0, 0, 0, 0)).wino_m == 2  # 16x16 outputs of 18x18
    with pytest.raises(ValueError, match="multiples of 4"):
        conv_plan.with_winograd(conv_plan.geometry(32, 14, 14, 32, 3, 3, 1, (1, 1, 1, 1)), True, m=4)


def test_the_8_float_transforms_too(tmp_path):
    # Reference: this file's tests, rerun in a process whose Numba target is an AVX2 CPU
    # (8-float vectors: other lane shuffles in winograd_ir), with its own Numba cache.
    import os
    import platform
    import subprocess
    import sys

    from cnncli.engine.kernels.microkernel import LANES

    if LANES == 8 or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the 8-float transforms are the ones this machine runs")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_CPU_NAME": "haswell",
           "NUMBA_CPU_FEATURES": "+avx,+avx2,+fma,+sse4.2,+popcnt"}
    run_ = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k",
                           "not 8_float"], env=env, capture_output=True, text=True)
    assert run_.returncode == 0, run_.stdout[-3000:] + run_.stderr[-2000:]


WIDE_NET = """
input: [3, 10, 9]
layers:
  - conv2d: {filters: 32, kernel: 3, padding: 1, bias: false}
  - batchnorm
  - relu
  - residual:
      body:
        - conv2d: {filters: 32, kernel: 3, padding: 1, bias: false}
        - batchnorm
        - relu
        - conv2d: {filters: 32, kernel: 3, padding: 1, bias: false}
        - batchnorm
  - relu
  - conv2d: {filters: 33, kernel: 3, padding: 1}
  - relu
  - maxpool: 2
  - conv2d: {filters: 32, kernel: 3, padding: 0}
  - flatten
  - dense: 5
"""


@pytest.mark.parametrize("training", [True, False])
def test_a_network_of_winograd_layers_matches_torch(training):
    # Reference: the same network in PyTorch float64 (tests/engine/test_network_vs_torch.compare):
    # 32-channel stride-1 3x3 convs, fused with batch norm (+ relu), relu + max pool, and plain.
    import importlib.util
    from pathlib import Path

    path = Path(__file__).with_name("test_network_vs_torch.py")
    spec = importlib.util.spec_from_file_location("network_vs_torch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert conv_plan.geometry(32, 10, 9, 32, 3, 3, 1, (1, 1, 1, 1)).wino_dw
    module.compare(WIDE_NET, (3, 10, 9), training=training)
