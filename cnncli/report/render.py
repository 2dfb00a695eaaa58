"""An Analysis as a rich table, CSV, Markdown or JSON (the same JSON for every command)."""
from __future__ import annotations

import csv
import io
import json

from cnncli.analysis import Analysis
from cnncli.report.columns import Column
from cnncli.report.text_table import render_table

FORMATS = ("table", "json", "csv", "markdown")


def as_json(analysis: Analysis, extra: dict | None = None) -> str:
    data = analysis.to_json()
    if extra:
        data.update(extra)
    return json.dumps(data, indent=2)


def as_table(analysis: Analysis, columns: list[Column], title: str, bold: bool = False) -> str:
    """The analysis as a boxed text table with a totals footer."""
    footer = None
    if any(c.total for c in columns):
        footer = ["total"] + [c.total(analysis) if c.total else "" for c in columns[1:]]
    rows = [[c.cell(row, analysis) for c in columns] for row in analysis.rows]
    return render_table(title, [c.header for c in columns], rows, [c.numeric for c in columns], footer, bold)


def as_csv(analysis: Analysis, columns: list[Column]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.header for c in columns])
    for row in analysis.rows:
        writer.writerow([c.cell(row, analysis).replace(",", "") if c.numeric else c.cell(row, analysis)
                         for c in columns])
    return buffer.getvalue()


def as_markdown(analysis: Analysis, columns: list[Column]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", "<br>") for cell in cells) + " |"

    lines = [line([c.header for c in columns]),
             "|" + "|".join("---:" if c.numeric else "---" for c in columns) + "|"]
    lines += [line([c.cell(row, analysis) for c in columns]) for row in analysis.rows]
    if any(c.total for c in columns):
        lines.append(line(["**total**"] + [f"**{c.total(analysis)}**" if c.total else "" for c in columns[1:]]))
    return "\n".join(lines) + "\n"
