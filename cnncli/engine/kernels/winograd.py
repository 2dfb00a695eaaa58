"""Winograd F(2x2, 3x3) convolution (Lavin & Gray 2016) for conv_flat's stride-1 3x3 layers.

A 2 x 2 block of outputs of a 3 x 3 correlation is computed from its 4 x 4 input tile d with
16 multiplies per (input, output) channel pair instead of 36:
    Y = A^T [ sum_c (G g[f, c] G^T) . (B^T d[c] B) ] A          (. elementwise, 4 x 4)
    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
For each of the 16 positions xi of the 4 x 4 transform domain the sum over c is a GEMM,
    M[xi][f, t] = sum_c U[xi][c, f] * V[xi][c, t]      (t: a tile of any sample of the task)
which runs on the direct path's tile (microkernel.tiles, offs[c] = c * ldv). The tiles of a
task (spc samples) are the GEMM's columns, padded to a multiple of COLS. This module holds the
transforms and the per-task steps; the parallel kernels that call them are conv_flat's (one
kernel per mode family for both methods, so that a network compiles what it uses).

Sources use conv_flat's wide layout: output (i, j) of channel f is
    sum_{c, kh, kw} g[f, c, kh, kw] * src[s0 + c*ldc + (i + kh)*wq + j + kw]
    forward:  src = the canvas of x[n] (canvas.py), s0 = 0, ldc = plane; out -> the wide
              output Y [F4, npad] that conv_epilogue.store / store_pool read
    dx:       src = dY' (conv_flat's backward), s0 = pt*wq + pl, ldc = ldy, g[c, f] =
              w[f, c, 2 - kh, 2 - kw] (the flipped weights); out -> the canvas layout
              (dcvs[t]), then crop_canvas -> dx[n].
Every kept output reads the same input cells as the direct tiles do; the outputs of a partial
last tile (odd rows or columns) are computed and not written. Results differ from the direct
path by rounding only (measured relative error 0.7e-7 .. 4e-7 of max |y|, the direct path's
0.9e-7 .. 1e-6: tests/engine/test_kernels_winograd.py).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ._common import FAST
from .canvas import FlatGeometry, crop_canvas, fill_canvas
from .microkernel import COLS, FLOAT_BYTES, LANES, tiles
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
def forward_task(task: int, t: int, x: np.ndarray, u: np.ndarray, voffs: np.ndarray, cvs: np.ndarray,
                  vs: np.ndarray, ms: np.ndarray, geo: FlatGeometry, wg: WinoGeometry) -> tuple[int, int]:
    """M of the samples of a task (canvas, input transform, GEMMs); returns (first sample, samples)."""
    n0 = task * wg.spc
    m, tps = min(wg.spc, x.shape[0] - n0), wg.th * wg.tw
    for j in range(m):
        fill_canvas(x, n0 + j, cvs[t], geo)
        input_transform(cvs[t], 0, geo.plane, geo.wq, x.shape[1], vs[t], j * tps, wg)
    _gemms(vs[t], u, voffs, ms[t], m, wg)
    return n0, m


@njit(cache=True, fastmath=FAST, inline="always")
def dx_task(t: int, n0: int, m: int, ldy: int, dsize: int, dx: np.ndarray, u: np.ndarray, voffs: np.ndarray,
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
