"""Fully connected layer: y = x @ w.T + b with x [N, F], w [U, F], b [U].

Backward: dx = dy @ w, dw = dy.T @ x, db = dy.sum(0).
The GEMMs run as single-threaded BLAS calls on disjoint row blocks of the
output, one block per prange task (see gemm.py for why BLAS itself is kept
single-threaded). All functions return new arrays.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._common import THREADS
from .gemm import BLAS_TABLE, gemm


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """y [N, U] = x @ w.T + b."""
    y = np.empty((x.shape[0], w.shape[0]), x.dtype)
    _mm(x, False, w, True, y)
    if b is not None:
        y += b
    return y


def dense_backward(x: np.ndarray, w: np.ndarray, dy: np.ndarray, need_dx: bool = True
                   ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(dx = dy @ w or None, dw = dy.T @ x, db = dy.sum(0))."""
    dw = np.empty_like(w)
    _mm(dy, True, x, False, dw)
    dx = None
    if need_dx:
        dx = np.empty_like(x)
        _mm(dy, False, w, False, dx)
    return dx, dw, dy.sum(axis=0)


def _mm(a: np.ndarray, ta: bool, b: np.ndarray, tb: bool, c: np.ndarray) -> None:
    """c = op(a) @ op(b), op = transpose when the flag is set; rows of c split over tasks."""
    _rows_gemm(BLAS_TABLE, int(ta), int(tb), a, b, c, min(THREADS, c.shape[0]))


@njit(parallel=True, cache=True)
def _rows_gemm(blas, ta, tb, a, b, c, tasks):
    """Task t computes rows [t*M//tasks, (t+1)*M//tasks) of c = op(a) @ op(b)."""
    m, n = c.shape
    k = a.shape[0] if ta else a.shape[1]
    lda, ldb = a.shape[1], b.shape[1]
    for t in prange(tasks):
        r0, r1 = t * m // tasks, (t + 1) * m // tasks
        if r1 > r0:
            ia = r0 if ta else r0 * lda
            gemm(blas, ta, tb, r1 - r0, n, k, a.ravel(), ia, lda, b.ravel(), 0, ldb,
                 0.0, c.ravel(), r0 * n, n)
