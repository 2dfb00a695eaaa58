"""`cnn predict`: the top classes for image files."""
from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
from rich.table import Table

from cnncli.cli.common import load_graph
from cnncli.cli.fit_options import chosen_fit, fit_options
from cnncli.cli.weights_option import checkpoint_path, weights_option
from cnncli.errors import UsageError
from cnncli.report import console


def inverted(batch: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """The standardised batch of the inverted pixels: p -> 1 − p is x -> (1 − 2·mean) / std − x
    for x = (p − mean) / std."""
    m, s = np.asarray(mean, np.float32)[:, None, None], np.asarray(std, np.float32)[:, None, None]
    return np.ascontiguousarray((1 - 2 * m) / s - batch, dtype=np.float32)


@click.command()
@click.argument("spec", metavar="SPEC")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@weights_option()
@click.option("--top", "-k", type=click.IntRange(min=1), default=3, show_default=True, help="Classes to show.")
@click.option("--invert", is_flag=True, help="Invert grey levels (dark digits on white paper -> MNIST style).")
@fit_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def predict(spec: str, images: tuple[Path, ...], weights: Path, top: int, invert: bool, pad: bool, resize: bool,
            fmt: str) -> None:
    """Top-k classes with probabilities for each image, prepared as the run prepared its training
    images (pixel scale by bit depth, the run's padding or resizing, its mean and std); --pad or
    --resize override the run's fit for images of another size.

    \b
    Example:
      cnn predict lenet5_relu --weights runs/lenet5_relu/last.npz digit.png
      cnn predict lenet5_relu --weights runs/lenet5_relu/last.npz photo.jpg --resize --invert --format json
    """
    from cnncli.engine.checkpoint import run_preprocessing
    from cnncli.engine.restore import restore_network
    from cnncli.engine.setup import configure

    fit = chosen_fit(pad, resize)
    configure()
    _, graph = load_graph(spec)
    if len(graph.input_shape) != 3:
        raise UsageError("predict needs a spec with an image input [C, H, W]")
    weights = checkpoint_path(weights)
    network, meta = restore_network(graph, weights)
    preprocessing = run_preprocessing(weights, meta)
    batch = preprocessing.images(list(images), fit)
    if invert:
        batch = inverted(batch, preprocessing.mean, preprocessing.std)
    probabilities = network.predict_proba(batch)
    classes = meta["classes"]
    ranked = [[(classes[i], float(p[i])) for i in np.argsort(-p)[:top]] for p in probabilities]
    if fmt == "json":
        rows = [{"image": str(path), "top": [{"class": name, "probability": prob} for name, prob in best]}
                for path, best in zip(images, ranked)]
        console.out.print(json.dumps({"weights": str(weights), "predictions": rows}, indent=2), soft_wrap=True)
        return
    table = Table(header_style="bold")
    table.add_column("image")
    for rank in range(1, min(top, len(classes)) + 1):
        table.add_column(f"#{rank}")
    for path, best in zip(images, ranked):
        table.add_row(str(path), *(f"{name} ({prob:.1%})" for name, prob in best))
    console.out.print(table)
