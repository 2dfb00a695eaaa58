"""`cnn shapes`: the output shape of every layer, with the arithmetic and receptive fields."""
from __future__ import annotations

import click

from cnncli.cli.common import CONVENTIONS, analysis_options, load_analysis, show_analysis, spec_argument
from cnncli.report import console
from cnncli.report.columns import COMMAND_COLUMNS


@click.command(epilog=CONVENTIONS)
@spec_argument
@analysis_options
def shapes(spec: str, input_text: str | None, width_mult: float | None, depth_mult: float | None,
           depth: int | None, wide: bool, fmt: str) -> None:
    """Output shape of every layer, how H and W were computed, receptive field and effective stride.

    \b
    H and W follow floor((n + 2p - f) / s) + 1 (with dilation: f -> d(f-1)+1; ceil_mode: ceil).
    The receptive field is the input window one output pixel sees (the widest path through
    residual and concat branches); the effective stride is the input distance between outputs.
    'activations' is the output's element count per image (the course's activation size).

    \b
    Example:
      cnn shapes specs/lenet5.yaml
      cnn shapes googlenet --depth 1
      cnn shapes resnet18 --input 3,160,160 --format json
    """
    analysis = load_analysis(spec, input_text, depth, width_mult, depth_mult)
    notes = [console.escape(f"  {row.name}: {note.text}")
             for row in analysis.rows for note in row.notes if note.kind == "info"]
    footer = (["notes:"] + notes) if notes else []
    show_analysis(COMMAND_COLUMNS["shapes"], analysis, fmt, footer, wide=wide)
