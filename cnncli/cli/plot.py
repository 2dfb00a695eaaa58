"""`cnn plot`: the learning curves of one or more training runs in one figure."""
from __future__ import annotations

import json
from pathlib import Path

import click

from cnncli.errors import UsageError
from cnncli.report import console

METRICS = "metrics.jsonl"


def read_run(folder: Path) -> tuple[list[dict], list[tuple[float, float]]]:
    """Epoch records of a run folder's metrics.jsonl (the last record of each epoch wins), and the
    per-step losses its checkpoint keeps, placed in epochs: step / steps per epoch, where
    steps per epoch = (step − batch) / epoch from the checkpoint's position (none before epoch 1)."""
    path = folder / METRICS
    if not path.is_file():
        raise UsageError(f"{folder}: no {METRICS} found; expected the folder of a `cnn train --out` run")
    records: dict[int, dict] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            records[int(record["epoch"])] = record
        except (ValueError, KeyError, TypeError) as err:
            raise UsageError(f"{path}:{number}: expected one JSON object with an 'epoch' per line "
                             f"({type(err).__name__}: {err}); was the file edited by hand?") from None
    if not records:
        raise UsageError(f"{path}: no epochs recorded yet; train for at least one epoch first")
    from cnncli.training.loop import CHECKPOINT

    return [records[e] for e in sorted(records)], _step_losses(folder / CHECKPOINT)


def _step_losses(checkpoint: Path) -> list[tuple[float, float]]:
    if not checkpoint.is_file():
        return []
    from cnncli.engine.checkpoint import load_checkpoint

    _, _, meta = load_checkpoint(checkpoint)
    if not meta.get("step_losses") or meta["epoch"] < 1:
        return []
    per_epoch = (meta["step"] - meta["batch"]) / meta["epoch"]
    return [(float(step) / per_epoch, float(loss)) for step, loss in meta["step_losses"]]


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path), metavar="RUN...")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("curves.png"),
              show_default=True, help="PNG file to write.")
def plot(runs: tuple[Path, ...], out: Path) -> None:
    """Draw loss (log scale), accuracy and learning rate of training runs, to compare them.

    Each RUN is a folder written by `cnn train --out RUN` (it reads RUN/metrics.jsonl).

    \b
    Examples:
      cnn plot runs/lenet -o lenet.png
      cnn plot runs/adam runs/sgd -o adam_vs_sgd.png
    """
    if out.suffix.lower() != ".png":
        raise UsageError(f"{out}: `cnn plot` writes PNG; name the file with .png (e.g. -o curves.png)")
    from cnncli.report.plot import Run, plot_runs

    loaded = []
    for folder in runs:
        history, steps = read_run(folder)
        loaded.append(Run(folder.resolve().name, history, steps))
    plot_runs(loaded, out)
    console.info(f"{out}: curves of {len(loaded)} run" + ("" if len(loaded) == 1 else "s"))
