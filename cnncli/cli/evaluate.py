"""`cnn evaluate`: accuracy, top-k, per-class precision/recall/F1 and the confusion matrix of a trained run."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from cnncli.cli.common import load_graph
from cnncli.cli.fit_options import chosen_fit, fit_options
from cnncli.cli.weights_option import checkpoint_path, weights_option
from cnncli.errors import UsageError
from cnncli.report import console
from cnncli.report.render import FORMATS


def _which(path: Path, meta: dict[str, Any]) -> str:
    """One line saying which checkpoint is used and why."""
    best = meta.get("best") or {}
    if path.name == "best.npz" and best:
        value = best["value"]
        shown = f"{value:.2%}" if best.get("monitor") == "val_acc" else f"{value:.4f}"
        return (f"weights: {path} (epoch {meta['epoch']}, the best {best.get('monitor')} {shown}; the last "
                f"epoch is in {path.with_name('last.npz')})")
    return f"weights: {path} (epoch {meta['epoch']})"


def _rows(report: dict[str, Any]) -> list[list[str]]:
    """Per-class rows, then the averages, accuracy and top-k, as sklearn's classification_report lays them out
    (accuracy in the F1 column)."""
    def cells(name: str, m: dict[str, Any]) -> list[str]:
        return [name, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", str(m["support"])]

    rows = [cells(c["class"], c) for c in report["classes"]]
    rows += [cells("macro avg", report["macro_avg"]), cells("weighted avg", report["weighted_avg"]),
             ["accuracy", "", "", f"{report['accuracy']:.4f}", str(report["images"])]]
    if "top_k" in report:
        rows.append([f"top-{report['top_k']['k']} accuracy", "", "", f"{report['top_k']['accuracy']:.4f}",
                     str(report["images"])])
    return rows


HEADERS = ["class", "precision", "recall", "f1", "support"]


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as json (everything), csv or markdown (the per-class table)."""
    if fmt == "json":
        return json.dumps(report, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([HEADERS, *_rows(report)])
        return buffer.getvalue().rstrip("\n")
    lines = ["| " + " | ".join(HEADERS) + " |", "|---|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(report)]
    return "\n".join(lines)


@click.command()
@click.argument("spec", metavar="SPEC|RUN")
@weights_option(required=False, extra_help=" Not needed when the argument is a run folder.")
@click.option("--data", required=True, help="mnist, fashion-mnist, a .npz file or a folder of class folders.")
@click.option("--batch-size", "-b", type=click.IntRange(min=1, max=65_536), default=256, show_default=True)
@click.option("--top-k", "-k", type=click.IntRange(min=1), default=None,
              help="Also report top-k accuracy [5 when there are more than 5 classes].")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="json holds everything: accuracy, top-k, per-class metrics, averages, confusion matrix.")
@fit_options
def evaluate(spec: str, weights: Path | None, data: str, batch_size: int, top_k: int | None, fmt: str, pad: bool,
             resize: bool) -> None:
    """Accuracy, top-k accuracy, per-class precision, recall, F1 and support (with macro and weighted
    averages) and the confusion matrix of trained weights, on the test split (or all of the data).

    SPEC is a spec file or zoo name (with --weights), or a run folder: the spec is then the one
    stored in the checkpoint. A run folder gives best.npz when training wrote one (the epoch with
    the best validation value), else last.npz; the command says which file it used.

    The data is prepared as the run prepared its own (the checkpoint records how: pixel scale,
    padding or resizing, mean and std), and its classes are matched to the training classes by
    name: a subset is fine, unknown names are refused. --pad or --resize override the run's fit.

    \b
    Example:
      cnn evaluate runs/lenet5_relu --data mnist
      cnn evaluate lenet5_relu --weights runs/lenet5_relu/last.npz --data mnist --format json
    """
    from cnncli.cli.train_view import confusion_matrix
    from cnncli.engine.checkpoint import load_checkpoint, run_preprocessing
    from cnncli.engine.restore import restore_network
    from cnncli.engine.setup import configure
    from cnncli.engine.trainer import evaluate_scores
    from cnncli.graph import build_graph
    from cnncli.spec import load_spec_text
    from cnncli.training.metrics import classification_report, default_top_k
    from cnncli.training_setup import prepare_eval_data

    fit = chosen_fit(pad, resize)
    configure()
    run_folder = Path(spec).is_dir()
    if weights is None and not run_folder:
        raise UsageError(f"evaluate needs trained weights: --weights runs/<name> (a run folder) or a checkpoint "
                         f"file, or give the run folder instead of {spec!r}")
    path = weights if weights is not None else Path(spec)
    path = checkpoint_path(path)
    if run_folder:  # the spec the run was trained with, as stored in its checkpoint
        meta = load_checkpoint(path)[2]
        graph = build_graph(load_spec_text(str(meta.get("spec_text", "")), str(meta.get("spec_file", path))))
    else:
        graph = load_graph(spec)[1]
    network, meta = restore_network(graph, path)
    console.info(_which(path, meta))
    dataset = prepare_eval_data(graph, data, run_preprocessing(path, meta), meta["classes"], fit)
    k = top_k if top_k is not None else default_top_k(len(dataset.classes))
    if k is not None and k > len(dataset.classes):
        raise UsageError(f"--top-k {k}: the model has only {len(dataset.classes)} classes; use at most "
                         f"{len(dataset.classes)}")
    loss, scores = evaluate_scores(network, dataset, batch_size)
    report = {"spec": meta["spec_name"], "weights": str(path), "epoch": meta["epoch"],
              "engine": meta.get("engine", "numba"), "data": dataset.source, "loss": loss,
              **classification_report(dataset.y, scores, dataset.classes, k)}
    if fmt != "table":
        console.out.print(render(report, fmt), markup=False, highlight=False, soft_wrap=True)
        return
    epochs = f"{meta['epoch']} epoch" + ("" if meta["epoch"] == 1 else "s")
    top = f", top-{k} {report['top_k']['accuracy']:.2%}" if k is not None else ""
    console.out.print(f"{console.escape(str(meta['spec_name']))} after {epochs} ({report['engine']} engine) on "
                      f"{console.escape(dataset.source)}: [bold]accuracy {report['accuracy']:.2%}[/]{top} "
                      f"(loss {loss:.4f}) on {len(dataset):,} images", markup=True)
    from cnncli.report.text_table import render_table

    console.out.print(render_table("per class", HEADERS, _rows(report), [False, True, True, True, True]),
                      markup=False, highlight=False, soft_wrap=True)
    console.out.print(confusion_matrix(dataset.y, scores.argmax(axis=1), dataset.classes))
