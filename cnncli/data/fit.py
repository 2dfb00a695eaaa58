"""Make the data's image shape [C,H,W] match the spec's input: error, zero-pad or bilinear resize."""
from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np

from cnncli.data.dataset import Dataset
from cnncli.errors import UsageError

FitMode = Literal["error", "pad", "resize"]


def fit_mode(pad: bool, resize: bool) -> FitMode:
    """The flags `--pad` and `--resize` (at most one of them) as a FitMode ('error': neither)."""
    if pad and resize:
        raise UsageError("--pad and --resize exclude each other: --pad zero-pads smaller images to the spec's "
                         "input size, --resize scales them to it; give one of them")
    return "pad" if pad else "resize" if resize else "error"


def fit_to_input(ds: Dataset, input_shape: tuple[int, int, int], mode: FitMode = "error") -> Dataset:
    """Return `ds` with images shaped `input_shape` (C,H,W).

    'pad' zero-pads centred (data must not be larger), 'resize' is bilinear (antialiased when
    shrinking, like Pillow's BILINEAR). With either, 1 channel may become 3 by repetition.
    Call it before normalising, so padding is background (0) and not the mean.
    """
    target = tuple(int(n) for n in input_shape)
    if ds.shape == target:
        return ds
    (c, h, w), (tc, th, tw) = ds.shape, target
    described = f"the data's images are {_fmt(ds.shape)} (CxHxW) but the spec's input is {_fmt(target)}"
    if c != tc and not (c == 1 and tc == 3):
        raise UsageError(f"{described}; the channel counts must match: change the spec's input to {c} channels")
    if mode == "error":
        hints = []
        if h <= th and w <= tw:
            hints.append(f"--pad to zero-pad each {h}x{w} image (centred) to {th}x{tw}")
        hints.append(f"--resize to resize to {th}x{tw} (bilinear)")
        extra = " (either one also repeats the single channel 3 times)" if c != tc else ""
        raise UsageError(f"{described}; pass {' or '.join(hints)}{extra}, or change the spec's input")
    if mode == "pad":
        if h > th or w > tw:
            raise UsageError(f"{described}; --pad cannot shrink {h}x{w} images to {th}x{tw}: use --resize instead")
        x = np.zeros((len(ds), c, th, tw), dtype=ds.x.dtype)  # 0 is 0.0 as uint8 pixels too
        top, left = (th - h) // 2, (tw - w) // 2
        x[:, :, top:top + h, left:left + w] = ds.x
    elif mode == "resize":
        x = resize_bilinear(ds.pixels(), th, tw)
    else:
        raise ValueError(f"unknown fit mode {mode!r}")
    if c != tc:
        x = np.repeat(x, tc, axis=1)
    # resized pixels are float32 now: keep the scale of the source's values
    return replace(ds, x=np.ascontiguousarray(x), float_scale=ds.scale)


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


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)
