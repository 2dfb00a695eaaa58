"""`cnn flops`: multiply-accumulates and FLOPs per layer and in total; other tools' conventions;
training (forward + backward) FLOPs per image and per epoch."""
from __future__ import annotations

from collections.abc import Callable

import click

from cnncli.analysis import Analysis, Row, analyze
from cnncli.cli.common import CONVENTIONS, analysis_options, load_graph, show_analysis, spec_argument
from cnncli.errors import UsageError
from cnncli.flop_conventions import CONVENTIONS as FLOP_CONVENTIONS
from cnncli.flop_conventions import backward_flops, count
from cnncli.layers.base import Layer
from cnncli.report.columns import COMMAND_COLUMNS, FLOP_SHARE, FLOPS, Column, fmt_int


def human(n: float) -> str:
    """1814073344 -> '1.81 G'."""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:g}"


def _per_row(layers: dict[str, Layer], fn: Callable[[Layer], int]) -> Callable[[Row], int]:
    return lambda row: sum(fn(layers[name]) for name in row.nodes)


def _column(header: str, value: Callable[[Row], int], analysis: Analysis, drop: int = 0) -> Column:
    total = sum(value(row) for row in analysis.rows)
    return Column(header, lambda r, a: fmt_int(value(r)), True, lambda a: fmt_int(total), drop=drop, per_layer=True)


CONVENTION_HELP = "\n".join(f"  {name:<9} {text}" for name, (_, text) in FLOP_CONVENTIONS.items())


@click.command(epilog=CONVENTIONS + "\n\n\b\n--convention (docs/conventions.md has the formulas and sources):\n"
               + CONVENTION_HELP + """

\b
--training: forward + backward per image. Backward of conv and dense: 2 x MACs for the
weight gradient + 2 x MACs for the input gradient (none for a layer that reads only the
network's input) + the bias sums; of every other layer: its forward FLOPs again.""")
@spec_argument
@analysis_options
@click.option("--convention", type=click.Choice(list(FLOP_CONVENTIONS)), default="flops", show_default=True,
              help="Count FLOPs as this tool does (its column replaces ours).")
@click.option("--training", is_flag=True, help="Add backward and training (forward + backward) FLOPs.")
@click.option("--images", type=click.IntRange(min=1), metavar="N",
              help="With --training: also per epoch of N images (e.g. 60000 for MNIST).")
def flops(spec: str, input_text: str | None, width_mult: float | None, depth_mult: float | None,
          depth: int | None, wide: bool, fmt: str, convention: str,
          training: bool, images: int | None) -> None:
    """MACs and FLOPs per layer for one image, their share, and totals.

    \b
    Example:
      cnn flops resnet50
      cnn flops resnet18 --convention ptflops
      cnn flops lenet5_relu --training --images 60000
      cnn flops specs/alexnet.yaml --format csv
    """
    if images is not None and not training:
        raise UsageError("--images gives the FLOPs per epoch of training: add --training")
    _, graph = load_graph(spec, input_text, width_mult, depth_mult)
    analysis = analyze(graph, depth)
    layers = {node.name: node.layer for node in graph.nodes}
    t = analysis.totals
    columns = list(COMMAND_COLUMNS["flops"])
    extra: dict = {}
    if convention != "flops":
        value = _per_row(layers, lambda layer: count(layer, convention))
        column = _column(f"FLOPs ({convention})", value, analysis)
        columns[columns.index(FLOPS)] = column
        columns.remove(FLOP_SHARE)  # our FLOPs' share would not match the column beside it
        total = sum(value(row) for row in analysis.rows)
        extra["convention"] = {"name": convention, "total": total,
                               "layers": {row.name: value(row) for row in analysis.rows}}
    footer = [f"MACs: [bold]{t['macs']:,}[/] ({human(t['macs'])})  ·  FLOPs: {t['flops']:,} ({human(t['flops'])})"
              + (f"  ·  FLOPs as {convention} counts: {extra['convention']['total']:,} "
                 f"({human(extra['convention']['total'])})" if convention != "flops" else "") + "  ·  per image"]
    if training:
        backward = _per_row(layers, backward_flops)
        columns += [_column("backward", backward, analysis, drop=2),
                    _column("train FLOPs", lambda r: r.flops + backward(r), analysis, drop=1)]
        back = sum(backward(row) for row in analysis.rows)
        extra["training"] = {"forward": t["flops"], "backward": back, "total": t["flops"] + back}
        footer.append(f"training per image: [bold]{t['flops'] + back:,}[/] ({human(t['flops'] + back)}) = forward "
                      f"{t['flops']:,} + backward {back:,} ({(t['flops'] + back) / max(t['flops'], 1):.2f} × forward)")
        if images is not None:
            extra["training"].update(images=images, per_epoch=images * (t["flops"] + back))
            footer.append(f"per epoch of {images:,} images: [bold]{human(images * (t['flops'] + back))}FLOPs[/]")
    show_analysis(columns, analysis, fmt, footer, extra_json=extra or None, wide=wide)
