"""`cnn summary`: shapes, params, MACs and the memory needed to train, in one table."""
from __future__ import annotations

import click

from cnncli.analysis import OPTIMIZER_STATE
from cnncli.cli.common import CONVENTIONS, analysis_options, load_analysis, show_analysis, spec_argument
from cnncli.cli.params import keras_line
from cnncli.report.columns import COMMAND_COLUMNS, megabytes, memory_columns


@click.command(epilog=CONVENTIONS + """

\b
Training memory (fp32): activations kept for backward (batch x every node's output),
weights, gradients (= weights), optimizer state (Adam 2x weights, SGD momentum 1x).
The 'train mem' column is that sum for each row (the input row: the input batch);
its total adds the batch-norm buffers. torchinfo's size block counts differently:
2 x the outputs of layers with parameters, plus input and parameters.""")
@spec_argument
@analysis_options
@click.option("--batch-size", "-b", type=click.IntRange(min=1), default=32, show_default=True,
              help="Batch size for the training-memory estimate.")
@click.option("--optimizer", type=click.Choice(sorted(OPTIMIZER_STATE)), default="adam", show_default=True,
              help="Optimizer whose state is counted.")
def summary(spec: str, input_text: str | None, width_mult: float | None, depth_mult: float | None,
            depth: int | None, wide: bool, fmt: str, batch_size: int,
            optimizer: str) -> None:
    """Everything in one table: shapes, params, MACs, receptive fields, training memory.

    \b
    Example:
      cnn summary lenet5_relu --batch-size 64
      cnn summary resnet50 -b 32 --optimizer sgd_momentum --depth 1
    """
    analysis = load_analysis(spec, input_text, depth, width_mult, depth_mult)
    memory = analysis.training_memory(batch_size, optimizer)
    sizes = analysis.torchinfo_sizes(batch_size)
    t = analysis.totals
    footer = [
        f"params: [bold]{t['params']:,}[/]  ·  buffers: {t['buffers']:,}  ·  MACs: {t['macs']:,}  ·  "
        f"FLOPs: {t['flops']:,}  (per image)",
        keras_line(analysis.keras_totals()),
        f"as torchinfo sizes it (b={batch_size}): input {megabytes(sizes['input'])}  ·  forward/backward pass "
        f"{megabytes(sizes['forward_backward'])}  ·  params {megabytes(sizes['params'])}  ·  estimated total "
        f"{megabytes(sizes['total'])}",
        f"training at batch {batch_size} with {optimizer} (our engine): [bold]{megabytes(memory['total'])}[/] = "
        f"activations {megabytes(memory['activations'])} + weights {megabytes(memory['weights'])} + gradients "
        f"{megabytes(memory['gradients'])} + optimizer state {megabytes(memory['optimizer_state'])} + buffers "
        f"{megabytes(memory['buffers'])}",
    ]
    extra = {"training_memory": {"batch_size": batch_size, "optimizer": optimizer, **memory},
             "torchinfo_sizes": {"batch_size": batch_size, **sizes}}
    show_analysis(COMMAND_COLUMNS["summary"] + memory_columns(batch_size, optimizer), analysis, fmt, footer,
                  extra_json=extra, wide=wide)
