"""The `cnn` group: sub-commands, --version, --debug, and the one place errors are rendered."""
from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from cnncli import __version__
from cnncli.errors import SpecError, UsageError
from cnncli.report import console

# name -> module under cnncli.cli; modules are imported only when their command runs,
# so `cnn shapes` never pays for the training engine.
COMMANDS = {
    "shapes": "shapes", "params": "params", "flops": "flops", "summary": "summary", "calc": "calc",
    "validate": "validate", "zoo": "zoo", "train": "train", "evaluate": "evaluate", "predict": "predict",
    "export": "export",
    "diagram": "diagram",
    "plot": "plot",
    "filters": "filters",
    "featuremaps": "featuremaps",
    "schema": "schema",
    "compare": "compare",
}
EXIT_USER_ERROR = 1
EXIT_INTERNAL = 3


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"cnncli.cli.{COMMANDS[name]}")
        return getattr(module, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SpecError as err:
            console.error(err.render())
        except UsageError as err:
            console.error(str(err))
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            console.error("interrupted")
            ctx.exit(130)
        except Exception as err:  # an unexpected error: a bug of ours, not the user's
            if ctx.obj and ctx.obj.get("debug"):
                raise
            console.error(f"internal error: {type(err).__name__}: {err} (run `cnn --debug ...` for the traceback, "
                          f"and please report it)")
            ctx.exit(EXIT_INTERNAL)
        ctx.exit(EXIT_USER_ERROR)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="cnn")
@click.option("--debug", is_flag=True, help="Show the Python traceback of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Design, size and train convolutional neural networks from a YAML spec.

    \b
    Examples:
      cnn shapes specs/lenet5.yaml        output shape of every layer, and why
      cnn params resnet18                 parameters per layer (zoo names work anywhere)
      cnn flops resnet50 --format json    MACs and FLOPs
      cnn summary vgg16 -b 32             everything, plus the memory to train
      cnn calc conv --n 125 --f 5 --p 2 --s 2
      cnn train lenet5_relu --data mnist  train on MNIST with the built-in engine
      cnn diagram resnet18 --depth 1 -o resnet18.svg
      cnn export resnet18 --to onnx -o resnet18.onnx
      torchrun --nproc-per-node 2 -m cnncli train lenet5_relu --data mnist --engine torch
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main() -> None:
    """Entry point of the `cnn` script."""
    cli(prog_name="cnn")


if __name__ == "__main__":
    sys.exit(main())
