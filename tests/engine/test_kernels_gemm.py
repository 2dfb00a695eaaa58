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

NO_BLAS = None  # what blas_table() gives when numpy has no OpenBLAS


@njit
def _call(blas, ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc):  # type: ignore[no-untyped-def]
    gemm(blas, ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc)


@pytest.mark.parametrize("table", ["openblas", "loops"])
@pytest.mark.parametrize("ta,tb,beta", list(itertools.product([0, 1], [0, 1], [0.0, 1.0])))
def test_gemm_matches_numpy(rng, table, ta, tb, beta):
    blas = BLAS_TABLE if table == "openblas" else NO_BLAS
    if table == "openblas" and BLAS_TABLE is None:
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


def test_dense_and_grouped_conv_run_without_openblas(rng, monkeypatch):
    # Reference: the same calls with numpy's OpenBLAS (float32 round-off apart).
    from cnncli.engine.kernels import conv, dense

    x, w, dy = (rng.standard_normal(s).astype(np.float32) for s in ((6, 9), (4, 9), (6, 4)))
    xc, wc = rng.standard_normal((2, 4, 7, 7)).astype(np.float32), rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    args = ((1, 1), (1, 1, 1, 1), (2, 2), 2)  # dilated and grouped: the im2col + GEMM path
    with_blas = [dense.dense_forward(x, w, None), *dense.dense_backward(x, w, dy),
                 conv.conv2d_forward(xc, wc, None, *args)]
    monkeypatch.setattr(dense, "BLAS_TABLE", NO_BLAS)
    monkeypatch.setattr(conv, "BLAS_TABLE", NO_BLAS)
    y = conv.conv2d_forward(xc, wc, None, *args)
    without = [dense.dense_forward(x, w, None), *dense.dense_backward(x, w, dy), y,
               *conv.conv2d_backward(xc, wc, np.ones_like(y), *args, need_db=False)[:2]]
    for ours, ref in zip(without, with_blas):
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    monkeypatch.undo()
    ref_dx, ref_dw, _ = conv.conv2d_backward(xc, wc, np.ones_like(y), *args, need_db=False)
    np.testing.assert_allclose(without[-2], ref_dx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(without[-1], ref_dw, rtol=1e-5, atol=1e-5)
