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
    dW:       the gradient of U[xi] = G g G^T, with V of x (forward) and dM = A dY' A^T per 2 x 2
              block of dY' (winograd_ir.wino_dy_rows), is a GEMM reducing over the tiles t:
                  dU[xi][f, c] = sum_t dM[xi][f, t] * V[xi][c, t]       (microkernel.grad_block)
              summed per task in float32, then dW[f, c] = G^T dU[f, c] G per task (dw_finish),
              the tasks' dW summed in task order by the caller.
F(4x4, 3x3) (wg.m = 4, where conv_plan.use_winograd4 picks it) is the same scheme with 4 x 4
output blocks from 6 x 6 tiles at a stride of 4: 36 transform points, so 36 multiplies per 16
outputs and channel pair where F(2x2, 3x3) needs 64 (transform_weights' G, winograd4_ir's B^T,
A^T and A, _dw_finish4's G^T), for the forward, dx and dW alike. Its larger coefficients (up to 8
and 1/24) round more: 2e-6 .. 7e-6 of max |y| (tests/engine/test_kernels_winograd.py).
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
from .microkernel import COLS, FLOAT_BYTES, LANES, ROWS, grad_block, tiles
from .rowcopy import zero_run
from .winograd4_ir import (
    XI4,
    wino4_dy_rows,
    wino4_dy_rows_2,
    wino4_dy_rows_4,
    wino4_in_rows,
    wino4_in_rows_2,
    wino4_in_rows_4,
    wino4_out_rows,
    wino4_out_rows_2,
    wino4_out_rows_4,
)
from .winograd_ir import (
    wino_dy_rows,
    wino_dy_rows_2,
    wino_dy_rows_4,
    wino_in_rows,
    wino_in_rows_2,
    wino_in_rows_4,
    wino_out_rows,
    wino_out_rows_2,
    wino_out_rows_4,
)

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
    m: int = 2   # output block: F(2x2, 3x3), or 4: F(4x4, 3x3) (winograd4_ir; 6 x 6 tiles at a stride of 4)


@njit(cache=True, inline="always")
def _times_g(a0: np.ndarray, a1: np.ndarray, a2: np.ndarray, m: int, out: np.ndarray) -> None:
    """out[r, j] = (G (a0[j], a1[j], a2[j]))[r], G of F(m x m, 3 x 3): m = 2: (a0, (a0 + a1 + a2)/2,
    (a0 - a1 + a2)/2, a2); m = 4: (a0/4, -(a0 + a1 + a2)/6, -(a0 - a1 + a2)/6, a0/24 + a1/12 + a2/6,
    a0/24 - a1/12 + a2/6, a2). Float32 arithmetic in this order."""
    half, sixth = np.float32(0.5), np.float32(-1 / 6)
    for j in range(a0.shape[0]):
        x0, x1, x2 = a0[j], a1[j], a2[j]
        if m == 2:
            out[0, j], out[1, j], out[2, j], out[3, j] = x0, (x0 + x1 + x2) * half, (x0 - x1 + x2) * half, x2
        else:
            even, odd = x0 * np.float32(1 / 24) + x2 * np.float32(1 / 6), x1 * np.float32(1 / 12)
            out[0, j], out[1, j], out[2, j] = x0 * np.float32(0.25), (x0 + x1 + x2) * sixth, (x0 - x1 + x2) * sixth
            out[3, j], out[4, j], out[5, j] = even + odd, even - odd, x2


@njit(cache=True)
def _transform_into(g: np.ndarray, m: int, u: np.ndarray) -> None:
    """u[(m + 2)a + b, i, :O] = (G g[:, :, i] G^T)[a, b] for g [3, 3, I, O]: G along kw, then along kh,
    a row of O outputs at a time."""
    n, i_, o_ = m + 2, g.shape[2], g.shape[3]
    along_kw = np.empty((3, n, o_), np.float32)
    for i in range(i_):
        for kh in range(3):
            _times_g(g[kh, 0, i], g[kh, 1, i], g[kh, 2, i], m, along_kw[kh])
        for b in range(n):
            _times_g(along_kw[0, b], along_kw[1, b], along_kw[2, b], m, u[b::n, i, :o_])


def transform_weights(w: np.ndarray, out_rows: int, flip: bool = False, m: int = 2) -> np.ndarray:
    """U [(m + 2)^2, I, out_rows] (float32): U[(m + 2)a + b, i, o] = (G g[o, i] G^T)[a, b], zero for
    o >= O; g = w [O, I, 3, 3], or with flip the dx weights g[c, f, kh, kw] = w[f, c, 2 - kh, 2 - kw];
    G of F(m x m, 3 x 3) (_times_g). No BLAS call: a threaded sgemm here left OpenBLAS's threads
    spinning against the kernels' (a 64-channel layer 2-3x slower), and NumPy's temporaries took
    0.41 ms for a 64x64 layer at m = 2, a fifth of its forward (bench/PROFILE.md)."""
    if flip:
        g = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1), np.float32)  # [kh, kw, F, C]
    else:
        g = np.ascontiguousarray(w.transpose(2, 3, 1, 0), np.float32)  # [kh, kw, C, F]
    u = np.zeros(((m + 2) ** 2, g.shape[2], out_rows), np.float32)
    _transform_into(g, m, u)
    return u


@njit(cache=True)
def input_transform(src: np.ndarray, s0: int, ldc: int, wq: int, ch_: int, v: np.ndarray, col0: int,
                    wg: WinoGeometry) -> None:
    """v[xi*vxi + c*ldv + col0 + ti*tw + tj] = (B^T d B)[xi] for each channel c < ch_ and tile
    (ti, tj): F(2x2, 3x3), d the 4 x 4 cells src[s0 + c*ldc + (2ti + a)*wq + 2tj + b]
    (winograd_ir.wino_in_rows; the _4 / _2 forms, 4 or 2 tile rows per vector, when tw = LANES / 4
    or LANES / 2); F(4x4, 3x3) (wg.m = 4), the 6 x 6 cells from row 4ti, column 4tj (winograd4_ir)."""
    nv = -(-wg.tw // LANES)
    for c in range(ch_):
        s, d = src.ctypes.data + (s0 + c * ldc) * FLOAT_BYTES, v.ctypes.data + (c * wg.ldv + col0) * FLOAT_BYTES
        if wg.m == 4:
            if 4 * wg.tw == LANES:
                wino4_in_rows_4(s, wq, nv, wg.th, wg.tw, d, wg.vxi)
            elif 2 * wg.tw == LANES:
                wino4_in_rows_2(s, wq, nv, wg.th, wg.tw, d, wg.vxi)
            else:
                wino4_in_rows(s, wq, nv, wg.th, wg.tw, d, wg.vxi)
        elif 4 * wg.tw == LANES:
            wino_in_rows_4(s, wq, nv, wg.th, wg.tw, d, wg.vxi)
        elif 2 * wg.tw == LANES:
            wino_in_rows_2(s, wq, nv, wg.th, wg.tw, d, wg.vxi)
        else:
            wino_in_rows(s, wq, nv, wg.th, wg.tw, d, wg.vxi)


@njit(cache=True)
def output_transform(mm: np.ndarray, o_: int, col0: int, wg: WinoGeometry, dst: np.ndarray, d0: int, ldf: int,
                     ldr: int) -> None:
    """dst[d0 + o*ldf + i*ldr + j] = (A^T M A)[i % m, j % m] of tile (i // m, j // m), for o < o_,
    i < wg.rows, j < wg.cols, m = wg.m; M[xi] of output channel o and tile t at mm[xi*mxi + o*ldv +
    col0 + t] (winograd_ir.wino_out_rows, winograd4_ir.wino4_out_rows, or their _4 / _2 forms as in
    input_transform)."""
    nv = -(-wg.tw // LANES)
    for o in range(o_):
        s, d = mm.ctypes.data + (o * wg.ldv + col0) * FLOAT_BYTES, dst.ctypes.data + (d0 + o * ldf) * FLOAT_BYTES
        if wg.m == 4:
            if 4 * wg.tw == LANES:
                wino4_out_rows_4(s, wg.mxi, nv, wg.th, wg.tw, d, ldr, wg.cols, wg.rows)
            elif 2 * wg.tw == LANES:
                wino4_out_rows_2(s, wg.mxi, nv, wg.th, wg.tw, d, ldr, wg.cols, wg.rows)
            else:
                wino4_out_rows(s, wg.mxi, nv, wg.th, wg.tw, d, ldr, wg.cols, wg.rows)
        elif 4 * wg.tw == LANES:
            wino_out_rows_4(s, wg.mxi, nv, wg.th, wg.tw, d, ldr, wg.cols, wg.rows)
        elif 2 * wg.tw == LANES:
            wino_out_rows_2(s, wg.mxi, nv, wg.th, wg.tw, d, ldr, wg.cols, wg.rows)
        else:
            wino_out_rows(s, wg.mxi, nv, wg.th, wg.tw, d, ldr, wg.cols, wg.rows)


@njit(cache=True)
def dy_transform(src: np.ndarray, s0: int, ldc: int, wq: int, ch_: int, v: np.ndarray, col0: int,
                 wg: WinoGeometry) -> None:
    """v[xi*mxi + c*ldv + col0 + ti*tw + tj] = (A D A^T)[xi] for each channel c < ch_ and tile (ti, tj):
    F(2x2, 3x3), D the 2 x 2 cells src[s0 + c*ldc + (2ti + i)*wq + 2tj + k], 0 past wg.cols
    (winograd_ir.wino_dy_rows); F(4x4, 3x3), the 4 x 4 cells from row 4ti, column 4tj
    (winograd4_ir.wino4_dy_rows); or their _4 / _2 forms as in input_transform."""
    nv = -(-wg.tw // LANES)
    for c in range(ch_):
        s, d = src.ctypes.data + (s0 + c * ldc) * FLOAT_BYTES, v.ctypes.data + (c * wg.ldv + col0) * FLOAT_BYTES
        if wg.m == 4:
            if 4 * wg.tw == LANES:
                wino4_dy_rows_4(s, wq, nv, wg.th, wg.tw, d, wg.mxi)
            elif 2 * wg.tw == LANES:
                wino4_dy_rows_2(s, wq, nv, wg.th, wg.tw, d, wg.mxi)
            else:
                wino4_dy_rows(s, wq, nv, wg.th, wg.tw, d, wg.mxi)
        elif 4 * wg.tw == LANES:
            wino_dy_rows_4(s, wq, nv, wg.th, wg.tw, d, wg.mxi, wg.cols)
        elif 2 * wg.tw == LANES:
            wino_dy_rows_2(s, wq, nv, wg.th, wg.tw, d, wg.mxi, wg.cols)
        else:
            wino_dy_rows(s, wq, nv, wg.th, wg.tw, d, wg.mxi, wg.cols)


@njit(cache=True, fastmath=FAST, inline="always")
def _gemms(v: np.ndarray, u: np.ndarray, voffs: np.ndarray, mm: np.ndarray, m: int, wg: WinoGeometry) -> None:
    """mm[xi*mxi + o*ldv + t] = sum_i u[xi, i, o] * v[xi*vxi + i*ldv + t] for the tiles t of m samples
    (up to a multiple of COLS), all o < O4 of u [16 or 36, I, O4]; voffs[i] = i*ldv."""
    ncols = -(-(m * wg.th * wg.tw) // COLS) * COLS
    for xi in range(u.shape[0]):
        tiles(v, xi * wg.vxi, voffs, u[xi], mm, xi * wg.mxi, wg.ldv, np.int64(0), ncols)


@njit(cache=True, fastmath=FAST, inline="always")
def forward_task(task: int, t: int, x: np.ndarray, u: np.ndarray, voffs: np.ndarray, cvs: np.ndarray,
                  vs: np.ndarray, ms: np.ndarray, geo: FlatGeometry, wg: WinoGeometry) -> tuple[int, int]:
    """M of the samples of a task (canvas, input transform, GEMMs); returns (first sample, samples)."""
    n0 = task * wg.spc
    m, tps = min(wg.spc, x.shape[0] - n0), wg.th * wg.tw
    for j in range(m):
        fill_canvas(x, n0 + j, np.int64(1), cvs[t], geo)
        input_transform(cvs[t], np.int64(0), geo.plane, geo.wq, x.shape[1], vs[t], j * tps, wg)
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
        output_transform(ms[t], dx.shape[1], j * tps, wg, dcvs[t], geo.pt * geo.wq + geo.pl, geo.plane, geo.wq)
        crop_canvas(dcvs[t], dx, n0 + j, np.int64(1), geo)


@njit(cache=True, fastmath=FAST)
def dw_task(t: int, m: int, ldy: int, dsize: int, c_: int, f_rows: int, cvs: np.ndarray, dybs: np.ndarray,
            vs: np.ndarray, ms: np.ndarray, geo: FlatGeometry, wd: WinoGeometry) -> None:
    """dU (module doc) of m samples, from their canvases (cvs[t], c_ channels) and dY' (dybs[t],
    f_rows rows), added to the thread's sums at the end of ms[t] (dw_sums). V and dM get zeros
    from the last tile up to a whole vector. (dw_task, dw_sums and dw_finish are called, not
    inlined: 0.4 s less compilation, the same speed; PROFILE.md.)"""
    tps, csize, c_rows = wd.th * wd.tw, c_ * geo.plane, -(-c_ // ROWS) * ROWS
    xis = (wd.m + 2) * (wd.m + 2)
    v, mm = vs[t], ms[t]
    for j in range(m):
        input_transform(cvs[t], j * csize, geo.plane, geo.wq, c_, v, j * tps, wd)
        dy_transform(dybs[t], j * dsize + geo.margin, ldy, geo.wq, f_rows, mm, j * tps, wd)
    nv = -(-(m * tps) // LANES)
    tail = nv * LANES - m * tps
    for xi in range(xis):
        for c in range(c_):
            zero_run(v, xi * wd.vxi + c * wd.ldv + m * tps, tail)
        for f in range(f_rows):
            zero_run(mm, xi * wd.mxi + f * wd.ldv + m * tps, tail)
    block = mm.size - xis * f_rows * c_rows
    for xi in range(xis):
        for f in range(0, f_rows, ROWS):
            for c in range(0, c_rows, ROWS):
                grad_block(mm.ctypes.data + (xi * wd.mxi + f * wd.ldv) * FLOAT_BYTES, wd.ldv,
                           v.ctypes.data + (xi * wd.vxi + c * wd.ldv) * FLOAT_BYTES, wd.ldv, nv,
                           mm.ctypes.data + block * FLOAT_BYTES)
                block += ROWS * ROWS


@njit(cache=True, fastmath=FAST)
def dw_sums(t: int, c_: int, f_rows: int, ms: np.ndarray, wd: WinoGeometry) -> None:
    """Zero thread t's dU sums: the last (m + 2)^2*F4*C4 floats of ms[t], 4 x 4 blocks (grad_block) with
    dU[xi][f, c] at ((xi*F4/4 + f//4)*C4/4 + c//4)*16 + 4*(f % 4) + c % 4."""
    size = (wd.m + 2) * (wd.m + 2) * f_rows * (-(-c_ // ROWS) * ROWS)
    zero_run(ms[t], ms.shape[1] - size, size)


@njit(cache=True, fastmath=FAST)
def dw_finish(t: int, c_: int, ms: np.ndarray, dw: np.ndarray, wd: WinoGeometry) -> None:
    """dW from thread t's dU sums, by wd.m: F(2x2, 3x3) (_dw_finish2) or F(4x4, 3x3) (_dw_finish4)."""
    if wd.m == 4:
        _dw_finish4(t, c_, ms, dw)
    else:
        _dw_finish2(t, c_, ms, dw)


@njit(cache=True, fastmath=FAST)
def _dw_finish2(t: int, c_: int, ms: np.ndarray, dw: np.ndarray) -> None:
    """dw[f, 9c + 3kh + kw] = (G^T dU[f, c] G)[kh, kw] from thread t's sums (dw_sums), dw [F4, K2]."""
    f_rows, c_rows = dw.shape[0], -(-c_ // ROWS) * ROWS
    du = ms[t, ms.shape[1] - XI * f_rows * c_rows:]
    plane = f_rows * c_rows
    r = np.empty((3, 4), np.float32)
    for f in range(f_rows):
        for c in range(c_):
            at = ((f // ROWS) * (c_rows // ROWS) + c // ROWS) * ROWS * ROWS + (f % ROWS) * ROWS + c % ROWS
            for b in range(4):  # G^T along a (rows of dU[f, c])
                d0, d1, d2, d3 = du[at + b * plane], du[at + (4 + b) * plane], du[at + (8 + b) * plane], \
                    du[at + (12 + b) * plane]
                r[0, b], r[1, b], r[2, b] = d0 + 0.5 * (d1 + d2), 0.5 * (d1 - d2), 0.5 * (d1 + d2) + d3
            for kh in range(3):  # then G along b
                e0, e1, e2, e3 = r[kh, 0], r[kh, 1], r[kh, 2], r[kh, 3]
                o = 9 * c + 3 * kh
                dw[f, o], dw[f, o + 1], dw[f, o + 2] = e0 + 0.5 * (e1 + e2), 0.5 * (e1 - e2), 0.5 * (e1 + e2) + e3


@njit(cache=True, fastmath=FAST)
def _dw_finish4(t: int, c_: int, ms: np.ndarray, dw: np.ndarray) -> None:
    """_dw_finish2 for F(4x4, 3x3): dw[f, 9c + 3kh + kw] = (G^T dU[f, c] G)[kh, kw], dU 6 x 6 (dw_sums), with
    G^T = [[1/4, -1/6, -1/6, 1/24, 1/24, 0], [0, -1/6, 1/6, 1/12, -1/12, 0], [0, -1/6, -1/6, 1/6, 1/6, 1]]."""
    f_rows, c_rows = dw.shape[0], -(-c_ // ROWS) * ROWS
    du = ms[t, ms.shape[1] - XI4 * f_rows * c_rows:]
    plane = f_rows * c_rows
    r = np.empty((3, 6), np.float32)
    sixth, twelfth, quarter, f24 = np.float32(1 / 6), np.float32(1 / 12), np.float32(0.25), np.float32(1 / 24)
    for f in range(f_rows):
        for c in range(c_):
            at = ((f // ROWS) * (c_rows // ROWS) + c // ROWS) * ROWS * ROWS + (f % ROWS) * ROWS + c % ROWS
            for b in range(6):  # G^T along a (rows of dU[f, c])
                d0, d1, d2 = du[at + b * plane], du[at + (6 + b) * plane], du[at + (12 + b) * plane]
                d3, d4, d5 = du[at + (18 + b) * plane], du[at + (24 + b) * plane], du[at + (30 + b) * plane]
                s12, s34 = d1 + d2, d3 + d4
                r[0, b] = quarter * d0 - sixth * s12 + f24 * s34
                r[1, b] = sixth * (d2 - d1) + twelfth * (d3 - d4)
                r[2, b] = sixth * (s34 - s12) + d5
            for kh in range(3):  # then G along b
                e0, e1, e2, e3, e4, e5 = r[kh, 0], r[kh, 1], r[kh, 2], r[kh, 3], r[kh, 4], r[kh, 5]
                s12, s34 = e1 + e2, e3 + e4
                o = 9 * c + 3 * kh
                dw[f, o] = quarter * e0 - sixth * s12 + f24 * s34
                dw[f, o + 1] = sixth * (e2 - e1) + twelfth * (e3 - e4)
                dw[f, o + 2] = sixth * (s34 - s12) + e5
