"""Learning curves with matplotlib (Agg, imported only when a figure is drawn).

Three panels against the epoch: loss on a log scale (per-step training loss, raw and
smoothed, plus the per-epoch train and validation means), accuracy, and the learning rate.
The smoothed loss is the debiased exponential moving average TensorBoard draws:
    s_t = β·s_{t−1} + (1 − β)·x_t,  s_0 = 0,   shown as s_t / (1 − β^t),
with β = 1 − 2 / (span + 1) and span = steps / 40 (at least 1, at most 200 steps).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnncli.atomic import atomic_writer

StepLosses = Sequence[tuple[float, float]]  # (epoch position, loss): 0.5 = half-way through epoch 1
SINGLE = {"train": "#1f77b4", "val": "#ff7f0e"}
LR_COLOR = "#2ca02c"
DPI = 150


@dataclass
class Run:
    """One training run to draw: a label (empty for a single run), epoch records, per-step losses."""

    label: str
    history: list[dict[str, Any]]
    step_losses: StepLosses = field(default_factory=list)


def smooth(values: Sequence[float]) -> list[float]:
    """Debiased exponential moving average (see the module docstring)."""
    span = min(max(len(values) / 40, 1.0), 200.0)
    beta = 1 - 2 / (span + 1)
    out, s = [], 0.0
    for t, x in enumerate(values, start=1):
        s = beta * s + (1 - beta) * x
        out.append(s / (1 - beta ** t) if beta > 0 else x)
    return out


def _style_axes(ax, title: str, ylabel: str) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.ticker import MaxNLocator

    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _log_ticks(ax) -> None:  # type: ignore[no-untyped-def]
    """Log axis labelled at 1, 2, 5 × 10^k in plain numbers (0.05, 0.1, 0.2 ...)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _colors(runs: list[Run]) -> list[dict[str, str]]:
    if len(runs) == 1:
        return [SINGLE]
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors
    return [{"train": palette[i % 10], "val": palette[i % 10]} for i in range(len(runs))]


def _draw_run(axes, run: Run, colors: dict[str, str], many: bool) -> None:  # type: ignore[no-untyped-def]
    """Per-step loss (raw and smoothed) if known, else the per-epoch train loss; validation loss,
    accuracies and the learning rate at each epoch's end."""
    loss_ax, acc_ax, lr_ax = axes
    prefix = f"{run.label}: " if many else ""
    epochs = [int(r["epoch"]) for r in run.history]
    if run.step_losses:
        xs = [p for p, _ in run.step_losses]
        ys = [v for _, v in run.step_losses]
        if not many:
            loss_ax.plot(xs, ys, color=colors["train"], alpha=0.2, linewidth=0.6, label="train, per step")
        loss_ax.plot(xs, smooth(ys), color=colors["train"], linewidth=1.6, label=f"{prefix}train, smoothed")
    for split, dash, name in (("train", "-", "train"), ("val", "--" if many else "-", "validation")):
        for ax, key in ((loss_ax, f"{split}_loss"), (acc_ax, f"{split}_acc")):
            points = [(e, r[key]) for e, r in zip(epochs, run.history) if key in r]
            if points and not (ax is loss_ax and split == "train" and run.step_losses):
                ax.plot([e for e, _ in points], [v for _, v in points], dash, marker="o", markersize=4,
                        color=colors[split], linewidth=1.4, label=f"{prefix}{name}")
    rates = [(e, r["lr"]) for e, r in zip(epochs, run.history) if "lr" in r]
    if rates:
        lr_ax.plot([e for e, _ in rates], [v for _, v in rates], "-o", markersize=4, linewidth=1.4,
                   color=colors["train"] if many else LR_COLOR, label="_nolegend_" if many else "learning rate")


def learning_figure(runs: list[Run]):  # type: ignore[no-untyped-def]
    """A matplotlib Figure: loss, accuracy and learning rate of one or more runs, legend below."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig = Figure(figsize=(13, 4.2), layout="constrained")
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.25, 1, 0.8]})
    many = len(runs) > 1
    for run, colors in zip(runs, _colors(runs)):
        _draw_run(axes, run, colors, many)
    loss_ax, acc_ax, lr_ax = axes
    _style_axes(loss_ax, "Loss (cross-entropy)", "loss (log scale)")
    _log_ticks(loss_ax)
    _style_axes(acc_ax, "Accuracy", "accuracy")
    acc_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.4g}%"))
    _style_axes(lr_ax, "Learning rate (end of epoch)", "learning rate")
    lr_ax.yaxis.set_major_locator(MaxNLocator(5))
    lr_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    lr_ax.set_ylim(bottom=0)
    last = max((int(r["epoch"]) for run in runs for r in run.history), default=1)
    for ax in axes:
        ax.set_xlim(0, max(last, 1) + 0.15)
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncol=min(len(handles), 4 if many else 5), frameon=False, fontsize=9)
    return fig


def plot_runs(runs: list[Run], path: Path) -> None:
    """The learning figure of these runs as a PNG, written atomically."""
    fig = learning_figure(runs)
    with atomic_writer(path) as handle:
        fig.savefig(handle, format="png", dpi=DPI, facecolor="white")


def save_learning_curves(history: list[dict[str, Any]], path: Path, step_losses: StepLosses | None = None) -> None:
    """The curves of one run as PNG; `step_losses` are (epoch position, loss) pairs, e.g. (0.5, 0.31)
    for the batch half-way through epoch 1, in training order."""
    plot_runs([Run("", history, list(step_losses or []))], path)
