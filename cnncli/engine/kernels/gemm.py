"""BLAS GEMM callable from inside Numba kernels (and prange bodies).

numpy's own OpenBLAS is bound through ctypes, so each Numba thread can run a
single-threaded GEMM on its own slice of the work: one thread pool (Numba's)
drives both cores. IMPORTING THIS MODULE SETS numpy's OpenBLAS TO ONE THREAD
for the whole process: OpenBLAS worker threads busy-wait after each call and
stall Numba's threads on a 2-core machine (measured: 1 ms kernels took 8 ms).
Parallel BLAS work in the engine goes through these kernels (conv, dense).

gemm(BLAS_TABLE, ta, tb, m, n, k, a, ia, lda, b, ib, ldb, beta, c, ic, ldc) computes, in
row-major storage with element offsets ia/ib/ic into the flat buffers a/b/c:
    C[m, n] = op(A)[m, k] @ op(B)[k, n] + beta * C,   op = transpose if t* = 1.
"""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_ROW_MAJOR, _NO_TRANS = 101, 111


def _blas_candidates() -> list[str]:
    """Shared libraries that may hold numpy's BLAS: mapped ones first, then numpy.libs."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "blas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    paths += sorted(glob.glob(os.path.join(libs, "*blas*")))
    return paths


def _bind() -> tuple[object, object, object]:
    """(sgemm, dgemm, set_num_threads) ctypes functions from numpy's OpenBLAS."""
    symbols = [("scipy_cblas_%sgemm64_", "scipy_openblas_set_num_threads64_", ctypes.c_int64),
               ("cblas_%sgemm64_", "openblas_set_num_threads64_", ctypes.c_int64),
               ("cblas_%sgemm", "openblas_set_num_threads", ctypes.c_int)]
    for path in _blas_candidates():
        lib = ctypes.CDLL(path)
        for gemm_name, threads_name, blasint in symbols:
            if not hasattr(lib, gemm_name % "s") or not hasattr(lib, threads_name):
                continue
            funcs = []
            for real, prefix in ((ctypes.c_float, "s"), (ctypes.c_double, "d")):
                fn = getattr(lib, gemm_name % prefix)
                fn.restype = None
                fn.argtypes = [ctypes.c_int] * 3 + [blasint] * 3 + [
                    real, ctypes.c_void_p, blasint, ctypes.c_void_p, blasint,
                    real, ctypes.c_void_p, blasint]
                funcs.append(fn)
            set_threads = getattr(lib, threads_name)
            set_threads.restype = None
            set_threads.argtypes = [ctypes.c_int]
            return funcs[0], funcs[1], set_threads
    raise ImportError("cnncli kernels need numpy linked against OpenBLAS (cblas_sgemm not found)")


_SGEMM, _DGEMM, _SET_THREADS = _bind()
_SET_THREADS(1)  # process-wide: see the module docstring
# [sgemm address, dgemm address, BLAS integer width]; pass to every kernel that calls gemm.
BLAS_TABLE = np.array([ctypes.cast(_SGEMM, ctypes.c_void_p).value,
                       ctypes.cast(_DGEMM, ctypes.c_void_p).value,
                       ctypes.sizeof(_SGEMM.argtypes[3]) * 8], dtype=np.int64)


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
def gemm(blas: np.ndarray, ta: int, tb: int, m: int, n: int, k: int,
         a: np.ndarray, ia: int, lda: int, b: np.ndarray, ib: int, ldb: int,
         beta: float, c: np.ndarray, ic: int, ldc: int) -> None:
    """C = op(A) @ op(B) + beta*C on flat row-major buffers (see module doc).

    blas is BLAS_TABLE, passed at run time so that cached machine code holds no
    process-specific function address.
    """
    size = a.itemsize
    fptr = blas[0] if size == 4 else blas[1]
    one = a.dtype.type(1.0)
    bt = a.dtype.type(beta)
    pa = a.ctypes.data + ia * size
    pb = b.ctypes.data + ib * size
    pc = c.ctypes.data + ic * size
    if blas[2] == 64:
        _call64(fptr, _ROW_MAJOR, _NO_TRANS + ta, _NO_TRANS + tb, m, n, k, one, pa, lda,
                pb, ldb, bt, pc, ldc)
    else:
        _call32(fptr, _ROW_MAJOR, _NO_TRANS + ta, _NO_TRANS + tb, m, n, k, one, pa, lda,
                pb, ldb, bt, pc, ldc)
