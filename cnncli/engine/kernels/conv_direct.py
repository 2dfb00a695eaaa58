"""Direct (loop) convolution kernels, used for grouped/depthwise convolutions.

y[n, f, oh, ow] = b[f] + sum_{c in group(f), kh, kw}
    w[f, c - g*Cg, kh, kw] * x[n, c, oh*sh - pt + kh*dil_h, ow*sw - pl + kw*dil_w]
(out-of-range x reads are 0). The innermost loop runs along ow over the
valid range only, so it has no branches and vectorises for stride 1.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._common import FAST, ConvGeometry, valid_range


@njit(parallel=True, cache=True, fastmath=FAST)
def direct_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, y: np.ndarray, geo: ConvGeometry) -> None:
    """Fill y [N, F, OH, OW] with the grouped convolution of x (formula above)."""
    sh, sw, pt, pl, dil_h, dil_w, groups = geo.sh, geo.sw, geo.pt, geo.pl, geo.dil_h, geo.dil_w, geo.groups
    n_, c_, h_, w_ = x.shape
    f_, cg, kh_, kw_ = w.shape
    oh_, ow_ = y.shape[2], y.shape[3]
    fg = f_ // groups
    for idx in prange(n_ * f_):
        n = idx // f_
        f = idx - n * f_
        c0 = (f // fg) * cg
        out = y[n, f]
        out[:, :] = b[f]
        for cl in range(cg):
            xc = x[n, c0 + cl]
            for kh in range(kh_):
                for kw in range(kw_):
                    wv = w[f, cl, kh, kw]
                    off_w = kw * dil_w - pl
                    lo, hi = valid_range(off_w, sw, w_, ow_)
                    for oh in range(oh_):
                        ih = oh * sh - pt + kh * dil_h
                        if ih < 0 or ih >= h_:
                            continue
                        src = xc[ih]
                        dst = out[oh]
                        for ow in range(lo, hi):
                            dst[ow] += wv * src[ow * sw + off_w]


@njit(parallel=True, cache=True, fastmath=FAST)
def direct_grad_weight(x: np.ndarray, dy: np.ndarray, dwp: np.ndarray, geo: ConvGeometry) -> None:
    """Partial weight gradients: dwp[k, f] = sum over samples n of chunk k.

    dwp has shape [K, F, Cg, KH, KW]; each (chunk, filter) task owns its slice,
    so there are no races. The caller sums over axis 0.
    """
    sh, sw, pt, pl, dil_h, dil_w, groups = geo.sh, geo.sw, geo.pt, geo.pl, geo.dil_h, geo.dil_w, geo.groups
    n_, c_, h_, w_ = x.shape
    nch, f_, cg, kh_, kw_ = dwp.shape
    oh_, ow_ = dy.shape[2], dy.shape[3]
    fg = f_ // groups
    for idx in prange(nch * f_):
        k = idx // f_
        f = idx - k * f_
        c0 = (f // fg) * cg
        acc = dwp[k, f]
        acc[:, :, :] = 0.0
        for n in range(k * n_ // nch, (k + 1) * n_ // nch):
            g = dy[n, f]
            for cl in range(cg):
                xc = x[n, c0 + cl]
                for kh in range(kh_):
                    for kw in range(kw_):
                        off_w = kw * dil_w - pl
                        lo, hi = valid_range(off_w, sw, w_, ow_)
                        total = 0.0
                        for oh in range(oh_):
                            ih = oh * sh - pt + kh * dil_h
                            if ih < 0 or ih >= h_:
                                continue
                            src = xc[ih]
                            gr = g[oh]
                            for ow in range(lo, hi):
                                total += gr[ow] * src[ow * sw + off_w]
                        acc[cl, kh, kw] += total


@njit(parallel=True, cache=True, fastmath=FAST)
def direct_grad_input(w: np.ndarray, dy: np.ndarray, dx: np.ndarray, geo: ConvGeometry) -> None:
    """dx[n, c] = sum_{f in group(c), kh, kw, oh, ow} w[f, c', kh, kw] * dy[n, f, oh, ow]
    scattered to (oh*sh - pt + kh*dil_h, ow*sw - pl + kw*dil_w); one task per (n, c)."""
    sh, sw, pt, pl, dil_h, dil_w, groups = geo.sh, geo.sw, geo.pt, geo.pl, geo.dil_h, geo.dil_w, geo.groups
    n_, c_, h_, w_ = dx.shape
    f_, cg, kh_, kw_ = w.shape
    oh_, ow_ = dy.shape[2], dy.shape[3]
    fg = f_ // groups
    for idx in prange(n_ * c_):
        n = idx // c_
        c = idx - n * c_
        g = c // cg
        cl = c - g * cg
        plane = dx[n, c]
        plane[:, :] = 0.0
        for f in range(g * fg, (g + 1) * fg):
            gf = dy[n, f]
            for kh in range(kh_):
                for kw in range(kw_):
                    wv = w[f, cl, kh, kw]
                    off_w = kw * dil_w - pl
                    lo, hi = valid_range(off_w, sw, w_, ow_)
                    for oh in range(oh_):
                        ih = oh * sh - pt + kh * dil_h
                        if ih < 0 or ih >= h_:
                            continue
                        src = gf[oh]
                        dst = plane[ih]
                        for ow in range(lo, hi):
                            dst[ow * sw + off_w] += wv * src[ow]
