"""Colours shared by the SVG and the matplotlib writers: (fill, stroke) per kind of box."""
from __future__ import annotations

BOX_STYLE = {
    "terminal": ("#eeeeee", "#555555"),
    "conv": ("#dce9f5", "#3b75af"),
    "pool": ("#ddefd9", "#4a8c3f"),
    "norm": ("#fbf1cc", "#b38f1d"),
    "act": ("#f4f4f4", "#8a8a8a"),
    "dense": ("#ebe0f4", "#7b52a3"),
    "merge": ("#fde4d0", "#d0702a"),
    "other": ("#ffffff", "#8a8a8a"),
    "group": ("#d8efec", "#2a8076"),
    "error": ("#fde2e2", "#c62828"),
}
TEXT_COLOR = {"title": "#111111", "name": "#1a1a1a", "line": "#444444", "error": "#b71c1c"}
EDGE_COLOR, SHORTCUT_COLOR = "#555555", "#d0702a"
EDGE_WIDTH, SHORTCUT_WIDTH, BOX_LINE = 1.1, 1.6, 1.1
CORNER = 5.0
FONT_FAMILY = "DejaVu Sans, Arial, Helvetica, sans-serif"  # DejaVu measures the boxes; the others are narrower
STACK_OFFSET = 3.5  # a repeated block is drawn as a small stack of cards
