"""All terminal output goes through these two consoles (stdout for results, stderr for messages).

Markup is off: text is printed as it is, so a class, file or spec name such as `[/]` or
`[bold]A` is never taken for rich markup. Styled output passes `markup=True` and escapes every
user-supplied part with `escape` (or prints `rich.text.Text`). `out` is created on first use, so
importing this module never touches stdout (which may be closed: `cnn shapes x >&-`).
"""
from __future__ import annotations

import os
import sys
from typing import IO, Any

from rich.console import Console
from rich.markup import escape

PIPED_WIDTH = 180  # piped output (files, `less`, CI logs) gets room for wide tables instead of 80 columns
err = Console(stderr=True, highlight=False, markup=False)


def _is_tty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # a closed stream
        return False


def _stdout_console() -> Console:
    """stdout's console; output is dropped when there is no stdout (Python sets sys.stdout to None)."""
    file = None if sys.stdout is not None else open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    return Console(file=file, highlight=False, soft_wrap=False, markup=False,
                   width=None if _is_tty(sys.stdout) else PIPED_WIDTH)


def __getattr__(name: str) -> Any:
    if name == "out":
        console = _stdout_console()
        globals()["out"] = console
        return console
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def error(message: str) -> None:
    """One line, red 'error:' prefix, on stderr."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, markup=True)


def warning(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True, markup=True)


def info(message: str) -> None:
    err.print(message, soft_wrap=True)
