"""Epilogues and prologues of conv_flat: between the tiles' wide rows and the tensors.

Forward epilogues write sample n from its wide output Y [F4, ld] (row oh of channel f at
Y[f*ld + oh*Wq], columns >= OW are junk); backward prologues fill dY' in the same layout
(the caller zeroes the block first, so the junk columns stay zero). Modes and their formulas:
conv_flat's docstring. Rows move as masked vectors (rowcopy.py) and formulas run over whole
planes: LLVM's vector loop starts at 4 vectors, so a loop over one row of 8-32 values runs scalar.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._common import FAST
from .microkernel import LANES
from .pool2_ir import pool2_store, unpool2_load
from .rowcopy import bias_rows, copy_rows_vec

# the modes (formulas in conv_flat's docstring); named, compared by equality only
BIAS, RELU, POOL, BN, BN_RELU = 0, 1, 2, 3, 4


@njit(cache=True, fastmath=FAST)
def rowsum(a: np.ndarray, o: int, count: int) -> float:
    """sum(a[o:o + count]) in float64; one routine for load_dy's modes: the same order of additions
    (load_dy_pool sums the pooled dy instead; float64 sums of a plane's float32 values in another
    order differ far below the float32 step that db is kept in)."""
    total, o = 0.0, np.uint64(o)
    for i in range(np.uint64(count)):
        total += a[o + i]
    return total


@njit(cache=True, inline="always")
def runs(oh_: int, ow_: int, wq: int) -> tuple[int, np.uint64]:
    """(rows, length) of the runs that copy a channel between the wide layout and the tensor:
    one run of OH*OW when the wide rows have no junk columns (Wq = OW: a 1x1 convolution without
    padding), else OH rows of OW."""
    if wq == ow_:
        return 1, np.uint64(oh_ * ow_)
    return oh_, np.uint64(ow_)


@njit(cache=True, fastmath=FAST)
def store(yb: np.ndarray, ld: int, wq: int, n: int, bias: np.ndarray, y: np.ndarray, relu: bool,
          stats: np.ndarray) -> None:
    """y[n] = (relu of) Y + bias; if stats is [2, F], stats[0, f] += sum and stats[1, f] += sum
    of squares of y[n, f] (float64). Rows move a vector at a time (rowcopy.bias_rows), then the
    sums run over the whole plane: a loop of OH*OW values vectorises, one of a row (8-32) would not."""
    f_, oh_, ow_ = y.shape[1], y.shape[2], y.shape[3]
    yf, p_ = y.reshape(y.size), np.uint64(oh_ * ow_)
    rows, w = runs(oh_, ow_, wq)
    for f in range(f_):
        at = np.uint64((n * f_ + f) * oh_ * ow_)
        bias_rows(yf, at, w, yb, f * ld, wq, rows, w, bias[f], relu)
        if stats.shape[0] == 2:
            total, total_sq = 0.0, 0.0
            for i in range(at, at + p_):
                v = np.float64(yf[i])
                total += v
                total_sq += v * v
            stats[0, f] += total
            stats[1, f] += total_sq


@njit(cache=True, fastmath=FAST)
def store_pool(yb: np.ndarray, ld: int, wq: int, k: int, n: int, bias: np.ndarray, y: np.ndarray,
               codes: np.ndarray) -> None:
    """y[n] = k x k max pooling (stride k) of max(Y + bias, 0), and codes[n] (conv_flat's doc).

    Scan order i*k + j; v = max(a, 0) with NaN kept; a cell wins when no cell has yet, or
    v > best, or v is NaN (the rule of pool._max_fwd). k = 2 runs as vectors (pool2_ir.pool2_store).
    """
    f_, ph_, pw_ = y.shape[1], y.shape[2], y.shape[3]
    if k == 2:
        yf, cf = y.reshape(y.size), codes.reshape(codes.size)
        for f in range(f_):
            for ph in range(ph_):
                at = ((n * f_ + f) * ph_ + ph) * pw_
                for i in range(0, pw_, LANES):
                    pool2_store(yf, at + i, cf, at + i, yb, f * ld + 2 * ph * wq + 2 * i, wq, min(LANES, pw_ - i),
                                bias[f])
        return
    for f in range(f_):
        bf = bias[f]
        for ph in range(ph_):
            so = f * ld + ph * k * wq
            dst, cd = y[n, f, ph], codes[n, f, ph]
            for pw in range(pw_):
                best, at = -np.inf, -1
                for a in range(k):
                    for b in range(k):
                        v = yb[so + a * wq + pw * k + b] + bf
                        v = 0.0 if v < 0 else v
                        if at < 0 or v > best or v != v:
                            best, at = v, a * k + b
                dst[pw] = best
                cd[pw] = at if best > 0 else -1


@njit(cache=True, fastmath=FAST)
def load_dy(dy: np.ndarray, saved: np.ndarray, yconv: np.ndarray, coef: np.ndarray, mode: int, n: int, oh_: int,
            ow_: int, wq: int, ld: int, dyb: np.ndarray, base: int, db: np.ndarray) -> None:
    """dY' of sample n into dyb (row f at base + f*ld; modes BIAS, RELU, BN, BN_RELU as in
    conv_flat's doc), columns < OW of each row (the caller zeroed the rest); db[f] += the sum
    of channel f (skipped when db is empty). The formula runs over a whole plane into a dense
    buffer (a loop that vectorises), then its rows move to dyb (store in reverse)."""
    f_, p_ = dy.shape[1], np.uint64(oh_ * ow_)
    rows, w = runs(oh_, ow_, wq)
    gf, kf, yf = dy.reshape(dy.size), saved.reshape(saved.size), yconv.reshape(yconv.size)
    dense = np.empty(p_, dy.dtype)
    for f in range(f_):
        at = np.uint64((n * f_ + f) * oh_ * ow_)
        if mode == BIAS:  # nothing to compute: dy's rows move as they are
            copy_rows_vec(dyb, base + f * ld, wq, gf, at, w, rows, w)
            if db.size:
                db[f] += rowsum(gf, at, p_)
            continue
        if mode == RELU:
            for i in range(p_):
                dense[i] = gf[at + i] if kf[at + i] > 0 else 0.0
        else:  # BN, BN_RELU (saved is the block's output in both)
            a, b, d_, mu = coef[0, f], coef[1, f], coef[2, f], coef[3, f]
            for i in range(p_):
                g = gf[at + i] if kf[at + i] > 0 or mode == BN else 0.0
                dense[i] = a * g + b + d_ * (yf[at + i] - mu)
        copy_rows_vec(dyb, base + f * ld, wq, dense, 0, w, rows, w)
        if db.size:
            db[f] += rowsum(dense, 0, p_)


@njit(cache=True, fastmath=FAST)
def load_dy_pool(dy: np.ndarray, codes: np.ndarray, k: int, n: int, oh_: int, ow_: int, wq: int, ld: int,
                 dyb: np.ndarray, base: int, db: np.ndarray) -> None:
    """load_dy for mode POOL: dy [N, F, PH, PW] is the pooled gradient, codes its choices; row
    ph*k + a of dY' gets dY'[pw*k + b] = dy[n, f, ph, pw] where the code of window pw is a*k + b,
    else 0; db[f] += the sum of dy where the code is not -1 (that of dY'). Conv rows past PH*k
    and columns past PW*k are left (zero). k = 2 runs as vectors
    (pool2_ir.unpool2_load); flat indices into dy, codes and dyb (no view per row: a row holds
    5-14 windows)."""
    f_, ph_, pw_ = dy.shape[1], dy.shape[2], dy.shape[3]
    gf, cf, zero = dy.reshape(dy.size), codes.reshape(codes.size), np.float32(0.0)
    for f in range(f_):
        for ph in range(ph_):
            at = np.uint64(((n * f_ + f) * ph_ + ph) * pw_)
            if k == 2:
                o = base + f * ld + 2 * ph * wq
                for i in range(0, pw_, LANES):
                    unpool2_load(dyb, o + 2 * i, wq, gf, np.int64(at) + i, cf, min(LANES, pw_ - i))
                continue
            for a in range(k):
                o = np.uint64(base + f * ld + (ph * k + a) * wq)
                for pw in range(np.uint64(pw_)):
                    g, code = gf[at + pw], cf[at + pw] - a * k
                    for b in range(k):
                        dyb[o + pw * np.uint64(k) + np.uint64(b)] = g if code == b else zero
        if db.size:  # the sum of dY' over the plane: of the pooled gradients that reach a cell
            first, total = np.uint64((n * f_ + f) * ph_ * pw_), 0.0
            for i in range(np.uint64(ph_ * pw_)):
                total += np.float64(gf[first + i]) if cf[first + i] >= 0 else 0.0
            db[f] += total
