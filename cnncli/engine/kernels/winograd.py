"""Winograd F(2x2, 3x3) convolution (Lavin & Gray 2016) for conv_flat's stride-1 3x3 layers.

A 2 x 2 block of outputs of a 3 x 3 correlation is computed from its 4 x 4 input tile d with
16 multiplies per (input, output) channel pair instead of 36:
    Y = A^T [ sum_c (G g[f, c] G^T) . (B^T d[c] B) ] A          (. elementwise, 4 x 4)
    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
For each of the 16 positions xi of the 4 x 4 transform domain the sum over c is a GEMM,
    M[xi][f, t] = sum_c U[xi][c, f] * V[xi][c, t]      (t: a tile of any sample of the task)
which runs on conv_flat's tile (conv_tile with offs[c] = c * ldv). The tiles of a task (spc
samples) are the GEMM's columns, padded to a multiple of COLS.

Sources use conv_flat's wide layout: output (i, j) of channel f is
    sum_{c, kh, kw} g[f, c, kh, kw] * src[s0 + c*ldc + (i + kh)*wq + j + kw]
    forward:  src = the canvas of x[n] (canvas.py), s0 = 0, ldc = plane; out -> the wide
              output Y [F4, npad] that conv_epilogue.store / store_pool read
    dx:       src = dY' (conv_flat's backward), s0 = pt*wq + pl, ldc = ldy, g[c, f] =
              w[f, c, 2 - kh, 2 - kw] (the flipped weights); out -> dx[n] directly.
Every kept output reads the same input cells as the direct tiles do; the outputs of a partial
last tile (odd rows or columns) are computed and not written. Results differ from the direct
path by rounding only (relative error ~1e-6; tests/engine/test_kernels_winograd.py).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import get_thread_id, njit, prange

from ._common import FAST
from .canvas import FlatGeometry, crop_canvas, fill_canvas
from .conv_epilogue import BN, BN_RELU, RELU, load_dy, load_dy_pool, store, store_pool
from .conv_flat import COLS, FLOAT_BYTES, LANES, chunk_canvases, chunk_dw, tiles
from .winograd_ir import wino_in_rows, wino_out_rows

XI = 16  # points of the 4 x 4 transform domain

class WinoGeometry(NamedTuple):
    """The integers of one Winograd call (conv_plan builds it)."""

    rows: int    # output rows R of a sample (forward OH; dx H)
    cols: int    # output columns Q (forward OW; dx W)
    th: int      # tile rows per sample, ceil(R / 2)
    tw: int      # tile columns per sample, ceil(Q / 2)
    ldv: int     # transform-domain row (one channel, one xi) length: spc * th * tw tiles and room
    vxi: int     # V[xi] plane stride (>= input channels * ldv)
    mxi: int     # M[xi] plane stride (>= output channels padded to ROWS * ldv)
    spc: int     # samples per task


def _times_g(a: np.ndarray) -> np.ndarray:
    """G applied along the first axis (3 -> 4): (a0, (a0 + a1 + a2)/2, (a0 - a1 + a2)/2, a2)."""
    half = np.float32(0.5)
    return np.stack([a[0], (a[0] + a[1] + a[2]) * half, (a[0] - a[1] + a[2]) * half, a[2]])


def transform_weights(w: np.ndarray, out_rows: int, flip: bool = False) -> np.ndarray:
    """U [16, I, out_rows] (float32): U[4a + b, i, o] = (G g[o, i] G^T)[a, b], zero for o >= O;
    g = w [O, I, 3, 3], or with flip the dx weights g[c, f, kh, kw] = w[f, c, 2 - kh, 2 - kw]."""
    if flip:
        gt = np.ascontiguousarray(w.transpose(3, 2, 0, 1), np.float32)[::-1, ::-1]  # [kw, kh, F, C] flipped
    else:
        gt = np.ascontiguousarray(w.transpose(3, 2, 1, 0), np.float32)  # [kw, kh, C, F]
    i_, o_ = gt.shape[2:]
    u = np.zeros((XI, i_, out_rows), np.float32)
    u[:, :, :o_] = _times_g(_times_g(gt).swapaxes(0, 1)).reshape(XI, i_, o_)  # [a, b, I, O]
    return u


@njit(cache=True)
def input_transform(src: np.ndarray, s0: int, ldc: int, wq: int, ch_: int, v: np.ndarray, col0: int,
                    wg: WinoGeometry) -> None:
    """v[xi*vxi + c*ldv + col0 + ti*tw + tj] = (B^T d B)[xi] for each channel c < ch_ and tile
    (ti, tj), d the 4 x 4 cells src[s0 + c*ldc + (2ti + a)*wq + 2tj + b] (winograd_ir.wino_in_rows)."""
    nv = -(-wg.tw // LANES)
    for c in range(ch_):
        wino_in_rows(src.ctypes.data + (s0 + c * ldc) * FLOAT_BYTES, wq, nv, wg.th, wg.tw,
                     v.ctypes.data + (c * wg.ldv + col0) * FLOAT_BYTES, wg.vxi)


@njit(cache=True)
def output_transform(mm: np.ndarray, o_: int, col0: int, wg: WinoGeometry, dst: np.ndarray, d0: int, ldf: int,
                     ldr: int) -> None:
    """dst[d0 + o*ldf + i*ldr + j] = (A^T M A)[i % 2, j % 2] of tile (i // 2, j // 2), for o < o_,
    i < wg.rows, j < wg.cols; M[xi] of output channel o and tile t at mm[xi*mxi + o*ldv + col0 + t]
    (winograd_ir.wino_out_rows)."""
    nv = -(-wg.tw // LANES)
    for o in range(o_):
        wino_out_rows(mm.ctypes.data + (o * wg.ldv + col0) * FLOAT_BYTES, wg.mxi, nv, wg.th, wg.tw,
                      dst.ctypes.data + (d0 + o * ldf) * FLOAT_BYTES, ldr, wg.cols, wg.rows)


@njit(cache=True, fastmath=FAST, inline="always")
def _gemms(v: np.ndarray, u: np.ndarray, voffs: np.ndarray, mm: np.ndarray, m: int, wg: WinoGeometry) -> None:
    """mm[xi*mxi + o*ldv + t] = sum_i u[xi, i, o] * v[xi*vxi + i*ldv + t] for the tiles t of m samples
    (up to a multiple of COLS), all o < O4 of u [16, I, O4]; voffs[i] = i*ldv."""
    ncols = -(-(m * wg.th * wg.tw) // COLS) * COLS
    for xi in range(XI):
        tiles(v, xi * wg.vxi, voffs, u[xi], mm, xi * wg.mxi, wg.ldv, 0, ncols)


@njit(cache=True, fastmath=FAST, inline="always")
def _forward_task(task: int, t: int, x: np.ndarray, u: np.ndarray, voffs: np.ndarray, cvs: np.ndarray,
                  vs: np.ndarray, ms: np.ndarray, geo: FlatGeometry, wg: WinoGeometry) -> tuple[int, int]:
    """M of the samples of a task (canvas, input transform, GEMMs); returns (first sample, samples)."""
    n0 = task * wg.spc
    m, tps = min(wg.spc, x.shape[0] - n0), wg.th * wg.tw
    for j in range(m):
        fill_canvas(x, n0 + j, cvs[t], geo)
        input_transform(cvs[t], 0, geo.plane, geo.wq, x.shape[1], vs[t], j * tps, wg)
    _gemms(vs[t], u, voffs, ms[t], m, wg)
    return n0, m


@njit(parallel=True, cache=True, fastmath=FAST)
def wino_forward(x: np.ndarray, u: np.ndarray, voffs: np.ndarray, bias: np.ndarray, y: np.ndarray,
                 stats: np.ndarray, cvs: np.ndarray, vs: np.ndarray, ms: np.ndarray, ybs: np.ndarray,
                 geo: FlatGeometry, wg: WinoGeometry) -> None:
    """conv_flat.flat_forward (modes BIAS, RELU, BN*) by Winograd: u = transform_weights(w, F4);
    workspaces [threads, size]: canvas (C*plane), V (16*vxi), M (16*mxi), wide output (F4*npad)."""
    mode, tps = geo.mode, wg.th * wg.tw
    for task in prange(-(-x.shape[0] // wg.spc)):
        t = get_thread_id()
        n0, m = _forward_task(task, t, x, u, voffs, cvs, vs, ms, geo, wg)
        bn = mode == BN or mode == BN_RELU
        for j in range(m):
            output_transform(ms[t], y.shape[1], j * tps, wg, ybs[t], 0, geo.npad, geo.wq)
            store(ybs[t], geo.npad, geo.wq, n0 + j, bias, y, mode == RELU, stats[t] if bn else stats[t, :0])


@njit(parallel=True, cache=True, fastmath=FAST)
def wino_forward_pool(x: np.ndarray, u: np.ndarray, voffs: np.ndarray, bias: np.ndarray, y: np.ndarray,
                      codes: np.ndarray, cvs: np.ndarray, vs: np.ndarray, ms: np.ndarray, ybs: np.ndarray,
                      geo: FlatGeometry, wg: WinoGeometry) -> None:
    """wino_forward in mode POOL (conv_flat.flat_forward_pool)."""
    tps = wg.th * wg.tw
    for task in prange(-(-x.shape[0] // wg.spc)):
        t = get_thread_id()
        n0, m = _forward_task(task, t, x, u, voffs, cvs, vs, ms, geo, wg)
        for j in range(m):
            output_transform(ms[t], codes.shape[1], j * tps, wg, ybs[t], 0, geo.npad, geo.wq)
            store_pool(ybs[t], geo.npad, geo.wq, geo.pool, n0 + j, bias, y, codes)


@njit(cache=True, fastmath=FAST, inline="always")
def _dx_task(t: int, n0: int, m: int, ldy: int, dsize: int, dx: np.ndarray, u: np.ndarray, voffs: np.ndarray,
             dybs: np.ndarray, vs: np.ndarray, ms: np.ndarray, dcvs: np.ndarray, geo: FlatGeometry,
             wg: WinoGeometry) -> None:
    """dx of the m samples of a task from their dY' (the module doc: s0 = pt*wq + pl, ldc = ldy),
    through the canvas layout in dcvs[t] (crop_canvas)."""
    tps = wg.th * wg.tw
    for j in range(m):
        input_transform(dybs[t], j * dsize + geo.pt * geo.wq + geo.pl, ldy, geo.wq, u.shape[1], vs[t], j * tps, wg)
    _gemms(vs[t], u, voffs, ms[t], m, wg)
    for j in range(m):
        output_transform(ms[t], dx.shape[1], j * tps, wg, dcvs[t], geo.pt * geo.wq + geo.pl, geo.plane,
                         geo.wq)
        crop_canvas(dcvs[t], dx, n0 + j, geo)


@njit(parallel=True, cache=True, fastmath=FAST)
def wino_backward(x: np.ndarray, offs: np.ndarray, dy: np.ndarray, saved: np.ndarray, yconv: np.ndarray,
                  coef: np.ndarray, dwp: np.ndarray, dbp: np.ndarray, dx: np.ndarray, u: np.ndarray,
                  voffs: np.ndarray, cvs: np.ndarray, dybs: np.ndarray, vs: np.ndarray, ms: np.ndarray,
                  dcvs: np.ndarray, geo: FlatGeometry, wg: WinoGeometry) -> None:
    """conv_flat.flat_backward (modes BIAS, RELU, BN*) with dx by Winograd (u = transform_weights of
    the flipped weights [C, F, 3, 3], C4; empty: no dx); dW on the direct tiles."""
    f_rows = dwp.shape[1]
    for ch in prange(-(-x.shape[0] // geo.spc)):
        t = get_thread_id()
        n0, m, ldy, dsize = chunk_canvases(ch, t, x, cvs, dybs, f_rows, geo)
        for j in range(m):
            load_dy(dy, saved, yconv, coef, geo.mode, n0 + j, geo.oh, geo.ow, geo.wq, ldy, dybs[t],
                    j * dsize + geo.margin, dbp[t])
        chunk_dw(t, m, ldy, dsize, x.shape[1] * geo.plane, offs, dwp, cvs, dybs, geo)
        if u.shape[0]:
            _dx_task(t, n0, m, ldy, dsize, dx, u, voffs, dybs, vs, ms, dcvs, geo, wg)


@njit(parallel=True, cache=True, fastmath=FAST)
def wino_backward_pool(x: np.ndarray, offs: np.ndarray, dy: np.ndarray, codes: np.ndarray, dwp: np.ndarray,
                       dbp: np.ndarray, dx: np.ndarray, u: np.ndarray, voffs: np.ndarray, cvs: np.ndarray,
                       dybs: np.ndarray, vs: np.ndarray, ms: np.ndarray, dcvs: np.ndarray, geo: FlatGeometry,
                       wg: WinoGeometry) -> None:
    """wino_backward in mode POOL (conv_flat.flat_backward_pool)."""
    f_rows = dwp.shape[1]
    for ch in prange(-(-x.shape[0] // geo.spc)):
        t = get_thread_id()
        n0, m, ldy, dsize = chunk_canvases(ch, t, x, cvs, dybs, f_rows, geo)
        for j in range(m):
            load_dy_pool(dy, codes, geo.pool, n0 + j, geo.oh, geo.ow, geo.wq, ldy, dybs[t], j * dsize + geo.margin,
                         dbp[t])
        chunk_dw(t, m, ldy, dsize, x.shape[1] * geo.plane, offs, dwp, cvs, dybs, geo)
        if u.shape[0]:
            _dx_task(t, n0, m, ldy, dsize, dx, u, voffs, dybs, vs, ms, dcvs, geo, wg)
