"""`cnn validate`: check a spec, say OK or what is wrong."""
from __future__ import annotations

import click

from cnncli.analysis import analyze
from cnncli.cli.common import load_graph, spec_argument
from cnncli.report import console


@click.command()
@spec_argument
@click.option("--input", "input_text", metavar="C,H,W", help="Check with this input size instead.")
def validate(spec: str, input_text: str | None) -> None:
    """Check a spec (YAML, layer arguments, shapes); print OK or the first problem.

    \b
    Example:
      cnn validate specs/resnet18.yaml
    """
    loaded, graph = load_graph(spec, input_text)
    analysis = analyze(graph)
    for warning in analysis.warnings:
        console.warning(warning)
    console.out.print(f"[green]OK[/] {console.escape(loaded.file)}: {console.escape(analysis.name)}, "
                      f"{len(graph.nodes)} nodes, output {list(graph.output.layer.out_shape)}, "
                      f"{analysis.totals['params']:,} params", markup=True)
