"""2-D convolution (cross-correlation, PyTorch semantics), NCHW.

y[n, f, oh, ow] = b[f] + sum_{c, kh, kw} w[f, c, kh, kw] *
    x[n, g*Cg + c, oh*sh - top + kh*dh, ow*sw - left + kw*dw]   (zero padding)
OH = (H + top + bottom - dh*(KH-1) - 1) // sh + 1, likewise OW.

Two paths, chosen per call:
* conv_gemm: im2col + single-threaded BLAS GEMM per chunk of samples, inside
  one prange (one GEMM per group on a row slice of the column block).
* direct loop kernels (conv_direct) when each group has a single input
  channel (depthwise and similar), where GEMMs would be tiny.

Both functions return new arrays; the per-thread im2col/GEMM workspace lives in
the module pool (_common.scratch) and is reused between calls.
"""
from __future__ import annotations

import numpy as np
from numba import config

from . import conv_direct
from ._common import pair, quad, scratch
from .conv_gemm import gemm_backward, gemm_forward
from .gemm import BLAS_TABLE

_THREADS = config.NUMBA_NUM_THREADS  # workspace rows: one per possible Numba thread
_CHUNK_BYTES = 512 * 1024

Pads = tuple[int, int, int, int]


def conv2d_output_hw(h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int],
                     pads: Pads, dilation: tuple[int, int]) -> tuple[int, int]:
    """(OH, OW) by the formula in the module docstring."""
    oh = (h + pads[0] + pads[1] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (w + pads[2] + pads[3] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(f"conv2d output would be empty: {oh}x{ow}")
    return oh, ow


def _use_direct(c: int, groups: int) -> bool:
    """Direct loops when every group holds one input channel (depthwise)."""
    return groups > 1 and c // groups == 1


def _geometry(x: np.ndarray, w: np.ndarray, stride, pads, dilation, groups: int):
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    if c != cg * groups or f % groups:
        raise ValueError(f"conv2d: x has {c} channels, w {w.shape}, groups={groups}")
    s, p, d = pair(stride), quad(pads), pair(dilation)
    oh, ow = conv2d_output_hw(h, wd, (kh, kw), s, p, d)
    return s, p, d, oh, ow


def _chunk(n: int, rows: int, f: int, p: int, itemsize: int) -> int:
    """Samples per prange task: column block near _CHUNK_BYTES, >= 2 tasks per thread."""
    per_sample = (rows + f) * p * itemsize
    spc = max(1, _CHUNK_BYTES // per_sample)
    return max(1, min(spc, -(-n // (2 * _THREADS))))


def _workspace(n: int, rows: int, f: int, p: int, dtype: np.dtype) -> tuple[np.ndarray, int]:
    """(per-thread workspace, samples per chunk) for conv_gemm."""
    spc = _chunk(n, rows, f, p, np.dtype(dtype).itemsize)
    return scratch("conv", (_THREADS, (rows + f) * spc * p), dtype), spc


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                   stride: tuple[int, int], pads: Pads, dilation: tuple[int, int],
                   groups: int) -> np.ndarray:
    """y = conv2d(x, w) + b; x [N,C,H,W], w [F,C//groups,KH,KW], b [F] or None.

    Returns a new [N, F, OH, OW] array of x's dtype.
    """
    (sh, sw), (pt, _, pl, _), (dh, dw), oh, ow = _geometry(x, w, stride, pads, dilation, groups)
    n, c = x.shape[:2]
    f, cg, kh, kw = w.shape
    bias = np.zeros(f, x.dtype) if b is None else b
    y = np.empty((n, f, oh, ow), x.dtype)
    if _use_direct(c, groups):
        conv_direct.direct_forward(x, w, bias, y, sh, sw, pt, pl, dh, dw, groups)
        return y
    ws, spc = _workspace(n, c * kh * kw, f, oh * ow, x.dtype)
    gemm_forward(BLAS_TABLE, x, w.reshape(f, cg * kh * kw), bias, y, ws, spc,
                 kh, kw, sh, sw, pt, pl, dh, dw, groups)
    return y


def conv2d_backward(x: np.ndarray, w: np.ndarray, dy: np.ndarray,
                    stride: tuple[int, int], pads: Pads, dilation: tuple[int, int],
                    groups: int, need_dx: bool = True
                    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients of conv2d_forward given dy = dL/dy [N, F, OH, OW].

    dw[f] = sum_n dy[n, f] (*) x[n] (correlation), db = dy.sum((0, 2, 3)),
    dx = transposed convolution of dy with w (None when need_dx is False).
    Returns new arrays (dx, dw, db).
    """
    (sh, sw), (pt, _, pl, _), (dh, dw_), oh, ow = _geometry(x, w, stride, pads, dilation, groups)
    n, c = x.shape[:2]
    f, cg, kh, kw = w.shape
    if dy.shape != (n, f, oh, ow):
        raise ValueError(f"conv2d_backward: dy has shape {dy.shape}, expected {(n, f, oh, ow)}")
    if _use_direct(c, groups):
        return _direct_backward(x, w, dy, (sh, sw, pt, pl, dh, dw_), groups, need_dx)
    ws, spc = _workspace(n, c * kh * kw, f, oh * ow, x.dtype)
    dwp = np.zeros((_THREADS, f, cg * kh * kw), x.dtype)
    dbp = np.zeros((_THREADS, f), x.dtype)
    dx = np.empty_like(x) if need_dx else x[:0]
    gemm_backward(BLAS_TABLE, x, w.reshape(f, cg * kh * kw), dy, dx, dwp, dbp, ws, spc,
                  kh, kw, sh, sw, pt, pl, dh, dw_, groups, need_dx)
    return (dx if need_dx else None), dwp.sum(axis=0).reshape(w.shape), dbp.sum(axis=0)

def _direct_backward(x: np.ndarray, w: np.ndarray, dy: np.ndarray,
                     geo: tuple[int, int, int, int, int, int], groups: int, need_dx: bool
                     ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """conv2d_backward via the direct kernels (per-chunk weight partials, then summed)."""
    sh, sw, pt, pl, dh, dw_ = geo
    chunks = max(1, min(x.shape[0], 8))
    dwp = np.empty((chunks,) + w.shape, x.dtype)
    conv_direct.direct_grad_weight(x, dy, dwp, sh, sw, pt, pl, dh, dw_, groups)
    db = dy.sum(axis=(0, 2, 3), dtype=np.float64).astype(x.dtype)
    dx = None
    if need_dx:
        dx = np.empty_like(x)
        conv_direct.direct_grad_input(w, dy, dx, sh, sw, pt, pl, dh, dw_, groups)
    return dx, dwp.sum(axis=0), db
