"""Pictures of what a network learned: convolution kernels and feature maps (matplotlib, Agg).

Kernels share one symmetric colour scale, [−m, m] with m = max |w| over the tiles shown, so
zero is always the middle colour and tiles compare directly. With 3 input channels each filter
is one colour tile, channel by channel: value = 0.5 + 0.5 · w / m (grey is 0). Feature maps
share one scale per layer, [min, max] of that layer's maps shown.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnncli.atomic import atomic_writer

MAX_FILTERS, MAX_CHANNELS, MAX_MAPS = 64, 16, 16
DPI = 150


def _figure(width: float, height: float):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path: Path) -> None:  # type: ignore[no-untyped-def]
    with atomic_writer(path) as handle:
        fig.savefig(handle, format="png", dpi=DPI, facecolor="white")


def _bare(ax) -> None:  # type: ignore[no-untyped-def]
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#bbbbbb")


def save_filters(weight: np.ndarray, title: str, path: Path) -> str:
    """Kernels [F, C, kh, kw] as a grid of tiles; returns a note on what was left out (or '')."""
    filters, channels = weight.shape[:2]
    colour = channels == 3
    grid_filters = MAX_FILTERS if colour or channels == 1 else MAX_FILTERS // 2
    shown = weight[:grid_filters, : (3 if colour else MAX_CHANNELS)]
    f, c = shown.shape[:2]
    m = float(np.abs(shown).max()) or 1.0
    single = colour or c == 1  # one tile per filter; else a row per input channel, a column per filter
    cols = math.ceil(math.sqrt(f)) if single else f
    rows = math.ceil(f / cols) if single else c
    tile = min(0.9, 11.0 / cols, 11.0 / rows)
    fig = _figure(max(cols * tile + 1.6, 4.5), rows * tile + 1.1)
    axes = fig.subplots(rows, cols, squeeze=False)
    cmap = "gray" if colour else "RdBu_r"
    for r in range(rows):
        for k in range(cols):
            ax = axes[r, k]
            _bare(ax)
            index = r * cols + k if single else k
            if index >= f:
                ax.set_visible(False)
                continue
            if colour:
                rgb = np.clip(0.5 + 0.5 * shown[index].transpose(1, 2, 0) / m, 0, 1)
                ax.imshow(rgb, interpolation="nearest")
            else:
                ax.imshow(shown[index, 0 if single else r], cmap=cmap, vmin=-m, vmax=m, interpolation="nearest")
            if single or r == 0:
                ax.set_title(str(index + 1), fontsize=8, pad=2)
            if not single and k == 0:
                ax.set_ylabel(f"in {r + 1}", fontsize=8, rotation=0, ha="right", va="center")
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    bar = fig.colorbar(ScalarMappable(Normalize(-m, m), cmap), ax=axes, shrink=min(1.0, 3.0 / (rows * tile)), aspect=20)
    bar.set_label("weight (each colour channel)" if colour else "weight", fontsize=9)
    bar.ax.tick_params(labelsize=8)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)
    left_out = []
    if filters > f:
        left_out.append(f"the first {f} of {filters} filters")
    if not colour and channels > c:
        left_out.append(f"the first {c} of {channels} input channels")
    return " and ".join(left_out)


@dataclass
class LayerMaps:
    """One layer's output for one image: [C, H, W] and the text to label it with."""

    label: str
    maps: np.ndarray


def save_featuremaps(image: np.ndarray, layers: list[LayerMaps], top: list[tuple[str, float]], title: str,
                     path: Path) -> None:
    """The input image and predictions in the first row, then one row of maps per layer
    (at most MAX_MAPS channels each, on one colour scale per layer)."""
    per_row = min(MAX_MAPS, max((len(layer.maps) for layer in layers), default=1))
    fig = _figure(max(10.0, 0.75 * per_row + 1.8), 2.4 + 1.05 * len(layers))
    rows = fig.subfigures(len(layers) + 1, 1, height_ratios=[2.2] + [1.0] * len(layers))
    rows = np.atleast_1d(rows)
    head = rows[0].subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    picture = image.transpose(1, 2, 0) if image.shape[0] == 3 else image[0]
    head[0].imshow(np.clip(picture, 0, 1), cmap=None if image.shape[0] == 3 else "gray", vmin=0, vmax=1)
    _bare(head[0])
    head[0].set_title("input", fontsize=10)
    names = [name for name, _ in top][::-1]
    head[1].barh(names, [100 * p for _, p in top][::-1], color="#3b75af")
    head[1].set_xlim(0, 100)
    head[1].set_xlabel("probability (%)")
    head[1].set_title("predicted classes", fontsize=10, loc="left")
    for side in ("top", "right"):
        head[1].spines[side].set_visible(False)
    for (name, p), y in zip(top[::-1], range(len(top))):
        head[1].text(100 * p + 1, y, f"{100 * p:.1f}%" if p >= 0.001 else "<0.1%", va="center", fontsize=9)
    for row, layer in zip(rows[1:], layers):
        shown = layer.maps[:MAX_MAPS]
        low, high = float(shown.min()), float(shown.max())
        axes = np.atleast_1d(row.subplots(1, per_row))
        image_artist = None
        for k, ax in enumerate(axes):
            _bare(ax)
            if k >= len(shown):
                ax.set_visible(False)
                continue
            image_artist = ax.imshow(shown[k], cmap="viridis", vmin=low, vmax=high if high > low else low + 1,
                                     interpolation="nearest")
        more = f" (first {MAX_MAPS} of {len(layer.maps)} maps)" if len(layer.maps) > MAX_MAPS else ""
        row.suptitle(layer.label + more, fontsize=9, x=0.01, ha="left")
        bar = row.colorbar(image_artist, ax=list(axes[:len(shown)]), aspect=8, pad=0.01)
        bar.ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=11)
    _save(fig, path)
