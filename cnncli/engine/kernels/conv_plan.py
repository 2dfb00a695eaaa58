"""Geometry, tap tables and workspaces for conv_flat (layouts: canvas.py, conv_flat.py).

The shape-only part (canvas sizes, tap offsets, the stride phases of the input gradient) is
computed once per layer shape and cached; the weight tables are rebuilt on every call (they
are small: K x F and K' x C floats).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from cnncli.shapes import conv_out

from ._common import THREADS, quad, scratch
from .canvas import FlatGeometry, tap_offset
from .conv_flat import (
    COLS,
    LANES,
    POOL,
    ROWS,
    TAPS,
    flat_backward,
    flat_backward_pool,
    flat_forward,
    flat_forward_pool,
    wino_backward_pool,
    wino_forward_pool,
)
from .winograd import WinoGeometry, transform_weights

_CHUNK_BYTES = 256 * 1024  # backward: canvases + dY' of the samples of one task, about L2 ...
_MAX_CHUNK_BYTES = 512 * 1024  # ... unless small images need more samples for _MIN_REDUCTION, up to this
_WINO_TASK_BYTES = 1024 * 1024  # transform-domain buffers of a Winograd forward task, at most (_wino_samples)
_WINO_MIN_CHANNELS = 16  # use_winograd
_WINO4_MIN_SIDE = 16  # use_winograd4
_WINO_DW_SAMPLES = 8  # samples per group of a Winograd weight gradient, at most (_wino_dw_tasks) ...
_WINO_DW_GROUP_BYTES = 4 * 1024 * 1024  # ... and V + dM of a group within this, unless one sample needs more
_MIN_REDUCTION = 128  # vectors summed per grad_tile call, so that its horizontal sums stay cheap (PROFILE.md)
_MAX_SIDE = 4  # samples side by side in a canvas, at most (side_by_side) ...
_SIDE_GAIN = 0.9  # ... and only where they cut the tile columns per sample to this share or less
_SCATTER_SHARE = 0.8  # use_scatter

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
    wq: int        # canvas / wide row length: side * slot
    plane: int     # canvas plane stride (zeros past the image, room for a last tile)
    npad: int      # wide output columns, a multiple of COLS
    margin: int    # zeros before dY' (the largest tap shift)
    offs: np.ndarray      # [K2] canvas offset of each tap (c, kh, kw), padded with 0
    dx_offs: np.ndarray   # [E] dY' offset of each (f, kh, kw), grouped by stride phase
    dx_taps: np.ndarray   # [E, 3] its (f, kh, kw)
    dx_rows: np.ndarray   # [phases, 4] (phase, first q, end q, first entry)
    dx_scatter: np.ndarray  # [K] dx by scatter tiles (use_scatter): tap k of the (kh, kw, c) order is tap
    #                         dx_scatter[k] of offs; empty: dx by stride phase
    wino: bool = False    # forward and dx by Winograd F(2x2, 3x3) (winograd.py; the rule: use_winograd)
    wino_dw: bool = False  # dW by Winograd too (winograd.dw_task): wherever wino (use_winograd)
    wino_m: int = 2       # the output block, forward, dx and dW: F(2x2, 3x3), or 4: F(4x4, 3x3) (use_winograd4)
    wino4_fits: bool = False  # F(4x4, 3x3) may run this shape (winograd4_fits)
    side: int = 1         # samples side by side in a canvas (side_by_side; 1 wherever wino)
    slot: int = 0         # columns of one sample in a canvas row
    h: int = 0            # the input's height, width and pads, as given to geometry()
    width: int = 0
    pads: Pads = (0, 0, 0, 0)

    @property
    def wino_tiles(self) -> int:
        """Winograd tiles of one sample's output: ceil(OH / m) * ceil(OW / m), m = wino_m."""
        return -(-self.oh // self.wino_m) * -(-self.ow // self.wino_m)

    @property
    def ldy(self) -> int:
        return self.margin + self.plane

    @property
    def dw_vectors(self) -> int:
        """Vectors of a dY' row that grad_tile sums over: those holding wide outputs (conv_flat._chunk_dw)."""
        return -(-(self.oh * self.wq) // LANES)

    def kernel_args(self, mode: int, pool: int, spc: int = 1) -> FlatGeometry:
        """The `geo` argument of conv_flat's kernels."""
        return FlatGeometry(self.kh, self.kw, self.s, self.pt, self.pl, self.wq, self.plane, self.npad, self.margin,
                            self.oh, self.ow, mode, pool, spc, self.side, self.slot, int(self.dx_scatter.size > 0))


def conv2d_output_hw(h: int, width: int, kernel: tuple[int, int], stride: tuple[int, int], pads: Pads,
                     dilation: tuple[int, int]) -> tuple[int, int]:
    """(OH, OW) by cnncli.shapes.conv_out, the one home of the formula; ValueError if empty."""
    oh = conv_out(h, kernel[0], (pads[0], pads[1]), stride[0], dilation[0])
    ow = conv_out(width, kernel[1], (pads[2], pads[3]), stride[1], dilation[1])
    if oh <= 0 or ow <= 0:
        raise ValueError(f"conv2d output would be empty: {oh}x{ow}")
    return oh, ow


@lru_cache(maxsize=256)
def geometry(c: int, h: int, width: int, f: int, kh: int, kw: int, s: int, pads: Pads, batch: int = 1) -> Geometry:
    """The canvas layout of canvas.py for these shapes (stride s, pads top, bottom, left, right),
    with side_by_side's samples per canvas for batches of `batch` (pass min(N, _MAX_SIDE))."""
    pt, pb, pl, pr = pads
    oh, ow = conv2d_output_hw(h, width, (kh, kw), (s, s), pads, (1, 1))
    if s == 1:  # shared zero columns between rows when the reads allow it (canvas.py)
        slot = width + (max(pl, pr) if kw - 1 >= min(pl, pr) else pl + pr)
        hq = h + pt + pb + 1
    else:
        slot, hq = -(-(width + pl + pr) // s), -(-(h + pt + pb) // s) + 1
    wino = use_winograd(c, f, kh, kw, s, oh, ow)
    side = 1 if wino else side_by_side(oh, ow, slot, batch)
    wq = side * slot
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
    wino_m = 4 if wino and use_winograd4(h, width, oh, ow) else 2
    fits4 = kh == kw == 3 and s == 1 and winograd4_fits(h, width, oh, ow)
    dx_offs = np.array([fi * ldy + margin - (u // s) * wq - v // s for fi, u, v in entries], np.int64)
    dx_rows = np.array(rows, np.int64).reshape(-1, 4)
    npad = _up(oh * wq, COLS)
    order = [(ci * kh + a) * kw + b for a in range(kh) for b in range(kw) for ci in range(c)]
    scatter = np.array(order if use_scatter(dx_rows, len(entries), c, f, kh * kw, npad) else [], np.int64)
    return Geometry(c, f, kh, kw, s, pt, pl, oh, ow, wq, plane, npad, margin, offs, dx_offs,
                    np.array(entries, np.int64).reshape(-1, 3), dx_rows, scatter,
                    wino, wino, wino_m, fits4, side, slot, h, width, pads)


def use_scatter(dx_rows: np.ndarray, entries: int, c: int, f: int, taps: int, npad: int) -> bool:
    """dx by scatter tiles where they take at most _SCATTER_SHARE of the multiply-adds of the tiles
    per stride phase: scatter: up(C*KH*KW, ROWS) taps x F filters x npad wide outputs; per phase:
    the phase's q range x its entries (filter, tap) x C padded to ROWS. The phases also multiply the
    zeros around dY' (a full correlation: 5x5 taps over a 10x10 dY' pad it to 18x18) and pad C;
    the scatter tiles add each result into the canvas instead of storing it (LeNet-5's 6->16 5x5
    layer: 350k against 768k per sample)."""
    ends = list(dx_rows[1:, 3]) + [entries]
    phases = sum(int(q1 - q0) * (int(e1) - int(e0)) for (_, q0, q1, e0), e1 in zip(dx_rows, ends)) * _up(c, ROWS)
    return _up(c * taps, ROWS) * f * npad <= _SCATTER_SHARE * phases


def side_by_side(oh: int, ow: int, slot: int, batch: int) -> int:
    """Samples side by side in a direct-tile canvas (canvas.py): the fewest, up to _MAX_SIDE and the
    batch, with the least tile columns per sample, up(OH * S * slot, COLS) / S, if that is at most
    _SIDE_GAIN of one sample's; else 1. The 8x8 outputs of a 3x3 stride-2 layer (slot 9) take 96
    columns alone, 72 each two by two: 32->64 on 16x16, batch 64, forward 1.29-1.38 -> 1.02-1.05 ms,
    forward + backward 4.3 -> 3.6 ms (with the 512 KB backward tasks of _samples_per_task). Always 1
    where a wide row has no junk column (slot = OW: 1x1 without padding): the epilogues copy a
    channel as one run of OH*OW there, and rows of OW side by side measured slower (a 1x1 16->32 on
    14x14: dW 0.21 -> 0.44 ms); bench/PROFILE.md, "Issue 13, round five"."""
    def columns(side: int) -> float:
        return _up(oh * side * slot, COLS) / side

    if slot == ow:
        return 1
    best = min(range(1, min(batch, _MAX_SIDE) + 1), key=lambda side: (columns(side), side))
    return best if columns(best) <= _SIDE_GAIN * columns(1) else 1


def use_winograd(c: int, f: int, kh: int, kw: int, s: int, oh: int, ow: int) -> bool:
    """Winograd for the stride-1 3x3 layers where it measured faster than the direct tiles: at
    least 16 input and output channels. With 32, 1.25-1.5x faster, with 64, 1.5-1.8x, from 8x8
    to 32x32 images (bench/PROFILE.md, "Issue 13: Winograd"); with 16, level on Zen 5 and
    1.09-1.19x faster on Zen 4, where a ResNet-20 step got 1.09x faster (PROFILE.md, "Issue 13,
    round three"); with 8, 0.9x. The weight gradient too: measured faster on every such layer
    tried, 4x4 to 128x128, 16 to 256 channels (PROFILE.md, "Issue 13: Winograd weight gradient"
    and "round three")."""
    return kh == kw == 3 and s == 1 and min(c, f) >= _WINO_MIN_CHANNELS


def winograd4_fits(h: int, w: int, oh: int, ow: int) -> bool:
    """Whether F(4x4, 3x3) may run a layer: input and output sides multiples of 4. Then its 6 x 6
    tiles read the rows and columns F(2x2, 3x3)'s do, all inside the canvases and dY' blocks
    (zeros past the image: a junk value there would not cancel in the transforms' sums)."""
    return h % 4 == w % 4 == oh % 4 == ow % 4 == 0


def use_winograd4(h: int, w: int, oh: int, ow: int) -> bool:
    """F(4x4, 3x3) for a Winograd layer (use_winograd; forward, dx and dW) where it fits, from sides
    of 16 (4 tiles a row). Against F(2x2, 3x3) on Zen 4 (2 threads, batch 64, forward / backward):
    1.93x / 1.75x at 16->16 32x32, 1.29x / 1.34x at 32->32 16x16, 1.34x / 1.43x at 64->64 16x16;
    forced at 8x8 0.73x / 0.62x (2 tiles a row: vectors of tiles mostly empty); bench/PROFILE.md,
    "Issue 13, round four"."""
    return winograd4_fits(h, w, oh, ow) and min(h, w, oh, ow) >= _WINO4_MIN_SIDE


def with_winograd(g: Geometry, on: bool, dw: bool | None = None, m: int | None = None) -> Geometry:
    """g with the Winograd choices forced (tests, benchmarks): forward and dx, and dW (as `on` unless
    given), the output block m (2 or 4; the rule's unless given); one sample per canvas then."""
    wino = on and g.kh == g.kw == 3 and g.s == 1
    if wino and g.side > 1:
        g = geometry(g.c, g.h, g.width, g.f, g.kh, g.kw, g.s, g.pads)
    if m == 4 and not g.wino4_fits:
        raise ValueError("F(4x4, 3x3) needs input and output sides that are multiples of 4")
    return replace(g, wino=wino, wino_dw=wino and (on if dw is None else dw), wino_m=g.wino_m if m is None else m)


def _samples_per_task(n: int, per_sample: int, vectors: int) -> int:
    """Canvases (n of them, of per_sample bytes) per backward task: fill about _CHUNK_BYTES, or
    reach _MIN_REDUCTION vectors per grad_tile call within _MAX_CHUNK_BYTES (half of a 1 MB L2: at
    1 MB, the stride-2 layers of ResNet-20 took 1.31-1.42 ms for their weight gradient, at 512 KB
    1.23-1.26; bench/PROFILE.md, "Issue 13, round five"); then evened out to a whole number of
    tasks per thread (the static schedule gives each thread the same count)."""
    want = max(_CHUNK_BYTES // per_sample, -(-_MIN_REDUCTION // max(vectors, 1)))
    want = max(1, min(want, _MAX_CHUNK_BYTES // per_sample))
    tasks_per_thread = max(1, round(n / (THREADS * want)))
    return -(-n // (THREADS * tasks_per_thread))


def plan_for(x: np.ndarray, w: np.ndarray, stride: int, pads: Pads) -> Geometry:
    n, c, h, width = x.shape
    f, cg, kh, kw = w.shape
    if cg != c:
        raise ValueError(f"conv2d: x has {c} channels, w {w.shape}")
    return geometry(c, h, width, f, kh, kw, stride, quad(pads), min(n, _MAX_SIDE))


def flat_conv_forward(g: Geometry, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, y: np.ndarray,
                      mode: int, pool: int = 0, codes: np.ndarray | None = None) -> np.ndarray:
    """Run flat_forward (direct tiles or, g.wino, Winograd) into y; returns the BN statistics
    [2, F] (zeros for other modes)."""
    k, f_rows = g.c * g.kh * g.kw, _up(g.f, ROWS)
    bias = np.zeros(g.f, x.dtype) if b is None else b
    stats = np.zeros((THREADS, 2, g.f))
    # Winograd: room for the last row's vector stores (winograd_ir: masked, but whole vectors)
    ybs = scratch("flat_out", (THREADS, f_rows * g.npad + (2 * LANES if g.wino else 0)), x.dtype)
    geo = g.kernel_args(mode, pool)
    if g.wino:
        spc = _wino_samples(x.shape[0], g.wino_tiles, _wino_sample_bytes(g.c, f_rows, g.wino_tiles, x.itemsize,
                                                                         g.wino_m))
        wg = _wino_geometry(g.oh, g.ow, spc, g.c, f_rows, g.wino_m)
        u, (vs, ms, voffs) = transform_weights(w, f_rows, m=g.wino_m), _wino_workspaces(wg, g.c, x.dtype)
        wt, offs = np.zeros((0, f_rows), x.dtype), g.offs[:0]
        cvs = scratch("flat_canvas", (THREADS, g.c * g.plane + _wino_room(g)), x.dtype)
    else:
        wt, offs = np.zeros((k, f_rows), x.dtype), g.offs[:k]
        wt[:, :g.f] = w.reshape(g.f, k).T
        u, voffs, vs, ms, wg = _no_winograd(x.dtype)
        cvs = scratch("flat_canvas", (THREADS, g.c * g.s * g.s * g.plane), x.dtype)
    if mode == POOL and g.wino:
        wino_forward_pool(x, u, voffs, bias, y, codes, cvs, vs, ms, ybs, geo, wg)
    elif mode == POOL:
        flat_forward_pool(x, offs, wt, bias, y, codes, cvs, ybs, geo)
    else:
        flat_forward(x, offs, wt, u, voffs, bias, y, stats, cvs, vs, ms, ybs, geo, wg)
    return stats.sum(axis=0)


def flat_conv_backward(g: Geometry, x: np.ndarray, w: np.ndarray, dy: np.ndarray, mode: int, need_dx: bool,
                       need_db: bool, pool: int = 0, saved: np.ndarray | None = None,
                       yconv: np.ndarray | None = None, coef: np.ndarray | None = None,
                       codes: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """(dx or None, dw, db or None) through flat_backward (arguments as in conv_flat; dx by
    Winograd when g.wino, dW too when g.wino_dw; both only when dx is needed)."""
    k, f_rows, c_rows = g.c * g.kh * g.kw, _up(g.f, ROWS), _up(g.c, ROWS)
    n = x.shape[0]
    dx = np.empty_like(x) if need_dx else x[:0]
    csize, dsize = g.c * g.s * g.s * g.plane, f_rows * g.ldy
    wino = g.wino and need_dx
    wino_dw = wino and g.wino_dw
    if wino_dw:
        tasks, per, spc = _wino_dw_tasks(n, _wino_sample_bytes(c_rows, f_rows, g.wino_tiles, x.itemsize, g.wino_m))
        wd = _wino_geometry(g.oh, g.ow, spc, c_rows, f_rows, g.wino_m)._replace(spc=per * spc)
    else:
        spc = _samples_per_task(-(-n // g.side), (csize + dsize) * x.itemsize, g.dw_vectors)
        tasks, wd = THREADS, _no_winograd(x.dtype)[4]
    dwp = np.zeros((tasks, f_rows, g.offs.size), x.dtype)
    dbp = np.zeros((tasks, g.f if need_db else 0), x.dtype)
    dx_w, dx_rows, dx_offs = np.zeros((0, c_rows), x.dtype), g.dx_rows[:0], g.dx_offs[:0]
    if wino:
        wg = _wino_geometry(x.shape[2], x.shape[3], spc, g.f, c_rows, g.wino_m)
        u = transform_weights(w, c_rows, flip=True, m=g.wino_m)
        vs, ms, voffs = _wino_workspaces(wg, g.f, x.dtype, wd, (wd.m + 2) ** 2 * f_rows * c_rows if wino_dw else 0)
    else:
        u, voffs, vs, ms, wg = _no_winograd(x.dtype)
        if need_dx and g.dx_scatter.size:
            dx_w = np.zeros((g.f, _up(k, ROWS)), x.dtype)
            dx_w[:, :k] = w.reshape(g.f, k)[:, g.dx_scatter]
            dx_rows, dx_offs = g.dx_rows, np.zeros(dx_w.shape[1], np.int64)
            dx_offs[:k] = g.offs[g.dx_scatter]
        elif need_dx:
            fi, a, b = g.dx_taps.T
            dx_w = np.zeros((len(fi), c_rows), x.dtype)
            dx_w[:, :g.c] = w[fi, :, a, b]
            dx_rows, dx_offs = g.dx_rows, g.dx_offs
    room = _wino_room(g) if wino else 0
    cvs = scratch("flat_canvas", (THREADS, spc * csize + room), x.dtype)
    dybs = scratch("flat_dy", (THREADS, spc * dsize + room), x.dtype)
    dcvs = scratch("flat_dcanvas", (THREADS, (c_rows * g.s * g.s * g.plane) if need_dx else 0), x.dtype)
    geo = g.kernel_args(mode, pool, spc)
    if mode == POOL and wino:
        wino_backward_pool(x, g.offs, dy, codes, dwp, dbp, dx, u, voffs, cvs, dybs, dcvs, vs, ms, geo, wg, wd)
    elif mode == POOL:
        flat_backward_pool(x, g.offs, dy, codes, dwp, dbp, dx, dx_offs, dx_w, dx_rows, cvs, dybs, dcvs, geo)
    else:
        flat_backward(x, g.offs, dy, dy if saved is None else saved, dy if yconv is None else yconv,
                      NO_COEF if coef is None else coef, dwp, dbp, dx, dx_offs, dx_w, dx_rows, u, voffs, cvs, dybs,
                      dcvs, vs, ms, geo, wg, wd)
    dw = np.ascontiguousarray(dwp.sum(axis=0)[:g.f, :k]).reshape(w.shape)  # Winograd dW: in task order
    return (dx if need_dx else None), dw, (dbp.sum(axis=0) if need_db else None)


def _wino_sample_bytes(i_: int, o_rows: int, tiles: int, itemsize: int, m: int) -> int:
    """Bytes of one sample's transform-domain buffers: V of i_ channels and M (or dM) of o_rows,
    (m + 2)^2 values per m x m tile and channel."""
    return (m + 2) ** 2 * (i_ + o_rows) * tiles * itemsize


def _wino_dw_tasks(n: int, per_sample: int) -> tuple[int, int, int]:
    """(tasks, groups per task, samples per group) of a Winograd weight gradient: an even number of
    tasks, at least THREADS (one dW partial each, so THREADS only where it is odd or over 2: the same
    bits at 1 and 2 threads), groups of at most _WINO_DW_SAMPLES samples (transforms and GEMM; at
    8x8, 8 samples are 128 tiles: 8 vectors per grad_block sum) whose V and dM (per_sample bytes
    each) fit _WINO_DW_GROUP_BYTES, else one sample (at 64x64 and up, 2 MB and more per sample,
    groups of 8 made this dW 1.3-2.2x slower than the direct tiles, groups of 1 1.0-1.4x faster:
    bench/PROFILE.md, "Issue 13, round three"), as even as n allows."""
    cap = max(1, min(_WINO_DW_SAMPLES, _WINO_DW_GROUP_BYTES // per_sample))
    tasks = min(n, max(2, THREADS + THREADS % 2))
    per = -(-n // (tasks * cap))
    spc = -(-n // (tasks * per))
    return -(-n // (per * spc)), per, spc


def _wino_samples(n: int, tiles: int, per_sample: int) -> int:
    """Samples per Winograd forward task: the least padding of the GEMM columns (tiles per task
    up to a multiple of COLS) times the load imbalance of the static schedule, with a task's
    transform-domain buffers (per_sample bytes each) within _WINO_TASK_BYTES."""
    best, best_cost = 1, float("inf")
    for m in range(1, max(1, min(n, _WINO_TASK_BYTES // per_sample)) + 1):
        per_thread = -(-(-(-n // m)) // THREADS)
        cost = per_thread * THREADS * m / n * _up(m * tiles, COLS) / (m * tiles)
        if cost < best_cost - 1e-9:
            best, best_cost = m, cost
    return best


def _wino_geometry(rows: int, cols: int, spc: int, i_: int, o_rows: int, m: int) -> WinoGeometry:
    """The Winograd F(m x m, 3 x 3) layout of spc samples of rows x cols outputs, i_ -> o_rows channels:
    rows of ldv = the tiles up to a multiple of COLS, then LANES floats for the junk lanes of the
    transforms (winograd_ir, winograd4_ir); xi planes whose stride is an odd number of cache lines
    modulo 4 KB, so that the transforms' 16 or 36 streams do not share L1 sets."""
    th, tw = -(-rows // m), -(-cols // m)
    ldv = _up(spc * th * tw, COLS) + LANES
    ldv += LANES if ldv % 1024 == 0 else 0

    def spread(size: int) -> int:
        size = _up(size, 16)
        return size + 16 if (size // 16) % 2 == 0 else size

    return WinoGeometry(rows, cols, th, tw, ldv, spread(i_ * ldv), spread(o_rows * ldv), spc, m)


def _wino_room(g: Geometry) -> int:
    """Floats of room after a Winograd source: the input transform reads up to 2 rows past the
    last and 2*LANES + 2 floats past a row's start (winograd_ir), F(4x4, 3x3) 4*LANES + 4 (winograd4_ir)."""
    return 4 * g.wq + 8 * LANES


def _wino_workspaces(wg: WinoGeometry, i_: int, dtype: np.dtype, wd: WinoGeometry | None = None,
                     sums: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(V, M workspaces [threads, (m + 2)^2 * plane stride], of wg and wd if given, M then `sums` more
    floats (winograd.dw_sums), voffs[i] = i*wg.ldv)."""
    xi, xd = (wg.m + 2) ** 2, (wd.m + 2) ** 2 if wd else 0
    vs = _aligned("wino_v", max(xi * wg.vxi, xd * (wd.vxi if wd else 0)), dtype)
    ms = _aligned("wino_m", max(xi * wg.mxi, xd * (wd.mxi if wd else 0)) + sums, dtype)
    return vs, ms, np.arange(i_, dtype=np.int64) * wg.ldv


def _aligned(name: str, size: int, dtype: np.dtype) -> np.ndarray:
    """scratch [threads, size up to 16 floats] whose rows start on 64-byte lines: the GEMMs' vector
    loads then never straddle two (grad_block at 8x8: 157 -> 209 GFLOP/s, PROFILE.md)."""
    row = _up(size, 16)
    buf = scratch(name, (THREADS * row + 16,), dtype)
    skip = (-buf.ctypes.data % 64) // buf.itemsize
    return buf[skip:skip + THREADS * row].reshape(THREADS, row)


def _no_winograd(dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, WinoGeometry]:
    """(u, voffs, V, M workspaces, wg) of a direct call: empty, and tasks of one sample."""
    empty = np.zeros((THREADS, 0), dtype)
    return np.zeros((0, 0, 0), dtype), np.zeros(0, np.int64), empty, empty, WinoGeometry(0, 0, 0, 0, 0, 0, 0, 1)
