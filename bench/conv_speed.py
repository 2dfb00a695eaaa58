"""Side-by-side micro-benchmark: cnncli conv kernels vs PyTorch, per layer shape.

Times forward + backward (dx, dw, db; dx skipped for the first layer of a net, as in
training) for the LeNet-5 and CIFAR ResNet-20 conv shapes (bench/conv_timing.py), each
engine in its own worker process (bench/worker.py), alternating engines shape by shape;
prints median times, GFLOP/s and the share of this machine's peak, taken as every thread
running our register-blocked tile on data in L1 (the FMA throughput the kernels can reach).
Run: ``python bench/conv_speed.py [--reps 30] [--threads 2]``; bench/train_speed.py prints
the same table. ``--wide`` adds wider stride-1 3x3 layers (64->64 16x16, 128->128 8x8: the
Winograd path at other sizes); ``--old DIR`` times another checkout's kernels too (a third
worker, PYTHONPATH=DIR: before / after a change in one run).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from conv_timing import SHAPES, flops, nominal_peak, path

HERE = Path(__file__).resolve()
WIDE = [("wide 64->64 16x16", 64, 64, 16, 64, 3, 1, 1, True), ("wide 128->128 8x8", 64, 128, 8, 128, 3, 1, 1, True)]


ROUNDS = 5  # timed blocks per engine and shape, alternating engines block by block


def conv_table(ours, theirs, reps: int, old=None) -> list[str]:  # type: ignore[no-untyped-def]
    """Lines of the conv table; ours/theirs (and old) are bench.worker.Worker handles. Each shape is
    timed in ROUNDS blocks of reps / ROUNDS calls per engine, the engines alternating block by block
    (a burst of noise on a shared host then hits both): times are medians of the blocks' medians,
    ratios medians of the per-block ratios."""
    peak = ours.ask(op="peak")["gflops"]
    per_round = max(3, reps // ROUNDS)
    lines = [f"{'conv fwd+bwd':<22}{'ours ms':>9}{'torch ms':>10}{'ratio':>8}{'GFLOP/s':>9}{'% peak':>8}"
             f"{'torch GF/s':>11}" + (f"{'old ms':>9}{'old ratio':>10}" if old else "") + "  path"]
    for i, shape in enumerate(SHAPES):
        workers = [ours, theirs] + ([old] if old else [])
        rounds: dict[str, list[float]] = {worker.engine: [] for worker in workers}
        for r in range(ROUNDS):
            for worker in (workers if (i + r) % 2 == 0 else workers[::-1]):
                time.sleep(0.05)  # let the other worker's threads go to sleep
                rounds[worker.engine].append(worker.ask(op="conv", shape=i, reps=per_round)["ms"])
        ms = {engine: statistics.median(times) for engine, times in rounds.items()}
        ratio = {engine: statistics.median(t / o for t, o in zip(rounds["torch"], times))
                 for engine, times in rounds.items()}
        rate = flops(shape) / ms["ours"] / 1e6
        before = f"{ms['old']:>9.3f}{ratio['old']:>9.2f}x" if old else ""
        lines.append(f"{shape[0]:<22}{ms['ours']:>9.3f}{ms['torch']:>10.3f}{ratio['ours']:>7.2f}x"
                     f"{rate:>9.1f}{100 * rate / peak:>7.0f}%{flops(shape) / ms['torch'] / 1e6:>11.1f}{before}"
                     f"  {path(i)}")
    nominal = nominal_peak(int(os.environ.get("NUMBA_NUM_THREADS", "2")))
    lines.append(f"ratio = torch time / our time (>1: we are faster), the median of {ROUNDS} alternating blocks' "
                 f"ratios; times: medians of the blocks' medians of {per_round} calls after warm-up; "
                 "GFLOP/s counts direct-convolution FLOPs (Winograd does fewer); "
                 f"peak = {peak:.0f} GFLOP/s measured (our tile on L1-resident data, every thread)"
                 + (f", {nominal:.0f} nominal at the reported clock" if nominal else ""))
    return lines


def main() -> None:
    from worker import Worker

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--wide", action="store_true", help="also the wider stride-1 3x3 layers (WIDE)")
    ap.add_argument("--old", type=Path, help="another checkout, timed as a third engine")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.wide:
        SHAPES.extend(WIDE)
    if args.serve:  # a worker that knows the WIDE shapes too
        import worker

        import cnncli  # noqa: F401  (the checkout on PYTHONPATH, before bench/workloads.py puts this one first)

        worker._serve(args.serve, args.threads)
        return
    from cnncli.engine.setup import thread_environment

    os.environ.update(thread_environment(args.threads))

    def start(label: str, engine: str, root: Path) -> Worker:
        command = [str(HERE), "--serve", engine, "--threads", str(args.threads)] + (["--wide"] if args.wide else [])
        return Worker(label, args.threads, command, {"PYTHONPATH": str(root.resolve())})

    ours, theirs = start("ours", "ours", HERE.parents[1]), start("torch", "torch", HERE.parents[1])
    old = start("old", "ours", args.old) if args.old else None
    try:
        print("\n".join(conv_table(ours, theirs, args.reps, old)))
    finally:
        for w in (ours, theirs, old):
            if w:
                w.close()


if __name__ == "__main__":
    main()
