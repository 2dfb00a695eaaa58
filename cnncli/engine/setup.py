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
* Numba compiles with LLVM -O1 unless NUMBA_OPT is set, and each prange loop's wrappers are
  optimised and compiled only as part of their kernel (parfor_linking.py);
* Numba caches the kernels in a folder per version of the engine's sources (kernel_cache_dir).
Without it the engine computes the same, more slowly (bench/PROFILE.md has the measurements).
Call it before the first kernel compiles: Numba's cache does not record the LLVM level, so
kernels compiled (at -O3) by a process that did not configure are what later runs load, until
the source changes (tests/conftest.py configures the test suite for that reason).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import shutil
import sys
from pathlib import Path

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


ENGINE_ROOT = Path(__file__).resolve().parent
CACHE_PREFIX = "kernels-"
KEPT_CACHES = 8  # folders of other source versions kept (a developer switching branches reuses them)


def sources_digest(root: Path = ENGINE_ROOT) -> str:
    """SHA-256 (16 hex digits) of every .py file under `root` (the engine), paths and contents, in path order."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def kernel_cache_dir() -> Path:
    """NUMBA_CACHE_DIR for this version of the engine: `kernels-<digest of its sources>` under the
    NUMBA_CACHE_DIR the user set, else under $XDG_CACHE_HOME/cnncli/numba (~/.cache/cnncli/numba).
    Numba checks only a kernel's own file for changes, not the files of the functions it inlines:
    after an edit of winograd.py alone, conv_flat.py's kernels would load from the cache unchanged
    (bench/PROFILE.md); with a folder per version any change of the sources compiles afresh."""
    given = os.environ.get("NUMBA_CACHE_DIR", "")
    if given:
        base = Path(given)
        if base.name.startswith(CACHE_PREFIX):  # set by configure() in this or a parent process
            base = base.parent
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cnncli" / "numba"
    return base / f"{CACHE_PREFIX}{sources_digest()}"


def _use_kernel_cache() -> None:
    """Point Numba's cache at kernel_cache_dir() and remove all but the KEPT_CACHES newest folders of
    other versions; if it cannot be created, Numba's own default stays."""
    folder = kernel_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    others = sorted((p for p in folder.parent.glob(f"{CACHE_PREFIX}*") if p != folder),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in others[KEPT_CACHES:]:
        shutil.rmtree(old, ignore_errors=True)


def configure(threads: int | None = None) -> None:
    """Set the process up for training (module docstring); `threads` None keeps all cores."""
    numba_loaded = "numba" in sys.modules
    if threads is not None:
        variables = thread_environment(threads)
        if numba_loaded:  # its pool size is fixed now: set_num_threads below
            del variables["NUMBA_NUM_THREADS"]
        os.environ.update(variables)
    os.environ.setdefault("NUMBA_OPT", "1")  # the hot loops are explicit vector code: -O1 trains as fast
    _use_kernel_cache()
    if numba_loaded:  # let it read the settings again
        import numba

        numba.core.config.reload_config()
        if threads is not None:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    keep_freed_memory()
    from cnncli.engine import parfor_linking

    parfor_linking.install()
    from cnncli.engine.kernels.blas import library

    blas = library()
    if blas is not None:
        blas.set_num_threads(1)
