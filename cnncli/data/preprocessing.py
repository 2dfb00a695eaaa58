"""One description of how a run turns stored images into network input, for train, evaluate,
predict and export alike (stored in the checkpoint as `to_json()`):

    input = (fit(values · scale) − mean[c]) / std[c]

`scale` maps the training data's stored values to pixels in [0, 1]: 1/255 for 8-bit images
(and float pixels in 0..255), 1/65535 for 16-bit, 1 for float pixels in [0, 1]; other data is
read by its own dtype and bit depth into [0, 1] the same way, so the scales of two datasets may
differ while their pixels agree. `raw` float data (values outside 0..255, not pixels) is used as
stored: then the other data must be raw too.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from cnncli.data.arrays import float_range
from cnncli.data.dataset import Dataset, apply_normalization
from cnncli.data.fit import FitMode, fit_to_input
from cnncli.data.images import decode, open_image
from cnncli.errors import UsageError

FITS = ("none", "pad", "resize")
_FIT_MODES: dict[str, FitMode] = {"none": "error", "pad": "pad", "resize": "resize"}
_MAX_SIDE = 65_536  # cnncli.layers.args.MAX_INT_ARG, the largest input dimension a spec may have


@dataclass(frozen=True)
class Preprocessing:
    """x → (fit(x · scale) − mean) / std per channel; `fit` is none (sizes must match), pad or resize."""

    scale: float
    raw: bool
    channels: int
    height: int
    width: int
    fit: str
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(problem)

    @classmethod
    def of(cls, train: Dataset, fit: FitMode) -> Preprocessing:
        """The preprocessing of a training split that is fitted and normalised (mean and std set)."""
        if train.mean is None or train.std is None:
            raise ValueError("normalise the training data first (cnncli.data.normalize)")
        c, h, w = train.shape
        return cls(train.scale, train.raw, c, h, w, "none" if fit == "error" else fit,
                   tuple(float(v) for v in train.mean), tuple(float(v) for v in train.std))

    def to_json(self) -> dict[str, Any]:
        return {"scale": self.scale, "raw": self.raw, "channels": self.channels, "height": self.height,
                "width": self.width, "fit": self.fit, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, data: Any, where: str) -> Preprocessing:
        """Validated like a spec: a UsageError names `where`, the field, what was expected and found."""
        fields = ("scale", "raw", "channels", "height", "width", "fit", "mean", "std")
        if not isinstance(data, dict) or set(data) != set(fields):
            found = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise UsageError(f"{where}: preprocessing must be a mapping of {', '.join(fields)}, found {found}")
        kinds = {"scale": (int, float), "raw": bool, "channels": int, "height": int, "width": int, "fit": str,
                 "mean": list, "std": list}
        for name in fields:
            value = data[name]
            if not isinstance(value, kinds[name]) or (kinds[name] is not bool and isinstance(value, bool)):
                raise UsageError(f"{where}: preprocessing.{name} has the wrong type: {value!r}"[:300])
        for name in ("mean", "std"):
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in data[name]):
                raise UsageError(f"{where}: preprocessing.{name} must be numbers, found {data[name]!r}"[:300])
        made = cls.__new__(cls)
        for name in fields:
            object.__setattr__(made, name, tuple(data[name]) if name in ("mean", "std") else data[name])
        problem = _problem(made)
        if problem:
            raise UsageError(f"{where}: preprocessing: {problem}")
        return made

    @property
    def fit_mode(self) -> FitMode:
        """The mode `fit_to_input` takes ('error' for none)."""
        return _FIT_MODES[self.fit]

    def describe(self) -> str:
        """One line: what the network's input is made of."""
        values = "raw float values" if self.raw else f"values x {self.scale:.6g} (pixels in [0, 1])"
        fitted = {"none": "", "pad": ", zero-padded to", "resize": ", resized to"}[self.fit]
        return (f"{values}{fitted or ','} {self.channels}x{self.height}x{self.width}, standardised with "
                f"mean {[round(v, 4) for v in self.mean]} and std {[round(v, 4) for v in self.std]}")

    def apply(self, ds: Dataset, fit: FitMode | None = None) -> Dataset:
        """`ds` made into this network input (its pixels by its own dtype and bit depth, then fitted and
        standardised); refused when its values are not of the kind the network was trained on."""
        if ds.raw != self.raw:
            trained = "raw float values (not pixels)" if self.raw else "pixels"
            given = "raw float values (not pixels)" if ds.raw else "pixels"
            raise UsageError(f"{ds.source}: the network was trained on {trained} but this data holds {given}; "
                             f"give data stored the way the training data was")
        fitted = fit_to_input(ds, (self.channels, self.height, self.width), fit or self.fit_mode)
        return apply_normalization(fitted, np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32))

    def images(self, paths: Sequence[Path], fit: FitMode | None = None) -> np.ndarray:
        """Image files as the network's input, float32 [N, C, H, W]: each read by its bit depth, float
        images by one decision for all of them, then fitted and standardised as in training."""
        if self.raw:
            raise UsageError("the network was trained on raw float values (not pixels), so image files cannot "
                             "be given to it; evaluate it on an .npz stored like its training data")
        pixels = []
        for path in paths:
            with open_image(path) as image:
                pixels.append(decode(image, self.channels, path))
        floats = float_range(pixels, "the images given", [str(path) for path in paths])
        batch = []
        for path, image in zip(paths, pixels):
            scale = {np.uint8: 1 / 255, np.uint16: 1 / 65535}.get(image.dtype.type, floats.scale)
            one = Dataset(np.ascontiguousarray(image[None].astype(np.float32) * np.float32(scale)),
                          np.zeros(1, np.int64), ["?"], str(path), raw=floats.raw)
            batch.append(self.apply(one, fit).batch(slice(None))[0])
        return np.ascontiguousarray(np.stack(batch))


def _problem(p: Preprocessing) -> str:
    """What is wrong with `p`'s values, or ''."""
    if not (math.isfinite(p.scale) and 0 < p.scale <= 1):
        return f"scale must be in (0, 1], found {p.scale}"
    if not 0 < p.channels <= _MAX_SIDE:
        return f"channels must be between 1 and {_MAX_SIDE:,}, found {p.channels}"
    if not (0 < p.height <= _MAX_SIDE and 0 < p.width <= _MAX_SIDE):
        return f"height and width must be between 1 and {_MAX_SIDE:,}, found {p.height}x{p.width}"
    if p.fit not in FITS:
        return f"fit must be one of {', '.join(FITS)}, found {p.fit!r}"
    if len(p.mean) != p.channels or len(p.std) != p.channels:
        return f"mean and std need one value per channel ({p.channels}), found {len(p.mean)} and {len(p.std)}"
    if not all(math.isfinite(v) for v in p.mean):
        return f"mean values must be finite, found {list(p.mean)}"
    if not all(math.isfinite(v) and v > 0 for v in p.std):
        return f"std values must be finite and above 0, found {list(p.std)}"
    return ""


def match_classes(ds: Dataset, trained: Sequence[str]) -> Dataset:
    """`ds` with its labels re-indexed to the training classes `trained` (same names, any order; a
    subset is fine). Data without class names ("0".."K-1" made from its labels) is taken as indices
    of `trained` when it has no more classes. Anything else is refused, naming the difference."""
    trained = list(trained)
    if ds.classes == trained:
        return ds
    if not ds.named:
        if len(ds.classes) > len(trained):
            raise UsageError(f"{ds.source}: labels go up to {len(ds.classes) - 1} but the network was trained on "
                             f"{len(trained)} classes (0..{len(trained) - 1}); use data with the training classes")
        return replace(ds, classes=trained, named=True)
    unknown = [name for name in ds.classes if name not in trained]
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        known = ", ".join(repr(n) for n in trained[:12]) + (" …" if len(trained) > 12 else "")
        raise UsageError(f"{ds.source}: classes {shown} are not among the {len(trained)} classes the network was "
                         f"trained on ({known}); the data's classes must be those or some of them")
    index = np.array([trained.index(name) for name in ds.classes], dtype=np.int64)
    return replace(ds, y=index[ds.y], classes=trained)
