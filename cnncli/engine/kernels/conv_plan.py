"""Geometry, tap tables and workspaces for conv_flat (layouts: canvas.py, conv_flat.py).

The shape-only part (canvas sizes, tap offsets, the stride phases of the input gradient) is
computed once per layer shape and cached; the weight tables are rebuilt on every call (they
are small: K x F and K' x C floats).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cnncli.shapes import conv_out

from ._common import THREADS, quad, scratch
from .canvas import FlatGeometry, tap_offset
from .conv_flat import COLS, LANES, POOL, ROWS, TAPS, flat_backward, flat_backward_pool, flat_forward, flat_forward_pool

_CHUNK_BYTES = 256 * 1024  # backward: canvases + dY' of the samples of one task, about L2 ...
_MAX_CHUNK_BYTES = 1024 * 1024  # ... unless small images need more samples for:
_MIN_REDUCTION = 128  # vectors summed per grad_tile call, so that its horizontal sums stay cheap (PROFILE.md)

Pads = tuple[int, int, int, int]
NO_CODES = np.empty((0, 0, 0, 0), np.int8)  # placeholders for the arrays a mode does not use
NO_COEF = np.empty((0, 0), np.float32)


def _up(v: int, m: int) -> int:
    return -(-v // m) * m


@dataclass(frozen=True)
class Geometry:
    """Everything about one conv_flat shape that does not depend on the weights."""

    c: int
    f: int
    kh: int
    kw: int
    s: int
    pt: int
    pl: int
    oh: int
    ow: int
    wq: int        # canvas / wide row length
    plane: int     # canvas plane stride (zeros past the image, room for a last tile)
    npad: int      # wide output columns, a multiple of COLS
    margin: int    # zeros before dY' (the largest tap shift)
    offs: np.ndarray      # [K2] canvas offset of each tap (c, kh, kw), padded with 0
    dx_offs: np.ndarray   # [E] dY' offset of each (f, kh, kw), grouped by stride phase
    dx_taps: np.ndarray   # [E, 3] its (f, kh, kw)
    dx_rows: np.ndarray   # [phases, 4] (phase, first q, end q, first entry)

    @property
    def ldy(self) -> int:
        return self.margin + self.plane

    def kernel_args(self, mode: int, pool: int, spc: int = 1) -> FlatGeometry:
        """The `geo` argument of conv_flat's kernels."""
        return FlatGeometry(self.kh, self.kw, self.s, self.pt, self.pl, self.wq, self.plane, self.npad, self.margin,
                            self.oh, self.ow, mode, pool, spc)


def conv2d_output_hw(h: int, width: int, kernel: tuple[int, int], stride: tuple[int, int], pads: Pads,
                     dilation: tuple[int, int]) -> tuple[int, int]:
    """(OH, OW) by cnncli.shapes.conv_out, the one home of the formula; ValueError if empty."""
    oh = conv_out(h, kernel[0], (pads[0], pads[1]), stride[0], dilation[0])
    ow = conv_out(width, kernel[1], (pads[2], pads[3]), stride[1], dilation[1])
    if oh <= 0 or ow <= 0:
        raise ValueError(f"conv2d output would be empty: {oh}x{ow}")
    return oh, ow


@lru_cache(maxsize=256)
def geometry(c: int, h: int, width: int, f: int, kh: int, kw: int, s: int, pads: Pads) -> Geometry:
    """The canvas layout of canvas.py for these shapes (stride s, pads top, bottom, left, right)."""
    pt, pb, pl, pr = pads
    oh, ow = conv2d_output_hw(h, width, (kh, kw), (s, s), pads, (1, 1))
    if s == 1:  # shared zero columns between rows when the reads allow it (canvas.py)
        wq = width + (max(pl, pr) if kw - 1 >= min(pl, pr) else pl + pr)
        hq = h + pt + pb + 1
    else:
        wq, hq = -(-(width + pl + pr) // s), -(-(h + pt + pb) // s) + 1
    plane = _up(hq * wq, COLS) + COLS
    margin = ((kh - 1) // s) * wq + (kw - 1) // s
    taps = [(ci, a, b) for ci in range(c) for a in range(kh) for b in range(kw)]
    offs = np.zeros(_up(len(taps), TAPS), np.int64)
    offs[:len(taps)] = [tap_offset(ci, a, b, s, wq, plane) for ci, a, b in taps]
    entries, rows = [], []
    for ph in range(s * s):
        a, b = divmod(ph, s)
        mine = [(fi, u, v) for fi in range(f) for u in range(a, kh, s) for v in range(b, kw, s)]
        if not mine:
            continue
        i0, i1 = -(-(pt - a) // s), -(-(pt + h - a) // s)  # canvas rows of this phase holding pixels
        q0 = max(i0, 0) * wq
        rows.append((ph, q0, q0 + _up((i1 - max(i0, 0)) * wq, COLS), len(entries)))
        entries += mine
    ldy = margin + plane
    dx_offs = np.array([fi * ldy + margin - (u // s) * wq - v // s for fi, u, v in entries], np.int64)
    return Geometry(c, f, kh, kw, s, pt, pl, oh, ow, wq, plane, _up(oh * wq, COLS), margin, offs, dx_offs,
                    np.array(entries, np.int64).reshape(-1, 3), np.array(rows, np.int64).reshape(-1, 4))


def _samples_per_task(n: int, per_sample: int, vectors: int) -> int:
    """Samples per backward task: fill about _CHUNK_BYTES, or reach _MIN_REDUCTION vectors per
    grad_tile call within _MAX_CHUNK_BYTES; then evened out to a whole number of tasks per
    thread (the static schedule gives each thread the same count)."""
    want = max(_CHUNK_BYTES // per_sample, -(-_MIN_REDUCTION // max(vectors, 1)))
    want = max(1, min(want, _MAX_CHUNK_BYTES // per_sample))
    tasks_per_thread = max(1, round(n / (THREADS * want)))
    return -(-n // (THREADS * tasks_per_thread))


def plan_for(x: np.ndarray, w: np.ndarray, stride: int, pads: Pads) -> Geometry:
    n, c, h, width = x.shape
    f, cg, kh, kw = w.shape
    if cg != c:
        raise ValueError(f"conv2d: x has {c} channels, w {w.shape}")
    return geometry(c, h, width, f, kh, kw, stride, quad(pads))


def flat_conv_forward(g: Geometry, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, y: np.ndarray,
                      mode: int, pool: int = 0, codes: np.ndarray | None = None) -> np.ndarray:
    """Run flat_forward into y; returns the BN statistics [2, F] (zeros for other modes)."""
    k, f_rows = g.c * g.kh * g.kw, _up(g.f, ROWS)
    wt = np.zeros((k, f_rows), x.dtype)
    wt[:, :g.f] = w.reshape(g.f, k).T
    bias = np.zeros(g.f, x.dtype) if b is None else b
    stats = np.zeros((THREADS, 2, g.f))
    cvs = scratch("flat_canvas", (THREADS, g.c * g.s * g.s * g.plane), x.dtype)
    ybs = scratch("flat_out", (THREADS, f_rows * g.npad), x.dtype)
    if mode == POOL:
        flat_forward_pool(x, g.offs[:k], wt, bias, y, codes, cvs, ybs, g.kernel_args(mode, pool))
    else:
        flat_forward(x, g.offs[:k], wt, bias, y, stats, cvs, ybs, g.kernel_args(mode, pool))
    return stats.sum(axis=0)


def flat_conv_backward(g: Geometry, x: np.ndarray, w: np.ndarray, dy: np.ndarray, mode: int, need_dx: bool,
                       need_db: bool, pool: int = 0, saved: np.ndarray | None = None,
                       yconv: np.ndarray | None = None, coef: np.ndarray | None = None,
                       codes: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """(dx or None, dw, db or None) through flat_backward (arguments as in conv_flat)."""
    k, f_rows, c_rows = g.c * g.kh * g.kw, _up(g.f, ROWS), _up(g.c, ROWS)
    dwp = np.zeros((THREADS, f_rows, g.offs.size), x.dtype)
    dbp = np.zeros((THREADS, g.f if need_db else 0), x.dtype)
    dx = np.empty_like(x) if need_dx else x[:0]
    if need_dx:
        fi, u, v = g.dx_taps.T
        dx_w = np.zeros((len(fi), c_rows), x.dtype)
        dx_w[:, :g.c] = w[fi, :, u, v]
        dx_rows = g.dx_rows
    else:
        dx_w, dx_rows = np.zeros((0, c_rows), x.dtype), g.dx_rows[:0]
    csize, dsize = g.c * g.s * g.s * g.plane, f_rows * g.ldy
    spc = _samples_per_task(x.shape[0], (csize + dsize) * x.itemsize, g.npad // LANES)
    cvs = scratch("flat_canvas", (THREADS, spc * csize), x.dtype)
    dybs = scratch("flat_dy", (THREADS, spc * dsize), x.dtype)
    dcvs = scratch("flat_dcanvas", (THREADS, (c_rows * g.s * g.s * g.plane) if need_dx else 0), x.dtype)
    dx_offs, geo = g.dx_offs if need_dx else g.dx_offs[:0], g.kernel_args(mode, pool, spc)
    if mode == POOL:
        flat_backward_pool(x, g.offs, dy, codes, dwp, dbp, dx, dx_offs, dx_w, dx_rows, cvs, dybs, dcvs, geo)
    else:
        flat_backward(x, g.offs, dy, dy if saved is None else saved, dy if yconv is None else yconv,
                      NO_COEF if coef is None else coef, dwp, dbp, dx, dx_offs, dx_w, dx_rows, cvs, dybs, dcvs, geo)
    dw = np.ascontiguousarray(dwp.sum(axis=0)[:g.f, :k]).reshape(w.shape)
    return (dx if need_dx else None), dw, (dbp.sum(axis=0) if need_db else None)
