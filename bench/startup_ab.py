"""First-run compilation of this tree against another checkout's, interleaved in one run.

    python bench/startup_ab.py /path/to/other/checkout [--spec resnet20_cifar] [--reps 4] [--threads 2]

Each rep runs, for each tree (the order alternating between reps), `cnn train SPEC --data D
--epochs 1` with an empty Numba cache and then again with the cache that run filled; the
compilation cost is the difference of the two (train_speed.py's measure). Prints the medians
per tree and the median of the paired differences (other - this: > 0 means this tree compiles
faster). For a before/after comparison of a change, extract the commit before it with `git
archive REV | tar -x -C DIR`.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from train_speed import _train_data, cold_and_cached  # noqa: E402
from worker import thread_env  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("other", type=Path, help="the checkout to compare with")
    ap.add_argument("--spec", default="resnet20_cifar")
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    trees = {"this": HERE.parent, "other": args.other.resolve()}
    costs: dict[str, list[float]] = {"this": [], "other": []}
    with tempfile.TemporaryDirectory() as scratch:
        data = _train_data(args.spec, Path(scratch))
        for rep in range(args.reps):
            for name in ("this", "other") if rep % 2 == 0 else ("other", "this"):
                folder = Path(scratch) / f"{name}{rep}"
                folder.mkdir()  # the working folder too: `python -m` puts it first on sys.path
                env = {**thread_env(args.threads), "PYTHONPATH": str(trees[name])}  # that tree's sources
                cold, cached = cold_and_cached(args.spec, data, env, folder, cwd=folder)
                costs[name].append(cold - cached)
                print(f"rep {rep} {name:5s}: {cold:.1f} s cold, {cached:.1f} s cached, compile {cold - cached:.1f} s",
                      flush=True)
    gains = [other - this for this, other in zip(costs["this"], costs["other"])]
    print(f"{args.spec}: compile {statistics.median(costs['this']):.1f} s (this) against "
          f"{statistics.median(costs['other']):.1f} s (other); paired difference {statistics.median(gains):+.1f} s "
          f"(medians of {args.reps})")


if __name__ == "__main__":
    main()
