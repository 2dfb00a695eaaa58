"""Training speed, our engine vs PyTorch, side by side on this machine (issue 4).

    python bench/train_speed.py            # everything: about 3 minutes
    python bench/train_speed.py --quick    # fewer repeats, LeNet-only start-up probes: ~1 minute
Options: --threads N (default 2: both engines), --reps R (timed blocks per engine and
workload), --seconds S (length of one block), --skip-conv, --skip-startup, --skip-memory.

Each engine runs in its own worker process (bench/worker.py) with the same thread count; for
every workload both build the same network, optimizer and synthetic data (bench/workloads.py),
warm up, then time blocks of the same number of training steps, alternating which engine goes
first and pausing between blocks. The "eval" rows time one `cnn evaluate` batch instead
(evaluation-mode forward and loss; PyTorch under torch.no_grad()). The table gives the median
images/s of each engine and the median of the per-repeat ratios (ours / PyTorch: > 1 means we are faster). Then:
* a conv forward+backward micro-benchmark per layer shape (bench/conv_speed.py), GFLOP/s;
* start-up: the whole command `cnn train SPEC --data D --epochs 1` (MNIST for LeNet-5, a
  synthetic .npz for ResNet-20) with an empty Numba cache (a first run: JIT compilation) and
  again with the cache filled (later runs); the difference is what compilation costs;
* peak memory (max RSS) of a process training LeNet-5 for one epoch as `cnn train lenet5_relu
  --data mnist` does (data preparation included) when MNIST is in cnncli's data cache
  (CNNCLI_DATA), else on an MNIST-sized synthetic set; the second of two such processes, so
  that Numba's cache is filled (a process that compiles holds LLVM's memory too).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from worker import Worker, thread_env  # noqa: E402
from workloads import INFERENCE, WORKLOADS  # noqa: E402

# issue 13's targets (ours / PyTorch); the MobileNet inference row has none: it is measured only
TARGETS = {"LeNet-5 b64": 2.5, "LeNet-5 b256": 2.0, "ResNet-20 b64": 1.5, "MobileNet b64": 1.0,
           "LeNet-5 eval b256": 2.0, "ResNet-20 eval b256": 1.3}


def machine() -> str:
    model = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import numba
    import numpy

    from cnncli.engine.kernels.microkernel import LANES

    return (f"{model}, {os.cpu_count()} logical CPUs, our tiles {LANES}-float vectors "
            f"({'AVX-512' if LANES == 16 else 'AVX2'}); Python {platform.python_version()}, numpy {numpy.__version__}, "
            f"numba {numba.__version__}")


def speed_table(ours: Worker, theirs: Worker, labels: list[str], reps: int, seconds: float,
                torch_engine: Worker | None = None) -> list[str]:
    """Interleaved timing of every workload; returns the table's lines. With `torch_engine`, a third
    column: `cnn train --engine torch` (our graph as a torch module) on the training workloads."""
    everyone = [ours, theirs] + ([torch_engine] if torch_engine is not None else [])
    extra = f"{'torch engine':>14}{'vs PyTorch':>11}" if torch_engine is not None else ""
    lines = [f"{'workload':<20}{'ours img/s':>12}{'PyTorch img/s':>15}{'ratio':>8}{'target':>8}{extra}  steps x reps"]
    print(lines[0], flush=True)
    for label in labels:
        batch = {**WORKLOADS, **INFERENCE}[label][1]
        workers = everyone[:2] if label in INFERENCE else everyone
        for worker in workers:
            worker.ask(op="load", workload=label)
        probe = ours.ask(op="time", steps=2)["seconds"] / 2
        steps = max(2, round(seconds / probe))
        rates: dict[str, list[float]] = {worker.engine: [] for worker in workers}
        for rep in range(reps):
            for worker in (workers if rep % 2 == 0 else workers[::-1]):
                time.sleep(0.1)  # the other workers' threads stop spinning
                answer = worker.ask(op="time", steps=steps)
                if answer["loss"] != answer["loss"]:
                    raise RuntimeError(f"{label}: {worker.engine} diverged (loss NaN)")
                rates[worker.engine].append(steps * batch / answer["seconds"])
        ratio = statistics.median(a / b for a, b in zip(rates["ours"], rates["torch"]))
        target = TARGETS.get(label)
        column = ""
        if torch_engine is not None and label not in INFERENCE:
            mine = statistics.median(a / b for a, b in zip(rates["torch-engine"], rates["torch"]))
            column = f"{statistics.median(rates['torch-engine']):>14,.0f}{mine:>10.2f}x"
        verdict = "-" if target is None else "met" if ratio >= target else "NOT met"
        lines.append(f"{label:<20}{statistics.median(rates['ours']):>12,.0f}{statistics.median(rates['torch']):>15,.0f}"
                     f"{ratio:>7.2f}x{'-' if target is None else f'{target:.1f}x':>8}{column}  {verdict:<8}"
                     f"{steps} x {reps}")
        print(lines[-1], flush=True)
    return lines


# -- start-up and memory probes: each runs in a fresh process -----------------------------------
def _train_data(spec: str, folder: Path) -> str:
    """--data for a start-up probe: MNIST when it is in cnncli's data cache and the spec takes
    1x28x28 images, else 2,048 synthetic images of the spec's input shape saved as .npz."""
    import numpy as np
    import workloads

    from cnncli.data import cache_root
    from cnncli.data.sources import BUILTINS
    from cnncli.graph import build_graph
    from cnncli.spec import load_spec

    shape = tuple(build_graph(load_spec(workloads.spec_path(spec))).input_shape)
    if shape == (1, 28, 28) and all((cache_root() / "mnist" / name).exists() for name in BUILTINS["mnist"].files):
        return "mnist"
    rng = np.random.default_rng(0)
    path = folder / f"{spec}_synthetic.npz"
    np.savez(path, x=rng.integers(0, 256, (2048, *shape), dtype=np.uint8), y=rng.integers(0, 10, 2048))
    return str(path)


def _command_seconds(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cnncli", *argv], env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"`cnn {' '.join(argv)}` failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return time.perf_counter() - started


def cold_and_cached(spec: str, data: str, env: dict[str, str], folder: Path, cwd: Path | None = None
                    ) -> tuple[float, float]:
    """Seconds of the whole `cnn train SPEC --data D --epochs 1` with an empty Numba cache in
    `folder`, then again with the cache that run filled (outputs in `folder` too)."""
    env = {**env, "NUMBA_CACHE_DIR": str(folder / "cache")}
    argv = ["train", spec, "--data", data, "--epochs", "1", "--out"]
    cold = _command_seconds([*argv, str(folder / "cold")], env, cwd)
    cached = _command_seconds([*argv, str(folder / "cached")], env, cwd)
    return cold, cached


def startup_lines(specs: list[str], threads: int, reps: int = 2) -> list[str]:
    """Issue 13's compile-time measure: the whole `cnn train SPEC --data D --epochs 1` with an
    empty Numba cache minus the same command with the cache filled (medians of `reps` pairs)."""
    lines = []
    for spec in specs:
        cold, warm = [], []
        with tempfile.TemporaryDirectory() as folder:
            data = _train_data(spec, Path(folder))
            for rep in range(reps):
                rep_folder = Path(folder) / f"rep{rep}"
                rep_folder.mkdir()
                seconds = cold_and_cached(spec, data, thread_env(threads), rep_folder)
                cold.append(seconds[0])
                warm.append(seconds[1])
        c, w = statistics.median(cold), statistics.median(warm)
        lines.append(f"`cnn train {spec} --data {'mnist' if data == 'mnist' else 'SYNTHETIC.npz'} --epochs 1`: "
                     f"{c:.1f} s with an empty Numba cache, {w:.1f} s cached: compilation costs {c - w:.1f} s "
                     f"(medians of {reps})")
        print(lines[-1], flush=True)
    return lines


def memory(epochs: int) -> None:
    """Child: train LeNet-5 (batch 64) as `cnn train lenet5_relu --data mnist` does, data
    preparation included, when MNIST is in cnncli's data cache; else on 60,000 + 10,000
    synthetic MNIST-shaped images. Print the max RSS."""
    import resource

    import numpy as np
    import workloads

    from cnncli.data import Dataset, cache_root
    from cnncli.data.sources import BUILTINS
    from cnncli.engine.network import Network
    from cnncli.engine.setup import configure
    from cnncli.engine.trainer import Trainer
    from cnncli.graph import build_graph
    from cnncli.spec import load_spec
    from cnncli.train_config import load_train_config
    from cnncli.training_setup import prepare_training_data

    configure()  # as `cnn train` does

    class Quiet:
        def epoch_start(self, *args: object) -> None: ...
        def batch_end(self, *args: object) -> None: ...
        def epoch_end(self, *args: object) -> None: ...

    graph = build_graph(load_spec(workloads.spec_path("lenet5_relu")))
    if all((cache_root() / "mnist" / name).exists() for name in BUILTINS["mnist"].files):
        prepared = prepare_training_data(graph, "mnist", 0.1, 0, "error")
        sets, source = [prepared.train, prepared.val], "MNIST from the cache, data preparation included"
    else:
        rng = np.random.default_rng(0)
        sets = [Dataset(rng.standard_normal((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n),
                        list("0123456789"), "synthetic") for n in (60_000, 10_000)]
        source = "60,000 + 10,000 synthetic images (MNIST is not in the data cache)"
    kind, args = workloads.optimizer_of("lenet5_relu")
    config = load_train_config({"epochs": epochs, "batch_size": 64, "optimizer": {kind: args}}, "lenet5_relu.yaml", {})
    with tempfile.TemporaryDirectory() as out:
        Trainer(Network(graph), config, sets[0], sets[1], Path(out), {}, Quiet()).fit()
    print(json.dumps({"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "source": source}))


def _child(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 repeats, shorter blocks, LeNet-only start-up probe")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, help="timed blocks per engine and workload [7; quick 3]")
    ap.add_argument("--seconds", type=float, help="length of one timed block [1.0; quick 0.5]")
    ap.add_argument("--only", help="comma-separated workload labels, e.g. 'LeNet-5 b64'")
    ap.add_argument("--torch-engine", action="store_true",
                    help="also time `cnn train --engine torch` (the spec as a torch module) beside both")
    ap.add_argument("--skip-conv", action="store_true")
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--memory", type=int, metavar="EPOCHS", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory:
        return memory(args.memory)

    import torch

    reps = args.reps or (3 if args.quick else 7)
    seconds = args.seconds or (0.5 if args.quick else 1.0)
    labels = args.only.split(",") if args.only else [*WORKLOADS, *INFERENCE]
    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    print(f"{machine()}; PyTorch {torch.__version__}; {args.threads} threads per engine")
    ours, theirs = Worker("ours", args.threads), Worker("torch", args.threads)
    torch_engine = Worker("torch-engine", args.threads) if args.torch_engine else None
    try:
        speed_table(ours, theirs, labels, reps, seconds, torch_engine)
        if not args.skip_conv:
            from conv_speed import conv_table

            print("\n" + "\n".join(conv_table(ours, theirs, 10 if args.quick else 25)), flush=True)
    finally:
        for worker in (ours, theirs, torch_engine):
            if worker is not None:
                worker.close()
    if not args.skip_startup:
        print()
        startup_lines(["lenet5_relu"] + ([] if args.quick else ["resnet20_cifar"]), args.threads)
    if not args.skip_memory:
        _child(["--memory", "1"], thread_env(args.threads))  # fills Numba's cache with what the probe compiles
        wall, answer = _child(["--memory", "1"], thread_env(args.threads))
        print(f"peak memory training LeNet-5 (b64, one epoch; {answer['source']}): "
              f"{answer['max_rss_mb']:.0f} MB max RSS ({wall:.0f} s)")


if __name__ == "__main__":
    main()
