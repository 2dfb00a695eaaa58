"""BLAS GEMM callable from inside Numba kernels (and prange bodies).

numpy's own OpenBLAS is bound through ctypes (blas.py), so each Numba thread can run a
single-threaded GEMM on its own slice of the work: one thread pool (Numba's) drives both
cores. That needs OpenBLAS single-threaded, which cnncli.engine.setup.configure() arranges.
Without OpenBLAS (numpy built on another BLAS), BLAS_TABLE is None and gemm multiplies with
plain loops: the same contract, slower.

gemm(BLAS_TABLE, ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc) computes, in
row-major storage with element offsets ia/ib/ic into the flat buffers a/b/c:
    C[m, n] = op(A)[m, k] @ op(B)[k, n] + beta * C,   op = transpose if t* = 1.
"""
from __future__ import annotations

import ctypes

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from .blas import library

_ROW_MAJOR, _NO_TRANS = 101, 111


def blas_table() -> np.ndarray | None:
    """[sgemm address, dgemm address, BLAS integer width] of numpy's OpenBLAS; None without one
    (a different argument type: kernels compiled for it hold the loops, the others do not)."""
    blas = library()
    if blas is None:
        return None
    return np.array([ctypes.cast(blas.sgemm, ctypes.c_void_p).value, ctypes.cast(blas.dgemm, ctypes.c_void_p).value,
                     blas.int_bits], dtype=np.int64)


# pass to every kernel that calls gemm (an argument, so that cached machine code holds no address)
BLAS_TABLE = blas_table()


def _gemm_codegen(int_bits: int):
    """Codegen calling a cblas_?gemm function pointer whose ints are `int_bits` wide."""
    def codegen(context, builder, signature, args):
        real = context.get_value_type(signature.args[7])
        i32, blasint = ir.IntType(32), ir.IntType(int_bits)
        ptr = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32] * 3 + [blasint] * 3 + [
            real, ptr, blasint, ptr, blasint, real, ptr, blasint])
        kinds = [i32] * 3 + [blasint] * 3 + [real, ptr, blasint, ptr, blasint, real, ptr, blasint]
        vals = []
        for val, kind in zip(args[1:], kinds):
            if kind is ptr:
                vals.append(builder.inttoptr(val, ptr))
            elif kind is real:
                vals.append(val)
            else:
                vals.append(builder.trunc(val, kind) if kind.width < 64 else val)
        builder.call(builder.inttoptr(args[0], fnty.as_pointer()), vals)
        return context.get_dummy_value()
    return codegen


def _make_call(int_bits: int):
    @intrinsic
    def call(typingctx, fptr, order, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
        i64 = types.int64
        sig = types.void(i64, i64, i64, i64, i64, i64, i64, alpha, i64, i64, i64, i64,
                         alpha, i64, i64)
        return sig, _gemm_codegen(int_bits)
    return call


_call64, _call32 = _make_call(64), _make_call(32)


@njit(cache=True, nogil=True)
def gemm_loops(ta: int, tb: int, m: int, n: int, k: int, a: np.ndarray, ia: int, lda: int, b: np.ndarray, ib: int,
               ldb: int, beta: float, c: np.ndarray, ic: int, ldc: int) -> None:
    """gemm without BLAS: C = op(A) @ op(B) + beta*C with plain loops (row i of C at a time)."""
    for i in range(m):
        row = ic + i * ldc
        for j in range(n):
            c[row + j] = 0.0 if beta == 0 else beta * c[row + j]  # beta = 0 ignores C (NaN too), as BLAS does
        for p in range(k):
            aip = a[ia + p * lda + i] if ta else a[ia + i * lda + p]
            if tb:
                for j in range(n):
                    c[row + j] += aip * b[ib + j * ldb + p]
            else:
                for j in range(n):
                    c[row + j] += aip * b[ib + p * ldb + j]


def _blas_gemm(blas, ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc):  # type: ignore[no-untyped-def]
    """Stands for gemm's body; its implementation is chosen by the type of `blas` (below)."""


@overload(_blas_gemm)
def _blas_gemm_impl(blas, ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc):  # type: ignore[no-untyped-def]
    """None: gemm_loops; the table: numpy's OpenBLAS. Chosen when compiling, so a kernel built for
    one never compiles the other (the loops cost ~0.5 s of a first run's JIT)."""
    if isinstance(blas, types.NoneType):
        return lambda blas, ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc: gemm_loops(  # noqa: E731
            ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc)

    def call(blas, ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc):  # type: ignore[no-untyped-def]
        size = a.itemsize
        fptr = blas[0] if size == 4 else blas[1]
        one = a.dtype.type(1.0)
        bt = a.dtype.type(beta)
        pa = a.ctypes.data + ia * size
        pb = b.ctypes.data + ib * size
        pc = c.ctypes.data + ic * size
        if blas[2] == 64:
            _call64(fptr, _ROW_MAJOR, _NO_TRANS + ta, _NO_TRANS + tb, m, n, k, one, pa, lda, pb, ldb, bt, pc, ldc)
        else:
            _call32(fptr, _ROW_MAJOR, _NO_TRANS + ta, _NO_TRANS + tb, m, n, k, one, pa, lda, pb, ldb, bt, pc, ldc)
    return call


@njit(cache=True, nogil=True)
def gemm(blas: np.ndarray | None, ta: int, tb: int, m: int, n: int, k: int,
         a: np.ndarray, ia: int, lda: int, b: np.ndarray, ib: int, ldb: int,
         beta: float, c: np.ndarray, ic: int, ldc: int) -> None:
    """C = op(A) @ op(B) + beta*C on flat row-major buffers (see module doc); blas is BLAS_TABLE
    (numpy's OpenBLAS), or None for gemm_loops."""
    _blas_gemm(blas, ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc)
