"""`cnn schema`: the JSON Schema of the spec language, for editors."""
from __future__ import annotations

import json
from pathlib import Path

import click

from cnncli.atomic import atomic_write
from cnncli.report import console
from cnncli.spec.schema import SCHEMA_FILE, spec_schema
from cnncli.zoo import zoo_dir


def schema_text() -> str:
    return json.dumps(spec_schema(), indent=2) + "\n"


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the schema to this file instead of printing it.")
@click.option("--path", "show_path", is_flag=True, help="Print where the installed copy of the schema is.")
def schema(output: Path | None, show_path: bool) -> None:
    """The JSON Schema of the spec language (generated from the layer registry).

    \b
    VS Code (YAML extension by Red Hat) checks and completes a spec whose first line is
      # yaml-language-server: $schema=<path or URL of the schema>
    `cnn zoo show NAME` prints that line with the installed copy's path.

    \b
    Example:
      cnn schema -o spec.schema.json
      cnn schema --path
    """
    if show_path:
        click.echo(str(zoo_dir() / SCHEMA_FILE))
    elif output is not None:
        atomic_write(output, schema_text().encode("utf-8"))
        console.info(f"wrote {output}")
    else:
        click.echo(schema_text(), nl=False)
