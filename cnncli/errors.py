"""The one error type a user ever sees: a mistake in a spec (or in what a command was given)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    """A place in a source file; line and column count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class SpecError(Exception):
    """A user-facing error: where (file:line:column), which spec path, what is wrong."""

    def __init__(self, position: Position | None, path: str, message: str) -> None:
        self.position = position
        self.path = path
        self.message = message
        super().__init__(self.render())

    def render(self) -> str:
        """`file:line:col: layers[3].conv2d.kernel: message` (parts that are unknown are left out)."""
        parts = []
        if self.position is not None:
            parts.append(str(self.position))
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class UsageError(Exception):
    """A user-facing error that is not about a spec: bad data, a bad checkpoint, a bad flag value."""
