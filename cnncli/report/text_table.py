"""A fast plain-text table (box-drawing characters), for reports with hundreds of rows.

Rich lays out every cell through its wrapping machinery (~1.5 ms a row); analysis tables only
need fixed columns, so we size them ourselves and emit lines directly (~20 µs a row).
"""
from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - cell_len(text))
    return gap + text if right else text + gap


def render_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool],
                 footer: Sequence[str] | None = None, bold: bool = False) -> str:
    """Lines of a boxed table; a cell may hold several lines (split on newlines)."""
    every = [list(headers), *rows] + ([list(footer)] if footer else [])
    widths = [max(cell_len(line) for row in every for line in str(row[i]).split("\n")) for i in range(len(headers))]

    def rule(left: str, mid: str, end: str, fill: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + end

    def line(cells: Sequence[str]) -> list[str]:
        parts = [str(c).split("\n") for c in cells]
        height = max(len(p) for p in parts)
        out = []
        for k in range(height):
            texts = [_pad(p[k] if k < len(p) else "", w, r) for p, w, r in zip(parts, widths, right)]
            out.append("│ " + " │ ".join(texts) + " │")
        return out

    on, off = ("\x1b[1m", "\x1b[0m") if bold else ("", "")
    lines = [f"{on}{title}{off}", rule("┏", "┳", "┓", "━")]
    lines += [f"┃ {on}" + f"{off} ┃ {on}".join(_pad(h, w, r) for h, w, r in zip(headers, widths, right)) + f"{off} ┃",
              rule("┡", "╇", "┩", "━")]
    for row in rows:
        lines += line(row)
    if footer:
        lines.append(rule("├", "┼", "┤", "─"))
        lines += [f"{on}{text}{off}" for text in line(footer)]
    lines.append(rule("└", "┴", "┘", "─"))
    return "\n".join(lines)
