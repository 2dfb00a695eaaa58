"""`cnn filters`: the learned kernels of a convolution, as a grid of tiles."""
from __future__ import annotations

from pathlib import Path

import click

from cnncli.cli.common import load_graph, spec_argument
from cnncli.cli.weights_option import checkpoint_path, weights_option
from cnncli.errors import UsageError
from cnncli.graph import Graph, Node
from cnncli.report import console
from cnncli.suggest import did_you_mean


def find_conv(graph: Graph, name: str | None) -> Node:
    """The convolution named `name` (the first one for None), or a clear error listing them."""
    convs = [node for node in graph.nodes if node.layer.type_name == "conv2d"]
    if not convs:
        raise UsageError(f"{graph.name} has no conv2d layer: there are no kernels to draw")
    if name is None:
        return convs[0]
    listing = ", ".join(node.name for node in convs[:12]) + (" …" if len(convs) > 12 else "")
    node = next((n for n in graph.nodes if n.name == name), None)
    if node is None:
        raise UsageError(f"--layer {name}: no such node{did_you_mean(name, [n.name for n in convs])} "
                         f"(convolutions: {listing})")
    if node.layer.type_name != "conv2d":
        raise UsageError(f"--layer {name}: it is a {node.layer.type_name} layer, without kernels to draw; "
                         f"choose a convolution: {listing}")
    return node


@click.command()
@spec_argument
@weights_option()
@click.option("--layer", metavar="NAME", help="Convolution to show (default: the first one).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("filters.png"),
              show_default=True, help="PNG file to write.")
def filters(spec: str, weights: Path, layer: str | None, out: Path) -> None:
    """Draw a convolution's kernels: one tile per filter (and input channel), one colour scale.

    With 3 input channels each filter is one colour tile. Blue is negative, red positive,
    white zero; the scale is symmetric, [-m, m] with m the largest |weight| shown.

    \b
    Example:
      cnn train lenet5_relu --data mnist --out runs/lenet
      cnn filters lenet5_relu --weights runs/lenet/last.npz -o filters.png
    """
    if out.suffix.lower() != ".png":
        raise UsageError(f"{out}: `cnn filters` writes PNG; name the file with .png (e.g. -o filters.png)")
    from cnncli.export.common import checkpoint_state
    from cnncli.report.maps import save_filters

    _, graph = load_graph(spec)
    node = find_conv(graph, layer)
    state, _ = checkpoint_state(graph, checkpoint_path(weights))
    weight = state[f"{node.name}/weight"]
    f, c, kh, kw = weight.shape
    title = f"{graph.name}\n{node.name}: {f} filters of {kh}×{kw}" + (f" × {c} input channels" if c > 1 else "")
    left_out = save_filters(weight, title, out)
    console.info(f"{out}: {node.name}, {f} filters" + (f" (showing {left_out})" if left_out else ""))
