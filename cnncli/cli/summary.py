"""`cnn summary`: shapes, params, MACs and the memory needed to train, in one table."""
from __future__ import annotations

import click

from cnncli.analysis import OPTIMIZER_STATE
from cnncli.cli.common import CONVENTIONS, analyse, analysis_options, show_analysis, spec_argument
from cnncli.report.columns import COMMAND_COLUMNS, Column


def megabytes(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


@click.command(epilog=CONVENTIONS + """

\b
Training memory (fp32): activations kept for backward (batch x every node's output),
weights, gradients (= weights), optimizer state (Adam 2x weights, SGD momentum 1x).""")
@spec_argument
@analysis_options
@click.option("--batch-size", "-b", type=click.IntRange(min=1), default=32, show_default=True,
              help="Batch size for the training-memory estimate.")
@click.option("--optimizer", type=click.Choice(sorted(OPTIMIZER_STATE)), default="adam", show_default=True,
              help="Optimizer whose state is counted.")
def summary(spec: str, input_text: str | None, fmt: str, batch_size: int, optimizer: str) -> None:
    """Everything in one table: shapes, params, MACs, receptive fields, training memory.

    \b
    Example:
      cnn summary lenet5_relu --batch-size 64
      cnn summary resnet50 -b 32 --optimizer sgd_momentum
    """
    analysis = analyse(spec, input_text)
    state = OPTIMIZER_STATE[optimizer]
    per_node = Column(f"train mem (b={batch_size})",
                      lambda r, a: megabytes(4 * (batch_size * r.activation_values + (2 + state) * r.params)),
                      numeric=True)
    memory = analysis.training_memory(batch_size, optimizer)
    t = analysis.totals
    footer = [
        f"params: [bold]{t['params']:,}[/]  ·  buffers: {t['buffers']:,}  ·  MACs: {t['macs']:,}  ·  "
        f"FLOPs: {t['flops']:,}",
        f"training at batch {batch_size} with {optimizer}: [bold]{megabytes(memory['total'])}[/] = activations "
        f"{megabytes(memory['activations'])} + weights {megabytes(memory['weights'])} + gradients "
        f"{megabytes(memory['gradients'])} + optimizer state {megabytes(memory['optimizer_state'])} + buffers "
        f"{megabytes(memory['buffers'])}",
    ]
    show_analysis(COMMAND_COLUMNS["summary"] + [per_node], analysis, fmt, footer,
                  extra_json={"training_memory": {"batch_size": batch_size, "optimizer": optimizer, **memory}})
