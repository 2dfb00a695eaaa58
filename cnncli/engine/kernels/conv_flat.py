"""Convolution (groups 1, dilation 1, equal strides) on canvases with register-blocked tiles.

A prange task builds the canvas of x[n] (canvas.py) in its thread's workspace (forward: one
sample per task; backward: a few, see conv_plan); every output is then a sum of contiguous
canvas runs, computed by the tiles of microkernel.py (4 filters x COLS = 24 or 48 outputs at a
time, or 4 x TAPS weight gradients) with no im2col copy and no GEMM packing:
    forward:  Y[f, p] = sum_k W[f, k] * cv[offs[k] + p]        k = (c, kh, kw), p < npad
    backward: dW[f, k] += sum_p dY'[f, p] * cv[offs[k] + p]     (per-thread partials)
              dcv_phase[c, q] = sum_{f, taps of the phase} W[f, c, kh, kw] * dY'[f, q - shift],
              shift = (kh//s)*Wq + kw//s, then dx[n] = the image part of dcv (crop_canvas);
              or, where that costs fewer multiply-adds (conv_plan.use_scatter), the forward's
              adjoint: dcv[offs[k] + p] += sum_f W[f, k] * dY'[f, p] (scatter tiles).
dx is thus a correlation of dY' with the flipped weights, one per stride phase (canvas.py).
Y and dY' use the wide layout p = oh*Wq + ow (columns ow >= OW junk; dY' zero there and in
its margins, so junk never reaches dW or dx). conv_plan.py builds the offset and weight
tables and the workspaces.

Epilogue / prologue modes (conv_epilogue.py), a = conv output + bias:
    BIAS: y = a                       backward: dY' = dy
    RELU: y = max(a, 0)               backward: dY' = dy * (y > 0)
    BN, BN_RELU: y = a, and stats[t] += (sum, sum of squares) of y per channel (float64), for
          batch norm (+ relu) applied after it (norm.py); backward: dY' = A*g + B + D*(y - mu)
          with g = dz (BN) or dz * (z > 0) (BN_RELU), dz the gradient of the batch-norm (+ relu)
          output z, and coef = (A, B, D, mu) per channel from norm.batchnorm_grad_coefficients.
    POOL: y = maxpool_k(max(a, 0)), kernel = stride = k, no padding, floor; codes[n, f, ph, pw]
          = index i*k + j of the window's max (first one in scan order; a NaN wins), or -1
          when that max is not > 0. Backward: dY' = dy at the coded cell, else 0.
These equal conv, relu and maxpool run one after the other (same sums, same tie rule).
"""
from __future__ import annotations

import numpy as np
from numba import get_thread_id, njit, prange

from ._common import FAST
from .canvas import FlatGeometry, crop_canvas, fill_canvas
from .conv_epilogue import BIAS, BN, BN_RELU, POOL, RELU, load_dy, load_dy_pool, store, store_pool
from .microkernel import COLS, FLOAT_BYTES, LANES, ROWS, TAPS, grad_tile, scatter_tiles, tiles
from .rowcopy import zero_run
from .winograd import WinoGeometry, dw_finish, dw_sums, dw_task, dx_task, forward_task, output_transform

__all__ = ["BIAS", "BN", "BN_RELU", "POOL", "RELU", "COLS", "LANES", "ROWS", "TAPS", "flat_backward",
           "flat_backward_pool", "flat_forward", "flat_forward_pool", "wino_backward_pool", "wino_forward_pool"]

@njit(cache=True, fastmath=FAST, inline="always")
def _forward_canvas(task: int, t: int, x: np.ndarray, offs: np.ndarray, wt: np.ndarray, cvs: np.ndarray,
                    ybs: np.ndarray, geo: FlatGeometry) -> tuple[int, int]:
    """Wide output of the samples of direct task `task` (geo.side of them, side by side) into
    ybs[t]; returns (first sample, samples). Sample j's rows start at ybs[t, j*slot]."""
    n0 = task * geo.side
    m = min(geo.side, x.shape[0] - n0)
    fill_canvas(x, n0, m, cvs[t], geo)
    start = np.int64(0)  # not a literal: one tiles for every caller (kernels/__init__.py)
    tiles(cvs[t], start, offs, wt, ybs[t], start, geo.npad, start, geo.npad)
    return n0, m


@njit(parallel=True, cache=True, fastmath=FAST)
def flat_forward(x: np.ndarray, offs: np.ndarray, wt: np.ndarray, u: np.ndarray, voffs: np.ndarray,
                 bias: np.ndarray, y: np.ndarray, stats: np.ndarray, cvs: np.ndarray, vs: np.ndarray, ms: np.ndarray,
                 ybs: np.ndarray, geo: FlatGeometry, wg: WinoGeometry) -> None:
    """Fill y (and stats [threads, 2, F] for BN*, zeroed by the caller) from x (modes BIAS,
    RELU, BN*; POOL: flat_forward_pool). Direct tiles when u is empty (wg.spc = 1): offs [K]: tap
    offsets; wt [K, F4]: weights, filters padded to a multiple of ROWS. Winograd otherwise
    (winograd.py, tasks of wg.spc samples): u = transform_weights(w, F4), voffs, V and M
    workspaces vs, ms. Workspaces [threads, size]: canvases (C*s*s*plane) and wide outputs
    (F4*npad). (The prange bodies are inlined functions: called, they were compiled twice;
    pooling has its own kernels, and both methods share this one, so that a network compiles
    only the kernels it uses: bench/PROFILE.md.)"""
    mode = geo.mode
    bn = mode == BN or mode == BN_RELU
    per_task = max(wg.spc * min(u.shape[0], 1), geo.side)  # samples: Winograd's wg.spc, or side by side
    for task in prange(-(-x.shape[0] // per_task)):
        t = get_thread_id()
        st = stats[t] if bn else stats[t, :0]
        if u.shape[0]:
            n0, m = forward_task(task, t, x, u, voffs, cvs, vs, ms, geo, wg)
            for j in range(m):
                output_transform(ms[t], y.shape[1], j * wg.th * wg.tw, wg, ybs[t], np.int64(0), geo.npad, geo.wq)
                store(ybs[t], geo.npad, geo.wq, n0 + j, bias, y, mode == RELU, st)
        else:
            n0, m = _forward_canvas(task, t, x, offs, wt, cvs, ybs, geo)
            for j in range(m):
                store(ybs[t][j * geo.slot:], geo.npad, geo.wq, n0 + j, bias, y, mode == RELU, st)


@njit(parallel=True, cache=True, fastmath=FAST)
def flat_forward_pool(x: np.ndarray, offs: np.ndarray, wt: np.ndarray, bias: np.ndarray, y: np.ndarray,
                      codes: np.ndarray, cvs: np.ndarray, ybs: np.ndarray, geo: FlatGeometry) -> None:
    """flat_forward in mode POOL: y pooled, and its codes."""
    for task in prange(-(-x.shape[0] // geo.side)):
        t = get_thread_id()
        n0, m = _forward_canvas(task, t, x, offs, wt, cvs, ybs, geo)
        for j in range(m):
            store_pool(ybs[t][j * geo.slot:], geo.npad, geo.wq, geo.pool, n0 + j, bias, y, codes)


@njit(parallel=True, cache=True, fastmath=FAST)
def wino_forward_pool(x: np.ndarray, u: np.ndarray, voffs: np.ndarray, bias: np.ndarray, y: np.ndarray,
                      codes: np.ndarray, cvs: np.ndarray, vs: np.ndarray, ms: np.ndarray, ybs: np.ndarray,
                      geo: FlatGeometry, wg: WinoGeometry) -> None:
    """flat_forward_pool by Winograd (arguments as in flat_forward)."""
    for task in prange(-(-x.shape[0] // wg.spc)):
        t = get_thread_id()
        n0, m = forward_task(task, t, x, u, voffs, cvs, vs, ms, geo, wg)
        for j in range(m):
            output_transform(ms[t], codes.shape[1], j * wg.th * wg.tw, wg, ybs[t], np.int64(0), geo.npad, geo.wq)
            store_pool(ybs[t], geo.npad, geo.wq, geo.pool, n0 + j, bias, y, codes)


@njit(cache=True, fastmath=FAST, inline="always")
def _chunk_canvases(ch: int, t: int, x: np.ndarray, cvs: np.ndarray, dybs: np.ndarray, f_rows: int,
                    geo: FlatGeometry) -> tuple[int, int, int, int, int]:
    """Canvases of the samples of task ch (geo.spc canvases of geo.side samples), and their dY'
    blocks zeroed; returns (first sample, canvases, samples, dY' row length, dY' block per canvas)."""
    n_, c_ = x.shape[0], x.shape[1]
    s, plane, margin, side = geo.s, geo.plane, geo.margin, geo.side
    ldy = margin + plane
    csize, dsize = c_ * s * s * plane, f_rows * ldy
    n0 = ch * geo.spc * side
    ns = min(geo.spc * side, n_ - n0)
    m = -(-ns // side)
    cv, dyb = cvs[t], dybs[t]
    for j in range(m):
        fill_canvas(x, n0 + j * side, min(side, ns - j * side), cv[j * csize:(j + 1) * csize], geo)
        zero_run(dyb, j * dsize, dsize)  # margins, junk columns and padding rows of dY' stay zero
    return n0, m, ns, ldy, dsize


@njit(cache=True, inline="always")
def _dy_at(k: int, dsize: int, geo: FlatGeometry) -> int:
    """Where sample k of a task starts in its dY' blocks: canvas k // side, slot k % side."""
    return (k // geo.side) * dsize + geo.margin + (k % geo.side) * geo.slot


@njit(cache=True, fastmath=FAST, inline="always")
def _chunk_dw(t: int, m: int, ldy: int, dsize: int, csize: int, offs: np.ndarray, dwp: np.ndarray, cvs: np.ndarray,
             dybs: np.ndarray, geo: FlatGeometry) -> None:
    """dwp[t] += the dW of the m canvases of a task (grad_tile on them and their dY'), over the
    vectors that hold wide outputs (dY' is zero after them: fewer than npad / LANES at 8x8)."""
    f_rows, k2 = dwp.shape[1], dwp.shape[2]
    cv, dyb = cvs[t], dybs[t]
    nv = -(-(geo.oh * geo.wq) // LANES)
    for f in range(0, f_rows, ROWS):
        for k in range(0, k2, TAPS):
            grad_tile(dyb.ctypes.data + (f * ldy + geo.margin) * FLOAT_BYTES, ldy, cv.ctypes.data,
                      offs.ctypes.data + k * 8, nv, dwp[t].ctypes.data + (f * k2 + k) * FLOAT_BYTES,
                      k2, m, dsize, csize)


@njit(cache=True, fastmath=FAST, inline="always")
def _chunk_dx(t: int, n0: int, m: int, ns: int, dsize: int, dx: np.ndarray, dx_offs: np.ndarray, dx_w: np.ndarray,
              dx_rows: np.ndarray, dybs: np.ndarray, dcvs: np.ndarray, geo: FlatGeometry) -> None:
    """dx of the ns samples (m canvases) of a task on the direct tiles, from their dY' (nothing
    when dx_rows is empty): by scatter tiles when geo.scatter (dx_w [F, K4] the weights of the
    taps in dx_offs [K4], their canvas offsets), else per stride phase (dx_rows)."""
    if dx_rows.shape[0] == 0:
        return
    s, plane = geo.s, geo.plane
    dyb, dcv = dybs[t], dcvs[t]
    if geo.scatter:
        for j in range(m):
            zero_run(dcv, 0, dx.shape[1] * s * s * plane)
            scatter_tiles(dyb, j * dsize + geo.margin, geo.margin + plane, dx_w.shape[0], dx_w, dcv, dx_offs,
                          geo.npad)
            crop_canvas(dcv, dx, n0 + j * geo.side, min(geo.side, ns - j * geo.side), geo)
        return
    for ph in range(s * s):  # phases no tap reads get no gradient
        if ph // s >= geo.kh or ph % s >= geo.kw:
            for c in range(dx_w.shape[1]):
                zero_run(dcv, (c * s * s + ph) * plane, plane)
    for j in range(m):
        for r in range(dx_rows.shape[0]):
            ph, q0, q1, e0 = dx_rows[r, 0], dx_rows[r, 1], dx_rows[r, 2], dx_rows[r, 3]
            e1 = dx_rows[r + 1, 3] if r + 1 < dx_rows.shape[0] else dx_offs.size
            tiles(dyb, j * dsize, dx_offs[e0:e1], dx_w[e0:e1], dcv, ph * plane, s * s * plane, q0, q1)
        crop_canvas(dcv, dx, n0 + j * geo.side, min(geo.side, ns - j * geo.side), geo)


@njit(parallel=True, cache=True, fastmath=FAST)
def flat_backward(x: np.ndarray, offs: np.ndarray, dy: np.ndarray, saved: np.ndarray, yconv: np.ndarray,
                  coef: np.ndarray, dwp: np.ndarray, dbp: np.ndarray, dx: np.ndarray, dx_offs: np.ndarray,
                  dx_w: np.ndarray, dx_rows: np.ndarray, u: np.ndarray, voffs: np.ndarray, cvs: np.ndarray,
                  dybs: np.ndarray, dcvs: np.ndarray, vs: np.ndarray, ms: np.ndarray, geo: FlatGeometry,
                  wg: WinoGeometry, wd: WinoGeometry) -> None:
    """dwp[t] += dW [F4, K2] and dbp[t] += db for thread t (zeroed by the caller; dbp [threads, 0]
    skips db); dx when dx_rows is not empty. Modes BIAS, RELU, BN*; POOL: flat_backward_pool.
    Each task takes geo.spc canvases of geo.side samples (but see Winograd dW below).

    dy is dL/dy of the fused op's output; `saved` is the RELU or BN_RELU output, `yconv` the
    conv output and `coef` [4, F] the batch-norm coefficients (BN*). offs [K2]: tap offsets
    (padded to a multiple of TAPS). Canvas j of a task (geo.side samples side by side) is at
    cvs[t, j*csize:] and its dY' rows at dybs[t, j*F4*ldy:], rows of ldy = margin + plane floats
    with the wide values at [margin, margin + npad) (sample i of the canvas from column i*slot
    on). For each stride phase (dx_rows [phases, 4] = phase, first q, end q, first table entry),
    dx_offs / dx_w rows from that entry on hold its taps' offsets into dY' and weights [K', C4].
    dx by Winograd when u is not empty (wg); dW by Winograd when wd.ldv > 0 (winograd.dw_task;
    geo.side is 1 then): a task takes wd.spc samples, geo.spc at a time, and dwp[task], dbp[task]
    get its dW and db (not per thread: the same bits at 1 and 2 threads)."""
    f_rows, c_ = dwp.shape[1], x.shape[1]
    groups = -(-x.shape[0] // (geo.spc * geo.side))
    per = wd.spc // geo.spc if wd.ldv else 1
    for task in prange((groups + per - 1) // per):
        t = get_thread_id()
        part = np.int64(task) if wd.ldv else np.int64(t)  # the dbp row (and dwp row of the Winograd dW)
        if wd.ldv:
            dw_sums(t, c_, f_rows, ms, wd)
        for ch in range(task * per, min(groups, (task + 1) * per)):
            n0, m, ns, ldy, dsize = _chunk_canvases(ch, t, x, cvs, dybs, f_rows, geo)
            for k in range(ns):
                load_dy(dy, saved, yconv, coef, geo.mode, n0 + k, geo.oh, geo.ow, geo.wq, ldy, dybs[t],
                        _dy_at(k, dsize, geo), dbp[part])
            if wd.ldv:
                dw_task(t, m, ldy, dsize, c_, f_rows, cvs, dybs, vs, ms, geo, wd)
            else:
                _chunk_dw(t, m, ldy, dsize, c_ * geo.s * geo.s * geo.plane, offs, dwp, cvs, dybs, geo)
            if u.shape[0]:
                dx_task(t, n0, m, ldy, dsize, dx, u, voffs, dybs, vs, ms, dcvs, geo, wg)
            else:
                _chunk_dx(t, n0, m, ns, dsize, dx, dx_offs, dx_w, dx_rows, dybs, dcvs, geo)
        if wd.ldv:
            dw_finish(t, c_, ms, dwp[part], wd)


@njit(cache=True, fastmath=FAST, inline="always")
def _pool_chunk(ch: int, t: int, x: np.ndarray, dy: np.ndarray, codes: np.ndarray, db: np.ndarray, cvs: np.ndarray,
                dybs: np.ndarray, f_rows: int, geo: FlatGeometry) -> tuple[int, int, int, int, int]:
    """_chunk_canvases, then dY' of each sample of task ch from the pooled gradient (mode POOL);
    the prologue of both pool kernels."""
    n0, m, ns, ldy, dsize = _chunk_canvases(ch, t, x, cvs, dybs, f_rows, geo)
    for k in range(ns):
        load_dy_pool(dy, codes, geo.pool, n0 + k, geo.oh, geo.ow, geo.wq, ldy, dybs[t], _dy_at(k, dsize, geo), db)
    return n0, m, ns, ldy, dsize


@njit(parallel=True, cache=True, fastmath=FAST)
def flat_backward_pool(x: np.ndarray, offs: np.ndarray, dy: np.ndarray, codes: np.ndarray, dwp: np.ndarray,
                       dbp: np.ndarray, dx: np.ndarray, dx_offs: np.ndarray, dx_w: np.ndarray,
                       dx_rows: np.ndarray, cvs: np.ndarray, dybs: np.ndarray, dcvs: np.ndarray,
                       geo: FlatGeometry) -> None:
    """flat_backward in mode POOL: dy is the gradient of the pooled output, codes its choices."""
    for ch in prange(-(-x.shape[0] // (geo.spc * geo.side))):
        t = get_thread_id()
        n0, m, ns, ldy, dsize = _pool_chunk(ch, t, x, dy, codes, dbp[t], cvs, dybs, dwp.shape[1], geo)
        _chunk_dw(t, m, ldy, dsize, x.shape[1] * geo.s * geo.s * geo.plane, offs, dwp, cvs, dybs, geo)
        _chunk_dx(t, n0, m, ns, dsize, dx, dx_offs, dx_w, dx_rows, dybs, dcvs, geo)


@njit(parallel=True, cache=True, fastmath=FAST)
def wino_backward_pool(x: np.ndarray, offs: np.ndarray, dy: np.ndarray, codes: np.ndarray, dwp: np.ndarray,
                       dbp: np.ndarray, dx: np.ndarray, u: np.ndarray, voffs: np.ndarray, cvs: np.ndarray,
                       dybs: np.ndarray, dcvs: np.ndarray, vs: np.ndarray, ms: np.ndarray, geo: FlatGeometry,
                       wg: WinoGeometry, wd: WinoGeometry) -> None:
    """flat_backward_pool with dx by Winograd, and dW too when wd.ldv > 0 (arguments as in flat_backward)."""
    f_rows, c_ = dwp.shape[1], x.shape[1]
    groups = (x.shape[0] + geo.spc - 1) // geo.spc
    per = wd.spc // geo.spc if wd.ldv else 1
    for task in prange((groups + per - 1) // per):
        t = get_thread_id()
        part = np.int64(task) if wd.ldv else np.int64(t)
        if wd.ldv:
            dw_sums(t, c_, f_rows, ms, wd)
        for ch in range(task * per, min(groups, (task + 1) * per)):
            n0, m, _, ldy, dsize = _pool_chunk(ch, t, x, dy, codes, dbp[part], cvs, dybs, f_rows, geo)
            if wd.ldv:
                dw_task(t, m, ldy, dsize, c_, f_rows, cvs, dybs, vs, ms, geo, wd)
            else:
                _chunk_dw(t, m, ldy, dsize, c_ * geo.plane, offs, dwp, cvs, dybs, geo)
            dx_task(t, n0, m, ldy, dsize, dx, u, voffs, dybs, vs, ms, dcvs, geo, wg)
        if wd.ldv:
            dw_finish(t, c_, ms, dwp[part], wd)
