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


def run(reps: int) -> None:
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    print(f"{'shape':<22}{'ours ms':>9}{'torch ms':>10}{'ratio':>8}{'GFLOP/s':>9}")
    for name, n, c, h, f, k, s, p, need_dx in SHAPES:
        x = rng.standard_normal((n, c, h, h), dtype=np.float32)
        w = rng.standard_normal((f, c, k, k), dtype=np.float32) * 0.1
        b = np.zeros(f, np.float32)
        oh = (h + 2 * p - k) // s + 1
        dy = rng.standard_normal((n, f, oh, oh), dtype=np.float32)
        args = ((s, s), (p, p, p, p), (1, 1), 1)

        def ours() -> None:
            conv2d_forward(x, w, b, *args)
            conv2d_backward(x, w, dy, *args, need_dx=need_dx)

        xt = torch.tensor(x, requires_grad=need_dx)
        wt = torch.tensor(w, requires_grad=True)
        bt = torch.tensor(b, requires_grad=True)
        dyt = torch.tensor(dy)

        def theirs() -> None:
            y = F.conv2d(xt, wt, bt, s, p)
            y.backward(dyt)

        t_ours, t_torch = median_ms(ours, reps), median_ms(theirs, reps)
        flops = 2.0 * n * f * oh * oh * c * k * k * (3 if need_dx else 2)
        print(f"{name:<22}{t_ours:>9.3f}{t_torch:>10.3f}{t_torch / t_ours:>7.2f}x"
              f"{flops / t_ours / 1e6:>9.1f}")
    print("ratio = torch time / our time (>1: we are faster)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=30)
    run(ap.parse_args().reps)
