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

The loops index flat arrays with unsigned integers (copy_rows, zero): Numba then skips
its negative-index wraparound check and the loops vectorise (4x faster copies, measured),
without building a slice view per row (which costs more than a short row's copy).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._common import FAST


def tap_offset(c: int, kh: int, kw: int, s: int, wq: int, plane: int) -> int:
    """Where tap (kh, kw) of channel c starts reading, for output (0, 0)."""
    return (c * s * s + (kh % s) * s + kw % s) * plane + (kh // s) * wq + kw // s


@njit(cache=True)
def copy_rows(dst: np.ndarray, d: int, ldd: int, dstep: int, src: np.ndarray, s: int, lds: int, sstep: int,
              rows: int, n: int) -> None:
    """dst[d + r*ldd + i*dstep] = src[s + r*lds + i*sstep] for r < rows, i < n (1-D arrays).

    Unsigned indices: no wraparound checks, so the unit-step loops vectorise; one call per
    block of rows, not per row (a call, or a slice view, costs more than a short row's copy)."""
    d, ldd, dstep = np.uint64(d), np.uint64(ldd), np.uint64(dstep)
    s, lds, sstep = np.uint64(s), np.uint64(lds), np.uint64(sstep)
    for r in range(np.uint64(rows)):
        do, so = d + r * ldd, s + r * lds
        if dstep == 1 and sstep == 1:
            for i in range(np.uint64(n)):
                dst[do + i] = src[so + i]
        else:
            for i in range(np.uint64(n)):
                dst[do + i * dstep] = src[so + i * sstep]


@njit(cache=True)
def zero(dst: np.ndarray, d: int, n: int) -> None:
    """dst[d:d + n] = 0."""
    d = np.uint64(d)
    for i in range(np.uint64(n)):
        dst[d + i] = 0.0


@njit(cache=True, fastmath=FAST)
def fill_canvas(x: np.ndarray, n: int, cv: np.ndarray, s: int, pt: int, pl: int, wq: int, plane: int,
                kh_: int, kw_: int) -> None:
    """cv[:C*s*s*plane] = the canvas of x[n] (layouts in the module doc), zeros to the end of
    every plane; for s > 1 only the phases that a KH x KW kernel reads are written."""
    c_, h_, w_ = x.shape[1], x.shape[2], x.shape[3]
    xf = x.reshape(x.size)
    for c in range(c_):
        src = ((n * c_ + c) * h_) * w_
        if s == 1:
            base = c * plane
            zero(cv, base, plane)
            copy_rows(cv, base + pt * wq + pl, wq, 1, xf, src, w_, 1, h_, w_)
            continue
        for a in range(min(s, kh_)):  # only the phases some tap reads: all of them for 3x3/2
            ih0 = (a - pt) % s  # first image row in phase row a, at phase row (ih0 + pt) // s
            for b in range(min(s, kw_)):
                iw0 = (b - pl) % s
                base = (c * s * s + a * s + b) * plane
                zero(cv, base, plane)
                copy_rows(cv, base + (ih0 + pt) // s * wq + (iw0 + pl) // s, wq, 1, xf, src + ih0 * w_ + iw0,
                          s * w_, s, (h_ - ih0 + s - 1) // s, (w_ - iw0 + s - 1) // s)


@njit(cache=True, fastmath=FAST)
def crop_canvas(cv: np.ndarray, dx: np.ndarray, n: int, s: int, pt: int, pl: int, wq: int, plane: int) -> None:
    """dx[n] = the image part of canvas cv (fill_canvas read backwards)."""
    c_, h_, w_ = dx.shape[1], dx.shape[2], dx.shape[3]
    df = dx.reshape(dx.size)
    for c in range(c_):
        dst = ((n * c_ + c) * h_) * w_
        if s == 1:
            copy_rows(df, dst, w_, 1, cv, c * plane + pt * wq + pl, wq, 1, h_, w_)
            continue
        for a in range(s):
            ih0 = (a - pt) % s
            for b in range(s):
                iw0 = (b - pl) % s
                copy_rows(df, dst + ih0 * w_ + iw0, s * w_, s, cv,
                          (c * s * s + a * s + b) * plane + (ih0 + pt) // s * wq + (iw0 + pl) // s, wq, 1,
                          (h_ - ih0 + s - 1) // s, (w_ - iw0 + s - 1) // s)
