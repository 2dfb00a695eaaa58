"""The canvases of conv_flat (kernels/canvas.py) and their masked-vector row blocks (rowcopy.py).

References: NumPy slicing for the row blocks, and a NumPy loop over the layout formula of
canvas.py's module doc (padded pixel (s*i + a, s*j + b) of phase (a, b) at row i, column
sample*slot + j) for fill_canvas and crop_canvas.
"""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from cnncli.engine.kernels import conv_plan
from cnncli.engine.kernels.canvas import crop_canvas, fill_canvas
from cnncli.engine.kernels.conv_epilogue import BIAS
from cnncli.engine.kernels.rowcopy import bias_rows, copy_rows_vec, merge_rows, split_rows, zero_run


@njit
def _zero(dst, d0, count):
    zero_run(dst, d0, count)  # an intrinsic: callable from compiled code only


def _block(rng, rows, count, dstep, sstep):
    """Random offsets, row strides and buffers (with room around the rows) for one row-block copy."""
    ldd, lds = count * dstep + int(rng.integers(0, 4)), count * sstep + int(rng.integers(0, 4))
    d0, s0 = int(rng.integers(0, 5)), int(rng.integers(0, 5))
    src = rng.standard_normal(s0 + rows * lds + 3).astype(np.float32)
    dst = rng.standard_normal(d0 + rows * ldd + count + 3).astype(np.float32)
    return d0, ldd, dst, s0, lds, src


def test_row_blocks_match_numpy_slices(rng):
    # Reference: NumPy slices of the formulas in rowcopy's docstrings (bias_rows: NumPy's + and
    # where); every value around the copied ones keeps its old value (masked lanes write nothing).
    # Rows of 0 to 70 values: zero, one, two and three vectors, with remainders, for 8 and 16 lanes.
    for _ in range(80):
        rows, count = int(rng.integers(0, 4)), int(rng.integers(0, 71))
        d0, ldd, ours, s0, lds, src = _block(rng, rows, count, 1, 1)
        ref = ours.copy()
        for r in range(rows):
            ref[d0 + r * ldd:d0 + r * ldd + count] = src[s0 + r * lds:s0 + r * lds + count]
        copy_rows_vec(ours, d0, ldd, src, s0, lds, rows, count)
        np.testing.assert_array_equal(ours, ref)
        src[s0] = np.nan  # relu keeps a NaN (as the unfused relu does)
        for relu in (False, True):
            bias = np.float32(rng.standard_normal())
            for r in range(rows):
                v = src[s0 + r * lds:s0 + r * lds + count] + bias
                ref[d0 + r * ldd:d0 + r * ldd + count] = np.where(v < 0, np.float32(0), v) if relu else v
            bias_rows(ours, d0, ldd, src, s0, lds, rows, count, bias, relu)
            np.testing.assert_array_equal(ours, ref)

        half = (count + 1) // 2
        d0, ldd, ours, s0, lds, src = _block(rng, rows, count, 1, 1)
        ldd, d_odd = max(ldd, 2 * half), d0 + half + int(rng.integers(0, 3))  # evens, then odds, per row
        ours = rng.standard_normal(d_odd + rows * ldd + count).astype(np.float32)
        ref = ours.copy()
        for r in range(rows):
            row = src[s0 + r * lds:s0 + r * lds + count]
            ref[d0 + r * ldd:d0 + r * ldd + half] = row[0::2]
            ref[d_odd + r * ldd:d_odd + r * ldd + count // 2] = row[1::2]
        split_rows(ours, d0, d_odd, ldd, src, s0, lds, rows, count)
        np.testing.assert_array_equal(ours, ref)

        merged = rng.standard_normal(5 + rows * (count + 2)).astype(np.float32)
        ref = merged.copy()
        for r in range(rows):
            ref[3 + r * (count + 2):3 + r * (count + 2) + count:2] = ours[d0 + r * ldd:d0 + r * ldd + half]
            ref[4 + r * (count + 2):3 + r * (count + 2) + count:2] = ours[d_odd + r * ldd:d_odd + r * ldd + count // 2]
        merge_rows(merged, 3, count + 2, ours, d0, d_odd, ldd, rows, count)
        np.testing.assert_array_equal(merged, ref)

        ref, end = merged.copy(), len(merged) - count % 3
        ref[2:end] = 0.0
        _zero(merged, 2, end - 2)
        np.testing.assert_array_equal(merged, ref)


def reference_canvas(x, n0, m, g):
    """All s*s phases of the canvas of samples n0 .. n0 + m - 1, from the layout formula."""
    c_, h_, w_ = x.shape[1:]
    s, rows = g.s, g.plane // g.wq
    cv = np.zeros(c_ * s * s * g.plane, np.float32)
    for j in range(m):
        for c in range(c_):
            for a in range(s):
                for b in range(s):
                    for i in range(rows):
                        for col in range(g.slot):
                            ih, iw = s * i + a - g.pt, s * col + b - g.pl
                            at = (c * s * s + a * s + b) * g.plane + i * g.wq + j * g.slot + col
                            if 0 <= ih < h_ and 0 <= iw < w_:
                                cv[at] = x[n0 + j, c, ih, iw]
    return cv


# C, H, W, KH, KW, stride, pads (top, bottom, left, right), samples side by side
CANVASES = [
    (2, 5, 7, 3, 3, 1, (1, 1, 1, 1), 1),
    (2, 6, 37, 3, 3, 1, (0, 2, 2, 0), 2),       # rows of 37: three vectors of 16 (five of 8)
    (3, 8, 8, 3, 3, 2, (1, 1, 1, 1), 2),        # ResNet's stride 2: phase columns from one read
    (2, 7, 67, 3, 3, 2, (1, 0, 2, 1), 3),       # odd, wider than two vectors, even left padding
    (2, 9, 10, 1, 1, 2, (0, 0, 0, 0), 1),       # 1x1 stride 2: one phase written
    (2, 10, 11, 4, 2, 3, (2, 1, 0, 1), 2),      # stride 3: phase by phase
]


@pytest.mark.parametrize("case", CANVASES)
def test_fill_and_crop_follow_the_layout(rng, monkeypatch, case):
    # Reference: reference_canvas (the layout formula in NumPy). fill_canvas writes every value of
    # the phases a KH x KW kernel reads, zeros included; crop_canvas reads every phase back.
    c_, h_, w_, kh, kw, s, pads, side = case
    monkeypatch.setattr(conv_plan, "side_by_side", lambda oh, ow, slot, batch: min(side, batch))
    conv_plan.geometry.cache_clear()
    try:
        g = conv_plan.geometry(c_, h_, w_, 4, kh, kw, s, pads, side)
    finally:
        conv_plan.geometry.cache_clear()
    assert g.side == side
    x = rng.standard_normal((side + 1, c_, h_, w_)).astype(np.float32)
    geo = g.kernel_args(BIAS, 0)
    ref = reference_canvas(x, 1, side, g)
    ours = np.full_like(ref, np.nan)
    fill_canvas(x, 1, side, ours, geo)
    for c in range(c_):
        for a in range(min(s, kh)):
            for b in range(min(s, kw)):
                at = (c * s * s + a * s + b) * g.plane
                np.testing.assert_array_equal(ours[at:at + g.plane], ref[at:at + g.plane])
    dx = np.full_like(x, np.nan)
    crop_canvas(ref, dx, 1, side, geo)
    np.testing.assert_array_equal(dx[1:], x[1:])
    assert np.isnan(dx[0]).all()
