"""Turn user arrays into the engine's layout: images uint8, uint16 or float32 [N,C,H,W], labels int64 [N].

Pixel ranges are decided by dtype and bit depth, once per dataset, and said in its source line:
uint8 is read as x / 255, uint16 as x / 65535; float images are divided by 255 when every float
value of the dataset lies in 0..255 and one exceeds 1, kept when all lie in [0, 1], and used as
stored ("raw": not pixel values) otherwise.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from cnncli.data.limits import MAX_CLASS_NAME, MAX_CLASSES
from cnncli.errors import UsageError

Split = tuple[np.ndarray, np.ndarray]
"""(images uint8, uint16 or float32 [N,C,H,W] C-contiguous, labels int64 [N])."""

_MAX_CHANNELS_LAST = 4
PIXEL_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))


@dataclass(frozen=True)
class FloatRange:
    """How a dataset's float images are read: x · scale; `raw` when they are not pixel values."""

    scale: float
    raw: bool
    text: str


@dataclass(frozen=True)
class Loaded:
    """What a data file or folder holds: splits, class names (`named`: given, not "0".."K-1"), and
    how its pixels are read (`raw`: float values used as stored; `scale`: the factor float images
    were multiplied by; `pixels`: said in the data source line)."""

    train: Split
    test: Split | None
    classes: list[str]
    named: bool
    raw: bool
    scale: float
    pixels: str


def float_range(arrays: list[np.ndarray], what: str, names: list[str] | None = None) -> FloatRange:
    """Decide once for all float image arrays of a dataset (NaN and infinities refused).

    [0, 1] → as stored; 0..255 with a value above 1 → / 255; anything else → raw, as stored.
    Arrays (named by `names`) that would each be decided otherwise are refused: x in [0, 1] with
    x_test in 0..255 is a mistake, not one scale."""
    named = [(a, n) for a, n in zip(arrays, names or [f"array {i + 1}" for i in range(len(arrays))])
             if np.issubdtype(a.dtype, np.floating) and a.size]
    if not named:
        return FloatRange(1.0, False, "")
    ranges = [(float(a.min()), float(a.max())) for a, _ in named]
    if not all(np.isfinite(low) and np.isfinite(high) for low, high in ranges):
        raise UsageError(f"{what}: images contain NaN or infinite values; clean the data first")
    decided = [_decide(low, high) for low, high in ranges]
    kinds = {decision.scale if not decision.raw else "raw" for decision in decided}
    if len(kinds) > 1:
        each = "; ".join(f"{name}: {decision.text}" for (_, name), decision in zip(named, decided))
        raise UsageError(f"{what}: the float images are on different scales ({each}); store them the same way")
    return _decide(min(low for low, _ in ranges), max(high for _, high in ranges))


def _decide(low: float, high: float) -> FloatRange:
    if low >= 0 and high <= 1:
        return FloatRange(1.0, False, "float pixels in [0, 1]")
    if low >= 0 and high <= 255:
        return FloatRange(1 / 255, False, f"float pixels in 0..255 / 255, max {high:g}")
    return FloatRange(1.0, True, f"raw float values in [{low:.4g}, {high:.4g}], not pixels: used as stored")


def images_to_nchw(x: np.ndarray, what: str, floats: FloatRange | None = None) -> np.ndarray:
    """[N,H,W], [N,H,W,C] or [N,C,H,W] images -> uint8 or uint16 (kept: `Dataset` reads them as
    x / 255 or x / 65535) or float32 times `floats.scale` (decided by `float_range`), [N,C,H,W].

    A 4-D array is channels-last when its last axis has at most 4 entries and axis 1 more than 4.
    """
    if x.ndim not in (3, 4) or 0 in x.shape:
        raise UsageError(
            f"{what}: expected images shaped [N,H,W], [N,H,W,C] or [N,C,H,W], found shape {list(x.shape)}"
        )
    if x.dtype in (np.uint8, np.uint16):
        out = x
    elif np.issubdtype(x.dtype, np.floating):
        scale = (floats or float_range([x], what)).scale
        out = x.astype(np.float32)
        if scale != 1:
            out *= np.float32(scale)
    else:
        raise UsageError(
            f"{what}: expected uint8 pixels (0..255), uint16 (0..65535) or floats, found {x.dtype}; "
            "convert with x.astype(np.uint8) or x.astype(np.float32)"
        )
    if out.ndim == 3:
        out = out[:, None]
    elif out.shape[3] <= _MAX_CHANNELS_LAST < out.shape[1]:
        out = out.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out)


def pixel_text(x: np.ndarray, floats: FloatRange) -> str:
    """How the stored images are read, for the data source line."""
    if x.dtype == np.uint8:
        return "8-bit pixels / 255"
    if x.dtype == np.uint16:
        return "16-bit pixels / 65535"
    return floats.text


def labels_to_int64(y: np.ndarray, count: int, what: str) -> np.ndarray:
    """Integer class labels [N] (N == `count`, 0 <= label < MAX_CLASSES) -> int64."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise UsageError(
            f"{what}: expected integer class labels shaped [N], found {y.dtype} shaped {list(y.shape)} "
            "(one-hot labels: use y.argmax(axis=1))"
        )
    if len(y) != count:
        raise UsageError(f"{what}: expected one label per image ({count}), found {len(y)}")
    if count and y.min() < 0:
        raise UsageError(f"{what}: labels must be class indices >= 0, found {y.min()}")
    if count and y.max() >= MAX_CLASSES:
        raise UsageError(f"{what}: found label {y.max():,}; labels are class indices below {MAX_CLASSES:,} "
                         f"(at most {MAX_CLASSES:,} classes)")
    return y.astype(np.int64)


def check_label_range(y: np.ndarray, classes: list[str], what: str) -> None:
    """Every label must index `classes`."""
    if len(y) and y.max() >= len(classes):
        raise UsageError(
            f"{what}: label {y.max()} is out of range for {len(classes)} classes (0..{len(classes) - 1}); "
            "fix the labels or list every class name"
        )


def check_class_names(names: list[str], what: str) -> list[str]:
    """Class names: at most MAX_CLASSES, unique, 1..MAX_CLASS_NAME characters, no control characters."""
    if not 0 < len(names) <= MAX_CLASSES:
        raise UsageError(f"{what}: expected 1 to {MAX_CLASSES:,} class names, found {len(names):,}")
    for name in names:
        if not 0 < len(name) <= MAX_CLASS_NAME or any(unicodedata.category(c) == "Cc" for c in name):
            raise UsageError(f"{what}: class name {name[:40]!r} must be 1 to {MAX_CLASS_NAME} characters "
                             f"without control characters (newlines, tabs, escapes)")
    if len(set(names)) != len(names):
        seen: set[str] = set()
        twice = next(n for n in names if n in seen or seen.add(n))  # type: ignore[func-returns-value]
        raise UsageError(f"{what}: class name {twice!r} appears twice; each class needs its own name")
    return names
