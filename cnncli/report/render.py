"""An Analysis as a text table, CSV, Markdown or JSON (the same JSON for every command).

Tables fit a terminal `width`: long names and input lists are first broken over lines at
their dots and commas (down to SOFT_WRAP characters); while the table is still wider, the
column with the highest `drop` rank goes (the footer names it); then names wrap further,
down to each column's `narrowest`. `width=None` (`--wide`) keeps everything.
"""
from __future__ import annotations

import csv
import io
import json

from rich.cells import cell_len

from cnncli.analysis import Analysis, Row
from cnncli.report.columns import Column
from cnncli.report.text_table import render_table

FORMATS = ("table", "json", "csv", "markdown")
SOFT_WRAP = 28  # names wrap down to this before any column is dropped (then to Column.narrowest)


def as_json(analysis: Analysis, extra: dict | None = None) -> str:
    data = analysis.to_json()
    if extra:
        data.update(extra)
    return json.dumps(data, indent=2)


def _natural_width(column: Column, cells: list[str]) -> int:
    return max([cell_len(column.header)] + [cell_len(line) for cell in cells for line in cell.split("\n")])


def table_width(widths: list[int]) -> int:
    """Characters of a boxed table row: '│ ' + cells joined by ' │ ' + ' │'."""
    return sum(widths) + 3 * len(widths) + 1


def wrap_cell(text: str, limit: int, separator: str) -> str:
    """Break `text` after `separator`s so that no line passes `limit` characters (if it can)."""
    if not separator or cell_len(text) <= limit:
        return text
    pieces = text.split(separator)
    pieces = [p + separator for p in pieces[:-1]] + pieces[-1:]
    lines = [""]
    for piece in pieces:
        if lines[-1] and cell_len(lines[-1] + piece.rstrip()) > limit:
            lines[-1] = lines[-1].rstrip()
            lines.append("")
        lines[-1] += piece
    return "\n".join(lines)


def _squeeze(columns: list[Column], cells: list[list[str]], natural: list[int], keep: list[int], width: int,
             floor: int) -> dict[int, int]:
    """Wrap limits for the widest wrappable kept columns, down to `floor`, until the table fits (or cannot)."""
    widths = {i: natural[i] for i in keep}
    limits: dict[int, int] = {}
    done: set[int] = set()
    while (excess := table_width(list(widths.values())) - width) > 0:
        candidates = [i for i in keep if columns[i].wrap and widths[i] > min(floor, columns[i].narrowest)
                      and i not in done]
        if not candidates:
            break
        i = max(candidates, key=widths.__getitem__)
        lowest = min(floor, columns[i].narrowest)
        limit = max(lowest, widths[i] - excess)
        wrapped = _natural_width(columns[i], [wrap_cell(row[i], limit, columns[i].wrap) for row in cells])
        if wrapped < widths[i]:
            widths[i], limits[i] = wrapped, limit
        if wrapped >= widths[i] or limit == lowest:
            done.add(i)
    return limits


def fit(columns: list[Column], cells: list[list[str]], width: int | None) -> tuple[list[int], dict[int, int]]:
    """(indices of the columns kept, wrap limit by column index) for a table `width` wide:
    names wrap down to SOFT_WRAP first, then columns are dropped, then names wrap down to each column's `narrowest`."""
    keep = list(range(len(columns)))
    if width is None:
        return keep, {}
    natural = [_natural_width(c, [row[i] for row in cells]) for i, c in enumerate(columns)]

    def fitted_width(limits: dict[int, int]) -> int:
        return table_width([natural[i] if i not in limits else
                            _natural_width(columns[i], [wrap_cell(row[i], limits[i], columns[i].wrap) for row in cells])
                            for i in keep])

    while fitted_width(_squeeze(columns, cells, natural, keep, width, SOFT_WRAP)) > width:
        droppable = [i for i in keep if columns[i].drop]
        if not droppable:
            break
        keep.remove(max(droppable, key=lambda i: columns[i].drop))
    return keep, _squeeze(columns, cells, natural, keep, width, 0)


def as_table(analysis: Analysis, columns: list[Column], title: str, bold: bool = False,
             width: int | None = None) -> tuple[str, list[str]]:
    """The analysis as a boxed text table with a totals footer, fitted to `width`; also the
    headers of the columns left out."""
    cells = [[c.text(row, analysis) for c in columns] for row in analysis.table_rows]
    totals = ["total"] + [c.total(analysis) if c.total else "" for c in columns[1:]]
    has_totals = any(c.total for c in columns)
    keep, limits = fit(columns, cells + ([totals] if has_totals else []), width)
    body = [[wrap_cell(row[i], limits[i], columns[i].wrap) if i in limits else row[i] for i in keep] for row in cells]
    footer = [totals[i] for i in keep] if has_totals else None
    kept = [columns[i] for i in keep]
    dropped = [c.header for i, c in enumerate(columns) if i not in keep]
    return render_table(title, [c.header for c in kept], body, [c.numeric for c in kept], footer, bold), dropped


def _data_rows(analysis: Analysis) -> list[Row]:
    """Rows for machine formats: no input row, so every numeric column sums to its total."""
    return [row for row in analysis.table_rows if row.kind != "input"]


def as_csv(analysis: Analysis, columns: list[Column]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.header for c in columns] + ["repeat"])
    for row in _data_rows(analysis):
        writer.writerow([c.cell(row, analysis).replace(",", "") if c.numeric else c.cell(row, analysis)
                         for c in columns] + [row.repeat])
    return buffer.getvalue()


def as_markdown(analysis: Analysis, columns: list[Column]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", "<br>") for cell in cells) + " |"

    lines = [line([c.header for c in columns]),
             "|" + "|".join("---:" if c.numeric else "---" for c in columns) + "|"]
    lines += [line([c.text(row, analysis) for c in columns]) for row in analysis.table_rows]
    if any(c.total for c in columns):
        lines.append(line(["**total**"] + [f"**{c.total(analysis)}**" if c.total else "" for c in columns[1:]]))
    return "\n".join(lines) + "\n"
