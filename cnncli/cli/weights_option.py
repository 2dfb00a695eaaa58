"""The --weights option of the commands that read a trained network: a checkpoint file or a run folder."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cnncli.errors import UsageError

RUN_FILES = ("best.npz", "last.npz")  # a run folder's checkpoints, in the order they are preferred


def run_checkpoint(folder: Path) -> Path:
    """The checkpoint of a run folder: best.npz when training wrote one, else last.npz."""
    for name in RUN_FILES:
        if (folder / name).is_file():
            return folder / name
    raise UsageError(f"{folder}: not a run folder (no best.npz or last.npz); give the folder `cnn train --out` "
                     f"wrote, or a checkpoint file with --weights")


def checkpoint_path(path: Path) -> Path:
    """`path` itself, or the checkpoint of the run folder it names."""
    return run_checkpoint(path) if path.is_dir() else path


def weights_option(required: bool = True, extra_help: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--weights/-w: a checkpoint written by `cnn train`, or its run folder (best.npz if there is one)."""
    return click.option("--weights", "-w", required=required, type=click.Path(path_type=Path),
                        help="A checkpoint written by `cnn train`, or its run folder (best.npz if training wrote "
                             "one, else last.npz)." + extra_help)
