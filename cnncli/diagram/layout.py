"""Geometry of a diagram: box sizes from the text, a layered (Sugiyama) placement, edge curves.

grandalf ranks the boxes (longest path from the input), orders each rank to reduce crossings
(median heuristic) and places them with Brandes and Köpf's method; long edges pass through
dummy points, one per rank they cross. Every edge is then a chain of cubic Bézier segments
with tangents along the flow at each point, so chains stay straight and branches curve.
All coordinates are in points (1/72 inch), y growing downwards; writers draw them as they are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cnncli.diagram.model import Box, Diagram, Edge

TITLE_SIZE, NAME_SIZE, LINE_SIZE = 14.0, 11.5, 10.0
LINE_HEIGHT = 1.32
PAD_X, PAD_Y = 10.0, 6.0
MARGIN, TITLE_GAP = 16.0, 30.0
GAP_WITHIN = {"TB": 26.0, "LR": 16.0}  # between boxes of one rank
GAP_ACROSS = {"TB": 30.0, "LR": 46.0}  # between ranks
ARROW_LEN, ARROW_HALF = 7.0, 3.5
PORT_STEP = 16.0
DIRECTIONS = ("TB", "LR")

Point = tuple[float, float]
Rect = tuple[float, float, float, float]  # centre x, centre y, width, height


@dataclass
class TextLine:
    """One line of text, centred at x, with its baseline at y."""

    text: str
    x: float
    y: float
    size: float
    style: str  # "title", "name", "line", "error"


@dataclass
class Placed:
    """A box with its top-left corner, size and text."""

    box: Box
    x: float
    y: float
    w: float
    h: float
    text: list[TextLine]


@dataclass
class Route:
    """An edge as a Bézier chain (start, then three points per cubic segment) and an arrowhead."""

    edge: Edge
    path: list[Point]
    arrow: list[Point]


@dataclass
class Layout:
    """Everything a writer needs to draw: canvas size, title, boxes, routed edges."""

    width: float
    height: float
    title: TextLine
    boxes: list[Placed]
    routes: list[Route]


@lru_cache(maxsize=4)
def _font(bold: bool):  # type: ignore[no-untyped-def]
    """DejaVu Sans from matplotlib's data at 100 pt (the font every writer names first); found
    without importing matplotlib, which SVG output does not need."""
    from importlib.util import find_spec

    from PIL import ImageFont

    spec = find_spec("matplotlib")
    assert spec is not None and spec.submodule_search_locations, "matplotlib is a dependency of cnncli"
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    folder = Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf"
    return ImageFont.truetype(str(folder / name), 100)


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Advance width of `text` in points at `size` points."""
    return _font(bold).getlength(text) * size / 100


def _box_lines(box: Box) -> list[tuple[str, float, str]]:
    return ([(box.name, NAME_SIZE, "name")] + [(line, LINE_SIZE, "line") for line in box.lines]
            + [(line, LINE_SIZE, "error") for line in box.error_lines])


def _box_size(box: Box) -> tuple[float, float]:
    lines = _box_lines(box)
    width = max(text_width(t, s, style == "name") for t, s, style in lines) + 2 * PAD_X
    height = sum(s * LINE_HEIGHT for _, s, _ in lines) + 2 * PAD_Y
    return max(width, 60.0), height


def _text(box: Box, x: float, y: float, w: float) -> list[TextLine]:
    out, top = [], y + PAD_Y
    for text, size, style in _box_lines(box):
        top += size * LINE_HEIGHT
        out.append(TextLine(text, x + w / 2, top - size * (LINE_HEIGHT - 1) / 2 - 0.22 * size, size, style))
    return out


class _View:
    """What grandalf reads (w, h) and writes (xy) for a vertex, and the dummy points of an edge."""

    def __init__(self, w: float = 0.0, h: float = 0.0) -> None:
        self.w, self.h, self.xy = w, h, (0.0, 0.0)
        self.points: list[Point] = []

    def setpath(self, points: list[Point]) -> None:
        self.points = [tuple(p) for p in points]  # type: ignore[misc]


def _spread(count: int, width: float) -> list[float]:
    """Offsets of `count` ports along a side of length `width`, centred."""
    step = min(PORT_STEP, (width - 16) / max(count, 1))
    return [(i - (count - 1) / 2) * step for i in range(count)]


def _place(diagram: Diagram, direction: str) -> tuple[dict[str, Rect], dict[int, list[Point]]]:
    """Centres and sizes of the boxes in flow coordinates (ranks along y), and each edge's dummy points."""
    from grandalf.graphs import Edge as GEdge
    from grandalf.graphs import Graph as GGraph
    from grandalf.graphs import Vertex
    from grandalf.layouts import SugiyamaLayout

    sizes = {box.id: _box_size(box) for box in diagram.boxes}
    vertices = {box.id: Vertex(box.id) for box in diagram.boxes}
    for box_id, vertex in vertices.items():
        w, h = sizes[box_id]
        vertex.view = _View(w, h) if direction == "TB" else _View(h, w)
    gedges = []
    for edge in diagram.edges:
        gedge = GEdge(vertices[edge.source], vertices[edge.target])
        gedge.view = _View()
        gedges.append(gedge)
    graph = GGraph(list(vertices.values()), gedges)
    offset = 0.0
    for component in graph.C:
        layout = SugiyamaLayout(component)
        layout.xspace, layout.yspace = GAP_WITHIN[direction], GAP_ACROSS[direction]
        layout.init_all(roots=[v for v in component.sV if not v.e_in()])
        layout.draw(6)
        left = min(v.view.xy[0] - v.view.w / 2 for v in component.sV)
        right = max(v.view.xy[0] + v.view.w / 2 for v in component.sV)
        for vertex in component.sV:
            vertex.view.xy = (vertex.view.xy[0] - left + offset, vertex.view.xy[1])
        for gedge in component.sE:
            gedge.view.points = [(x - left + offset, y) for x, y in gedge.view.points]
        offset += right - left + 2 * GAP_WITHIN[direction]
    centres = {box_id: (*v.view.xy, v.view.w, v.view.h) for box_id, v in vertices.items()}
    return centres, {i: g.view.points[1:-1] for i, g in enumerate(gedges)}


def _routes(diagram: Diagram, centres: dict[str, Rect],
            dummies: dict[int, list[Point]]) -> list[Route]:
    """Bézier chains in flow coordinates: from the bottom of the source to the top of the target."""
    def first_hop(i: int) -> float:
        return (dummies[i] or [centres[diagram.edges[i].target][:2]])[0][0]

    def last_hop(i: int) -> float:
        return (dummies[i] or [centres[diagram.edges[i].source][:2]])[-1][0]

    out_port: dict[int, float] = {}
    in_port: dict[int, float] = {}
    for box in diagram.boxes:
        for ports, key, hop in ((out_port, "source", first_hop), (in_port, "target", last_hop)):
            mine = sorted((i for i, e in enumerate(diagram.edges) if getattr(e, key) == box.id), key=hop)
            for i, dx in zip(mine, _spread(len(mine), centres[box.id][2])):
                ports[i] = dx
    band: dict[float, float] = {}  # rank centre y -> half the height of its tallest box
    for _, y, _, h in centres.values():
        band[y] = max(band.get(y, 0.0), h / 2)
    routes = []
    for i, edge in enumerate(diagram.edges):
        sx, sy, _, sh = centres[edge.source]
        tx, ty, _, th = centres[edge.target]
        tip = (tx + in_port[i], ty - th / 2)
        # straight through each rank's band, curving only in the gaps between ranks
        runs = [((sx + out_port[i], sy + sh / 2), (sx + out_port[i], sy + band[sy]))]
        runs += [((x, y - band.get(y, 0.0)), (x, y + band.get(y, 0.0))) for x, y in dummies[i]]
        runs.append(((tip[0], ty - band[ty]), (tip[0], tip[1] - ARROW_LEN)))
        path = [runs[0][0]]
        for k, (top, bottom) in enumerate(runs):
            if k:
                mid = (path[-1][1] + top[1]) / 2
                path += [(path[-1][0], mid), (top[0], mid), top]
            if bottom[1] > top[1]:
                path += [top, bottom, bottom]
        arrow = [tip, (tip[0] - ARROW_HALF, tip[1] - ARROW_LEN), (tip[0] + ARROW_HALF, tip[1] - ARROW_LEN)]
        routes.append(Route(edge, path, arrow))
    return routes


def lay_out(diagram: Diagram, direction: str = "TB") -> Layout:
    """Place every box and route every edge; ranks run down (TB) or to the right (LR)."""
    centres, dummies = _place(diagram, direction)
    routes = _routes(diagram, centres, dummies)

    def final(p: Point) -> Point:
        return p if direction == "TB" else (p[1], p[0])

    for route in routes:
        route.path = [final(p) for p in route.path]
        route.arrow = [final(p) for p in route.arrow]
    rects = {}
    for box_id, (x, y, w, h) in centres.items():
        cx, cy = final((x, y))
        bw, bh = (w, h) if direction == "TB" else (h, w)
        rects[box_id] = (cx - bw / 2, cy - bh / 2, bw, bh)
    xs = [r[0] for r in rects.values()] + [r[0] + r[2] for r in rects.values()]
    ys = [r[1] for r in rects.values()] + [r[1] + r[3] for r in rects.values()]
    xs += [p[0] for route in routes for p in route.path]
    ys += [p[1] for route in routes for p in route.path]
    title_width = text_width(diagram.title, TITLE_SIZE, bold=True)
    width = math.ceil(max(max(xs) - min(xs), title_width) + 2 * MARGIN)  # whole points: whole pixels at 2 px/pt
    dx, dy = (width - max(xs) - min(xs)) / 2, MARGIN + TITLE_GAP - min(ys)
    placed = []
    for box in diagram.boxes:
        x, y, w, h = rects[box.id]
        placed.append(Placed(box, x + dx, y + dy, w, h, _text(box, x + dx, y + dy, w)))
    for route in routes:
        route.path = [(x + dx, y + dy) for x, y in route.path]
        route.arrow = [(x + dx, y + dy) for x, y in route.arrow]
    title = TextLine(diagram.title, width / 2, MARGIN + TITLE_SIZE * 0.8, TITLE_SIZE, "title")
    return Layout(width, math.ceil(max(ys) - min(ys) + 2 * MARGIN + TITLE_GAP), title, placed, routes)
