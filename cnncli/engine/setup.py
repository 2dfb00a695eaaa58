"""Process set-up for the engine: one explicit call, made by the commands that train, evaluate
or predict (`configure(threads)`), never a side effect of importing the engine.

configure(threads):
* thread counts, the one home of them: every pool (Numba's, OpenMP's, OpenBLAS's, MKL's) gets
  `threads` (None: all cores) through THREAD_VARIABLES; this must happen before Numba is
  imported (afterwards Numba is told with set_num_threads);
* numpy's OpenBLAS runs single-threaded: all parallelism goes through Numba's thread pool
  (kernels/gemm.py calls BLAS from inside parallel loops; OpenBLAS's own threads busy-wait
  after each call and stall Numba's);
* glibc's malloc keeps freed blocks for reuse instead of returning them to the kernel;
* Numba compiles with LLVM -O1 unless NUMBA_OPT is set.
Without it the engine computes the same, more slowly (bench/PROFILE.md has the measurements).
Call it before the first kernel compiles: Numba's cache does not record the LLVM level, so
kernels compiled (at -O3) by a process that did not configure are what later runs load, until
the source changes (tests/conftest.py configures the test suite for that reason).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_environment(threads: int) -> dict[str, str]:
    """The environment variables that give every thread pool `threads` threads."""
    return {variable: str(threads) for variable in THREAD_VARIABLES}


def keep_freed_memory() -> None:
    """Let glibc's malloc keep freed blocks of up to 32 MB for reuse (mmap threshold 32 MB, trim
    threshold 256 MB): a training step allocates the same few-MB tensors every time, and by
    default each one is mapped fresh and page-faulted in again. No-op elsewhere than glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 256 << 20)


def configure(threads: int | None = None) -> None:
    """Set the process up for training (module docstring); `threads` None keeps all cores."""
    numba_loaded = "numba" in sys.modules
    if threads is not None:
        variables = thread_environment(threads)
        if numba_loaded:  # its pool size is fixed now: set_num_threads below
            del variables["NUMBA_NUM_THREADS"]
        os.environ.update(variables)
    os.environ.setdefault("NUMBA_OPT", "1")  # the hot loops are explicit vector code: -O1 trains as fast
    if numba_loaded:  # let it read the settings again
        import numba

        numba.core.config.reload_config()
        if threads is not None:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    keep_freed_memory()
    from cnncli.engine.kernels.blas import library

    blas = library()
    if blas is not None:
        blas.set_num_threads(1)
