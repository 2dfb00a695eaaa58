"""`cnn params` against torchinfo's summary of the same ResNet-50, side by side in one run.

Each tool runs in a fresh Python process (what a user waits for, imports included), five
times alternately; we print the median wall time, peak memory (max RSS) and their ratios.
torchinfo summarises the hand-built torchvision ResNet-50 of tests/reference/torch_zoo.py
(torchvision itself does not install beside the torch 2.13 CPU build).

    pip install torch==2.13.0 torchinfo
    python bench/analysis_speed.py
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5

OURS = f"""
from cnncli.cli.main import cli
try:
    cli(['params', {str(ROOT / 'specs' / 'resnet50.yaml')!r}], standalone_mode=False)
except SystemExit:
    pass
"""

TORCHINFO = f"""
import importlib.util, torchinfo
spec = importlib.util.spec_from_file_location('torch_zoo', {str(ROOT / 'tests' / 'reference' / 'torch_zoo.py')!r})
zoo = importlib.util.module_from_spec(spec); spec.loader.exec_module(zoo)
stats = torchinfo.summary(zoo.resnet50(), input_size=(1, 3, 224, 224), verbose=0)
print(stats.total_params)
"""

MEASURE = """
import resource, runpy, sys, time
start = time.perf_counter()
exec(compile(sys.argv[1], '<bench>', 'exec'), {'__name__': '__main__'})
elapsed = time.perf_counter() - start
sys.stderr.write(f"@@ {elapsed} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
"""


def run(code: str) -> tuple[float, float]:
    """(wall seconds of the whole process, peak RSS in MB)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    line = next(text for text in done.stderr.splitlines() if text.startswith("@@"))
    return wall, int(line.split()[2]) / 1024


def main() -> None:
    results: dict[str, list[tuple[float, float]]] = {"cnn params": [], "torchinfo": []}
    for _ in range(RUNS):  # alternate, so both see the same machine load
        results["cnn params"].append(run(OURS))
        results["torchinfo"].append(run(TORCHINFO))
    medians = {name: (statistics.median(w for w, _ in rows), max(m for _, m in rows)) for name, rows in results.items()}
    print(f"ResNet-50 summary, {RUNS} alternating runs each, fresh process per run (median wall, peak RSS)")
    print(f"{'tool':<12} {'wall s':>8} {'peak MB':>9}")
    for name, (wall, mb) in medians.items():
        print(f"{name:<12} {wall:>8.2f} {mb:>9.0f}")
    ours, theirs = medians["cnn params"], medians["torchinfo"]
    print(f"cnn params is {theirs[0] / ours[0]:.1f}x faster and uses {theirs[1] / ours[1]:.1f}x less memory")


if __name__ == "__main__":
    main()
