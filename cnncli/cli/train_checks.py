"""Checks `cnn train` makes before it spends time on data or compilation."""
from __future__ import annotations

from pathlib import Path

from cnncli.analysis import analyze
from cnncli.errors import UsageError
from cnncli.graph import Graph
from cnncli.train_config import TrainConfig

MEMINFO = Path("/proc/meminfo")


def available_memory() -> int | None:
    """Bytes the kernel says can be allocated without swapping (MemAvailable), or None off Linux."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_training_memory(graph: Graph, config: TrainConfig, available: int | None = None) -> None:
    """Refuse a batch whose training memory (`cnn summary`'s estimate: activations of the batch, weights,
    gradients, optimizer state; a lower bound of what the engine holds) exceeds the memory available."""
    available = available_memory() if available is None else available
    if available is None:
        return
    optimizer = config.optimizer
    if optimizer == "sgd":
        optimizer = "sgd_momentum" if config.optimizer_args.get("momentum") else "sgd"
    analysis = analyze(graph)
    need = analysis.training_memory(config.batch_size, optimizer)
    if need["total"] <= available:
        return
    per_image = need["activations"] / config.batch_size
    fixed = need["total"] - need["activations"]
    fits = int((available - fixed) // per_image) if available > fixed else 0
    advice = (f"use --batch-size {max(1, fits // 2)} or less" if fits >= 1 else
              "the weights and optimizer state alone do not fit: use a smaller network or a machine with more memory")
    raise UsageError(f"training at batch {config.batch_size} needs at least {need['total'] / 1e9:.1f} GB "
                     f"(activations {need['activations'] / 1e9:.1f} GB, weights, gradients and {config.optimizer} "
                     f"state {fixed / 1e9:.1f} GB; `cnn summary -b {config.batch_size}` itemises it) but this machine "
                     f"has {available / 1e9:.1f} GB available; {advice}")
