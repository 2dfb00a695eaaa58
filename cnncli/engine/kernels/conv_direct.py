"""Direct (loop) convolution kernels, used for grouped/depthwise convolutions.

y[n, f, oh, ow] = b[f] + sum_{c in group(f), kh, kw}
    w[f, c - g*Cg, kh, kw] * x[n, c, oh*sh - pt + kh*dil_h, ow*sw - pl + kw*dil_w]
(out-of-range x reads are 0). Every kernel copies x (or dy) into a zero-padded plane first, so
the taps need no bounds checks; stride 1 runs each tap as one loop over "wide rows" (the plane's
full width), which vectorises even when the output is narrower than a vector.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._common import FAST, ConvGeometry


def _padded_extent(geo: ConvGeometry, h_: int, w_: int, oh_: int, ow_: int, kh_: int, kw_: int
                   ) -> tuple[int, int, int, int]:
    """(HP, WP, rows, cols): the zero-padded input plane the taps read, and how much of x lies in it."""
    hp = (oh_ - 1) * geo.sh + (kh_ - 1) * geo.dil_h + 1
    wp = (ow_ - 1) * geo.sw + (kw_ - 1) * geo.dil_w + 1
    return hp, wp, max(0, min(h_, hp - geo.pt)), max(0, min(w_, wp - geo.pl))


_padded_extent_jit = njit(cache=True)(_padded_extent)


@njit(parallel=True, cache=True, fastmath=FAST)
def direct_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, y: np.ndarray, geo: ConvGeometry) -> None:
    """Fill y [N, F, OH, OW] with the grouped convolution of x (formula above).

    One task per sample: each group's input planes are copied once into a zero-padded plane
    xp [Cg, HP*WP], so the taps need no bounds checks. Stride 1 runs every tap over the whole
    plane as one contiguous loop ("wide rows": the output is computed on WP-wide rows, the
    WP - OW extra columns are dropped), which vectorises even when OW is below the vector width.
    Each output sums b, then the taps in (c, kh, kw) order, as the loop form does."""
    sh, sw, pt, pl, dil_h, dil_w, groups = geo.sh, geo.sw, geo.pt, geo.pl, geo.dil_h, geo.dil_w, geo.groups
    n_, c_, h_, w_ = x.shape
    f_, cg, kh_, kw_ = w.shape
    oh_, ow_ = y.shape[2], y.shape[3]
    fg = f_ // groups
    hp, wp, rows, cols = _padded_extent_jit(geo, h_, w_, oh_, ow_, kh_, kw_)
    wide = sh == 1 and sw == 1
    span = (oh_ - 1) * wp + ow_  # wide-row outputs: the last row stops at OW
    for n in prange(n_):
        xp = np.zeros((cg, hp * wp), x.dtype)
        acc = np.empty(span, y.dtype)
        for f in range(f_):
            c0 = (f // fg) * cg
            if f % fg == 0:
                for cl in range(cg):
                    for i in range(rows):
                        for j in range(cols):
                            xp[cl, (pt + i) * wp + pl + j] = x[n, c0 + cl, i, j]
            out = y[n, f]
            if wide:
                acc[:] = b[f]
                for cl in range(cg):
                    src = xp[cl]
                    for kh in range(kh_):
                        for kw in range(kw_):
                            wv = w[f, cl, kh, kw]
                            off = kh * dil_h * wp + kw * dil_w
                            for q in range(span):
                                acc[q] += wv * src[q + off]
                for oh in range(oh_):
                    for ow in range(ow_):
                        out[oh, ow] = acc[oh * wp + ow]
                continue
            out[:, :] = b[f]
            for cl in range(cg):
                src = xp[cl]
                for kh in range(kh_):
                    for kw in range(kw_):
                        wv = w[f, cl, kh, kw]
                        for oh in range(oh_):
                            base = (oh * sh + kh * dil_h) * wp + kw * dil_w
                            dst = out[oh]
                            for ow in range(ow_):
                                dst[ow] += wv * src[base + ow * sw]


@njit(parallel=True, cache=True, fastmath=FAST)
def direct_grad_weight(x: np.ndarray, dy: np.ndarray, dwp: np.ndarray, geo: ConvGeometry) -> None:
    """Partial weight gradients: dwp[k, f] = sum over samples n of chunk k.

    dwp has shape [K, F, Cg, KH, KW]; each (chunk, filter) task owns its slice,
    so there are no races. The caller sums over axis 0. Each tap is a dot product of dy with
    the zero-padded input plane (stride 1: one contiguous loop over wide rows)."""
    sh, sw, pt, pl, dil_h, dil_w, groups = geo.sh, geo.sw, geo.pt, geo.pl, geo.dil_h, geo.dil_w, geo.groups
    n_, c_, h_, w_ = x.shape
    nch, f_, cg, kh_, kw_ = dwp.shape
    oh_, ow_ = dy.shape[2], dy.shape[3]
    fg = f_ // groups
    hp, wp, rows, cols = _padded_extent_jit(geo, h_, w_, oh_, ow_, kh_, kw_)
    wide = sh == 1 and sw == 1
    span = (oh_ - 1) * wp + ow_
    for idx in prange(nch * f_):
        k = idx // f_
        f = idx - k * f_
        c0 = (f // fg) * cg
        acc = dwp[k, f]
        acc[:, :, :] = 0.0
        xp = np.zeros((cg, hp * wp), x.dtype)
        dyw = np.zeros(span, dy.dtype)
        for n in range(k * n_ // nch, (k + 1) * n_ // nch):
            g = dy[n, f]
            for cl in range(cg):
                for i in range(rows):
                    for j in range(cols):
                        xp[cl, (pt + i) * wp + pl + j] = x[n, c0 + cl, i, j]
            if wide:
                for oh in range(oh_):
                    for ow in range(ow_):
                        dyw[oh * wp + ow] = g[oh, ow]
            for cl in range(cg):
                src = xp[cl]
                for kh in range(kh_):
                    for kw in range(kw_):
                        total = 0.0
                        if wide:
                            off = kh * dil_h * wp + kw * dil_w
                            for q in range(span):
                                total += dyw[q] * src[q + off]
                        else:
                            for oh in range(oh_):
                                base = (oh * sh + kh * dil_h) * wp + kw * dil_w
                                gr = g[oh]
                                for ow in range(ow_):
                                    total += gr[ow] * src[base + ow * sw]
                        acc[cl, kh, kw] += total


@njit(parallel=True, cache=True, fastmath=FAST)
def direct_grad_input(w: np.ndarray, dy: np.ndarray, dx: np.ndarray, geo: ConvGeometry) -> None:
    """dx[n, c] = sum_{f in group(c), kh, kw, oh, ow} w[f, c', kh, kw] * dy[n, f, oh, ow]
    scattered to (oh*sh - pt + kh*dil_h, ow*sw - pl + kw*dil_w); one task per sample.

    Stride 1 scatters into a zero-padded plane [HP*WP] with wide rows (dy copied into WP-wide
    rows whose extra columns are 0), one contiguous loop per tap; other strides scatter row by
    row. Each element sums the taps in (f, kh, kw) order, as the loop form does."""
    sh, sw, pt, pl, dil_h, dil_w, groups = geo.sh, geo.sw, geo.pt, geo.pl, geo.dil_h, geo.dil_w, geo.groups
    n_, c_, h_, w_ = dx.shape
    f_, cg, kh_, kw_ = w.shape
    oh_, ow_ = dy.shape[2], dy.shape[3]
    fg = f_ // groups
    hp, wp, rows, cols = _padded_extent_jit(geo, h_, w_, oh_, ow_, kh_, kw_)
    wide = sh == 1 and sw == 1
    span = (oh_ - 1) * wp + ow_
    for n in prange(n_):
        acc = np.empty(hp * wp, dx.dtype)
        dyw = np.zeros(span, dy.dtype)
        for c in range(c_):
            g = c // cg
            cl = c - g * cg
            acc[:] = 0.0
            for f in range(g * fg, (g + 1) * fg):
                gf = dy[n, f]
                if wide:
                    for oh in range(oh_):
                        for ow in range(ow_):
                            dyw[oh * wp + ow] = gf[oh, ow]
                for kh in range(kh_):
                    for kw in range(kw_):
                        wv = w[f, cl, kh, kw]
                        if wide:
                            off = kh * dil_h * wp + kw * dil_w
                            for q in range(span):
                                acc[q + off] += wv * dyw[q]
                            continue
                        for oh in range(oh_):
                            base = (oh * sh + kh * dil_h) * wp + kw * dil_w
                            src = gf[oh]
                            for ow in range(ow_):
                                acc[base + ow * sw] += wv * src[ow]
            plane = dx[n, c]
            plane[:, :] = 0.0
            for i in range(rows):
                for j in range(cols):
                    plane[i, j] = acc[(pt + i) * wp + pl + j]
