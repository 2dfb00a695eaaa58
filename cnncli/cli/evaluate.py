"""`cnn evaluate`: accuracy and confusion matrix of a trained checkpoint."""
from __future__ import annotations

from pathlib import Path

import click

from cnncli.cli.common import load_graph
from cnncli.cli.fit_options import chosen_fit, fit_options
from cnncli.report import console


@click.command()
@click.argument("spec", metavar="SPEC")
@click.option("--weights", "-w", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Checkpoint written by `cnn train` (e.g. runs/lenet5_relu/last.npz).")
@click.option("--data", required=True, help="mnist, fashion-mnist, a .npz file or a folder of class folders.")
@click.option("--batch-size", "-b", type=click.IntRange(min=1, max=65_536), default=256, show_default=True)
@fit_options
def evaluate(spec: str, weights: Path, data: str, batch_size: int, pad: bool, resize: bool) -> None:
    """Test accuracy, loss and confusion matrix of trained weights (the test split, or all of the data).

    The data is prepared as the run prepared its own (the checkpoint records how: pixel scale,
    padding or resizing, mean and std), and its classes are matched to the training classes by
    name: a subset is fine, unknown names are refused. --pad or --resize override the run's fit.

    \b
    Example:
      cnn evaluate lenet5_relu --weights runs/lenet5_relu/last.npz --data mnist
    """
    from cnncli.cli.train_view import confusion_matrix
    from cnncli.engine.checkpoint import run_preprocessing
    from cnncli.engine.restore import restore_network
    from cnncli.engine.setup import configure
    from cnncli.engine.trainer import evaluate as run_evaluation
    from cnncli.training_setup import prepare_eval_data

    fit = chosen_fit(pad, resize)
    configure()
    _, graph = load_graph(spec)
    network, meta = restore_network(graph, weights)
    dataset = prepare_eval_data(graph, data, run_preprocessing(weights, meta), meta["classes"], fit)
    loss, accuracy, predictions = run_evaluation(network, dataset, batch_size)
    epochs = f"{meta['epoch']} epoch" + ("" if meta["epoch"] == 1 else "s")
    engine = meta.get("engine", "numba")
    console.out.print(f"{console.escape(str(meta['spec_name']))} after {epochs} ({engine} engine) on "
                      f"{console.escape(dataset.source)}: [bold]accuracy {accuracy:.2%}[/] (loss {loss:.4f}) on "
                      f"{len(dataset):,} images", markup=True)
    console.out.print(confusion_matrix(dataset.y, predictions, dataset.classes))
