"""The progress callback that slow data steps report to (the CLI renders it; data/ never prints)."""
from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int | None], None]
"""`progress(label, done, total)`: `total` is None when the size is unknown."""


def no_progress(label: str, done: int, total: int | None) -> None:
    """The callback used when the caller gives none."""
