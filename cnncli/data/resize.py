"""Bilinear resizing of image batches (a triangle filter, antialiased when shrinking, like Pillow's BILINEAR)."""
from __future__ import annotations

import numpy as np


def resize_bilinear(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize float32 images [N,C,H,W] to [N,C,height,width] with a triangle (bilinear) filter."""
    rows, cols = _weights(x.shape[2], height), _weights(x.shape[3], width)
    return np.ascontiguousarray((rows @ x) @ cols.T, dtype=np.float32)


def _weights(size: int, new_size: int) -> np.ndarray:
    """[new_size, size] interpolation matrix: pixel centres aligned, support widened when shrinking."""
    scale = size / new_size
    support = max(scale, 1.0)
    centres = (np.arange(new_size) + 0.5) * scale
    distance = (np.arange(size) + 0.5)[None, :] - centres[:, None]
    weights: np.ndarray = np.clip(1.0 - np.abs(distance) / support, 0.0, None)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights.astype(np.float32)
