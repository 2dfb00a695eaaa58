"""How training looks in the terminal: a progress bar per epoch, epoch rows, a confusion matrix."""
from __future__ import annotations

import time
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from cnncli.report import console


class Silent:
    """Trainer events on processes other than the first of a distributed run: nothing shown."""

    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def epoch_start(self, epoch: int, batches: int, done: int) -> None:
        pass

    def batch_end(self, epoch: int, batch: int, loss: float, accuracy: float, images_per_s: float) -> None:
        pass

    def epoch_end(self, record: dict[str, Any]) -> None:
        pass


def duration(seconds: float) -> str:
    """'45 s', '4 min', '1 h 20 min' (rounded as a person would say it)."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def clock(seconds: float) -> str:
    """h:mm:ss or m:ss."""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainingView:
    """Renders trainer events: a progress bar per epoch (with the epoch's and the run's time left), one
    line per finished epoch, and the estimate of the run's time."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.2%}  {task.fields[speed]:,.0f} img/s"),
            TimeRemainingColumn(), TextColumn("run ETA {task.fields[eta]}"), console=console.err, transient=True)
        self.task: Any = None
        self.batches, self.started, self.done_at_start = 0, 0.0, 0

    def __enter__(self) -> TrainingView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def epoch_start(self, epoch: int, batches: int, done: int) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task("train", total=batches, completed=done, epoch=epoch + 1,
                                           epochs=self.epochs, loss=0.0, acc=0.0, speed=0.0, eta="-:--")
        self.batches, self.started, self.done_at_start = batches, time.perf_counter(), done

    def batch_end(self, epoch: int, batch: int, loss: float, accuracy: float, images_per_s: float) -> None:
        """The run's ETA: batches left in this and the later epochs at this epoch's seconds per batch."""
        per_batch = (time.perf_counter() - self.started) / max(batch - self.done_at_start, 1)
        left = self.batches - batch + (self.epochs - epoch - 1) * self.batches
        self.progress.update(self.task, completed=batch, loss=loss, acc=accuracy, speed=images_per_s,
                             eta=clock(left * per_batch))

    def estimate(self, seconds: float, batches: int) -> None:
        """The time the run should take, measured on its first batches."""
        self.progress.console.print(f"estimated time: about {duration(seconds)} for {self.epochs} epoch"
                                    f"{'' if self.epochs == 1 else 's'} (timed on {batches} batch"
                                    f"{'' if batches == 1 else 'es'})", highlight=False)

    def epoch_end(self, record: dict[str, Any]) -> None:
        val = (f"  val loss {record['val_loss']:.4f}  val acc {record['val_acc']:.2%}"
               + ("  *best" if record.get("best") else "") if "val_loss" in record else "")
        self.progress.console.print(
            f"epoch {record['epoch']:>3}/{self.epochs}  train loss {record['train_loss']:.4f}  "
            f"train acc {record['train_acc']:.2%}{val}  lr {record['lr']:.3g}  {record['seconds']:.1f}s  "
            f"{record['images_per_s']:,.0f} img/s", highlight=False)


def epoch_table(history: list[dict[str, Any]]) -> Table:
    table = Table(title="training", title_justify="left", header_style="bold")
    for header in ("epoch", "train loss", "train acc", "val loss", "val acc", "lr", "time", "img/s"):
        table.add_column(header, justify="right")
    for r in history:
        table.add_row(str(r["epoch"]), f"{r['train_loss']:.4f}", f"{r['train_acc']:.2%}",
                      f"{r['val_loss']:.4f}" if "val_loss" in r else "—",
                      f"{r['val_acc']:.2%}" if "val_acc" in r else "—", f"{r['lr']:.3g}",
                      f"{r['seconds']:.1f}s", f"{r['images_per_s']:,.0f}")
    return table


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: list[str]) -> Table:
    """Rows: true class; columns: predicted class; the diagonal in green."""
    k = len(classes)
    counts = np.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)
    table = Table(title="confusion matrix (rows: true, columns: predicted)", title_justify="left",
                  header_style="bold")
    table.add_column("")
    short = [c[:6] for c in classes]
    for name in short:
        table.add_column(name, justify="right")
    table.add_column("recall", justify="right")
    for i, name in enumerate(short):
        cells = [Text(str(v), "green") if i == j else Text(str(v) if v else "·", "" if v else "dim")
                 for j, v in enumerate(counts[i])]
        total = counts[i].sum()
        table.add_row(name, *cells, f"{counts[i, i] / total:.1%}" if total else "—")
    return table
