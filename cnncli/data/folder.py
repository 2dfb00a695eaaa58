"""`--data DIR`: one sub-folder of images per class (like Keras flow_from_directory).

DIR/<class>/*.png is one split; DIR/train/<class>/... with an optional DIR/test/<class>/... are two.
Class names are the sorted sub-folder names; hidden files and non-image files are skipped.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from cnncli.data.arrays import Split, images_to_nchw
from cnncli.data.progress import Progress
from cnncli.errors import UsageError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pbm", ".pgm", ".ppm"})
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
_MODES = {1: "L", 3: "RGB"}

Labelled = list[tuple[Path, int]]


def load_folder(root: Path, channels: int | None, progress: Progress) -> tuple[Split, Split | None, list[str]]:
    """Read (train, test or None, class names); images become 'L' (1 channel) or 'RGB' (3).

    `channels=None` picks 'L' when every image is grayscale, else 'RGB'.
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
    train_files = _listing(train_root, classes, classes)
    has_test = split_layout and "test" in top
    test_files = _listing(root / "test", _subfolders(root / "test"), classes) if has_test else None
    mode = _mode(channels, train_files + (test_files or []))
    train = _load(train_files, mode, progress)
    test = _load(test_files, mode, progress) if test_files is not None else None
    if test is not None and test[0].shape[1:] != train[0].shape[1:]:
        raise UsageError(
            f"{root}: test images are {test[0].shape[2]}x{test[0].shape[3]} but train images are "
            f"{train[0].shape[2]}x{train[0].shape[3]}; resize them to one size"
        )
    return train, test, classes


def _subfolders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


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
            p for p in (folder / name).iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not images:
            raise UsageError(
                f"{folder / name}: empty class folder: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found; "
                "add images or remove the folder"
            )
        files.extend((path, classes.index(name)) for path in images)
    return files


def _mode(channels: int | None, files: Labelled) -> str:
    if channels is None:
        for path, _ in files:
            with _opened(path) as image:
                if image.mode not in _GRAY_MODES:
                    return "RGB"
        return "L"
    if channels not in _MODES:
        raise UsageError(
            f"image folders give 1 (grayscale) or 3 (RGB) channels, but {channels} were asked for; "
            "set the spec's input channels to 1 or 3"
        )
    return _MODES[channels]


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    try:
        with Image.open(path) as image:
            yield image
    except (UnidentifiedImageError, OSError) as exc:
        raise UsageError(f"{path}: cannot read the image ({exc}); remove or replace the file") from exc


def _pixels(path: Path, mode: str) -> np.ndarray:
    """The image as uint8 [C,H,W]."""
    with _opened(path) as image:
        pixels = np.asarray(image.convert(mode), dtype=np.uint8)
    return pixels.reshape(*pixels.shape[:2], -1).transpose(2, 0, 1)


def _load(files: Labelled, mode: str, progress: Progress) -> Split:
    title = f"loading images from {files[0][0].parent.parent}"
    first = _pixels(files[0][0], mode)
    images = np.empty((len(files), *first.shape), dtype=np.uint8)
    for i, (path, _) in enumerate(files):
        pixels = _pixels(path, mode)
        if pixels.shape != first.shape:
            raise UsageError(
                f"{path}: image is {pixels.shape[2]}x{pixels.shape[1]} but {files[0][0]} is "
                f"{first.shape[2]}x{first.shape[1]}; all images must share one size (resize them first)"
            )
        images[i] = pixels
        if i % 500 == 0:
            progress(title, i, len(files))
    progress(title, len(files), len(files))
    labels = np.array([label for _, label in files], dtype=np.int64)
    return images_to_nchw(images, title), labels
