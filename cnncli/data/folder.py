"""`--data DIR`: one sub-folder of images per class (like Keras flow_from_directory).

DIR/<class>/*.png is one split; DIR/train/<class>/... with an optional DIR/test/<class>/... are two.
Class names are the sorted sub-folder names; hidden files and non-image files are skipped.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cnncli.data.arrays import FloatRange, Loaded, check_class_names, float_range
from cnncli.data.images import GRAY_MODES, IMAGE_SUFFIXES, decode, open_image
from cnncli.data.limits import MAX_IMAGES_BYTES, gib
from cnncli.data.progress import Progress
from cnncli.errors import UsageError

Labelled = list[tuple[Path, int]]


def load_folder(root: Path, channels: int | None, progress: Progress) -> Loaded:
    """Read the folder's splits and class names; images become 1 (greyscale) or 3 (RGB) channels.

    `channels=None` picks 1 when every image is greyscale, else 3.
    """
    if not root.is_dir():
        raise UsageError(f"data folder {root} not found; check the --data path")
    top = _subfolders(root)
    split_layout = "train" in top and bool(_subfolders(root / "train"))
    if split_layout and set(top) - {"train", "test"}:
        raise UsageError(
            f"{root}: found {sorted(set(top) - {'train', 'test'})} next to train/; expected only train/ and "
            "an optional test/ (validation data is split off train/ by --val-split)"
        )
    train_root = root / "train" if split_layout else root
    classes = _subfolders(train_root)
    if not classes:
        raise UsageError(f"{train_root}: no class sub-folders found; expected {train_root}/<class name>/<images>")
    check_class_names(classes, f"{train_root}: class folders")
    train_files = _listing(train_root, classes, classes)
    has_test = split_layout and "test" in top
    test_files = _listing(root / "test", _subfolders(root / "test"), classes) if has_test else []
    files = train_files + test_files
    stack = _load(files, _channels(channels, files), progress)
    images, floats = _finish(stack, root)
    labels = np.array([label for _, label in files], dtype=np.int64)
    cut = len(train_files)
    train = (np.ascontiguousarray(images[:cut]), labels[:cut])
    test = (np.ascontiguousarray(images[cut:]), labels[cut:]) if test_files else None
    return Loaded(train, test, classes, True, floats.raw, floats.scale, floats.text)


def _subfolders(folder: Path) -> list[str]:
    return sorted(p.name for p in _entries(folder) if p.is_dir() and not p.name.startswith("."))


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError as exc:
        raise UsageError(f"cannot list the data folder {folder}: {exc.strerror or exc}") from None


def _listing(folder: Path, names: list[str], classes: list[str]) -> Labelled:
    unknown = sorted(set(names) - set(classes))
    if unknown:
        raise UsageError(
            f"{folder}: class folders {unknown} are not among the training classes {classes}; rename or remove them"
        )
    if not names:
        raise UsageError(f"{folder}: no class sub-folders found; expected {folder}/<class name>/<images>")
    files: Labelled = []
    for name in names:
        images = sorted(
            p for p in _entries(folder / name)
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not images:
            raise UsageError(
                f"{folder / name}: empty class folder: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found; "
                "add images or remove the folder"
            )
        files.extend((path, classes.index(name)) for path in images)
    return files


def _channels(channels: int | None, files: Labelled) -> int:
    """1 or 3; `None`: 1 when every image is greyscale."""
    if channels is None:
        for path, _ in files:
            with open_image(path) as image:
                if image.mode not in GRAY_MODES:
                    return 3
        return 1
    if channels not in (1, 3):
        raise UsageError(
            f"image folders give 1 (grayscale) or 3 (RGB) channels, but {channels} were asked for; "
            "set the spec's input channels to 1 or 3"
        )
    return channels


class _Stack:
    """Decoded images in one array [N,C,H,W] whose dtype widens as images need it: uint8 for 8-bit
    images, uint16 once a 16-bit one appears (8-bit values x 257, the same fraction of full scale),
    float32 once a float image appears (integer images then stored as x / 255 or x / 65535, float
    images as stored until `float_scale` is applied)."""

    def __init__(self, count: int, shape: tuple[int, ...], what: Path) -> None:
        self.count, self.shape, self.what = count, shape, what
        self.images = self._allocate(np.uint8)
        self.floats: list[int] = []

    def _allocate(self, dtype: type) -> np.ndarray:
        size = self.count * math.prod(self.shape) * np.dtype(dtype).itemsize
        if size > MAX_IMAGES_BYTES:
            raise UsageError(f"{self.what}: {self.count:,} images of {'x'.join(map(str, self.shape))} "
                             f"{np.dtype(dtype).name} take {gib(size)}; an image folder may hold at most "
                             f"{gib(MAX_IMAGES_BYTES)} of pixels: use fewer or smaller images")
        return np.zeros((self.count, *self.shape), dtype=dtype)

    def put(self, i: int, pixels: np.ndarray) -> None:
        if pixels.dtype == np.float32 and self.images.dtype != np.float32:
            wider = self._allocate(np.float32)
            wider[:i] = self.images[:i] / np.float32(255 if self.images.dtype == np.uint8 else 65535)
            self.images = wider
        elif pixels.dtype == np.uint16 and self.images.dtype == np.uint8:
            wider = self._allocate(np.uint16)
            wider[:i] = self.images[:i].astype(np.uint16) * 257
            self.images = wider
        if self.images.dtype == np.float32:
            if pixels.dtype == np.float32:
                self.floats.append(i)
            self.images[i] = pixels if pixels.dtype == np.float32 else \
                pixels / np.float32(255 if pixels.dtype == np.uint8 else 65535)
        else:
            self.images[i] = pixels.astype(np.uint16) * 257 if self.images.dtype != pixels.dtype else pixels


def _load(files: Labelled, channels: int, progress: Progress) -> _Stack:
    title = f"loading images from {files[0][0].parent.parent}"
    stack: _Stack | None = None
    first = files[0][0]
    for i, (path, _) in enumerate(files):
        with open_image(path) as image:
            if stack is None:
                stack = _Stack(len(files), (channels, image.size[1], image.size[0]), first.parent.parent)
            if image.size != (stack.shape[2], stack.shape[1]):
                raise UsageError(
                    f"{path}: image is {image.size[0]}x{image.size[1]} but {first} is "
                    f"{stack.shape[2]}x{stack.shape[1]}; all images must share one size (resize them first)"
                )
            stack.put(i, decode(image, channels, path))
        if i % 500 == 0:
            progress(title, i, len(files))
    progress(title, len(files), len(files))
    assert stack is not None
    return stack


def _finish(stack: _Stack, root: Path) -> tuple[np.ndarray, FloatRange]:
    """All images as uint8, uint16 or float32 [N,C,H,W], float images scaled by one decision for the folder."""
    if not stack.floats:
        texts = {np.dtype(np.uint8): "8-bit pixels / 255", np.dtype(np.uint16): "16-bit pixels / 65535"}
        return stack.images, FloatRange(1.0, False, texts.get(stack.images.dtype, "pixels by bit depth"))
    what = f"{root}: float images"
    floats = float_range([stack.images[stack.floats]], what)
    mixed = len(stack.floats) < len(stack.images)
    if floats.raw and mixed:
        raise UsageError(f"{what} hold values outside 0..255 ({floats.text}) beside 8- or 16-bit images; "
                         f"store float images with pixels in [0, 1] or 0..255")
    if floats.scale != 1:
        stack.images[stack.floats] *= np.float32(floats.scale)
    text = floats.text + (", 8- and 16-bit images by bit depth" if mixed else "")
    return stack.images, FloatRange(floats.scale, floats.raw, text)
