"""`cnn shapes`: the output shape of every layer, with the arithmetic and receptive fields."""
from __future__ import annotations

import click

from cnncli.cli.common import CONVENTIONS, analyse, analysis_options, show_analysis, spec_argument
from cnncli.report.columns import COMMAND_COLUMNS


@click.command(epilog=CONVENTIONS)
@spec_argument
@analysis_options
def shapes(spec: str, input_text: str | None, fmt: str) -> None:
    """Output shape of every layer, how H and W were computed, receptive field and effective stride.

    \b
    H and W follow floor((n + 2p - f) / s) + 1 (with dilation: f -> d(f-1)+1; ceil_mode: ceil).
    The receptive field is the input window one output pixel sees (the widest path through
    residual and concat branches); the effective stride is the input distance between outputs.

    \b
    Example:
      cnn shapes specs/lenet5.yaml
      cnn shapes resnet18 --input 3,160,160 --format json
    """
    analysis = analyse(spec, input_text)
    notes = [f"  {row.name}: {note}" for row in analysis.rows for note in row.notes if "drops" not in note]
    footer = (["notes:"] + notes) if notes else []
    show_analysis(COMMAND_COLUMNS["shapes"], analysis, fmt, footer)
