"""`cnn predict`: the top classes for image files."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from rich.table import Table

from cnncli.cli.common import load_graph
from cnncli.errors import UsageError
from cnncli.report import console


def load_image(path: Path, chw: tuple[int, ...]) -> np.ndarray:
    """An image file as float32 [C, H, W] in [0, 1], converted and resized to the spec's input."""
    from PIL import Image, UnidentifiedImageError

    c, h, w = chw
    try:
        with Image.open(path) as image:
            converted = image.convert("L" if c == 1 else "RGB")
            if converted.size != (w, h):
                converted = converted.resize((w, h), Image.Resampling.BILINEAR)
            pixels = np.asarray(converted, dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise UsageError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError) as err:
        raise UsageError(f"{path}: not an image Pillow can read ({err})") from None
    return pixels[None] if c == 1 else np.ascontiguousarray(pixels.transpose(2, 0, 1))


@click.command()
@click.argument("spec", metavar="SPEC")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--weights", "-w", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Checkpoint written by `cnn train`.")
@click.option("--top", "-k", type=click.IntRange(min=1), default=3, show_default=True, help="Classes to show.")
@click.option("--invert", is_flag=True, help="Invert grey levels (dark digits on white paper -> MNIST style).")
def predict(spec: str, images: tuple[Path, ...], weights: Path, top: int, invert: bool) -> None:
    """Top-k classes with probabilities for each image (resized to the spec's input).

    \b
    Example:
      cnn predict lenet5_relu --weights runs/lenet5_relu/last.npz digit.png
    """
    from cnncli.engine.restore import restore_network
    from cnncli.engine.setup import configure

    configure()
    _, graph = load_graph(spec)
    network, meta = restore_network(graph, weights)
    if len(graph.input_shape) != 3:
        raise UsageError("predict needs a spec with an image input [C, H, W]")
    batch = np.stack([load_image(path, graph.input_shape) for path in images])
    if invert:
        batch = 1.0 - batch
    norm = meta["normalization"]
    batch = (batch - np.asarray(norm["mean"], np.float32)[:, None, None]) / np.asarray(norm["std"], np.float32)[
        :, None, None]
    probabilities = network.predict_proba(np.ascontiguousarray(batch, dtype=np.float32))
    classes = meta["classes"]
    table = Table(header_style="bold")
    table.add_column("image")
    for rank in range(1, min(top, len(classes)) + 1):
        table.add_column(f"#{rank}")
    for path, p in zip(images, probabilities):
        best = np.argsort(-p)[:top]
        table.add_row(str(path), *(f"{classes[i]} ({p[i]:.1%})" for i in best))
    console.out.print(table)
