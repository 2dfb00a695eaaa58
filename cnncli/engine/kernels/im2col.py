"""Serial im2col / col2im on a chunk of samples (called inside prange bodies).

Column layout for samples n0..n1-1 (j = n - n0, P = OH*OW), row-major with
leading dimension ld >= (n1-n0)*P, starting at flat offset `off` of `col`:
    col[off + ((c*KH + kh)*KW + kw)*ld + j*P + oh*OW + ow]
        = x[n, c, oh*sh - pt + kh*dil_h, ow*sw - pl + kw*dil_w]   (0 outside x).
Rows of one channel group are contiguous, so a group's GEMM uses a row slice.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._common import FAST, ConvGeometry, valid_range


@njit(cache=True, fastmath=FAST)
def _copy_same(xf, xb, col, base, off_h, lo, hi, h_, oh_, ow_):
    """Stride-1 rows with OW == W: the valid rows of one column-row are a single
    contiguous run of the x plane (start xb + (oh + off_h)*W); copy it in one loop,
    then zero the padded border columns [0, lo) and [hi, OW) and padded rows."""
    r0, r1 = valid_range(off_h, 1, h_, oh_)
    for i in range(r0 * ow_):
        col[base + i] = 0.0
    for i in range(r1 * ow_, oh_ * ow_):
        col[base + i] = 0.0
    d = base + r0 * ow_
    src = xb + (r0 + off_h) * ow_
    for i in range(lo, (r1 - r0) * ow_ - (ow_ - hi)):
        col[d + i] = xf[src + i]
    for r in range(r0, r1):
        d = base + r * ow_
        for i in range(lo):
            col[d + i] = 0.0
        for i in range(hi, ow_):
            col[d + i] = 0.0


@njit(cache=True, fastmath=FAST)
def im2col_chunk(x: np.ndarray, n0: int, n1: int, col: np.ndarray, off: int, ld: int, geo: ConvGeometry) -> None:
    """Fill the column block of samples n0..n1-1 (layout in the module doc)."""
    kh_, kw_, sh, sw, pt, pl, dil_h, dil_w = geo.kh, geo.kw, geo.sh, geo.sw, geo.pt, geo.pl, geo.dil_h, geo.dil_w
    oh_, ow_ = geo.oh, geo.ow
    c_, h_, w_ = x.shape[1], x.shape[2], x.shape[3]
    xf = x.ravel()
    p_ = oh_ * ow_
    for c in range(c_):
        for kh in range(kh_):
            for kw in range(kw_):
                row = off + ((c * kh_ + kh) * kw_ + kw) * ld
                off_w = kw * dil_w - pl
                lo, hi = valid_range(off_w, sw, w_, ow_)
                for n in range(n0, n1):
                    base = row + (n - n0) * p_
                    xb = (n * c_ + c) * h_ * w_ + off_w
                    if sh == 1 and sw == 1 and ow_ == w_:
                        _copy_same(xf, xb, col, base, kh * dil_h - pt, lo, hi, h_, oh_, ow_)
                        continue
                    for oh in range(oh_):
                        ih = oh * sh - pt + kh * dil_h
                        d = base + oh * ow_
                        if ih < 0 or ih >= h_:
                            for ow in range(ow_):
                                col[d + ow] = 0.0
                            continue
                        src = xb + ih * w_
                        for ow in range(lo):
                            col[d + ow] = 0.0
                        if sw == 1:
                            for ow in range(lo, hi):
                                col[d + ow] = xf[src + ow]
                        else:
                            for ow in range(lo, hi):
                                col[d + ow] = xf[src + ow * sw]
                        for ow in range(hi, ow_):
                            col[d + ow] = 0.0


@njit(cache=True, fastmath=FAST)
def col2im_chunk(col: np.ndarray, off: int, ld: int, dx: np.ndarray, n0: int, n1: int, geo: ConvGeometry) -> None:
    """dx[n0:n1] = adjoint of im2col_chunk applied to the column block (overwrites)."""
    kh_, kw_, sh, sw, pt, pl, dil_h, dil_w = geo.kh, geo.kw, geo.sh, geo.sw, geo.pt, geo.pl, geo.dil_h, geo.dil_w
    oh_, ow_ = geo.oh, geo.ow
    c_, h_, w_ = dx.shape[1], dx.shape[2], dx.shape[3]
    xf = dx.ravel()
    p_ = oh_ * ow_
    xf[n0 * c_ * h_ * w_:n1 * c_ * h_ * w_] = 0.0
    for n in range(n0, n1):
        for c in range(c_):
            for kh in range(kh_):
                for kw in range(kw_):
                    base = off + ((c * kh_ + kh) * kw_ + kw) * ld + (n - n0) * p_
                    off_w = kw * dil_w - pl
                    lo, hi = valid_range(off_w, sw, w_, ow_)
                    xb = (n * c_ + c) * h_ * w_ + off_w
                    for oh in range(oh_):
                        ih = oh * sh - pt + kh * dil_h
                        if ih < 0 or ih >= h_:
                            continue
                        dst = xb + ih * w_
                        so = base + oh * ow_
                        if sw == 1:
                            for ow in range(lo, hi):
                                xf[dst + ow] += col[so + ow]
                        else:
                            for ow in range(lo, hi):
                                xf[dst + ow * sw] += col[so + ow]
