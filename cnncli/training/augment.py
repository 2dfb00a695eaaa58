"""Data augmentation on a drawn batch, in numpy: the same arrays reach either engine.

Applied to standardised batches x [B, C, H, W] in this order, each image drawing its own values:
- crop p: pad by p black pixels on every side and cut an H×W window at a uniform offset in
  [0, 2p]² (torchvision's RandomCrop(size, padding=p) before Normalize);
- flip: mirror left-right with probability 1/2 (RandomHorizontalFlip);
- rotate d, shift s: rotate by a uniform angle in [−d, d] degrees about the centre and move by
  round(uniform(−s, s)·W) columns and round(uniform(−s, s)·H) rows, nearest pixel, black outside
  (RandomAffine(d, translate=(s, s)) with its default nearest interpolation);
- cutout n: zero an n×n square (clipped at the border) centred on a uniform pixel, after
  standardisation, so it holds the mean image value (DeVries & Taylor 2017, as their code does).

A "black" pixel is the stored value 0, i.e. (0 − mean) / std after standardisation.
Randomness: batch `step` of process `rank` draws from default_rng([seed, 3, rank, step]), so a
resumed run (even mid-epoch) repeats the draws exactly, and the processes of a distributed run
draw differently, without any generator state to carry between processes or checkpoints.
"""
from __future__ import annotations

import numpy as np

from cnncli.train_config import Augment


def batch_rng(seed: int, rank: int, step: int) -> np.random.Generator:
    """The generator of one batch's augmentation (see the module notes)."""
    return np.random.default_rng([seed, 3, rank, step])


def augment_batch(x: np.ndarray, augment: Augment, rng: np.random.Generator,
                  black: np.ndarray | None = None) -> np.ndarray:
    """The augmented batch (a new C-contiguous float32 array; `x` is left as it was).
    `black` [C]: the standardised value of a zero pixel (None: 0)."""
    b, c, _, _ = x.shape
    fill = np.zeros(c, np.float32) if black is None else np.asarray(black, np.float32)
    out = np.array(x, dtype=np.float32, order="C")
    if augment.crop:
        p = augment.crop
        dy, dx = rng.integers(0, 2 * p + 1, b) - p, rng.integers(0, 2 * p + 1, b) - p
        out = _translate(out, dy, dx, fill)
    if augment.flip:
        mirrored = rng.random(b) < 0.5
        out[mirrored] = out[mirrored, :, :, ::-1]
    if augment.rotate or augment.shift:
        out = _affine(out, augment.rotate, augment.shift, rng, fill)
    if augment.cutout:
        _cutout(out, augment.cutout, rng)
    return out


def _gather(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """out[i, c, u, v] = x[i, c, rows[i, u, v], cols[i, u, v]], or fill[c] where that is outside the image."""
    b, c, h, w = x.shape
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    r, q = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
    out = x[np.arange(b)[:, None, None, None], np.arange(c)[None, :, None, None], r[:, None], q[:, None]]
    return np.ascontiguousarray(np.where(inside[:, None], out, fill[None, :, None, None]), dtype=np.float32)


def _translate(x: np.ndarray, dy: np.ndarray, dx: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Image i's window starting dy[i] rows and dx[i] columns from its corner: out[u, v] = x[u + dy, v + dx]."""
    _, _, h, w = x.shape
    rows = np.arange(h)[None, :, None] + dy[:, None, None]
    cols = np.arange(w)[None, None, :] + dx[:, None, None]
    return _gather(x, np.broadcast_to(rows, (len(x), h, w)), np.broadcast_to(cols, (len(x), h, w)), fill)


def _affine(x: np.ndarray, degrees: float, shift: float, rng: np.random.Generator, fill: np.ndarray) -> np.ndarray:
    """Rotate by θ counter-clockwise (as shown, rows pointing down) about the centre, then move by (ty, tx):
    out(p) = x(R(−θ)·(p − centre − t) + centre), at the nearest pixel."""
    b, _, h, w = x.shape
    theta = np.deg2rad(rng.uniform(-degrees, degrees, b)) if degrees else np.zeros(b)
    tx = np.round(rng.uniform(-shift * w, shift * w, b)) if shift else np.zeros(b)
    ty = np.round(rng.uniform(-shift * h, shift * h, b)) if shift else np.zeros(b)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    v = np.arange(w)[None, None, :] - cx - tx[:, None, None]
    u = np.arange(h)[None, :, None] - cy - ty[:, None, None]
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    cols = np.floor(cos * v - sin * u + cx + 0.5).astype(np.int64)  # nearest; ties go up
    rows = np.floor(sin * v + cos * u + cy + 0.5).astype(np.int64)
    return _gather(x, rows, cols, fill)


def _cutout(x: np.ndarray, size: int, rng: np.random.Generator) -> None:
    """Zero, in place, rows [cy − size//2, cy − size//2 + size) × the same for columns, clipped to the image."""
    b, _, h, w = x.shape
    cy, cx = rng.integers(0, h, b), rng.integers(0, w, b)
    top, left = cy - size // 2, cx - size // 2
    rows, cols = np.arange(h)[None, :], np.arange(w)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + size)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + size)
    mask = in_rows[:, :, None] & in_cols[:, None, :]
    x[np.broadcast_to(mask[:, None], x.shape)] = 0.0


def looks_like_digits(data: str, classes: list[str]) -> bool:
    """MNIST, or classes named '0'..'9' (a left-right flip can turn one digit into another, or into no digit)."""
    return data.lower() == "mnist" or (bool(classes) and all(len(c) == 1 and c.isdigit() for c in classes))


def check_augment_fits(augment: Augment, height: int, width: int) -> str | None:
    """What is wrong with these settings for images of height × width, or None."""
    side = min(height, width)
    if augment.crop >= side:
        return f"crop {augment.crop} moves the image by its whole size {height}x{width}; use a crop below {side}"
    if augment.cutout > max(height, width):
        return f"cutout {augment.cutout} is larger than the {height}x{width} images; use at most {max(height, width)}"
    return None
