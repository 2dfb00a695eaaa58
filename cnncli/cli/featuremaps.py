"""`cnn featuremaps`: what each convolution and pooling layer makes of one image."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from cnncli.cli.common import load_graph, spec_argument
from cnncli.cli.fit_options import chosen_fit, fit_options
from cnncli.cli.weights_option import checkpoint_path, weights_option
from cnncli.errors import UsageError
from cnncli.graph import Graph, Node
from cnncli.report import console
from cnncli.suggest import did_you_mean

MAP_TYPES = ("conv2d", "maxpool", "avgpool", "adaptive_avgpool")
TOP = 5


def map_nodes(graph: Graph, layer: str) -> list[Node]:
    """Nodes to show: every convolution and pooling layer with maps larger than 1x1 ('all'), or one by name."""
    if layer == "all":
        nodes = [n for n in graph.nodes if n.layer.type_name in MAP_TYPES and len(n.layer.out_shape) == 3
                 and n.layer.out_shape[1] * n.layer.out_shape[2] > 1]
        if not nodes:
            raise UsageError(f"{graph.name} has no convolution or pooling layer with spatial maps to show")
        return nodes
    node = next((n for n in graph.nodes if n.name == layer), None)
    if node is None:
        raise UsageError(f"--layer {layer}: no such node{did_you_mean(layer, [n.name for n in graph.nodes])} "
                         f"(or pass --layer all)")
    if len(node.layer.out_shape) != 3:
        raise UsageError(f"--layer {layer}: its output {list(node.layer.out_shape)} is not a stack of maps "
                         f"[C, H, W]; choose a layer before flatten")
    return [node]


def prefix_graph(graph: Graph, name: str) -> Graph:
    """The sub-graph that computes node `name`: it and its ancestors, in the original order."""
    by_name = {n.name: n for n in graph.nodes}
    needed, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in by_name and current not in needed:
            needed.add(current)
            todo += by_name[current].layer.inputs
    return Graph(graph.name, graph.input_shape, [n for n in graph.nodes if n.name in needed])


def softmax(logits: np.ndarray) -> np.ndarray:
    """p_i = exp(z_i − max z) / Σ_j exp(z_j − max z)."""
    z = np.exp(logits - logits.max())
    return z / z.sum()


@click.command()
@spec_argument
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@weights_option()
@click.option("--layer", default="all", show_default=True, metavar="NAME|all",
              help="One layer's maps, or those of every convolution and pooling layer.")
@click.option("--invert", is_flag=True, help="Invert grey levels (dark digits on white paper -> MNIST style).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("maps.png"),
              show_default=True, help="PNG file to write.")
@fit_options
def featuremaps(spec: str, image: Path, weights: Path, layer: str, invert: bool, out: Path, pad: bool,
                resize: bool) -> None:
    """Draw an image, the feature maps it produces (evaluation mode) and the predicted classes.

    The image is prepared as the run prepared its training images (the checkpoint records how:
    pixel scale by bit depth, padding or resizing, x' = (x * scale - mean) / std); --pad or
    --resize fit an image of another size.

    \b
    Example:
      cnn featuremaps lenet5_relu digit.png --weights runs/lenet/last.npz -o maps.png
    """
    if out.suffix.lower() != ".png":
        raise UsageError(f"{out}: `cnn featuremaps` writes PNG; name the file with .png (e.g. -o maps.png)")
    from cnncli.cli.predict import inverted
    from cnncli.engine.checkpoint import load_checkpoint, run_preprocessing
    from cnncli.engine.network import Network
    from cnncli.export.common import checkpoint_state
    from cnncli.report.maps import LayerMaps, save_featuremaps

    _, graph = load_graph(spec)
    if len(graph.input_shape) != 3:
        raise UsageError(f"{graph.name} takes {list(graph.input_shape)}, not an image [C, H, W]")
    nodes = map_nodes(graph, layer)
    weights = checkpoint_path(weights)
    state, _ = checkpoint_state(graph, weights)
    network = Network(graph)
    network.load_state(state)
    meta = load_checkpoint(weights)[2]
    preprocessing = run_preprocessing(weights, meta)
    x = preprocessing.images([image], chosen_fit(pad, resize))
    if invert:
        x = inverted(x, preprocessing.mean, preprocessing.std)
    mean = np.asarray(preprocessing.mean, np.float32)[:, None, None]
    std = np.asarray(preprocessing.std, np.float32)[:, None, None]
    pixels = x[0] * std + mean  # the image as the network sees it, before standardising: [C, H, W] in [0, 1]
    probabilities = softmax(network.forward(x, training=False)[0].astype(np.float64))
    classes = meta["classes"]
    best = np.argsort(-probabilities)[:TOP]
    layers = []
    for node in nodes:
        part = Network(prefix_graph(graph, node.name))
        part.load_state(state)
        maps = part.forward(x, training=False)[0]
        shape = "×".join(str(d) for d in node.layer.out_shape)
        layers.append(LayerMaps(f"{node.name} ({node.layer.type_name}), {shape}", maps))
    title = f"{graph.name}: {image.name} → {classes[best[0]]} ({probabilities[best[0]]:.1%})"
    save_featuremaps(pixels, layers, [(str(classes[i]), float(probabilities[i])) for i in best], title, out)
    console.info(f"{out}: {len(layers)} layer" + ("" if len(layers) == 1 else "s") +
                 f"; predicted {classes[best[0]]} ({probabilities[best[0]]:.1%})")
