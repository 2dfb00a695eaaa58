"""The laid-out diagram drawn with matplotlib (Agg): PNG at 2 pixels per point, or PDF."""
from __future__ import annotations

from pathlib import Path

from cnncli.atomic import atomic_writer
from cnncli.diagram.layout import Layout, TextLine
from cnncli.diagram.style import (
    BOX_LINE,
    BOX_STYLE,
    CORNER,
    EDGE_COLOR,
    EDGE_WIDTH,
    SHORTCUT_COLOR,
    SHORTCUT_WIDTH,
    STACK_OFFSET,
    TEXT_COLOR,
)

PIXELS_PER_POINT = 2.0
MAX_PIXELS = 30000  # Agg's limit is 2^16 a side; beyond this the PNG is drawn at a lower scale


def png_scale(layout: Layout) -> float:
    """Pixels per point: 2, or less so that neither side exceeds MAX_PIXELS."""
    return min(PIXELS_PER_POINT, MAX_PIXELS / max(layout.width, layout.height))


def _text(ax, line: TextLine) -> None:  # type: ignore[no-untyped-def]
    weight = "bold" if line.style in ("title", "name") else "normal"
    ax.text(line.x, line.y, line.text, fontsize=line.size, fontweight=weight, color=TEXT_COLOR[line.style],
            ha="center", va="baseline", family="DejaVu Sans")


def save_raster(layout: Layout, path: Path, fmt: str) -> None:
    """Draw `layout` 1:1 in points onto a figure and save it as `fmt` ('png' or 'pdf')."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, PathPatch, Polygon
    from matplotlib.path import Path as MplPath

    fig = Figure(figsize=(layout.width / 72, layout.height / 72))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, layout.width)
    ax.set_ylim(layout.height, 0)
    ax.set_axis_off()
    for route in layout.routes:
        color, width = (SHORTCUT_COLOR, SHORTCUT_WIDTH) if route.edge.shortcut else (EDGE_COLOR, EDGE_WIDTH)
        codes = [MplPath.MOVETO] + [MplPath.CURVE4] * (len(route.path) - 1)
        ax.add_patch(PathPatch(MplPath(route.path, codes), fill=False, edgecolor=color, linewidth=width))
        ax.add_patch(Polygon(route.arrow, closed=True, facecolor=color, edgecolor="none"))
    for placed in layout.boxes:
        fill, stroke = BOX_STYLE[placed.box.kind]
        radius = placed.h / 2 if placed.box.kind == "terminal" else CORNER
        for k in range(min(placed.box.repeat, 3) - 1, -1, -1):
            ax.add_patch(FancyBboxPatch((placed.x + k * STACK_OFFSET, placed.y + k * STACK_OFFSET), placed.w,
                                        placed.h, boxstyle=f"round,pad=0,rounding_size={radius}",
                                        facecolor=fill, edgecolor=stroke, linewidth=BOX_LINE))
        for line in placed.text:
            _text(ax, line)
    _text(ax, layout.title)
    with atomic_writer(path) as handle:
        fig.savefig(handle, format=fmt, dpi=72 * png_scale(layout), facecolor="white")
