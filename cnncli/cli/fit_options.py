"""The --pad / --resize options that train, evaluate and predict share."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from cnncli.data.fit import FitMode, fit_mode


def fit_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --pad and --resize (booleans; at most one of them, checked by `chosen_fit`)."""
    command = click.option("--resize", is_flag=True, help="Resize images to the spec's input size.")(command)
    return click.option("--pad", is_flag=True, help="Zero-pad smaller images to the spec's input size.")(command)


def chosen_fit(pad: bool, resize: bool) -> FitMode | None:
    """The fit the flags ask for, or None when neither was given (then the run's own fit applies)."""
    return fit_mode(pad, resize) if pad or resize else None
