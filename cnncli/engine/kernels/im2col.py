"""Serial im2col / col2im on a chunk of samples (called inside prange bodies).

Column layout for samples n0..n1-1 (j = n - n0, P = OH*OW), row-major with
leading dimension ld >= (n1-n0)*P, starting at flat offset `off` of `col`:
    col[off + ((c*KH + kh)*KW + kw)*ld + j*P + oh*OW + ow]
        = x[n, c, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw]   (0 outside x).
Rows of one channel group are contiguous, so a group's GEMM uses a row slice.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._common import FAST, valid_range


@njit(cache=True, fastmath=FAST)
def im2col_chunk(x: np.ndarray, n0: int, n1: int, col: np.ndarray, off: int, ld: int,
                 kh_: int, kw_: int, sh: int, sw: int, pt: int, pl: int,
                 dh: int, dw: int, oh_: int, ow_: int) -> None:
    """Fill the column block of samples n0..n1-1 (layout in the module doc)."""
    c_, h_, w_ = x.shape[1], x.shape[2], x.shape[3]
    p_ = oh_ * ow_
    for c in range(c_):
        for kh in range(kh_):
            for kw in range(kw_):
                row = off + ((c * kh_ + kh) * kw_ + kw) * ld
                off_w = kw * dw - pl
                lo, hi = valid_range(off_w, sw, w_, ow_)
                for n in range(n0, n1):
                    base = row + (n - n0) * p_
                    for oh in range(oh_):
                        ih = oh * sh - pt + kh * dh
                        dst = col[base + oh * ow_: base + (oh + 1) * ow_]
                        if ih < 0 or ih >= h_:
                            dst[:] = 0.0
                            continue
                        src = x[n, c, ih]
                        for ow in range(lo):
                            dst[ow] = 0.0
                        for ow in range(lo, hi):
                            dst[ow] = src[ow * sw + off_w]
                        for ow in range(hi, ow_):
                            dst[ow] = 0.0


@njit(cache=True, fastmath=FAST)
def col2im_chunk(col: np.ndarray, off: int, ld: int, dx: np.ndarray, n0: int, n1: int,
                 kh_: int, kw_: int, sh: int, sw: int, pt: int, pl: int,
                 dh: int, dw: int, oh_: int, ow_: int) -> None:
    """dx[n0:n1] = adjoint of im2col_chunk applied to the column block (overwrites)."""
    c_, h_, w_ = dx.shape[1], dx.shape[2], dx.shape[3]
    p_ = oh_ * ow_
    for n in range(n0, n1):
        for c in range(c_):
            plane = dx[n, c]
            plane[:, :] = 0.0
            for kh in range(kh_):
                for kw in range(kw_):
                    base = off + ((c * kh_ + kh) * kw_ + kw) * ld + (n - n0) * p_
                    off_w = kw * dw - pl
                    lo, hi = valid_range(off_w, sw, w_, ow_)
                    for oh in range(oh_):
                        ih = oh * sh - pt + kh * dh
                        if ih < 0 or ih >= h_:
                            continue
                        dst = plane[ih]
                        src = col[base + oh * ow_: base + (oh + 1) * ow_]
                        for ow in range(lo, hi):
                            dst[ow * sw + off_w] += src[ow]
