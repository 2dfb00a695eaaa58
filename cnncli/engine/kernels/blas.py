"""numpy's OpenBLAS, found and bound through ctypes (no Numba here: the set-up uses it too).

`library()` looks in the shared objects the process has mapped (/proc/self/maps), then in
numpy.libs, for cblas_sgemm / cblas_dgemm and openblas_set_num_threads under the names the
wheels use (scipy_openblas 64-bit ints, OpenBLAS 64-bit, plain 32-bit); None when numpy is
not built on OpenBLAS (gemm.py then multiplies with plain loops: slower, same contract).
"""
from __future__ import annotations

import ctypes
import glob
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

_SYMBOLS = [("scipy_cblas_%sgemm64_", "scipy_openblas_set_num_threads64_", ctypes.c_int64),
            ("cblas_%sgemm64_", "openblas_set_num_threads64_", ctypes.c_int64),
            ("cblas_%sgemm", "openblas_set_num_threads", ctypes.c_int)]


@dataclass(frozen=True)
class Blas:
    """cblas_sgemm and cblas_dgemm, openblas_set_num_threads, and the width of BLAS integers."""

    sgemm: Any
    dgemm: Any
    set_num_threads: Any
    int_bits: int


def _candidates() -> list[str]:
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


def _bind(lib: ctypes.CDLL, gemm_name: str, threads_name: str, blasint: Any) -> Blas:
    funcs = []
    for real, prefix in ((ctypes.c_float, "s"), (ctypes.c_double, "d")):
        fn = getattr(lib, gemm_name % prefix)
        fn.restype = None
        fn.argtypes = [ctypes.c_int] * 3 + [blasint] * 3 + [real, ctypes.c_void_p, blasint, ctypes.c_void_p,
                                                            blasint, real, ctypes.c_void_p, blasint]
        funcs.append(fn)
    set_threads = getattr(lib, threads_name)
    set_threads.restype = None
    set_threads.argtypes = [ctypes.c_int]
    return Blas(funcs[0], funcs[1], set_threads, ctypes.sizeof(blasint) * 8)


@lru_cache(maxsize=1)
def library() -> Blas | None:
    """numpy's OpenBLAS, or None if it has none."""
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for gemm_name, threads_name, blasint in _SYMBOLS:
            if hasattr(lib, gemm_name % "s") and hasattr(lib, threads_name):
                return _bind(lib, gemm_name, threads_name, blasint)
    return None
