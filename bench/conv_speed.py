"""Side-by-side micro-benchmark: cnncli conv kernels vs PyTorch (2 threads).

Times forward + backward (dx, dw, db; dx skipped for the first layer of a net,
as in training) for LeNet-5 and CIFAR ResNet-20 conv shapes, after warm-up,
and prints medians. Run: ``python bench/conv_speed.py [--reps 30]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cnncli.engine.kernels.conv import conv2d_backward, conv2d_forward  # noqa: E402

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
]


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


def make_case(rng: np.random.Generator, n: int, c: int, h: int, f: int, k: int, s: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random x, w and zero b for one layer shape."""
    x = rng.standard_normal((n, c, h, h), dtype=np.float32)
    w = rng.standard_normal((f, c, k, k), dtype=np.float32) * 0.1
    return x, w, np.zeros(f, np.float32)


def time_ours(reps: int) -> list[float]:
    """Median ms of our forward + backward per shape."""
    rng, out = np.random.default_rng(0), []
    for _, n, c, h, f, k, s, p, need_dx in SHAPES:
        x, w, b = make_case(rng, n, c, h, f, k, s)
        args = ((s, s), (p, p, p, p), (1, 1), 1)
        dy = np.ones_like(conv2d_forward(x, w, b, *args))
        out.append(median_ms(lambda: (conv2d_forward(x, w, b, *args),
                                      conv2d_backward(x, w, dy, *args, need_dx=need_dx)), reps))
    return out


def time_torch(reps: int) -> list[float]:
    """Median ms of torch.nn.functional.conv2d forward + autograd backward per shape."""
    torch.set_num_threads(2)
    rng, out = np.random.default_rng(0), []
    for _, n, c, h, f, k, s, p, need_dx in SHAPES:
        x, w, b = make_case(rng, n, c, h, f, k, s)
        xt = torch.tensor(x, requires_grad=need_dx)
        wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
        dyt = torch.ones_like(F.conv2d(xt, wt, bt, s, p))
        out.append(median_ms(lambda: F.conv2d(xt, wt, bt, s, p).backward(dyt), reps))
    return out


def run(reps: int) -> None:
    # All of ours first: torch's OpenMP workers keep spinning after its calls and
    # would steal a core from our kernels if the two were interleaved.
    ours, theirs = time_ours(reps), time_torch(reps)
    print(f"{'shape':<22}{'ours ms':>9}{'torch ms':>10}{'ratio':>8}{'GFLOP/s':>9}")
    for (name, n, c, h, f, k, s, p, need_dx), t_ours, t_torch in zip(SHAPES, ours, theirs):
        oh = (h + 2 * p - k) // s + 1
        flops = 2.0 * n * f * oh * oh * c * k * k * (3 if need_dx else 2)
        print(f"{name:<22}{t_ours:>9.3f}{t_torch:>10.3f}{t_torch / t_ours:>7.2f}x"
              f"{flops / t_ours / 1e6:>9.1f}")
    print("ratio = torch time / our time (>1: we are faster); medians after warm-up")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=30)
    run(ap.parse_args().reps)
