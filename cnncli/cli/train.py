"""`cnn train`: train a spec on real data with the built-in engine."""
from __future__ import annotations

from pathlib import Path

import click

from cnncli.cli.common import load_graph
from cnncli.cli.fit_options import chosen_fit, fit_options
from cnncli.errors import UsageError
from cnncli.extras import require
from cnncli.report import console
from cnncli.torch_engine import launched_by_torchrun
from cnncli.train_config import (
    MONITORS,
    OPTIMIZER_ARGS,
    SCHEDULE_ARGS,
    check_threads,
    load_train_config,
    with_overrides,
)


def download_progress():  # type: ignore[no-untyped-def]
    """A progress callback for data fetching that draws a rich bar per file."""
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    bars = Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), console=console.err,
                    transient=True)
    tasks: dict[str, int] = {}

    def report(label: str, done: int, total: int | None) -> None:
        if label not in tasks:
            bars.start()
            tasks[label] = bars.add_task(console.escape(label), total=total)
        bars.update(tasks[label], completed=done, total=total)
        if total is not None and done >= total:
            bars.stop()

    return report


@click.command()
@click.argument("spec", metavar="SPEC")
@click.option("--data", required=True, help="mnist, fashion-mnist, a .npz file (x, y) or a folder of class folders.")
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs [spec's train.epochs, else 10].")
@click.option("--batch-size", "-b", type=click.IntRange(min=1), help="Batch size [spec, else 64].")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Learning rate.")
@click.option("--optimizer", type=click.Choice(sorted(OPTIMIZER_ARGS)), help="Optimizer [spec, else adam].")
@click.option("--momentum", type=click.FloatRange(0, 1, max_open=True), help="SGD momentum.")
@click.option("--weight-decay", type=click.FloatRange(min=0), help="Weight decay (L2; decoupled for adamw).")
@click.option("--schedule", type=click.Choice(sorted(SCHEDULE_ARGS)), help="Learning-rate schedule.")
@click.option("--warmup", type=click.FloatRange(min=0), help="Epochs of linear learning-rate warm-up.")
@click.option("--val", type=click.FloatRange(0, 1, max_open=True), help="Validation fraction [0.1].")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed (weights, data order, dropout) [0].")
@click.option("--threads", type=click.IntRange(min=1), help="Threads for the engine [all cores].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run folder [runs/<spec name>].")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --out.")
@click.option("--crop", type=click.IntRange(min=0), help="Augment: pad N black pixels, crop back at random [0: off].")
@click.option("--flip/--no-flip", default=None, help="Augment: mirror left-right half of the images [off].")
@click.option("--rotate", type=click.FloatRange(0, 180), help="Augment: rotate by up to ±DEG degrees [0].")
@click.option("--shift", type=click.FloatRange(0, 1, max_open=True),
              help="Augment: move by up to ±FRAC of the width and height [0].")
@click.option("--cutout", type=click.IntRange(min=0), help="Augment: zero an NxN square at random (Cutout) [0].")
@click.option("--label-smoothing", type=click.FloatRange(0, 1), help="Label smoothing as PyTorch's [0].")
@click.option("--clip-grad-norm", type=click.FloatRange(min=0), help="Clip the gradient's L2 norm to X [0: off].")
@click.option("--patience", type=click.IntRange(min=0),
              help="Stop after N epochs without a better --monitor value [0: never].")
@click.option("--monitor", type=click.Choice(MONITORS),
              help="What best.npz and --patience follow [val_acc]. Under torchrun (which reads --monitor as "
                   "its --monitor-interval) set `monitor:` in the spec's train section instead.")
@fit_options
@click.option("--engine", type=click.Choice(["numba", "torch"]), default="numba", show_default=True,
              help="Our Numba engine, or PyTorch (pip install 'cnncli[torch]'; GPUs, torchrun).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True,
              help="--engine torch: where to train (auto: a GPU if PyTorch sees one).")
@click.option("--sync-bn", is_flag=True,
              help="--engine torch under torchrun on CUDA: batch-norm statistics over all processes.")
def train(spec: str, data: str, epochs: int | None, batch_size: int | None, lr: float | None,
          optimizer: str | None, momentum: float | None, weight_decay: float | None, schedule: str | None,
          warmup: float | None, val: float | None, seed: int | None, threads: int | None, out: Path | None,
          resume: bool, crop: int | None, flip: bool | None, rotate: float | None, shift: float | None,
          cutout: int | None, label_smoothing: float | None, clip_grad_norm: float | None, patience: int | None,
          monitor: str | None, pad: bool, resize: bool, engine: str, device: str, sync_bn: bool) -> None:
    """Train SPEC on real data with the built-in Numba engine (or PyTorch: --engine torch).

    Settings come from the spec's `train:` section; flags win. Every epoch writes
    OUT/last.npz (atomically), appends OUT/metrics.jsonl and redraws OUT/curves.png;
    with validation, OUT/best.npz holds the epoch with the best --monitor value.
    Ctrl-C saves the exact position; `--resume` continues from it.

    Augmentation (--crop, --flip, --rotate, --shift, --cutout; off by default) changes each
    training batch as it is drawn, the same way in both engines; validation and test never.

    --engine torch trains the same network with PyTorch (same settings, data, checkpoints:
    a run continues in either engine). Under torchrun it trains with DistributedDataParallel;
    --batch-size is then per process:
      torchrun --nproc-per-node 2 -m cnncli train SPEC --data mnist --engine torch

    \b
    Example:
      cnn train lenet5_relu --data mnist
      cnn train specs/lenet5.yaml --data mnist --epochs 3 --lr 0.002 --out runs/lenet
      cnn train my.yaml --data ./images --resize --val 0.2
      cnn train my.yaml --data ./photos --crop 4 --flip --patience 5
    """
    placement = _placement(engine, device, sync_bn, check_threads(threads))
    loaded, graph = load_graph(spec)
    config = with_overrides(load_train_config(loaded.train, loaded.file, loaded.train_positions),
                            epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, momentum=momentum,
                            weight_decay=weight_decay, schedule=schedule, warmup=warmup, val=val, seed=seed,
                            crop=crop, flip=flip, rotate=rotate, shift=shift, cutout=cutout,
                            label_smoothing=label_smoothing, clip_grad_norm=clip_grad_norm, patience=patience,
                            monitor=monitor)
    out_dir = out or Path("runs") / Path(loaded.file).stem
    from cnncli.cli.train_run import run_training  # the engine (and Numba) load only now

    completed = False
    try:
        run_training(loaded, graph, config, data, out_dir, resume, chosen_fit(pad, resize) or "error",
                     download_progress(), engine,
                     placement, sync_bn)
        completed = True
    finally:
        if placement is not None:
            from cnncli.torch_engine.distributed import finish

            finish(placement, completed)


def _placement(engine: str, device: str, sync_bn: bool, threads: int | None):  # type: ignore[no-untyped-def]
    """The torch engine's device and process group (None for the Numba engine, which has neither)."""
    if engine == "numba":
        for flag, given in (("--device", device != "auto"), ("--sync-bn", sync_bn),
                            ("torchrun", launched_by_torchrun())):
            if given:
                raise UsageError(f"{flag} needs the PyTorch engine: add --engine torch")
        from cnncli.engine.setup import configure  # threads, BLAS, malloc, JIT: before the engine loads

        configure(threads)
        return None
    require("torch", "cnn train --engine torch")
    import torch

    from cnncli.torch_engine.distributed import start

    if threads is not None:
        torch.set_num_threads(threads)
    placement = start(device)
    if sync_bn and placement.device.type != "cuda":
        raise UsageError(f"--sync-bn needs CUDA GPUs (PyTorch's SyncBatchNorm runs on them only), but this run is "
                         f"on {placement.device.type}; drop --sync-bn (each process then keeps its own batch-norm "
                         f"statistics)")
    if placement.rank != 0:  # one process speaks for the run
        console.out.quiet = console.err.quiet = True
    return placement
