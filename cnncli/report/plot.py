"""Learning curves as a PNG, drawn with Pillow (no plotting framework needed)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from cnncli.atomic import atomic_writer

WIDTH, HEIGHT, MARGIN = 960, 400, 48
COLORS = {"train": (31, 119, 180), "val": (255, 127, 14)}


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], title: str,
           series: dict[str, list[float]], epochs: list[int]) -> None:
    left, top, right, bottom = box
    draw.rectangle(box, outline=(0, 0, 0))
    draw.text((left, top - 16), title, fill=(0, 0, 0))
    values = [v for s in series.values() for v in s]
    if not values or not epochs:
        return
    low, high = min(values), max(values)
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    span_x = max(epochs[-1] - epochs[0], 1)

    def point(epoch: int, value: float) -> tuple[float, float]:
        x = left + (epoch - epochs[0]) / span_x * (right - left)
        y = bottom - (value - low) / (high - low) * (bottom - top)
        return x, y

    for fraction in (0.0, 0.5, 1.0):
        value = low + fraction * (high - low)
        _, y = point(epochs[0], value)
        draw.line([(left, y), (right, y)], fill=(220, 220, 220))
        draw.text((left - MARGIN + 4, y - 6), f"{value:.3g}", fill=(80, 80, 80))
    for epoch in epochs:
        x, _ = point(epoch, low)
        draw.text((x - 3, bottom + 4), str(epoch), fill=(80, 80, 80))
    for i, (name, ys) in enumerate(series.items()):
        points = [point(e, v) for e, v in zip(epochs, ys)]
        if len(points) > 1:
            draw.line(points, fill=COLORS[name], width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=COLORS[name])
        draw.text((right - 60, top + 6 + 14 * i), name, fill=COLORS[name])


def save_learning_curves(history: list[dict[str, Any]], path: Path) -> None:
    """Loss and accuracy per epoch (train and validation), written atomically as PNG."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    epochs = [int(r["epoch"]) for r in history]
    half = WIDTH // 2
    for column, (metric, title) in enumerate((("loss", "loss"), ("acc", "accuracy"))):
        series = {"train": [r[f"train_{metric}"] for r in history]}
        if all(f"val_{metric}" in r for r in history):
            series["val"] = [r[f"val_{metric}"] for r in history]
        box = (column * half + MARGIN + 8, MARGIN, (column + 1) * half - 16, HEIGHT - MARGIN)
        _panel(draw, box, f"{title} by epoch", series, epochs)
    with atomic_writer(path) as handle:
        image.save(handle, format="PNG")
