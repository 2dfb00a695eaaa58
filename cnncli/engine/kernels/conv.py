"""2-D convolution (cross-correlation, PyTorch semantics), NCHW.

y[n, f, oh, ow] = b[f] + sum_{c, kh, kw} w[f, c, kh, kw] *
    x[n, g*Cg + c, oh*sh - top + kh*dil_h, ow*sw - left + kw*dil_w]   (zero padding)
OH = (H + top + bottom - dil_h*(KH-1) - 1) // sh + 1, likewise OW (cnncli.shapes.conv_out).

Three paths, chosen per call:
* conv_flat (float32, no dilation, equal strides): zero-padded (and for stride > 1
  phase-split) canvases and register-blocked FMA tiles, prange over samples; it also runs
  conv -> relu (-> k x k max pooling) as one op (conv2d_relu_*) and gives batch norm
  its statistics (conv2d_stats_forward, conv2d_bn_backward). A grouped convolution with
  several channels per group runs as one conv_flat call per group on its channel slice.
* conv_gemm (dilated or float64 convolutions): im2col + single-threaded BLAS GEMM per chunk of
  samples, inside one prange (one GEMM per group on a row slice of the column block).
* direct loop kernels (conv_direct) when each group has a single input
  channel (depthwise and similar), where GEMMs would be tiny.

All functions return new arrays; the per-thread im2col/GEMM workspace lives in
the module pool (_common.scratch) and is reused between calls.
"""
from __future__ import annotations

import numpy as np

from . import conv_direct
from ._common import THREADS, ConvGeometry, pair, quad, scratch
from .conv_flat import BIAS, BN, BN_RELU, POOL, RELU
from .conv_gemm import gemm_backward, gemm_forward
from .conv_plan import NO_CODES, conv2d_output_hw, flat_conv_backward, flat_conv_forward, plan_for
from .gemm import BLAS_TABLE

_CHUNK_BYTES = 512 * 1024

Pads = tuple[int, int, int, int]


def _use_direct(c: int, groups: int) -> bool:
    """Direct loops when every group holds one input channel (depthwise)."""
    return groups > 1 and c // groups == 1


def _per_group(c: int, groups: int, stride: tuple[int, int], dilation: tuple[int, int], dtype: np.dtype) -> bool:
    """A grouped convolution with several channels per group runs as `groups` convolutions on
    channel slices through conv_flat (tiles, Winograd) when conv_flat takes the slices: each is
    an ordinary convolution, and 3-7x faster than im2col + small GEMMs (bench/PROFILE.md)."""
    return groups > 1 and not _use_direct(c, groups) and flat_eligible(stride, dilation, 1, dtype)


def _group_slices(x: np.ndarray, w: np.ndarray, groups: int) -> list[tuple[np.ndarray, np.ndarray, slice]]:
    """Per group g: (its input channels as a contiguous array, its filters, the slice of its
    output channels)."""
    cg, fg = x.shape[1] // groups, w.shape[0] // groups
    return [(np.ascontiguousarray(x[:, g * cg:(g + 1) * cg]), w[g * fg:(g + 1) * fg], slice(g * fg, (g + 1) * fg))
            for g in range(groups)]


def _geometry(x: np.ndarray, w: np.ndarray, stride: tuple[int, int], pads: Pads, dilation: tuple[int, int],
              groups: int) -> ConvGeometry:
    """The named geometry of one convolution (checks the channels and that the output is not empty)."""
    _, c, h, width = x.shape
    f, cg, kh, kw = w.shape
    if c != cg * groups or f % groups:
        raise ValueError(f"conv2d: x has {c} channels, w {w.shape}, groups={groups}")
    (sh, sw), (pt, pb, pl, pr), (dil_h, dil_w) = pair(stride), quad(pads), pair(dilation)
    oh, ow = conv2d_output_hw(h, width, (kh, kw), (sh, sw), (pt, pb, pl, pr), (dil_h, dil_w))
    return ConvGeometry(kh, kw, sh, sw, pt, pl, dil_h, dil_w, groups, oh, ow)


def _chunk(n: int, rows: int, f: int, p: int, itemsize: int) -> int:
    """Samples per prange task: column block near _CHUNK_BYTES, >= 2 tasks per thread."""
    per_sample = (rows + f) * p * itemsize
    spc = max(1, _CHUNK_BYTES // per_sample)
    return max(1, min(spc, -(-n // (2 * THREADS))))


def _workspace(n: int, rows: int, f: int, p: int, dtype: np.dtype) -> tuple[np.ndarray, int]:
    """(per-thread workspace, samples per chunk) for conv_gemm."""
    spc = _chunk(n, rows, f, p, np.dtype(dtype).itemsize)
    return scratch("conv", (THREADS, (rows + f) * spc * p), dtype), spc


def flat_eligible(stride, dilation, groups: int, dtype: np.dtype = np.dtype(np.float32)) -> bool:
    """Whether conv_flat runs this convolution (and so whether it can be fused): float32, one
    group, no dilation, the same stride along H and W."""
    sh, sw = pair(stride)
    return sh == sw and pair(dilation) == (1, 1) and groups == 1 and np.dtype(dtype) == np.float32


def conv2d_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, int],
                        pads: Pads, pool: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(y, codes): y = relu(conv2d(x, w) + b), then k x k max pooling with stride k when
    pool = k > 0 (codes: the pooling choices, int8; see conv_flat). Requires flat_eligible."""
    g = plan_for(x, w, pair(stride)[0], pads)
    n, f = x.shape[0], w.shape[0]
    if not pool:
        y = np.empty((n, f, g.oh, g.ow), x.dtype)
        flat_conv_forward(g, x, w, b, y, RELU)
        return y, NO_CODES
    shape = (n, f, g.oh // pool, g.ow // pool)
    y, codes = np.empty(shape, x.dtype), np.empty(shape, np.int8)
    flat_conv_forward(g, x, w, b, y, POOL, pool, codes)
    return y, codes


def conv2d_relu_backward(x: np.ndarray, w: np.ndarray, dy: np.ndarray, y: np.ndarray, codes: np.ndarray,
                         stride: tuple[int, int], pads: Pads, pool: int = 0, need_dx: bool = True,
                         need_db: bool = True) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """(dx or None, dw, db or None) of conv2d_relu_forward from dy = dL/dy; `y` is its output
    (read without pooling), `codes` its pooling choices (read with)."""
    g = plan_for(x, w, pair(stride)[0], pads)
    if pool:
        return flat_conv_backward(g, x, w, dy, POOL, need_dx, need_db, pool, codes=codes)
    return flat_conv_backward(g, x, w, dy, RELU, need_dx, need_db, saved=y)


def conv2d_stats_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, int],
                         pads: Pads) -> tuple[np.ndarray, np.ndarray]:
    """(y = conv2d(x, w) + b, sums [2, F] float64: per channel, sum of y and of y^2)."""
    g = plan_for(x, w, pair(stride)[0], pads)
    y = np.empty((x.shape[0], w.shape[0], g.oh, g.ow), x.dtype)
    return y, flat_conv_forward(g, x, w, b, y, BN)


def conv2d_bn_backward(x: np.ndarray, w: np.ndarray, dz: np.ndarray, z: np.ndarray, y: np.ndarray,
                       coef: np.ndarray, stride: tuple[int, int], pads: Pads, relu: bool, need_dx: bool = True,
                       need_db: bool = True) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """(dx or None, dw, db or None) of conv -> batch norm (-> relu), y the conv output, z the
    block's output, dz its gradient, coef from norm.batchnorm_grad_coefficients."""
    g = plan_for(x, w, pair(stride)[0], pads)
    return flat_conv_backward(g, x, w, dz, BN_RELU if relu else BN, need_dx, need_db, saved=z, yconv=y, coef=coef)


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                   stride: tuple[int, int], pads: Pads, dilation: tuple[int, int],
                   groups: int) -> np.ndarray:
    """y = conv2d(x, w) + b; x [N,C,H,W], w [F,C//groups,KH,KW], b [F] or None.

    Returns a new [N, F, OH, OW] array of x's dtype.
    """
    geo = _geometry(x, w, stride, pads, dilation, groups)
    n, c = x.shape[:2]
    f, cg, kh, kw = w.shape
    y = np.empty((n, f, geo.oh, geo.ow), x.dtype)
    if flat_eligible(stride, dilation, groups, x.dtype):
        flat_conv_forward(plan_for(x, w, geo.sh, pads), x, w, b, y, BIAS)
        return y
    if _per_group(c, groups, stride, dilation, x.dtype):
        for xg, wg, fs in _group_slices(x, w, groups):
            y[:, fs] = conv2d_forward(xg, wg, None if b is None else b[fs], stride, pads, dilation, 1)
        return y
    bias = np.zeros(f, x.dtype) if b is None else b
    if _use_direct(c, groups):
        return conv_direct.depthwise_conv_forward(x, w, bias, geo)
    ws, spc = _workspace(n, c * kh * kw, f, geo.oh * geo.ow, x.dtype)
    gemm_forward(BLAS_TABLE, x, w.reshape(f, cg * kh * kw), bias, y, ws, spc, geo)
    return y


def conv2d_backward(x: np.ndarray, w: np.ndarray, dy: np.ndarray,
                    stride: tuple[int, int], pads: Pads, dilation: tuple[int, int],
                    groups: int, need_dx: bool = True, need_db: bool = True
                    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Gradients of conv2d_forward given dy = dL/dy [N, F, OH, OW].

    dw[f] = sum_n dy[n, f] (*) x[n] (correlation), db = dy.sum((0, 2, 3)),
    dx = transposed convolution of dy with w (None when need_dx is False).
    Returns new arrays (dx, dw, db); db is None when need_db is False (no bias) and the
    flat path then skips it.
    """
    geo = _geometry(x, w, stride, pads, dilation, groups)
    n, c = x.shape[:2]
    f, cg, kh, kw = w.shape
    if dy.shape != (n, f, geo.oh, geo.ow):
        raise ValueError(f"conv2d_backward: dy has shape {dy.shape}, expected {(n, f, geo.oh, geo.ow)}")
    if flat_eligible(stride, dilation, groups, x.dtype):
        return flat_conv_backward(plan_for(x, w, geo.sh, pads), x, w, dy, BIAS, need_dx, need_db)
    if _per_group(c, groups, stride, dilation, x.dtype):
        parts = [conv2d_backward(xg, wg, np.ascontiguousarray(dy[:, fs]), stride, pads, dilation, 1, need_dx, need_db)
                 for xg, wg, fs in _group_slices(x, w, groups)]
        dx = np.concatenate([part[0] for part in parts], axis=1) if need_dx else None
        db = np.concatenate([part[2] for part in parts]) if need_db else None
        return dx, np.concatenate([part[1] for part in parts]), db
    if _use_direct(c, groups):
        return conv_direct.depthwise_conv_backward(x, w, dy, geo, need_dx, need_db)
    ws, spc = _workspace(n, c * kh * kw, f, geo.oh * geo.ow, x.dtype)
    dwp = np.zeros((THREADS, f, cg * kh * kw), x.dtype)
    dbp = np.zeros((THREADS, f), x.dtype)
    dx = np.empty_like(x) if need_dx else x[:0]
    gemm_backward(BLAS_TABLE, x, w.reshape(f, cg * kh * kw), dy, dx, dwp, dbp, ws, spc, geo, need_dx)
    return (dx if need_dx else None), dwp.sum(axis=0).reshape(w.shape), dbp.sum(axis=0)
