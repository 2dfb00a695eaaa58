"""Fused im2col + GEMM convolution kernels, parallel over chunks of samples.

Each prange task takes `spc` samples, builds their column block in the calling
thread's own workspace row (so it stays in that core's cache), and runs a
single-threaded BLAS GEMM on it (gemm.gemm):
    forward:  Y_g = W_g @ col_g,  y[n, f, :] = Y[f, j*P:(j+1)*P] + b[f]
    backward: dW_g += dY_g @ col_g^T (per-thread partials, summed by the caller)
              dcol_g = W_g^T @ dY_g,  dx = col2im(dcol)
with W as [F, Cg*KH*KW] and dY[f, j*P + p] = dy[n0 + j, f, p].
Workspace `ws` is [threads, >= (rows + F) * spc * P] with rows = C*KH*KW.
"""
from __future__ import annotations

import numpy as np
from numba import get_thread_id, njit, prange

from ._common import FAST, ConvGeometry
from .gemm import gemm
from .im2col import col2im_chunk, im2col_chunk


@njit(parallel=True, cache=True, fastmath=FAST)
def gemm_forward(blas: np.ndarray, x: np.ndarray, wmat: np.ndarray, bias: np.ndarray,
                 y: np.ndarray, ws: np.ndarray, spc: int, geo: ConvGeometry) -> None:
    """y [N, F, OH, OW] = conv(x) + bias via per-chunk im2col + GEMM."""
    groups = geo.groups
    n_ = x.shape[0]
    f_, kg = wmat.shape
    fg, rows = f_ // groups, kg * groups
    oh_, ow_ = y.shape[2], y.shape[3]
    p_ = oh_ * ow_
    for ch in prange((n_ + spc - 1) // spc):
        buf = ws[get_thread_id()]
        n0 = ch * spc
        n1 = min(n_, n0 + spc)
        cols = (n1 - n0) * p_
        im2col_chunk(x, n0, n1, buf, 0, cols, geo)
        yo = rows * cols
        for g in range(groups):
            gemm(blas, 0, 0, fg, cols, kg, wmat.ravel(), g * fg * kg, kg,
                 buf, g * kg * cols, cols, 0.0, buf, yo + g * fg * cols, cols)
        for j in range(n1 - n0):
            for f in range(f_):
                dst = y[n0 + j, f].ravel()
                bf = bias[f]
                src = yo + f * cols + j * p_
                for p in range(p_):
                    dst[p] = buf[src + p] + bf


@njit(parallel=True, cache=True, fastmath=FAST)
def gemm_backward(blas: np.ndarray, x: np.ndarray, wmat: np.ndarray, dy: np.ndarray,
                  dx: np.ndarray, dwp: np.ndarray, dbp: np.ndarray, ws: np.ndarray,
                  spc: int, geo: ConvGeometry, need_dx: bool) -> None:
    """Accumulate dwp[t] += dW and dbp[t] += db per thread t; fill dx if need_dx.

    dwp [threads, F, Cg*KH*KW] and dbp [threads, F] must be zeroed by the caller.
    """
    groups = geo.groups
    n_ = x.shape[0]
    f_, kg = wmat.shape
    fg, rows = f_ // groups, kg * groups
    oh_, ow_ = dy.shape[2], dy.shape[3]
    p_ = oh_ * ow_
    for ch in prange((n_ + spc - 1) // spc):
        t = get_thread_id()
        buf = ws[t]
        n0 = ch * spc
        n1 = min(n_, n0 + spc)
        cols = (n1 - n0) * p_
        im2col_chunk(x, n0, n1, buf, 0, cols, geo)
        yo = rows * cols
        for f in range(f_):
            total = 0.0
            for j in range(n1 - n0):
                src = dy[n0 + j, f].ravel()
                dst = yo + f * cols + j * p_
                for p in range(p_):
                    v = src[p]
                    buf[dst + p] = v
                    total += v
            dbp[t, f] += total
        for g in range(groups):
            gemm(blas, 0, 1, fg, kg, cols, buf, yo + g * fg * cols, cols,
                 buf, g * kg * cols, cols, 1.0, dwp[t].ravel(), g * fg * kg, kg)
        if need_dx:
            for g in range(groups):
                gemm(blas, 1, 0, kg, cols, fg, wmat.ravel(), g * fg * kg, kg,
                     buf, yo + g * fg * cols, cols, 0.0, buf, g * kg * cols, cols)
            col2im_chunk(buf, 0, cols, dx, n0, n1, geo)
