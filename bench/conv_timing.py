"""Timing of one conv layer shape in either engine, in the calling process (bench/worker.py
runs it in each engine's worker; bench/conv_speed.py prints the table).

SHAPES are the LeNet-5 and CIFAR ResNet-20 conv layers; `time_shape` is the median time of one
forward + backward (dx skipped for a net's first layer, as in training); `fma_peak` the
GFLOP/s of our register-blocked tile on data in L1 on every thread, the FMA throughput the
kernels can reach.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

# name, N, C, H, F, K, stride, pad, need_dx
SHAPES: list[tuple[str, int, int, int, int, int, int, int, bool]] = [
    ("lenet conv1 b64", 64, 1, 28, 6, 5, 1, 2, False),
    ("lenet conv2 b64", 64, 6, 14, 16, 5, 1, 0, True),
    ("lenet conv1 b256", 256, 1, 28, 6, 5, 1, 2, False),
    ("lenet conv2 b256", 256, 6, 14, 16, 5, 1, 0, True),
    ("resnet stem 3->16", 64, 3, 32, 16, 3, 1, 1, False),
    ("resnet 16->16 32x32", 64, 16, 32, 16, 3, 1, 1, True),
    ("resnet 16->32 s2", 64, 16, 32, 32, 3, 2, 1, True),
    ("resnet 32->32 16x16", 64, 32, 16, 32, 3, 1, 1, True),
    ("resnet 32->64 s2", 64, 32, 16, 64, 3, 2, 1, True),
    ("resnet 64->64 8x8", 64, 64, 8, 64, 3, 1, 1, True),
    ("resnet 1x1 16->32 s2", 64, 16, 32, 32, 1, 2, 0, True),
]


def flops(shape: tuple[str, int, int, int, int, int, int, int, bool]) -> float:
    """Forward + backward FLOPs (2 per multiply-add; dx only when needed)."""
    _, n, c, h, f, k, s, p, need_dx = shape
    oh = (h + 2 * p - k) // s + 1
    return 2.0 * n * f * oh * oh * c * k * k * (3 if need_dx else 2)


def path(index: int) -> str:
    """Which conv_flat method runs SHAPES[index] (conv_plan's rule): "winograd" or "direct"."""
    from cnncli.engine.kernels.conv_plan import geometry

    _, _, c, h, f, k, s, p, _ = SHAPES[index]
    return "winograd" if geometry(c, h, h, f, k, k, s, (p, p, p, p)).wino else "direct"


def median_ms(fn: Callable[[], object], reps: int, warmup: int = 5) -> float:
    """Median wall time of fn() in milliseconds after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _case(index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _, n, c, h, f, k, _, _, _ = SHAPES[index]
    rng = np.random.default_rng(index)
    x = rng.standard_normal((n, c, h, h), dtype=np.float32)
    w = rng.standard_normal((f, c, k, k), dtype=np.float32) * 0.1
    return x, w, np.zeros(f, np.float32)


def time_shape(engine: str, index: int, reps: int) -> float:
    """Median ms of one forward + backward of SHAPES[index] in `engine` (call in its worker)."""
    s, p, need_dx = SHAPES[index][6], SHAPES[index][7], SHAPES[index][8]
    x, w, b = _case(index)
    if engine == "ours":
        from cnncli.engine.kernels.conv import conv2d_backward, conv2d_forward

        args = ((s, s), (p, p, p, p), (1, 1), 1)
        dy = np.ones_like(conv2d_forward(x, w, b, *args))
        return median_ms(lambda: (conv2d_forward(x, w, b, *args),
                                  conv2d_backward(x, w, dy, *args, need_dx=need_dx)), reps)
    import torch
    import torch.nn.functional as F

    xt = torch.tensor(x, requires_grad=need_dx)
    wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    dyt = torch.ones_like(F.conv2d(xt, wt, bt, s, p))
    return median_ms(lambda: F.conv2d(xt, wt, bt, s, p).backward(dyt), reps)


def fma_peak(taps: int = 4096, reps: int = 9) -> float:
    """GFLOP/s of our conv tile with its data in L1 (every tap reads the same run), one tile
    loop per Numba thread, all threads at once: the FMA throughput the tiles can reach here."""
    from numba import config, njit, prange

    from cnncli.engine.kernels.microkernel import COLS, ROWS, conv_tile

    @njit(parallel=True)
    def run(src: np.ndarray, offs: np.ndarray, w: np.ndarray, dst: np.ndarray, loops: int) -> None:
        for t in prange(dst.shape[0]):
            for _ in range(loops):
                conv_tile(src[t].ctypes.data, offs.ctypes.data, offs.size, w.ctypes.data, ROWS, dst[t].ctypes.data,
                          COLS)

    threads, loops = config.NUMBA_NUM_THREADS, 200
    src = np.ones((threads, COLS), np.float32)
    offs = np.zeros(taps, np.int64)
    w = np.full((taps, ROWS), 1e-3, np.float32)
    dst = np.empty((threads, ROWS * COLS), np.float32)
    ms = median_ms(lambda: run(src, offs, w, dst, loops), reps, warmup=2)
    return 2.0 * taps * ROWS * COLS * loops * threads / ms / 1e6


def nominal_peak(threads: int) -> float | None:
    """threads x reported clock x 2 FMA units x 2 FLOP x the tiles' vector lanes (8: AVX2, 16:
    AVX-512), if the clock is known; boost clocks can exceed it."""
    from cnncli.engine.kernels.microkernel import LANES

    try:
        with open("/proc/cpuinfo") as info:
            mhz = next(float(line.split(":")[1]) for line in info if line.startswith("cpu MHz"))
    except (OSError, StopIteration, ValueError):
        return None
    return threads * mhz * 4 * LANES / 1e3
