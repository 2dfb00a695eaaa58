"""The sizes data may have: every read is checked against one of these before it happens.

They are stated in every refusal, so a user knows what to change. Their reasons: the engine
holds a dataset in memory and trains on the CPU; a header that claims more is either damaged
or hostile (a zip or decompression bomb), and a label of 2**40 is a typo, not 2**40 classes.
"""
from __future__ import annotations

MAX_DATA_BYTES = 8 << 30
"""The arrays read from one .npz (data: x, y, x_test, y_test, classes) hold at most 8 GiB in all."""
MAX_NPZ_MEMBERS = 100_000
"""An .npz (a zip) may list at most this many members: its directory is read whole."""
MAX_CLASSES = 100_000
"""Class labels are 0 .. MAX_CLASSES − 1 (ImageNet-21k has 21,841)."""
MAX_CLASS_NAME = 200
"""Characters in one class name."""
MAX_IMAGE_PIXELS = 1 << 26
"""Pixels in one image file (67,108,864: 8192 x 8192), checked from its header before decoding."""
MAX_IMAGES_BYTES = MAX_DATA_BYTES
"""An image folder's decoded pixels hold at most this much, checked before they are allocated."""
MAX_FETCH_BYTES = 128 << 20
"""A built-in dataset's download, and each IDX file decompressed from it, is at most 128 MiB (the
largest, MNIST's training images, is 45 MiB); a server that sends more is cut off."""


def gib(size: int) -> str:
    """`size` bytes in binary units, 3 significant digits: '8 GiB', '1.5 GiB', '11.8 MiB', '64 TiB'."""
    value, unit = float(size), "bytes"
    for name in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024:
            break
        value, unit = value / 1024, name
    return f"{size:,} bytes" if unit == "bytes" else f"{value:.3g} {unit}"
