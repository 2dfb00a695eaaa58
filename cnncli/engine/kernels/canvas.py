"""Zero-padded "canvas" images: every tap of a convolution reads one contiguous run.

Stride s = 1: the canvas of x[n] is one zero-padded plane per channel, flattened with row
length Wq = W + max(pl, pr) and Hq = H + pt + pb + 1 rows (one extra zero row):
    cv[c*plane + (ih + pt)*Wq + pl + iw] = x[n, c, ih, iw],   plane >= Hq*Wq (zeros after),
columns [0, pl) and [pl + W, Wq) zero. Output (oh, ow) sits at column p = oh*Wq + ow of a
"wide" output row (columns ow >= OW are junk) and tap (kh, kw) reads cv[p + kh*Wq + kw]: a
read left of the image lands in this row's left zeros, one right of it in the right zeros
or, wrapping, in the next row's left zeros (Wq >= W + pr), so one zero column can serve as
both borders and the junk per row is Wq - OW instead of pl + pr.
Stride s > 1: the padded image is split into s*s phases per channel (polyphase), phase
(a, b) holding padded pixels (s*i + a, s*j + b) in a plane of Hq x Wq, Wq = ceil(Wp/s),
Hq = ceil(Hp/s) + 1. Tap (kh, kw) then reads phase (kh % s, kw % s) at p + (kh//s)*Wq + kw//s.
In both cases the wide output row y[f, p] (p = oh*Wq + ow) is
    y[f, p] = sum_{c, kh, kw} w[f, c, kh, kw] * cv[tap_offset(c, kh, kw) + p],
a sum of contiguous runs: what microkernel.conv_tile computes (conv_flat.py).
Samples side by side: a canvas may hold S samples in one row, sample j's columns at
[j*slot, (j+1)*slot) with slot the one-sample row length above and Wq = S*slot (output
(oh, ow) of sample j at p = oh*Wq + j*slot + ow). The reads that leave a slot are the ones that
leave a row in a one-sample canvas, and land in zero columns the same way, so the formulas
hold as they are; small outputs then fill more of each tile (8x8 outputs of a stride-2 layer:
64 of 96 columns with one sample, 128 of 144 with two; conv_plan.side_by_side).

Rows move a vector at a time (rowcopy.py: copy_rows_vec, and split_rows / merge_rows for
stride 2's two column phases in one read), with one call per block of rows, not a slice view
per row (which costs more than a short row's copy). Other strides use copy_rows, a loop over
flat unsigned indices: Numba then skips its negative-index wraparound check (bench/PROFILE.md).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ._common import FAST
from .rowcopy import copy_rows_vec, merge_rows, split_rows, zero_run


class FlatGeometry(NamedTuple):
    """The integers of one conv_flat call (conv_plan.Geometry.kernel_args builds it; names as in
    the glossary of kernels/__init__.py)."""

    kh: int
    kw: int
    s: int         # stride, along H and W
    pt: int        # padding top
    pl: int        # padding left
    wq: int        # canvas / wide row length: side * slot
    plane: int     # canvas plane stride
    npad: int      # wide output columns, a multiple of COLS
    margin: int    # zeros before dY' (the largest tap shift)
    oh: int
    ow: int
    mode: int      # epilogue / prologue: BIAS, RELU, POOL, BN or BN_RELU
    pool: int      # POOL: the pooling window k
    spc: int       # backward: canvases per task
    side: int      # samples side by side in one canvas
    slot: int      # columns of one sample in a canvas row
    scatter: int = 0  # backward: dx by scatter tiles (conv_flat._chunk_dx), not per stride phase


def tap_offset(c: int, kh: int, kw: int, s: int, wq: int, plane: int) -> int:
    """Where tap (kh, kw) of channel c starts reading, for output (0, 0)."""
    return (c * s * s + (kh % s) * s + kw % s) * plane + (kh // s) * wq + kw // s


@njit(cache=True)
def copy_rows(dst: np.ndarray, d0: int, ldd: int, dstep: int, src: np.ndarray, s0: int, lds: int, sstep: int,
              rows: int, count: int) -> None:
    """dst[d0 + r*ldd + i*dstep] = src[s0 + r*lds + i*sstep] for r < rows, i < count (1-D arrays).

    Unsigned indices: no wraparound checks, so the unit-step loops vectorise; one call per
    block of rows, not per row (a call, or a slice view, costs more than a short row's copy)."""
    d0, ldd, dstep = np.uint64(d0), np.uint64(ldd), np.uint64(dstep)
    s0, lds, sstep = np.uint64(s0), np.uint64(lds), np.uint64(sstep)
    for r in range(np.uint64(rows)):
        do, so = d0 + r * ldd, s0 + r * lds
        if dstep == 1 and sstep == 1:
            for i in range(np.uint64(count)):
                dst[do + i] = src[so + i]
        else:
            for i in range(np.uint64(count)):
                dst[do + i * dstep] = src[so + i * sstep]


@njit(cache=True, fastmath=FAST)
def fill_canvas(x: np.ndarray, n0: int, m: int, cv: np.ndarray, geo: FlatGeometry) -> None:
    """cv[:C*s*s*plane] = the canvas of samples n0 .. n0 + m - 1 side by side (m <= geo.side; layouts
    in the module doc), zeros everywhere else in every plane; for s > 1 only the phases that a
    KH x KW kernel reads are written. Stride 2 (kw >= 2): image column iw goes to phase
    b = (iw + pl) % 2, column (iw + pl) // 2, so a row's even and odd values split in one read."""
    s, pt, pl, wq, plane, kh_, kw_ = geo.s, geo.pt, geo.pl, geo.wq, geo.plane, geo.kh, geo.kw
    c_, h_, w_ = x.shape[1], x.shape[2], x.shape[3]
    xf, one = x.reshape(x.size), np.int64(1)  # not a literal: one copy_rows (kernels/__init__.py)
    for c in range(c_):
        if s == 1:
            zero_run(cv, c * plane, plane)
            for j in range(m):
                copy_rows_vec(cv, c * plane + pt * wq + j * geo.slot + pl, wq, xf, ((n0 + j) * c_ + c) * h_ * w_, w_,
                              h_, w_)
            continue
        for a in range(min(s, kh_)):  # only the phases some tap reads: all of them for 3x3/2
            ih0 = (a - pt) % s  # first image row in phase row a, at phase row (ih0 + pt) // s
            rows, image = (h_ - ih0 + s - 1) // s, (n0 * c_ + c) * h_ * w_ + ih0 * w_
            if s == 2 and kw_ >= 2:
                phases = (c * 4 + a * 2) * plane
                zero_run(cv, phases, 2 * plane)
                for j in range(m):
                    at = phases + (ih0 + pt) // 2 * wq + j * geo.slot
                    split_rows(cv, at + pl % 2 * plane + pl // 2, at + (pl + 1) % 2 * plane + (pl + 1) // 2, wq,
                               xf, image + j * c_ * h_ * w_, 2 * w_, rows, w_)
                continue
            for b in range(min(s, kw_)):
                iw0 = (b - pl) % s
                base = (c * s * s + a * s + b) * plane
                zero_run(cv, base, plane)
                for j in range(m):
                    copy_rows(cv, base + (ih0 + pt) // s * wq + j * geo.slot + (iw0 + pl) // s, wq, one, xf,
                              image + j * c_ * h_ * w_ + iw0, s * w_, s, rows, (w_ - iw0 + s - 1) // s)


@njit(cache=True, fastmath=FAST)
def crop_canvas(cv: np.ndarray, dx: np.ndarray, n0: int, m: int, geo: FlatGeometry) -> None:
    """dx[n0 .. n0 + m - 1] = the image parts of canvas cv (fill_canvas read backwards)."""
    s, pt, pl, wq, plane = geo.s, geo.pt, geo.pl, geo.wq, geo.plane
    c_, h_, w_ = dx.shape[1], dx.shape[2], dx.shape[3]
    df, one = dx.reshape(dx.size), np.int64(1)
    for j in range(m):
        for c in range(c_):
            dst = ((n0 + j) * c_ + c) * h_ * w_
            if s == 1:
                copy_rows_vec(df, dst, w_, cv, c * plane + pt * wq + j * geo.slot + pl, wq, h_, w_)
                continue
            for a in range(s):
                ih0 = (a - pt) % s
                rows = (h_ - ih0 + s - 1) // s
                if s == 2:
                    at = (c * 4 + a * 2) * plane + (ih0 + pt) // 2 * wq + j * geo.slot
                    merge_rows(df, dst + ih0 * w_, 2 * w_, cv, at + pl % 2 * plane + pl // 2,
                               at + (pl + 1) % 2 * plane + (pl + 1) // 2, wq, rows, w_)
                    continue
                for b in range(s):
                    iw0 = (b - pl) % s
                    copy_rows(df, dst + ih0 * w_ + iw0, s * w_, s, cv,
                              (c * s * s + a * s + b) * plane + (ih0 + pt) // s * wq + j * geo.slot + (iw0 + pl) // s,
                              wq, one, rows, (w_ - iw0 + s - 1) // s)
