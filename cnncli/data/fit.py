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
    shrinking, like Pillow's BILINEAR), applied batch by batch when pixels are read (the stored
    images keep their size). With either, 1 channel may become 3 by repetition.
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
        if ds.resize_to is not None:
            raise ValueError("pad a dataset before resizing it, not after")
        if h > th or w > tw:
            raise UsageError(f"{described}; --pad cannot shrink {h}x{w} images to {th}x{tw}: use --resize instead")
        x = np.zeros((len(ds), c, th, tw), dtype=ds.x.dtype)  # 0 is 0.0 as uint8 pixels too
        top, left = (th - h) // 2, (tw - w) // 2
        x[:, :, top:top + h, left:left + w] = ds.x
    elif mode == "resize":  # lazily, batch by batch (Dataset.pixels): a whole dataset at 224x224 may not fit
        x = ds.x
    else:
        raise ValueError(f"unknown fit mode {mode!r}")
    if c != tc:
        x = np.repeat(x, tc, axis=1)
    return replace(ds, x=np.ascontiguousarray(x), resize_to=(th, tw) if mode == "resize" else None)


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)
