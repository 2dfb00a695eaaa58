"""Shared JIT flags, the thread count, argument helpers and the scratch-buffer workspace.

The workspace is a module-level pool of flat buffers that grow to the largest size requested
and are then reused, so the big canvas / im2col / GEMM temporaries are not re-allocated on
every call. A scratch buffer is only valid until the next kernel call: kernels never return
scratch memory to the caller. The pool is not thread-safe (one Python thread drives the engine).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import config, njit

# Fast-math without 'nnan'/'ninf': reductions may be re-associated and
# vectorised, but -inf padding and NaN checks keep their IEEE meaning.
FAST = {"nsz", "arcp", "contract", "reassoc"}

# Numba's pool size (cnncli.engine.setup sets it): one workspace row, one partial sum per thread
THREADS: int = config.NUMBA_NUM_THREADS

_POOL: dict[tuple[str, str], np.ndarray] = {}


class ConvGeometry(NamedTuple):
    """One convolution of the grouped and dilated paths (conv_gemm, conv_direct, im2col); names
    as in the glossary of kernels/__init__.py."""

    kh: int
    kw: int
    sh: int
    sw: int
    pt: int      # padding top (bottom and right follow from OH, OW)
    pl: int      # padding left
    dil_h: int   # dilation
    dil_w: int
    groups: int
    oh: int
    ow: int


def scratch(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Return an uninitialised C-contiguous view of the pooled buffer `name`."""
    size = 1
    for d in shape:
        size *= int(d)
    key = (name, np.dtype(dtype).str)
    buf = _POOL.get(key)
    if buf is None or buf.size < size:
        buf = np.empty(max(size, 1), dtype=dtype)
        _POOL[key] = buf
    return buf[:size].reshape(shape)


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
