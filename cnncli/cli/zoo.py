"""`cnn zoo`: the built-in specs."""
from __future__ import annotations

import click
from rich.table import Table

from cnncli.analysis import analyze
from cnncli.cli.common import load_graph, resolve_spec_path
from cnncli.report import console
from cnncli.zoo import zoo_specs


@click.group(invoke_without_command=True)
@click.pass_context
def zoo(ctx: click.Context) -> None:
    """List the built-in specs (use a name wherever a SPEC is expected).

    \b
    Example:
      cnn zoo
      cnn zoo show resnet18 > my_resnet.yaml
    """
    if ctx.invoked_subcommand is not None:
        return
    table = Table(header_style="bold")
    for header, right in (("name", False), ("model", False), ("input", False), ("params", True), ("MACs", True)):
        table.add_column(header, justify="right" if right else "left")
    for name, path in zoo_specs().items():
        spec, graph = load_graph(str(path))
        totals = analyze(graph).totals
        table.add_row(name, spec.name, str(list(spec.input_shape)), f"{totals['params']:,}", f"{totals['macs']:,}")
    console.out.print(table)


@zoo.command()
@click.argument("name")
def show(name: str) -> None:
    """Print a zoo spec, to start a new spec from."""
    click.echo(resolve_spec_path(name).read_text(encoding="utf-8"), nl=False)
