"""`cnn evaluate`: accuracy and confusion matrix of a trained checkpoint."""
from __future__ import annotations

from pathlib import Path

import click

from cnncli.cli.common import load_graph
from cnncli.report import console


@click.command()
@click.argument("spec", metavar="SPEC")
@click.option("--weights", "-w", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Checkpoint written by `cnn train` (e.g. runs/lenet5_relu/last.npz).")
@click.option("--data", required=True, help="mnist, fashion-mnist, a .npz file or a folder of class folders.")
@click.option("--batch-size", "-b", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--pad", "fit", flag_value="pad", help="Zero-pad smaller images to the spec's input size.")
@click.option("--resize", "fit", flag_value="resize", help="Resize images to the spec's input size.")
def evaluate(spec: str, weights: Path, data: str, batch_size: int, fit: str | None) -> None:
    """Test accuracy, loss and confusion matrix of trained weights (the test split, or all of the data).

    \b
    Example:
      cnn evaluate lenet5_relu --weights runs/lenet5_relu/last.npz --data mnist
    """
    from cnncli.cli.train_view import confusion_matrix
    from cnncli.engine.restore import restore_network
    from cnncli.engine.setup import configure
    from cnncli.engine.trainer import evaluate as run_evaluation
    from cnncli.training_setup import prepare_eval_data

    configure()
    _, graph = load_graph(spec)
    network, meta = restore_network(graph, weights)
    norm = meta["normalization"]
    dataset = prepare_eval_data(graph, data, norm["mean"], norm["std"], fit or meta.get("fit", "error"))
    loss, accuracy, predictions = run_evaluation(network, dataset, batch_size)
    epochs = f"{meta['epoch']} epoch" + ("" if meta["epoch"] == 1 else "s")
    console.out.print(f"{console.escape(str(meta['spec_name']))} after {epochs} on {console.escape(dataset.source)}: "
                      f"[bold]accuracy {accuracy:.2%}[/] (loss {loss:.4f}) on {len(dataset):,} images", markup=True)
    console.out.print(confusion_matrix(dataset.y, predictions, dataset.classes))
