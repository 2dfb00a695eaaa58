"""gemm from inside Numba (kernels/gemm.py): numpy's OpenBLAS, and the plain loops it falls back to.

Reference: numpy's matmul in float64 on the same operands, for every transpose combination,
with offsets into flat buffers and beta = 0 (C ignored, even NaN) or 1 (accumulate).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from numba import njit

from cnncli.engine.kernels.gemm import BLAS_TABLE, gemm

NO_BLAS = np.zeros(3, np.int64)  # what blas_table() gives when numpy has no OpenBLAS


@njit
def _call(blas, ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc):  # type: ignore[no-untyped-def]
    gemm(blas, ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc)


@pytest.mark.parametrize("table", ["openblas", "loops"])
@pytest.mark.parametrize("ta,tb,beta", list(itertools.product([0, 1], [0, 1], [0.0, 1.0])))
def test_gemm_matches_numpy(rng, table, ta, tb, beta):
    blas = BLAS_TABLE if table == "openblas" else NO_BLAS
    if table == "openblas" and BLAS_TABLE[0] == 0:
        pytest.skip("numpy has no OpenBLAS here")
    m, n, k, off = 5, 7, 6, 3
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    if beta == 0:
        c0[0, 0] = np.nan  # beta = 0 must not read C
    flat = lambda x: np.concatenate([np.full(off, 9, np.float32), x.ravel()])  # noqa: E731
    fa, fb, fc = flat(a), flat(b), flat(c0)
    _call(blas, ta, tb, m, n, k, fa, off, a.shape[1], fb, off, b.shape[1], beta, fc, off, n)
    op = lambda x, t: x.T if t else x  # noqa: E731
    ref = op(a, ta).astype(np.float64) @ op(b, tb).astype(np.float64) + (beta * c0 if beta else 0)
    np.testing.assert_allclose(fc[off:].reshape(m, n), ref, rtol=1e-5, atol=1e-5)
    assert (fc[:off] == 9).all()  # nothing written before the offset
