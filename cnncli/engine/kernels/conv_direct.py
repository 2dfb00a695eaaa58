"""Depthwise convolution kernels: groups == C, one input channel per group, M = F / C filters
per channel (the channel multiplier), any kernel size, stride, padding and dilation.

y[n, f, oh, ow] = b[f] + sum_{kh, kw} w[f, 0, kh, kw] * x[n, f // M, oh*sh - pt + kh*dil_h, ow*sw - pl + kw*dil_w]
(out-of-range x reads are 0).

Layout ("phase canvas", the polyphase split of canvas.py generalised to any stride and
dilation): the zero-padded plane of x[n, c] is split into sh*sw phases; phase (a, b) holds
padded pixel (i*sh + a, j*sw + b) at i*wq + j, in a plane of hq x wq with
    hq = OH + ((KH-1)*dil_h) // sh,   wq = OW + ((KW-1)*dil_w) // sw.
Tap (kh, kw) reads phase ((kh*dil_h) % sh, (kw*dil_w) % sw) shifted by
shift = ((kh*dil_h) // sh)*wq + (kw*dil_w) // sw, so output (oh, ow), placed at the "wide"
position q = oh*wq + ow, reads canvas[offs[tap] + q]: every tap of every stride is one
contiguous loop over q < span = (OH-1)*wq + OW (the columns ow >= OW of a wide row are junk,
dropped when copied out). Such loops vectorise whatever OW is; the taps of one pass are summed
in registers (blocks of 3 taps per pass over q), not in memory tap by tap.

Backward, with dy[n, f] copied into wide rows of wq (junk columns 0) after `margin` zeros
(dyw[margin + q] = dy at q; margin = the largest shift):
    dw[f, tap]  = sum_n sum_{q < span} dyw[margin + q] * canvas[offs[tap] + q]
    dphase[q]   = sum_{taps of the phase} w[f, tap] * dyw[margin - shift[tap] + q],   q < hq*wq
(the gradient of the canvas, gathered: one contiguous loop per phase), and dx[n, c] is read
back out of the phase planes, summed over the M filters of channel c. The weight gradient
sums each stack's dot products in x's dtype, then stacks in float64: a fixed split of the work
(the stacks; never the thread timing), so results are the same bits for any thread count.

Stacks: one task takes one channel c and a stack of G samples (G from the shape alone), and
lays their planes one below the other in each phase (plane j at row j*hq, phase stride G*hq*wq):
the rows between two planes are the zero padding both need, so the formulas above hold for the
whole stack at once (q runs over (j*hq + oh)*wq + ow) and each tap, dot product and gradient
loop runs once per stack, not once per plane. All copies between images and canvases are block
copies of rows (rowcopy.copy_block: masked vectors); the canvases live in the per-thread workspace
(_common.scratch, indexed by get_thread_id), zeroed once per call: each plane then writes only
the pixels it owns, so the zero borders stay.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numba import get_thread_id, njit, prange

from ._common import FAST, THREADS, ConvGeometry, scratch
from .rowcopy import copy_block

STACK_FLOATS = 8192  # a stack's phase canvas holds at most this many values (or one plane)
MIN_TASKS = 64       # channels x stacks: at least this many tasks where the batch allows


class DepthwiseGeometry(NamedTuple):
    """The integers of one depthwise call (depthwise_geometry builds it; names as above)."""

    sh: int
    sw: int
    pt: int
    pl: int
    mult: int     # M: filters per input channel
    hq: int       # rows of one plane in a phase
    wq: int       # phase row length (wide row)
    plane: int    # hq*wq
    stack: int    # G: samples per task
    pstride: int  # phase stride, G*plane
    margin: int   # zeros before dy in the backward's wide dy buffer: the largest shift
    clipped: int  # 1 when some input pixels lie outside every phase plane (they get dx = 0)
    oh: int
    ow: int


@lru_cache(maxsize=64)
def depthwise_geometry(geo: ConvGeometry, n_: int, c_: int, h_: int, w_: int, mult: int
                       ) -> tuple[DepthwiseGeometry, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(geometry, offs, shifts, order, starts, copies): offs[tap] and shifts[tap] as in the module
    doc (tap = kh*KW + kw); order lists the taps phase by phase, phase ph's taps being
    order[starts[ph]:starts[ph + 1]]; copies from _phase_copies. Cached: the arrays are shared,
    never written."""
    sh, sw, oh_, ow_ = geo.sh, geo.sw, geo.oh, geo.ow
    hq = oh_ + (geo.kh - 1) * geo.dil_h // sh
    wq = ow_ + (geo.kw - 1) * geo.dil_w // sw
    plane = hq * wq
    stack = max(1, min(n_, STACK_FLOATS // (sh * sw * plane), n_ * c_ // MIN_TASKS))
    rows, cols = np.divmod(np.arange(geo.kh) * geo.dil_h, sh), np.divmod(np.arange(geo.kw) * geo.dil_w, sw)
    shifts = (rows[0][:, None] * wq + cols[0][None, :]).ravel().astype(np.int64)
    phases = (rows[1][:, None] * sw + cols[1][None, :]).ravel()
    order = np.argsort(phases, kind="stable").astype(np.int64)
    starts = np.searchsorted(phases[order], np.arange(sh * sw + 1)).astype(np.int64)
    clipped = int(geo.pt + h_ > hq * sh or geo.pl + w_ > wq * sw)
    g = DepthwiseGeometry(sh, sw, geo.pt, geo.pl, mult, hq, wq, plane, stack, stack * plane, int(shifts.max()),
                          clipped, oh_, ow_)
    return g, phases * g.pstride + shifts, shifts, order, starts, _phase_copies(g, h_, w_)


def _phase_copies(g: DepthwiseGeometry, h_: int, w_: int) -> np.ndarray:
    """[sh*sw, 4] int64: per phase (a, b), where its block of image pixels starts in the canvas
    and in the image, and its rows and columns (0 when no pixel falls in it). Pixel (ih, iw) sits
    in phase ((ih+pt) % sh, (iw+pl) % sw) at ((ih+pt) // sh)*wq + (iw+pl) // sw."""
    table = np.zeros((g.sh * g.sw, 4), np.int64)
    for a in range(g.sh):
        ih0 = (a - g.pt) % g.sh
        r0 = (ih0 + g.pt) // g.sh
        rows = max(0, min(-(-(h_ - ih0) // g.sh), g.hq - r0))
        for b in range(g.sw):
            iw0 = (b - g.pl) % g.sw
            c0 = (iw0 + g.pl) // g.sw
            cols = max(0, min(-(-(w_ - iw0) // g.sw), g.wq - c0))
            table[a * g.sw + b] = ((a * g.sw + b) * g.pstride + r0 * g.wq + c0, ih0 * w_ + iw0, rows, cols)
    return table


@njit(cache=True, fastmath=FAST)
def _phase_copy(img: np.ndarray, i0: int, istride: int, planes: int, cv: np.ndarray, copies: np.ndarray, h_: int,
                w_: int, g: DepthwiseGeometry, to_canvas: bool) -> None:
    """Canvas <-> image planes img[i0 + j*istride : ... + H*W] (flat), j < planes, plane j at
    cv[j*plane] in every phase: fill the phase planes from the images, or (to_canvas False) read
    the images back out of them (zeroing first the pixels no phase holds when g.clipped), a
    block of rows per phase (copies: _phase_copies)."""
    for j in range(planes):
        at, i1 = j * g.plane, i0 + j * istride
        if g.clipped and not to_canvas:
            for i in range(i1, i1 + h_ * w_):
                img[i] = 0
        for ph in range(copies.shape[0]):
            rows, cols = copies[ph, 2], copies[ph, 3]
            if rows > 0 and cols > 0:
                if to_canvas:
                    copy_block(cv, at + copies[ph, 0], g.wq, 1, img, i1 + copies[ph, 1], g.sh * w_, g.sw, rows, cols)
                else:
                    copy_block(img, i1 + copies[ph, 1], g.sh * w_, g.sw, cv, at + copies[ph, 0], g.wq, 1, rows, cols)


@njit(cache=True, fastmath=FAST)
def _taps(src: np.ndarray, offs: np.ndarray, taps: np.ndarray, lo: int, hi: int, wv: np.ndarray,
          dst: np.ndarray, d0: int, count: int, init: bool, bias: float) -> None:
    """dst[d0 + q] = (bias if init else dst[d0 + q]) + sum_{k in [lo, hi)} wv[taps[k]] * src[offs[taps[k]] + q]
    for q < count: passes of 3 taps (then 2, then 1) summed in registers."""
    d0, count = np.uint64(d0), np.uint64(count)
    if hi == lo and init:
        for q in range(count):
            dst[d0 + q] = bias
    k = lo
    while k < hi:
        t0 = taps[k]
        o0, w0 = np.uint64(offs[t0]), wv[t0]
        if k + 3 <= hi:
            t1, t2 = taps[k + 1], taps[k + 2]
            o1, o2, w1, w2 = np.uint64(offs[t1]), np.uint64(offs[t2]), wv[t1], wv[t2]
            if init:
                for q in range(count):
                    dst[d0 + q] = bias + w0 * src[o0 + q] + w1 * src[o1 + q] + w2 * src[o2 + q]
            else:
                for q in range(count):
                    dst[d0 + q] += w0 * src[o0 + q] + w1 * src[o1 + q] + w2 * src[o2 + q]
            k += 3
        elif k + 2 <= hi:
            t1 = taps[k + 1]
            o1, w1 = np.uint64(offs[t1]), wv[t1]
            if init:
                for q in range(count):
                    dst[d0 + q] = bias + w0 * src[o0 + q] + w1 * src[o1 + q]
            else:
                for q in range(count):
                    dst[d0 + q] += w0 * src[o0 + q] + w1 * src[o1 + q]
            k += 2
        else:
            if init:
                for q in range(count):
                    dst[d0 + q] = bias + w0 * src[o0 + q]
            else:
                for q in range(count):
                    dst[d0 + q] += w0 * src[o0 + q]
            k += 1
        init = False


@njit(cache=True, fastmath=FAST)
def _grad_weight(cv: np.ndarray, dyw: np.ndarray, d0: int, offs: np.ndarray, span: int, acc: np.ndarray,
                 zero: float) -> None:
    """acc[tap] += sum_{q < span} dyw[d0 + q] * cv[offs[tap] + q] (each sum in x's dtype), three taps
    per pass over dyw (then one by one)."""
    span, d0 = np.uint64(span), np.uint64(d0)
    t = 0
    while t < offs.size:
        o0 = np.uint64(offs[t])
        s0 = zero
        if t + 3 <= offs.size:
            o1, o2 = np.uint64(offs[t + 1]), np.uint64(offs[t + 2])
            s1, s2 = zero, zero
            for q in range(span):
                d = dyw[d0 + q]
                s0 += d * cv[o0 + q]
                s1 += d * cv[o1 + q]
                s2 += d * cv[o2 + q]
            acc[t] += s0
            acc[t + 1] += s1
            acc[t + 2] += s2
            t += 3
        else:
            for q in range(span):
                s0 += dyw[d0 + q] * cv[o0 + q]
            acc[t] += s0
            t += 1


@njit(parallel=True, cache=True, fastmath=FAST)
def depthwise_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, y: np.ndarray, offs: np.ndarray,
                      taps: np.ndarray, copies: np.ndarray, cvs: np.ndarray, outs: np.ndarray,
                      g: DepthwiseGeometry) -> None:
    """Fill y [N, F, OH, OW] (formula in the module doc); w is [F, KH*KW], taps = arange(KH*KW);
    cvs [threads, sh*sw*pstride] zeroed by the caller, outs [threads, pstride]. One task per
    (channel, stack of samples): their canvas, then the channel's M filters."""
    n_, c_, h_, w_ = x.shape
    f_, k_, oh_, ow_ = y.shape[1], offs.size, g.oh, g.ow
    stacks = (n_ + g.stack - 1) // g.stack
    xf, yf = x.reshape(x.size), y.reshape(y.size)
    for task in prange(c_ * stacks):
        t = get_thread_id()
        c, n0 = task // stacks, (task % stacks) * g.stack
        m_ = min(g.stack, n_ - n0)
        cv, out = cvs[t], outs[t]
        _phase_copy(xf, (n0 * c_ + c) * h_ * w_, c_ * h_ * w_, m_, cv, copies, h_, w_, g, True)
        span = (m_ - 1) * g.plane + (oh_ - 1) * g.wq + ow_
        for f in range(c * g.mult, (c + 1) * g.mult):
            _taps(cv, offs, taps, 0, k_, w[f], out, 0, span, True, b[f])
            for j in range(m_):
                copy_block(yf, ((n0 + j) * f_ + f) * oh_ * ow_, ow_, 1, out, j * g.plane, g.wq, 1, oh_, ow_)


@njit(parallel=True, cache=True, fastmath=FAST)
def depthwise_backward(x: np.ndarray, w: np.ndarray, dy: np.ndarray, dx: np.ndarray, dwp: np.ndarray,
                       offs: np.ndarray, shifts: np.ndarray, order: np.ndarray, starts: np.ndarray,
                       copies: np.ndarray, cvs: np.ndarray, dyws: np.ndarray, dqs: np.ndarray, zero: float,
                       need_dx: bool, g: DepthwiseGeometry) -> None:
    """dwp [stacks, F, KH*KW] (float64, one partial per stack of samples; the caller sums axis 0)
    and, when need_dx, dx [N, C, H, W] (formulas in the module doc). w is [F, KH*KW]; cvs
    [threads, sh*sw*pstride] and dyws [threads, margin + pstride] zeroed by the caller, dqs
    [threads, sh*sw*pstride]; zero: 0 in x's dtype. One task per (channel, stack of samples)."""
    n_, c_, h_, w_ = x.shape
    stacks, f_, k_ = dwp.shape
    oh_, ow_, wq, plane, margin = g.oh, g.ow, g.wq, g.plane, g.margin
    xf, dyf, dxf = x.reshape(x.size), dy.reshape(dy.size), dx.reshape(dx.size)
    bofs = margin - shifts  # dphase reads dyw[bofs[tap] + q]
    for task in prange(c_ * stacks):
        t = get_thread_id()
        c, k = task // stacks, task % stacks
        n0 = k * g.stack
        m_ = min(g.stack, n_ - n0)
        cv, dyw, dq = cvs[t], dyws[t], dqs[t]
        _phase_copy(xf, (n0 * c_ + c) * h_ * w_, c_ * h_ * w_, m_, cv, copies, h_, w_, g, True)
        span = (m_ - 1) * plane + (oh_ - 1) * wq + ow_
        for f in range(c * g.mult, (c + 1) * g.mult):
            for j in range(m_):
                copy_block(dyw, margin + j * plane, wq, 1, dyf, ((n0 + j) * f_ + f) * oh_ * ow_, ow_, 1, oh_, ow_)
            dwp[k, f, :] = 0.0
            _grad_weight(cv, dyw, margin, offs, span, dwp[k, f], zero)
            if need_dx:
                for ph in range(g.sh * g.sw):
                    _taps(dyw, bofs, order, starts[ph], starts[ph + 1], w[f], dq, ph * g.pstride, m_ * plane,
                          f == c * g.mult, zero)
        if need_dx:
            _phase_copy(dxf, (n0 * c_ + c) * h_ * w_, c_ * h_ * w_, m_, dq, copies, h_, w_, g, False)


def _workspace(name: str, size: int, dtype: np.dtype, zeroed: bool) -> np.ndarray:
    """A per-thread scratch block [THREADS, size] (zeroed when asked)."""
    buf = scratch(name, (THREADS, size), dtype)
    if zeroed:
        buf[...] = 0
    return buf


def depthwise_conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """y = depthwise conv2d(x, w) + b, a new [N, F, OH, OW] array (w [F, 1, KH, KW], F = M*C)."""
    n_, c_, h_, w_ = x.shape
    f_ = w.shape[0]
    g, offs, _, _, _, copies = depthwise_geometry(geo, n_, c_, h_, w_, f_ // c_)
    y = np.empty((n_, f_, g.oh, g.ow), x.dtype)
    cvs = _workspace("dw_canvas", g.sh * g.sw * g.pstride, x.dtype, True)
    outs = _workspace("dw_out", g.pstride, x.dtype, False)
    taps = np.arange(offs.size, dtype=np.int64)
    depthwise_forward(np.ascontiguousarray(x), np.ascontiguousarray(w).reshape(f_, -1), b, y, offs, taps, copies,
                      cvs, outs, g)
    return y


def depthwise_conv_backward(x: np.ndarray, w: np.ndarray, dy: np.ndarray, geo: ConvGeometry, need_dx: bool,
                            need_db: bool) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """(dx or None, dw, db or None) of depthwise_conv_forward given dy = dL/dy."""
    n_, c_, h_, w_ = x.shape
    f_ = w.shape[0]
    g, offs, shifts, order, starts, copies = depthwise_geometry(geo, n_, c_, h_, w_, f_ // c_)
    dwp = np.empty((-(-n_ // g.stack), f_, offs.size), np.float64)
    canvas = g.sh * g.sw * g.pstride
    cvs = _workspace("dw_canvas", canvas, x.dtype, True)
    dyws = _workspace("dw_dy", g.margin + g.pstride, x.dtype, True)
    dqs = _workspace("dw_dcanvas", canvas if need_dx else 0, x.dtype, False)
    dx = np.empty_like(x) if need_dx else x[:0]
    depthwise_backward(np.ascontiguousarray(x), np.ascontiguousarray(w).reshape(f_, -1), np.ascontiguousarray(dy),
                       dx, dwp, offs, shifts, order, starts, copies, cvs, dyws, dqs, x.dtype.type(0), need_dx, g)
    db = dy.sum(axis=(0, 2, 3), dtype=np.float64).astype(x.dtype) if need_db else None
    return (dx if need_dx else None), dwp.sum(axis=0).astype(x.dtype).reshape(w.shape), db
