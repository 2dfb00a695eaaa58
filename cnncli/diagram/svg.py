"""A diagram as SVG text: one `<g class="node">` per box with its name as id and `<title>`."""
from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from cnncli.diagram.layout import Layout, Placed, TextLine
from cnncli.diagram.style import (
    BOX_LINE,
    BOX_STYLE,
    CORNER,
    EDGE_COLOR,
    EDGE_WIDTH,
    FONT_FAMILY,
    SHORTCUT_COLOR,
    SHORTCUT_WIDTH,
    STACK_OFFSET,
    TEXT_COLOR,
)


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _text(line: TextLine) -> str:
    weight = ' font-weight="bold"' if line.style in ("title", "name") else ""
    return (f'<text x="{_num(line.x)}" y="{_num(line.y)}" font-size="{_num(line.size)}"{weight} '
            f'fill="{TEXT_COLOR[line.style]}">{escape(line.text)}</text>')


def _box(placed: Placed) -> list[str]:
    fill, stroke = BOX_STYLE[placed.box.kind]
    radius = placed.h / 2 if placed.box.kind == "terminal" else CORNER
    out = [f'<g class="node {placed.box.kind}" id={quoteattr(placed.box.id)}>',
           f"<title>{escape(placed.box.id)}</title>"]
    rect = (f'width="{_num(placed.w)}" height="{_num(placed.h)}" rx="{_num(radius)}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{BOX_LINE}"')
    for k in range(min(placed.box.repeat, 3) - 1, 0, -1):
        out.append(f'<rect x="{_num(placed.x + k * STACK_OFFSET)}" y="{_num(placed.y + k * STACK_OFFSET)}" {rect}/>')
    out.append(f'<rect x="{_num(placed.x)}" y="{_num(placed.y)}" {rect}/>')
    out += [_text(line) for line in placed.text]
    out.append("</g>")
    return out


def to_svg(layout: Layout) -> str:
    """The whole drawing as a standalone SVG document."""
    w, h = _num(layout.width), _num(layout.height)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}pt" height="{h}pt" viewBox="0 0 {w} {h}" '
           f'font-family="{FONT_FAMILY}" text-anchor="middle">',
           f'<rect width="{w}" height="{h}" fill="#ffffff"/>', _text(layout.title), '<g class="edges">']
    for route in layout.routes:
        start, rest = route.path[0], route.path[1:]
        d = f"M{_num(start[0])},{_num(start[1])}" + "".join(
            f" C{' '.join(f'{_num(x)},{_num(y)}' for x, y in rest[i:i + 3])}" for i in range(0, len(rest), 3))
        color, width = (SHORTCUT_COLOR, SHORTCUT_WIDTH) if route.edge.shortcut else (EDGE_COLOR, EDGE_WIDTH)
        kind = "edge shortcut" if route.edge.shortcut else "edge"
        out.append(f'<g class="{kind}"><title>{escape(route.edge.source)} → {escape(route.edge.target)}</title>'
                   f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{width}"/>'
                   f'<polygon points="{" ".join(f"{_num(x)},{_num(y)}" for x, y in route.arrow)}" '
                   f'fill="{color}"/></g>')
    out.append("</g>")
    for placed in layout.boxes:
        out += _box(placed)
    out.append("</svg>")
    return "\n".join(out) + "\n"
