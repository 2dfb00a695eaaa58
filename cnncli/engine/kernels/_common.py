"""Shared JIT flags, argument helpers and the scratch-buffer workspace.

The workspace is a module-level pool of flat buffers that grow to the largest
size requested and are then reused, so the big im2col/GEMM temporaries are not
re-allocated on every call. A scratch buffer is only valid until the next
kernel call: kernels never return scratch memory to the caller. The pool is
not thread-safe (one Python thread drives the engine); call
``clear_workspace()`` to release the memory.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

import numba
import numpy as np
from numba import njit

# Fast-math without 'nnan'/'ninf': reductions may be re-associated and
# vectorised, but -inf padding and NaN checks keep their IEEE meaning.
FAST = {"nsz", "arcp", "contract", "reassoc"}

_POOL: dict[tuple[str, str], np.ndarray] = {}


def keep_freed_memory() -> None:
    """Let glibc's malloc keep freed blocks of up to 32 MB for reuse (process-wide).

    A training step allocates the same few-MB tensors every time. By default glibc maps large
    blocks fresh (mmap threshold) and hands freed memory back to the kernel (trim threshold), so
    every step page-faults its tensors in again and the kernel zeroes them: ~20% of a ResNet-20
    step (measured). With these settings the process keeps up to its peak working set instead.
    """
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


keep_freed_memory()


def lower_jit_optimisation() -> None:
    """Compile with LLVM -O1 instead of -O3 unless NUMBA_OPT is set (process-wide).

    The hot loops are explicit vector code (microkernel.py) or simple loops that -O1 still
    vectorises: training speed is the same (measured), while a first run compiles ~30% faster
    (LeNet-5: 28.7 s -> 19.3 s to the first batch with an empty cache).
    """
    if "NUMBA_OPT" not in os.environ:
        os.environ["NUMBA_OPT"] = "1"
        numba.core.config.reload_config()


lower_jit_optimisation()


def scratch(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Return an uninitialised C-contiguous view of the pooled buffer `name`."""
    size = 1
    for s in shape:
        size *= int(s)
    key = (name, np.dtype(dtype).str)
    buf = _POOL.get(key)
    if buf is None or buf.size < size:
        buf = np.empty(max(size, 1), dtype=dtype)
        _POOL[key] = buf
    return buf[:size].reshape(shape)


def clear_workspace() -> None:
    """Drop every pooled scratch buffer."""
    _POOL.clear()


def pair(v: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """(a, b) from an int or a 2-sequence."""
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    a, b = v
    return int(a), int(b)


def quad(v: int | tuple[int, ...] | list[int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a symmetric (ph, pw) pair or a 4-sequence."""
    if isinstance(v, (int, np.integer)):
        return (int(v),) * 4  # type: ignore[return-value]
    if len(v) == 2:
        return int(v[0]), int(v[0]), int(v[1]), int(v[1])
    top, bottom, left, right = v
    return int(top), int(bottom), int(left), int(right)


@njit(cache=True, inline="always")
def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for b > 0 (any sign of a)."""
    return -((-a) // b)


@njit(cache=True, inline="always")
def valid_range(off: int, step: int, size: int, n_out: int) -> tuple[int, int]:
    """Output indices o in [lo, hi) with 0 <= o*step + off < size."""
    lo = max(0, ceil_div(-off, step))
    hi = min(n_out, ceil_div(size - off, step))
    if hi < lo:
        hi = lo
    return lo, hi
