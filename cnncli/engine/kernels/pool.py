"""Pooling kernels (PyTorch semantics), NCHW, parallel over the N*C planes.

Windows: hstart = oh*sh - top, hend = hstart + kh (likewise w); the caller
passes (OH, OW) computed with PyTorch's ceil_mode rule. Max pooling treats
padding as -inf and stores argmax as the flat index ih*W + iw within the plane
(int64, -1 if a window holds no input cell). Average pooling uses PyTorch's
count_include_pad=True divisor: (min(hend, H + bottom) - hstart) *
(min(wend, W + right) - wstart), before clipping the window to the input.
All functions return new arrays.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._common import FAST, pair, quad


@njit(parallel=True, cache=True)
def _max_fwd(x, y, arg, kh, kw, sh, sw, pt, pl):
    n_, c_, h_, w_ = x.shape
    oh_, ow_ = y.shape[2], y.shape[3]
    for idx in prange(n_ * c_):
        n, c = idx // c_, idx % c_
        plane = x[n, c]
        for oh in range(oh_):
            h0 = oh * sh - pt
            for ow in range(ow_):
                w0 = ow * sw - pl
                best, at = -np.inf, -1
                for ih in range(max(h0, 0), min(h0 + kh, h_)):
                    for iw in range(max(w0, 0), min(w0 + kw, w_)):
                        v = plane[ih, iw]
                        if at < 0 or v > best or v != v:
                            best, at = v, ih * w_ + iw
                y[n, c, oh, ow] = best
                arg[n, c, oh, ow] = at


@njit(parallel=True, cache=True)
def _max_bwd(dy, arg, dx):
    n_, c_ = dx.shape[0], dx.shape[1]
    for idx in prange(n_ * c_):
        n, c = idx // c_, idx % c_
        plane = dx[n, c].ravel()
        plane[:] = 0.0
        g, a = dy[n, c].ravel(), arg[n, c].ravel()
        for i in range(g.size):
            if a[i] >= 0:
                plane[a[i]] += g[i]


def maxpool2d_forward(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                      pads: tuple[int, int, int, int], out_hw: tuple[int, int]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """y[n,c,oh,ow] = max over the window (padding = -inf); returns (y, argmax int64)."""
    (kh, kw), (sh, sw), (pt, _, pl, _) = pair(kernel), pair(stride), quad(pads)
    shape = x.shape[:2] + tuple(out_hw)
    y, arg = np.empty(shape, x.dtype), np.empty(shape, np.int64)
    _max_fwd(x, y, arg, kh, kw, sh, sw, pt, pl)
    return y, arg


def maxpool2d_backward(dy: np.ndarray, argmax: np.ndarray,
                       x_shape: tuple[int, ...]) -> np.ndarray:
    """dx[n,c,argmax] += dy (each window routes its gradient to its max)."""
    dx = np.empty(x_shape, dy.dtype)
    _max_bwd(dy, argmax, dx)
    return dx


@njit(parallel=True, cache=True, fastmath=FAST)
def _avg_fwd(x, y, kh, kw, sh, sw, pt, pb, pl, pr):
    n_, c_, h_, w_ = x.shape
    oh_, ow_ = y.shape[2], y.shape[3]
    for idx in prange(n_ * c_):
        n, c = idx // c_, idx % c_
        plane = x[n, c]
        for oh in range(oh_):
            h0 = oh * sh - pt
            h1 = min(h0 + kh, h_ + pb)
            for ow in range(ow_):
                w0 = ow * sw - pl
                w1 = min(w0 + kw, w_ + pr)
                inv = 1.0 / ((h1 - h0) * (w1 - w0))
                total = 0.0
                for ih in range(max(h0, 0), min(h1, h_)):
                    for iw in range(max(w0, 0), min(w1, w_)):
                        total += plane[ih, iw]
                y[n, c, oh, ow] = total * inv


@njit(parallel=True, cache=True, fastmath=FAST)
def _avg_bwd(dy, dx, kh, kw, sh, sw, pt, pb, pl, pr):
    n_, c_, h_, w_ = dx.shape
    oh_, ow_ = dy.shape[2], dy.shape[3]
    for idx in prange(n_ * c_):
        n, c = idx // c_, idx % c_
        plane = dx[n, c]
        plane[:, :] = 0.0
        for oh in range(oh_):
            h0 = oh * sh - pt
            h1 = min(h0 + kh, h_ + pb)
            for ow in range(ow_):
                w0 = ow * sw - pl
                w1 = min(w0 + kw, w_ + pr)
                g = dy[n, c, oh, ow] / ((h1 - h0) * (w1 - w0))
                for ih in range(max(h0, 0), min(h1, h_)):
                    for iw in range(max(w0, 0), min(w1, w_)):
                        plane[ih, iw] += g


def avgpool2d_forward(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                      pads: tuple[int, int, int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """y = sum over the window clipped to the input / count_include_pad divisor."""
    (kh, kw), (sh, sw), (pt, pb, pl, pr) = pair(kernel), pair(stride), quad(pads)
    y = np.empty(x.shape[:2] + tuple(out_hw), x.dtype)
    _avg_fwd(x, y, kh, kw, sh, sw, pt, pb, pl, pr)
    return y


def avgpool2d_backward(dy: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                       pads: tuple[int, int, int, int], x_shape: tuple[int, ...]) -> np.ndarray:
    """dx[cell] = sum over windows containing cell of dy / divisor."""
    (kh, kw), (sh, sw), (pt, pb, pl, pr) = pair(kernel), pair(stride), quad(pads)
    dx = np.empty(x_shape, dy.dtype)
    _avg_bwd(dy, dx, kh, kw, sh, sw, pt, pb, pl, pr)
    return dx


@njit(parallel=True, cache=True, fastmath=FAST)
def _adaptive(src, dst, forward):
    """Adaptive bins: rows [floor(i*H/OH), ceil((i+1)*H/OH)); forward averages
    src [.., H, W] into dst [.., OH, OW]; backward spreads src [.., OH, OW] into dst."""
    n_, c_ = src.shape[0], src.shape[1]
    big = dst if not forward else src
    small = src if not forward else dst
    h_, w_ = big.shape[2], big.shape[3]
    oh_, ow_ = small.shape[2], small.shape[3]
    for idx in prange(n_ * c_):
        n, c = idx // c_, idx % c_
        if not forward:
            dst[n, c, :, :] = 0.0
        for oh in range(oh_):
            h0, h1 = (oh * h_) // oh_, -((-(oh + 1) * h_) // oh_)
            for ow in range(ow_):
                w0, w1 = (ow * w_) // ow_, -((-(ow + 1) * w_) // ow_)
                inv = 1.0 / ((h1 - h0) * (w1 - w0))
                if forward:
                    total = 0.0
                    for ih in range(h0, h1):
                        for iw in range(w0, w1):
                            total += src[n, c, ih, iw]
                    dst[n, c, oh, ow] = total * inv
                else:
                    g = src[n, c, oh, ow] * inv
                    for ih in range(h0, h1):
                        for iw in range(w0, w1):
                            dst[n, c, ih, iw] += g


def adaptive_avgpool2d_forward(x: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """y[n,c,i,j] = mean of x over bin rows [floor(iH/OH), ceil((i+1)H/OH)) x cols (same)."""
    y = np.empty(x.shape[:2] + tuple(out_hw), x.dtype)
    _adaptive(x, y, True)
    return y


def adaptive_avgpool2d_backward(dy: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
    """dx = each bin's dy / bin size spread over the bin."""
    dx = np.empty(x_shape, dy.dtype)
    _adaptive(dy, dx, False)
    return dx


@njit(parallel=True, cache=True, fastmath=FAST)
def _global_avg(x, y):
    n_, c_ = x.shape[0], x.shape[1]
    for idx in prange(n_ * c_):
        n, c = idx // c_, idx % c_
        y[n, c, 0, 0] = x[n, c].sum() / (x.shape[2] * x.shape[3])


def global_avgpool_forward(x: np.ndarray) -> np.ndarray:
    """y [N, C, 1, 1] = mean of x over H, W."""
    y = np.empty(x.shape[:2] + (1, 1), x.dtype)
    _global_avg(x, y)
    return y


def global_avgpool_backward(dy: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
    """dx[n,c,h,w] = dy[n,c] / (H*W)."""
    scale = dy.dtype.type(1.0 / (x_shape[2] * x_shape[3]))
    return np.ascontiguousarray(np.broadcast_to(dy * scale, x_shape))


def global_maxpool_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y [N, C, 1, 1] = max of x over H, W; argmax = flat index in the plane."""
    n, c, h, w = x.shape
    return maxpool2d_forward(x, (h, w), (1, 1), (0, 0, 0, 0), (1, 1))


def global_maxpool_backward(dy: np.ndarray, argmax: np.ndarray,
                            x_shape: tuple[int, ...]) -> np.ndarray:
    """dx[n,c,argmax] = dy[n,c]."""
    return maxpool2d_backward(dy, argmax, x_shape)
