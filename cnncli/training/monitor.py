"""The best epoch and early stopping, read from the run's history (Keras's ModelCheckpoint(save_best_only)
and EarlyStopping with min_delta 0): an epoch is better only when strictly so, higher val_acc or lower
val_loss; training stops once `patience` epochs in a row were not better than the best before them.

Everything is derived from the history the checkpoint holds, so a resumed run knows its best epoch.
"""
from __future__ import annotations

from typing import Any

BEST = "best.npz"


def better(value: float, best: float | None, monitor: str) -> bool:
    """Strictly better than `best` (None: nothing yet): higher accuracy, lower loss."""
    if best is None:
        return True
    return value > best if monitor == "val_acc" else value < best


def best_epoch(history: list[dict[str, Any]], monitor: str) -> tuple[int, float] | None:
    """(epoch, value) of the first epoch with the best monitored value; None without validation."""
    best: tuple[int, float] | None = None
    for record in history:
        if monitor in record and better(record[monitor], best[1] if best else None, monitor):
            best = (record["epoch"], record[monitor])
    return best


def epochs_without_improvement(history: list[dict[str, Any]], monitor: str) -> int:
    """Epochs since the best one (0 when the last epoch is the best, or without validation)."""
    best = best_epoch(history, monitor)
    return history[-1]["epoch"] - best[0] if best and history else 0


def should_stop(history: list[dict[str, Any]], monitor: str, patience: int) -> bool:
    """Early stopping: `patience` > 0 epochs in a row without a better monitored value."""
    return patience > 0 and epochs_without_improvement(history, monitor) >= patience


def describe_value(value: float, monitor: str) -> str:
    return f"{value:.2%}" if monitor == "val_acc" else f"{value:.4f}"
