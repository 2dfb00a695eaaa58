"""`cnn zoo`: the built-in specs."""
from __future__ import annotations

import click
from rich.table import Table

from cnncli.analysis import analyze
from cnncli.cli.common import load_graph
from cnncli.errors import UsageError
from cnncli.report import console
from cnncli.spec.schema import SCHEMA_COMMENT, SCHEMA_FILE
from cnncli.zoo import find_zoo_spec, zoo_dir, zoo_specs


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
    """Print a zoo spec, to start a new spec from (its first line points editors at the schema)."""
    path = find_zoo_spec(name)
    if path is None:
        raise UsageError(f"no zoo spec named '{name}'; the zoo has {', '.join(zoo_specs())}")
    click.echo(with_schema_path(path.read_text(encoding="utf-8")), nl=False)


def with_schema_path(text: str) -> str:
    """The spec text with its `yaml-language-server` line pointing at the installed schema, so a
    copy saved anywhere keeps editor checking and completion."""
    line = f"{SCHEMA_COMMENT}{zoo_dir() / SCHEMA_FILE}"
    first, _, rest = text.partition("\n")
    return f"{line}\n{rest}" if first.startswith(SCHEMA_COMMENT) else f"{line}\n{text}"
