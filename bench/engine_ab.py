"""Training speed of this tree's engine against another checkout's, interleaved in one run.

    python bench/engine_ab.py /path/to/other/checkout [--reps 9] [--threads 1] [--seconds 1.5]

Both engines run in worker processes (each checkout's own bench/worker.py, the other one with
PYTHONPATH set to it) on the workloads of bench/workloads.py; blocks of the same number of
steps alternate between them and the table gives the median of the paired ratios (this tree /
the other: > 1 means this tree is faster). For a before/after comparison of a change, extract
the commit before it with `git archive REV | tar -x -C DIR`.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("other", type=Path, help="the checkout to compare with")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=1.5, help="length of one timed block")
    args = ap.parse_args()
    other_worker, this_worker = _load(args.other / "bench" / "worker.py", "other_worker"), _load(HERE / "worker.py",
                                                                                                   "this_worker")
    from workloads import WORKLOADS  # noqa: PLC0415 (bench/ is on sys.path: this file's folder)

    known = _load(args.other / "bench" / "workloads.py", "other_workloads").WORKLOADS
    skipped = [label for label in WORKLOADS if label not in known]
    if skipped:
        print(f"(not in the other checkout's workloads, skipped: {', '.join(skipped)})", flush=True)

    os.environ["PYTHONPATH"] = str(args.other.resolve())
    other = other_worker.Worker("ours", args.threads)
    os.environ["PYTHONPATH"] = str(HERE.parent)  # this tree, not whatever `cnncli` is installed
    this = this_worker.Worker("ours", args.threads)
    try:
        for label, (_, batch) in WORKLOADS.items():
            if label in skipped:
                continue
            for worker in (other, this):
                worker.ask(op="load", workload=label)
            steps = max(4, round(args.seconds / (this.ask(op="time", steps=2)["seconds"] / 2)))
            rates: dict[str, list[float]] = {"this": [], "other": []}
            for rep in range(args.reps):
                for name, worker in ([("other", other), ("this", this)] if rep % 2 == 0
                                     else [("this", this), ("other", other)]):
                    time.sleep(0.1)  # the other worker's threads stop spinning
                    rates[name].append(steps * batch / worker.ask(op="time", steps=steps)["seconds"])
            ratio = statistics.median(a / b for a, b in zip(rates["this"], rates["other"]))
            print(f"{label:<14} other {statistics.median(rates['other']):>9,.0f} img/s   this "
                  f"{statistics.median(rates['this']):>9,.0f} img/s   this/other {ratio:.3f}   "
                  f"({args.reps} x {steps} steps, {args.threads} threads)", flush=True)
    finally:
        other.close()
        this.close()


if __name__ == "__main__":
    main()
