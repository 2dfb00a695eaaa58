"""`cnn export`: a spec (and optionally its trained weights) as PyTorch code or an ONNX file."""
from __future__ import annotations

from pathlib import Path

import click

from cnncli.cli.common import load_graph
from cnncli.cli.weights_option import checkpoint_path, weights_option
from cnncli.errors import UsageError
from cnncli.extras import require
from cnncli.report import console

SUFFIXES = {"pytorch": ".py", "onnx": ".onnx"}


@click.command()
@click.argument("spec", metavar="SPEC")
@click.option("--to", "target", required=True, type=click.Choice(sorted(SUFFIXES)), help="What to write.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (net.py or net.onnx); with --to pytorch --weights also net.pt beside it.")
@weights_option(required=False, extra_help=" Its weights and input normalisation go in.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="ONNX without --weights: the initial weights `cnn train --seed` starts from.")
def export(spec: str, target: str, output: Path, weights: Path | None, seed: int) -> None:
    """Export SPEC as a standalone PyTorch module (net.py, and net.pt with --weights) or an ONNX file.

    With --weights, the exported model takes raw data (pixel values 0-255 for image data, as
    float32 [N, C, H, W]) and standardises it itself as training did, so it classifies exactly
    as `cnn evaluate` does. Without, it takes standardised inputs.

    \b
    Example:
      cnn export resnet18 --to pytorch -o resnet18.py
      cnn export lenet5_relu --to pytorch -o net.py --weights runs/lenet5_relu/last.npz
      cnn export lenet5_relu --to onnx -o net.onnx --weights runs/lenet5_relu/last.npz
    """
    if output.suffix != SUFFIXES[target]:
        raise UsageError(f"--output {output}: a {target} export is written to a {SUFFIXES[target]} file, "
                         f"e.g. -o {output.with_suffix(SUFFIXES[target]).name}")
    if not output.parent.is_dir():
        raise UsageError(f"--output {output}: the folder {output.parent} does not exist")
    loaded, graph = load_graph(spec)
    from cnncli.export.common import checkpoint_state, class_name, initial_state

    state, transform = checkpoint_state(graph, checkpoint_path(weights)) if weights is not None else (None, None)
    if target == "pytorch":
        from cnncli.atomic import atomic_write
        from cnncli.export.pytorch_code import pytorch_source

        if state is not None:
            require("torch", "cnn export --to pytorch --weights (writing net.pt)")
        atomic_write(output, pytorch_source(graph, loaded.file, transform).encode("utf-8"))
        console.info(f"wrote {output} (class {class_name(graph.name)}, a torch.nn.Module)")
        if state is not None:
            from cnncli.torch_engine.checkpoint_io import save_state_dict

            pt = output.with_suffix(".pt")
            save_state_dict(graph, state, pt)
            console.info(f"wrote {pt} (state dict; load it with model.load_state_dict(torch.load('{pt.name}')))")
        return
    require("onnx", "cnn export --to onnx")
    from cnncli.export.onnx_export import build_onnx, save_onnx

    model = build_onnx(graph, state if state is not None else initial_state(graph, seed), transform)
    save_onnx(model, output)
    console.info(f"wrote {output} (open it in Netron: pip install netron; netron {output})")
