"""`cnn diagram`: a picture of the layer graph (SVG, PNG, PDF) or its text for Graphviz and Mermaid."""
from __future__ import annotations

from pathlib import Path

from cnncli.atomic import atomic_write
from cnncli.diagram.model import Diagram
from cnncli.errors import UsageError

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid"}


def diagram_format(path: Path) -> str:
    """The format named by the file's extension (or a clear error listing the known ones)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"{path}: unknown diagram format '{path.suffix or '(no extension)'}'; use one of "
                         f"{', '.join(FORMATS)} (e.g. -o net.svg)")
    return fmt


def write_diagram(diagram: Diagram, path: Path, direction: str = "TB") -> None:
    """Lay out (for pictures) and write `diagram` in the format of `path`'s extension."""
    fmt = diagram_format(path)
    if fmt in ("dot", "mermaid"):
        from cnncli.diagram.text import to_dot, to_mermaid

        atomic_write(path, (to_dot if fmt == "dot" else to_mermaid)(diagram, direction).encode())
        return
    from cnncli.diagram.layout import lay_out

    layout = lay_out(diagram, direction)
    if fmt == "svg":
        from cnncli.diagram.svg import to_svg

        atomic_write(path, to_svg(layout).encode())
    else:
        from cnncli.diagram.raster import save_raster

        save_raster(layout, path, fmt)
