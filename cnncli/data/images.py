"""Image files: only the formats we mean to read, sizes checked from the header, pixels by bit depth.

Pillow picks a decoder by the file's content, not its name, so a PostScript file named `.png`
would reach its EPS plugin (and Ghostscript); `Image.open(..., formats=ALLOWED_FORMATS)` keeps
to the formats below. An image's width x height is checked against MAX_IMAGE_PIXELS from its
header, before anything is decoded (Pillow's own bomb warning and error never show).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from cnncli.data.limits import MAX_IMAGE_PIXELS
from cnncli.errors import UsageError

ALLOWED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")  # PPM reads .pbm, .pgm and .ppm
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pbm", ".pgm", ".ppm"})
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_SIXTEEN_BIT = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
_FORMATS_TEXT = "PNG, JPEG, BMP, GIF, TIFF, WebP, PBM/PGM/PPM"

Depth = Literal["8", "16", "float"]


@contextmanager
def open_image(path: Path) -> Iterator[Image.Image]:
    """The image at `path`, opened (header only) if its format is allowed and its size within the limit.

    Pillow's own bomb check is off while it opens the file (its limit, message and warning are not
    ours); the size is checked right after, before any pixel is decoded."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        image = Image.open(path, formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        raise UsageError(f"{path}: cannot read the image (not in a format cnncli reads: {_FORMATS_TEXT}); "
                         f"remove or replace the file") from None
    except FileNotFoundError:
        raise UsageError(f"{path}: no such image file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the image ({exc}); remove or replace the file") from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    with image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise UsageError(f"{path}: the image is too large ({width}x{height} = {width * height:,} pixels); "
                             f"an image may have at most {MAX_IMAGE_PIXELS:,} pixels (8192x8192): shrink it first")
        yield image


def depth(image: Image.Image) -> Depth:
    """'16' for 16-bit greyscale (Pillow modes I;16*, and I), 'float' for mode F, else '8'."""
    if image.mode == "F":
        return "float"
    return "16" if image.mode in _SIXTEEN_BIT else "8"


def decode(image: Image.Image, channels: int, path: Path) -> np.ndarray:
    """The pixels as [C, H, W] (C = `channels`, 1 or 3): uint8 for 8-bit images, uint16 for 16-bit,
    float32 (as stored) for float images; greyscale is repeated to 3 channels when asked."""
    kind = depth(image)
    try:
        if kind == "8":
            pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
        else:
            pixels = np.asarray(image)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot decode the image ({exc}); remove or replace the file") from None
    if kind == "16" and pixels.dtype != np.uint16:
        low, high = int(pixels.min()), int(pixels.max())
        if low < 0 or high > 65535:
            raise UsageError(f"{path}: {image.mode} image with values {low}..{high}; cnncli reads 8-bit, "
                             f"16-bit (0..65535) and float images")
        pixels = pixels.astype(np.uint16)
    elif kind == "16":
        pixels = pixels.astype(np.uint16)  # native byte order (I;16B is big-endian)
    elif kind == "float":
        pixels = pixels.astype(np.float32)
    if pixels.ndim == 2 and channels == 3:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return pixels.reshape(*pixels.shape[:2], -1).transpose(2, 0, 1)
