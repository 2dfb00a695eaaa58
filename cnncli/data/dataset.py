"""The `Dataset` the training loop consumes, how to load one, and the steps between loading and training."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cnncli.data.arrays import PIXEL_DTYPES, check_label_range, images_to_nchw, labels_to_int64
from cnncli.data.fetch import fetch
from cnncli.data.folder import load_folder
from cnncli.data.idx import read_idx
from cnncli.data.npz import load_npz
from cnncli.data.progress import Progress, no_progress
from cnncli.data.resize import resize_bilinear
from cnncli.data.sources import BUILTINS
from cnncli.errors import UsageError

_CHUNK_BYTES = 16 << 20  # float32 pixels per step when computing statistics (peak: about 4 times this)


_DIVISORS = {np.dtype(np.uint8): np.float32(255), np.dtype(np.uint16): np.float32(65535)}


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images `x` [N,C,H,W] (C-contiguous) and labels `y` int64 [N] indexing `classes`.

    `x` is uint8 pixels, read as x / 255, uint16 pixels, read as x / 65535, or float32 (a
    quarter of the memory as uint8: MNIST takes 55 MB instead of 220), already multiplied by
    `float_scale` at load (1/255 for float pixels in 0..255); `raw` float values are not pixels
    and are used as stored. `mean` and `std` (float32 [C], or None) are the per-channel
    standardisation `batch` applies: batch = (pixels − mean) / std, in float32, in that order.
    `named`: the class names were given (not "0".."K-1" made up from the labels). `resize_to`
    (H, W): images are resized to it as they are read (`pixels`), batch by batch.
    """

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    source: str
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    raw: bool = False
    float_scale: float = 1.0
    named: bool = True
    resize_to: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.x.dtype not in PIXEL_DTYPES or self.x.ndim != 4 or not self.x.flags.c_contiguous:
            raise ValueError(f"x must be C-contiguous uint8, uint16 or float32 [N,C,H,W], got {self.x.dtype} "
                             f"{self.x.shape}")
        if self.y.dtype != np.int64 or self.y.shape != self.x.shape[:1]:
            raise ValueError(f"y must be int64 [{len(self.x)}], got {self.y.dtype} {self.y.shape}")

    @property
    def scale(self) -> float:
        """The factor from the source's values to pixels: 1/255 (8-bit), 1/65535 (16-bit), `float_scale`."""
        divisor = _DIVISORS.get(self.x.dtype)
        return 1 / float(divisor) if divisor is not None else self.float_scale

    def __len__(self) -> int:
        return len(self.y)

    @property
    def shape(self) -> tuple[int, int, int]:
        """One image's (C, H, W) as read (after `resize_to`)."""
        _, c, h, w = self.x.shape
        return (c, *self.resize_to) if self.resize_to else (c, h, w)

    def pixels(self, index: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The images at `index` as float32: x / 255 for uint8, x / 65535 for uint16, else as stored,
        resized to `resize_to` if set; a new array."""
        part = self.x[index] if isinstance(index, slice) else np.take(self.x, index, axis=0)
        out = part.astype(np.float32)  # copies
        divisor = _DIVISORS.get(self.x.dtype)
        if divisor is not None:
            out /= divisor
        return resize_bilinear(out, *self.resize_to) if self.resize_to else out

    def batch(self, index: slice | np.ndarray) -> np.ndarray:
        """The images at `index` as the network sees them: pixels, standardised with mean and std if set."""
        out = self.pixels(index)
        if self.mean is not None and self.std is not None:
            out -= self.mean[:, None, None]
            out /= self.std[:, None, None]
        return out

    def subset(self, indices: np.ndarray) -> Dataset:
        """The images at `indices`, in that order (copied)."""
        return replace(self, x=np.take(self.x, indices, axis=0), y=np.take(self.y, indices))


def load_data(
    data: str, progress: Progress | None = None, *, channels: int | None = None
) -> tuple[Dataset, Dataset | None]:
    """Load (train, test) from "mnist", "fashion-mnist", a .npz file or an image folder.

    A built-in name wins over a same-named path (write ./mnist for the folder). test is None when
    the .npz or folder has no test split: the caller decides how to evaluate. `channels` (1 or 3)
    only steers image folders (grayscale 'L' or 'RGB'; None: 'L' if every image is grayscale).
    """
    report = progress or no_progress
    if data in BUILTINS:
        return _builtin(data, report)
    path = Path(data).expanduser()
    if path.is_dir():
        loaded = load_folder(path, channels, report)
        kind = "image folder"
    elif path.exists() or path.suffix == ".npz":
        loaded = load_npz(path)
        kind = "npz"
    else:
        raise UsageError(
            f"--data {data!r}: no such file or folder; give {' or '.join(BUILTINS)}, "
            "a .npz file (arrays x, y) or a folder with one sub-folder of images per class"
        )
    source = f"{path} ({kind}; {loaded.pixels})"

    def dataset(split: tuple[np.ndarray, np.ndarray]) -> Dataset:
        return Dataset(*split, loaded.classes, source, raw=loaded.raw, float_scale=loaded.scale, named=loaded.named)

    return dataset(loaded.train), dataset(loaded.test) if loaded.test is not None else None


def _builtin(name: str, progress: Progress) -> tuple[Dataset, Dataset]:
    result = fetch(name, progress)
    classes = list(BUILTINS[name].classes)

    def split(prefix: str) -> Dataset:
        images, labels = (result.paths[f"{prefix}-{kind}"] for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"))
        x = images_to_nchw(read_idx(images), str(images))
        y = labels_to_int64(read_idx(labels), len(x), str(labels))
        check_label_range(y, classes, str(labels))
        return Dataset(x, y, classes, f"{BUILTINS[name].title} ({result.source})")

    return split("train"), split("t10k")


def split_validation(ds: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Hold out `fraction` of `ds` at random (same seed, same split); both parts keep their original order."""
    if not 0 < fraction < 1:
        raise UsageError(f"the validation fraction must be between 0 and 1 (exclusive), got {fraction}")
    count = round(len(ds) * fraction)
    if not 0 < count < len(ds):
        raise UsageError(
            f"a validation fraction of {fraction} of {len(ds)} images leaves {count} for validation and "
            f"{len(ds) - count} for training; both need at least one image"
        )
    order = np.random.default_rng(seed).permutation(len(ds))
    return ds.subset(np.sort(order[count:])), ds.subset(np.sort(order[:count]))


def channel_stats(train: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (float32 [C]) of `train`; a constant channel gets std 1."""
    channels = train.shape[0]
    count = len(train) * math.prod(train.shape[1:])
    chunk = max(1, _CHUNK_BYTES // (4 * math.prod(train.shape)))
    total = np.zeros(channels)
    for start in range(0, len(train), chunk):
        total += train.pixels(slice(start, start + chunk)).sum(axis=(0, 2, 3), dtype=np.float64)
    mean = (total / count).astype(np.float32)
    squares = np.zeros(channels)
    for start in range(0, len(train), chunk):
        centred = train.pixels(slice(start, start + chunk)) - mean[:, None, None]
        squares += np.square(centred, dtype=np.float64).sum(axis=(0, 2, 3))
    std = np.sqrt(squares / count).astype(np.float32)
    std[std < 1e-7] = 1.0
    return mean, std


def normalize(train: Dataset, *others: Dataset | None) -> tuple[tuple[Dataset | None, ...], np.ndarray, np.ndarray]:
    """Standardise `train` and `others` per channel with the statistics of `train`, x → (x − mean) / std.

    Returns ((train, *others), mean, std): the same images with `mean` and `std` set (applied
    batch by batch, no copy of the data); a None in `others` stays None. Store mean and std
    (float32 [C]) with the model and use `apply_normalization` at inference."""
    mean, std = channel_stats(train)
    datasets = tuple(replace(ds, mean=mean, std=std) if ds is not None else None for ds in (train, *others))
    return datasets, mean, std


def apply_normalization(ds: Dataset, mean: np.ndarray, std: np.ndarray) -> Dataset:
    """`ds` standardised per channel, (x − mean) / std, with stored statistics (float [C] each)."""
    if np.shape(mean) != (ds.shape[0],) or np.shape(std) != (ds.shape[0],):
        raise UsageError(
            f"normalisation statistics are for {np.size(mean)} channels but the data has {ds.shape[0]}; "
            "use data shaped like the training data"
        )
    return replace(ds, mean=np.asarray(mean, dtype=np.float32), std=np.asarray(std, dtype=np.float32))


def iterate_batches(
    ds: Dataset, batch_size: int, shuffle: bool, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (x [B,C,H,W], y [B]) C-contiguous batches covering `ds` once; the last one may be smaller.

    Batches are new float32 arrays, standardised as `Dataset.batch` says (writable: Numba
    compiles read-only arrays as a separate type); without `shuffle` `rng` is not used.
    """
    if batch_size < 1:
        raise UsageError(f"the batch size must be at least 1, got {batch_size}")
    order = rng.permutation(len(ds)) if shuffle else None
    for start in range(0, len(ds), batch_size):
        if order is None:
            yield ds.batch(slice(start, start + batch_size)), ds.y[start:start + batch_size]
        else:
            index = order[start:start + batch_size]
            yield ds.batch(index), np.take(ds.y, index)
