"""Side-by-side micro-benchmark: cnncli conv kernels vs PyTorch, per layer shape.

Times forward + backward (dx, dw, db; dx skipped for the first layer of a net, as in
training) for the LeNet-5 and CIFAR ResNet-20 conv shapes (bench/conv_timing.py), each
engine in its own worker process (bench/worker.py), alternating engines shape by shape;
prints median times, GFLOP/s and the share of this machine's peak, taken as every thread
running our register-blocked tile on data in L1 (the FMA throughput the kernels can reach).
Run: ``python bench/conv_speed.py [--reps 30] [--threads 2]``; bench/train_speed.py prints
the same table.
"""
from __future__ import annotations

import argparse
import os
import time

from conv_timing import SHAPES, flops, nominal_peak, path


def conv_table(ours, theirs, reps: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Lines of the conv table; ours/theirs are bench.worker.Worker handles."""
    peak = ours.ask(op="peak")["gflops"]
    lines = [f"{'conv fwd+bwd':<22}{'ours ms':>9}{'torch ms':>10}{'ratio':>8}{'GFLOP/s':>9}{'% peak':>8}"
             f"{'torch GF/s':>11}  path"]
    for i, shape in enumerate(SHAPES):
        pair = [ours, theirs] if i % 2 == 0 else [theirs, ours]
        ms = {}
        for worker in pair:
            time.sleep(0.05)  # let the other worker's threads go to sleep
            ms[worker.engine] = worker.ask(op="conv", shape=i, reps=reps)["ms"]
        rate = flops(shape) / ms["ours"] / 1e6
        lines.append(f"{shape[0]:<22}{ms['ours']:>9.3f}{ms['torch']:>10.3f}{ms['torch'] / ms['ours']:>7.2f}x"
                     f"{rate:>9.1f}{100 * rate / peak:>7.0f}%{flops(shape) / ms['torch'] / 1e6:>11.1f}  {path(i)}")
    nominal = nominal_peak(int(os.environ.get("NUMBA_NUM_THREADS", "2")))
    lines.append(f"ratio = torch time / our time (>1: we are faster); medians of {reps} after warm-up; "
                 "GFLOP/s counts direct-convolution FLOPs (Winograd does fewer); "
                 f"peak = {peak:.0f} GFLOP/s measured (our tile on L1-resident data, every thread)"
                 + (f", {nominal:.0f} nominal at the reported clock" if nominal else ""))
    return lines


def main() -> None:
    from worker import Worker

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from cnncli.engine.setup import thread_environment

    os.environ.update(thread_environment(args.threads))
    ours, theirs = Worker("ours", args.threads), Worker("torch", args.threads)
    try:
        print("\n".join(conv_table(ours, theirs, args.reps)))
    finally:
        ours.close()
        theirs.close()


if __name__ == "__main__":
    main()
