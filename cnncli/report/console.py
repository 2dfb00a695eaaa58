"""All terminal output goes through these two consoles (stdout for results, stderr for messages)."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape

# Piped output (files, `less`, CI logs) gets room for wide tables instead of 80 columns.
out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 180)
err = Console(stderr=True, highlight=False)


def error(message: str) -> None:
    """One line, red 'error:' prefix, on stderr."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def warning(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def info(message: str) -> None:
    err.print(escape(message), soft_wrap=True)
