"""`cnn params`: parameters per layer and in total, with memory."""
from __future__ import annotations

import click

from cnncli.cli.common import CONVENTIONS, analysis_options, load_analysis, show_analysis, spec_argument
from cnncli.report.columns import COMMAND_COLUMNS


def keras_line(totals: dict[str, int]) -> str:
    """Keras's model.summary() counts: batch-norm statistics are its non-trainable params."""
    return (f"as Keras counts: total params {totals['total']:,}  ·  trainable {totals['trainable']:,}  ·  "
            f"non-trainable {totals['non_trainable']:,}")


@click.command(epilog=CONVENTIONS)
@spec_argument
@analysis_options
def params(spec: str, input_text: str | None, width_mult: float | None, depth_mult: float | None,
           depth: int | None, wide: bool, fmt: str) -> None:
    """Parameters and buffers per layer, their shapes and share, totals and memory (fp32).

    \b
    Example:
      cnn params resnet18
      cnn params resnet50 --depth 1
      cnn params specs/vgg16.yaml --format markdown
    """
    analysis = load_analysis(spec, input_text, depth, width_mult, depth_mult)
    t = analysis.totals
    footer = [f"params: [bold]{t['params']:,}[/] (trainable {t['trainable_params']:,}; PyTorch's count)  ·  "
              f"buffers: {t['buffers']:,}  ·  parameter memory: {analysis.param_memory_mb():,.2f} MB (fp32)",
              keras_line(analysis.keras_totals())]
    show_analysis(COMMAND_COLUMNS["params"], analysis, fmt, footer, wide=wide)
