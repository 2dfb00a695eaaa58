"""`cnn diagram`: draw the layer graph of a spec (SVG, PNG, PDF) or write it for Graphviz or Mermaid."""
from __future__ import annotations

from pathlib import Path

import click

from cnncli.cli.common import parse_input_shape, resolve_spec_path, spec_argument
from cnncli.report import console


def _show(text: str | None) -> tuple[str, ...]:
    from cnncli.diagram.model import SHOW_CHOICES

    items = tuple(s.strip() for s in (text or "").split(",") if s.strip())
    unknown = [s for s in items if s not in SHOW_CHOICES]
    if unknown:
        raise click.BadParameter(f"unknown item {', '.join(repr(s) for s in unknown)}; choose from "
                                 f"{', '.join(SHOW_CHOICES)} (comma-separated)", param_hint="--show")
    return items


@click.command()
@spec_argument
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write; the extension picks the format: .svg .png .pdf .dot .mmd")
@click.option("--depth", type=click.IntRange(min=1), default=None, metavar="N",
              help="Collapse blocks nested deeper than N into one box each (default: every layer).")
@click.option("--direction", type=click.Choice(["TB", "LR"], case_sensitive=False), default="TB", metavar="TB|LR",
              show_default=True,
              help="Data flows top to bottom or left to right.")
@click.option("--show", "show_text", metavar="LIST", help="Add to each box: params, macs, rf (comma-separated).")
@click.option("--input", "input_text", metavar="C,H,W", help="Override the spec's input size, e.g. 3,224,224.")
def diagram(spec: str, out: Path, depth: int | None, direction: str, show_text: str | None,
            input_text: str | None) -> None:
    """Draw the network: one box per layer (or block) with its arguments and output shape.

    A spec that does not fit is drawn up to the failing layer, shown in red with the reason,
    and the command exits non-zero.

    \b
    Examples:
      cnn diagram resnet18 -o resnet18.svg --depth 1
      cnn diagram googlenet -o googlenet.png --show params,macs
      cnn diagram lenet5 -o lenet5.mmd --direction LR     Mermaid, for a Markdown file
    """
    from cnncli.diagram import diagram_format, write_diagram
    from cnncli.diagram.model import build_diagram, build_until_error
    from cnncli.spec import load_spec

    diagram_format(out)
    show = _show(show_text)
    loaded = load_spec(resolve_spec_path(spec))
    graph, failure = build_until_error(loaded, parse_input_shape(input_text))
    drawing = build_diagram(graph, failure, depth, show)
    write_diagram(drawing, out, direction.upper())
    if failure is not None:
        console.info(f"{out}: drawn up to node '{failure[0].name}', which does not fit (shown in red)")
        raise failure[1]
    boxes = f" in {len(drawing.boxes) - 2} boxes" if depth is not None else ""
    console.info(f"{out}: {len(graph.nodes)} layers drawn{boxes}")
