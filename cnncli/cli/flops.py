"""`cnn flops`: multiply-accumulates and FLOPs per layer and in total."""
from __future__ import annotations

import click

from cnncli.cli.common import CONVENTIONS, analysis_options, load_analysis, show_analysis, spec_argument
from cnncli.report.columns import COMMAND_COLUMNS


def human(n: float) -> str:
    """1814073344 -> '1.81 G'."""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:g}"


@click.command(epilog=CONVENTIONS)
@spec_argument
@analysis_options
def flops(spec: str, input_text: str | None, depth: int | None, wide: bool, fmt: str) -> None:
    """MACs and FLOPs per layer for one image, their share, and totals.

    \b
    Example:
      cnn flops resnet50
      cnn flops specs/alexnet.yaml --format csv
    """
    analysis = load_analysis(spec, input_text, depth)
    t = analysis.totals
    footer = [f"MACs: [bold]{t['macs']:,}[/] ({human(t['macs'])})  ·  FLOPs: {t['flops']:,} ({human(t['flops'])})"
              f"  ·  per image"]
    show_analysis(COMMAND_COLUMNS["flops"], analysis, fmt, footer, wide=wide)
