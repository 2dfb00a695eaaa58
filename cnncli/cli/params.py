"""`cnn params`: parameters per layer and in total, with memory."""
from __future__ import annotations

import click

from cnncli.cli.common import CONVENTIONS, analyse, analysis_options, show_analysis, spec_argument
from cnncli.report.columns import COMMAND_COLUMNS


@click.command(epilog=CONVENTIONS)
@spec_argument
@analysis_options
def params(spec: str, input_text: str | None, fmt: str) -> None:
    """Parameters and buffers per layer, their shapes and share, totals and memory (fp32).

    \b
    Example:
      cnn params resnet18
      cnn params specs/vgg16.yaml --format markdown
    """
    analysis = analyse(spec, input_text)
    t = analysis.totals
    footer = [f"params: [bold]{t['params']:,}[/] (trainable {t['trainable_params']:,})  ·  "
              f"buffers: {t['buffers']:,}  ·  parameter memory: {analysis.param_memory_mb():,.2f} MB (fp32)"]
    show_analysis(COMMAND_COLUMNS["params"], analysis, fmt, footer)
