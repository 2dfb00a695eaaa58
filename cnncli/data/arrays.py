"""Turn user arrays into the engine's layout: images uint8 or float32 [N,C,H,W], labels int64 [N]."""
from __future__ import annotations

import numpy as np

from cnncli.errors import UsageError

Split = tuple[np.ndarray, np.ndarray]
"""(images uint8 or float32 [N,C,H,W] C-contiguous, labels int64 [N])."""

_MAX_CHANNELS_LAST = 4


def images_to_nchw(x: np.ndarray, what: str) -> np.ndarray:
    """[N,H,W], [N,H,W,C] or [N,C,H,W] uint8 or float images -> uint8 (pixels, kept: `Dataset` reads
    them as x / 255) or float32 [N,C,H,W].

    A 4-D array is channels-last when its last axis has at most 4 entries and axis 1 more than 4.
    """
    if x.ndim not in (3, 4) or 0 in x.shape:
        raise UsageError(
            f"{what}: expected images shaped [N,H,W], [N,H,W,C] or [N,C,H,W], found shape {list(x.shape)}"
        )
    if x.dtype == np.uint8:
        out = x
    elif np.issubdtype(x.dtype, np.floating):
        out = x.astype(np.float32)
        if not np.isfinite(out).all():
            raise UsageError(f"{what}: images contain NaN or infinite values; clean the data first")
    else:
        raise UsageError(
            f"{what}: expected uint8 pixels (0..255) or floats, found {x.dtype}; "
            "convert with x.astype(np.uint8) or x.astype(np.float32)"
        )
    if out.ndim == 3:
        out = out[:, None]
    elif out.shape[3] <= _MAX_CHANNELS_LAST < out.shape[1]:
        out = out.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out)


def labels_to_int64(y: np.ndarray, count: int, what: str) -> np.ndarray:
    """Integer class labels [N] (N == `count`, all >= 0) -> int64."""
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
    return y.astype(np.int64)


def check_label_range(y: np.ndarray, classes: list[str], what: str) -> None:
    """Every label must index `classes`."""
    if len(y) and y.max() >= len(classes):
        raise UsageError(
            f"{what}: label {y.max()} is out of range for {len(classes)} classes (0..{len(classes) - 1}); "
            "fix the labels or list every class name"
        )
