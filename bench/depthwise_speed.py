"""Side-by-side micro-benchmark of depthwise (and grouped) convolutions: cnncli vs PyTorch.

    python bench/depthwise_speed.py [--reps 20] [--rounds 5] [--threads 2] [--batch 64] [--old CHECKOUT]
                                    [--only TEXT] [--best]

Per layer shape (the five depthwise layers of specs/mobilenet_mnist.yaml, then two grouped
convolutions with several channels per group), the median time of a forward alone and of a
forward + backward (dx and dw; no bias, as in the spec), in ours and in PyTorch's
F.conv2d(groups=...) with autograd. Each engine runs in its own worker process (this file,
`--serve`), with every thread pool at --threads; the engines take turns, --rounds times per
shape (each turn: the median of --reps calls), and the table gives the median over rounds:
a burst of load from other processes then spoils one round, not the figure (`--best`: the
fastest round instead, for a machine loaded most of the time). The parent pauses
between requests, so the idle worker's threads sleep while the other is timed.
`--old DIR` adds a third worker running another checkout's kernels (PYTHONPATH=DIR), for a
before/after comparison of a change (`git archive REV | tar -x -C DIR`).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE.parent))

from conv_timing import median_ms  # noqa: E402  (bench/conv_timing.py)
from worker import Worker  # noqa: E402  (bench/worker.py)

# name, C (= groups for depthwise), F, groups, H (= W), kernel, stride, padding
SHAPES: list[tuple[str, int, int, int, int, int, int, int]] = [
    ("dw 16ch 28x28 s2", 16, 16, 16, 28, 3, 2, 1),
    ("dw 32ch 14x14 s1", 32, 32, 32, 14, 3, 1, 1),
    ("dw 32ch 14x14 s2", 32, 32, 32, 14, 3, 2, 1),
    ("dw 64ch 7x7 s1", 64, 64, 64, 7, 3, 1, 1),
    ("dw 64ch 7x7 s2", 64, 64, 64, 7, 3, 2, 1),
    ("grouped 64ch g4 14x14", 64, 64, 4, 14, 3, 1, 1),
    ("grouped 64ch g32 14x14", 64, 64, 32, 14, 3, 1, 1),
]


def time_shape(engine: str, index: int, batch: int, reps: int) -> dict[str, float]:
    """{"fwd": ms, "fwdbwd": ms} of SHAPES[index] at `batch` in `engine` (run in its worker)."""
    _, c, f, groups, h, k, s, p = SHAPES[index]
    rng = np.random.default_rng(index)
    x = rng.standard_normal((batch, c, h, h), dtype=np.float32)
    w = rng.standard_normal((f, c // groups, k, k), dtype=np.float32) * 0.1
    if engine == "torch":
        import torch
        import torch.nn.functional as F

        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        dyt = torch.ones_like(F.conv2d(xt, wt, None, s, p, 1, groups))

        def forward() -> object:
            with torch.no_grad():
                return F.conv2d(xt, wt, None, s, p, 1, groups)
        return {"fwd": median_ms(forward, reps),
                "fwdbwd": median_ms(lambda: F.conv2d(xt, wt, None, s, p, 1, groups).backward(dyt), reps)}
    from cnncli.engine.kernels.conv import conv2d_backward, conv2d_forward

    args = ((s, s), (p, p, p, p), (1, 1), groups)
    dy = np.ones_like(conv2d_forward(x, w, None, *args))
    return {"fwd": median_ms(lambda: conv2d_forward(x, w, None, *args), reps),
            "fwdbwd": median_ms(lambda: (conv2d_forward(x, w, None, *args),
                                         conv2d_backward(x, w, dy, *args, need_db=False)), reps)}


def start_worker(label: str, engine: str, threads: int, root: Path | None = None) -> Worker:
    """One engine's worker process: this file with --serve, cnncli from `root` (default: this tree)."""
    command = [str(HERE), "--serve", engine, "--threads", str(threads)]
    return Worker(label, threads, command, {"PYTHONPATH": str((root or ROOT).resolve())})


def serve(engine: str, threads: int) -> None:
    """Child side: answer {"op": "shape", "shape": i, "batch": n, "reps": r} until "quit"."""
    if engine == "torch":
        import torch

        torch.set_num_threads(threads)
    else:
        from cnncli.engine.setup import configure

        configure(threads)  # as `cnn train` does
        import cnncli.engine.kernels.conv  # noqa: F401  (imports Numba)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "shape":
                answer: dict[str, Any] = time_shape(engine, request["shape"], request["batch"], request["reps"])
            else:
                answer = {}
        except Exception as exc:  # report to the parent instead of dying silently
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if request["op"] == "quit":
            return


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--old", type=Path, help="another checkout, timed as a third engine")
    ap.add_argument("--best", action="store_true", help="the fastest round, not the median one")
    ap.add_argument("--only", default="", help="only the shapes whose name contains this text (e.g. 'grouped')")
    ap.add_argument("--serve", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        sys.path.remove(str(ROOT))  # the checkout on PYTHONPATH is the one to time
        serve(args.serve, args.threads)
        return
    workers = [start_worker("ours", "ours", args.threads), start_worker("torch", "torch", args.threads)]
    if args.old:
        workers.append(start_worker("old", "ours", args.threads, args.old))
    labels = [wk.engine for wk in workers]
    head = "".join(f"{lab + ' ' + kind:>14}" for kind in ("fwd", "f+b") for lab in labels)
    print(f"batch {args.batch}, {args.threads} threads, {'fastest' if args.best else 'median'} of {args.rounds} "
          f"rounds of {args.reps} calls (ms, each a median); "
          f"ratio = torch time / ours (> 1: ours faster)")
    print(f"{'shape':<24}{head}{'fwd ratio':>11}{'f+b ratio':>11}", flush=True)
    try:
        for i, shape in enumerate(SHAPES):
            if args.only not in shape[0]:
                continue
            rounds: dict[str, list[dict[str, float]]] = {lab: [] for lab in labels}
            for r in range(args.rounds):
                turn = (i + r) % len(workers)
                for wk in workers[turn:] + workers[:turn]:
                    time.sleep(0.05)  # let the other workers' threads go to sleep
                    rounds[wk.engine].append(wk.ask(op="shape", shape=i, batch=args.batch, reps=args.reps))
            pick = min if args.best else statistics.median
            got = {lab: {kind: pick(r[kind] for r in rs) for kind in ("fwd", "fwdbwd")}
                   for lab, rs in rounds.items()}
            cells = "".join(f"{got[lab][kind]:>14.3f}" for kind in ("fwd", "fwdbwd") for lab in labels)
            ratios = [got["torch"][kind] / got["ours"][kind] for kind in ("fwd", "fwdbwd")]
            print(f"{shape[0]:<24}{cells}{ratios[0]:>10.2f}x{ratios[1]:>10.2f}x", flush=True)
    finally:
        for wk in workers:
            wk.close()


if __name__ == "__main__":
    main()
