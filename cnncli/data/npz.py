"""`--data FILE.npz`: arrays `x`, `y`, optional `x_test`, `y_test` and `classes` (no pickles).

Only those five members are read (others are never unpacked), each checked against
MAX_DATA_BYTES before it is (cnncli.data.npzfile).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from cnncli.data.arrays import (
    FloatRange,
    Loaded,
    Split,
    check_class_names,
    check_label_range,
    float_range,
    images_to_nchw,
    labels_to_int64,
    pixel_text,
)
from cnncli.data.limits import MAX_CLASSES, MAX_DATA_BYTES
from cnncli.data.npzfile import read_npz_arrays
from cnncli.errors import UsageError

_EXAMPLE = "np.savez(path, x=images, y=labels[, x_test=..., y_test=..., classes=names])"
MEMBERS = ("x", "y", "x_test", "y_test", "classes")


def load_npz(path: Path, limit_bytes: int = MAX_DATA_BYTES) -> Loaded:
    """Read the .npz; class names default to "0".."K-1" for K = max label + 1."""
    try:
        arrays = read_npz_arrays(path, MEMBERS, limit_bytes, ".npz data file", f"; save with {_EXAMPLE}")
    except FileNotFoundError:
        raise UsageError(f"data file {path} not found; check the --data path") from None
    for required in ("x", "y"):
        if required not in arrays:
            found = ", ".join(arrays) or "none of x, y, x_test, y_test, classes"
            raise UsageError(f"{path}: missing array '{required}' (found: {found}); save with {_EXAMPLE}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise UsageError(f"{path}: 'x_test' and 'y_test' go together, found only one of them; save both or neither")
    images = [k for k in ("x", "x_test") if k in arrays]
    floats = float_range([arrays[k] for k in images], f"{path}", images)
    train = _split(arrays, "x", "y", path, floats)
    test = _split(arrays, "x_test", "y_test", path, floats) if "x_test" in arrays else None
    if test is not None and test[0].shape[1:] != train[0].shape[1:]:
        raise UsageError(
            f"{path}: 'x_test' images are {list(test[0].shape[1:])} (C,H,W) but 'x' images are "
            f"{list(train[0].shape[1:])}; both splits need the same image shape"
        )
    classes = _classes(arrays, path, [train[1]] + ([test[1]] if test else []))
    check_label_range(train[1], classes, f"{path}: array 'y'")
    if test is not None:
        check_label_range(test[1], classes, f"{path}: array 'y_test'")
    kinds = dict.fromkeys(pixel_text(x, floats) for x in [train[0]] + ([test[0]] if test else []))
    return Loaded(train, test, classes, "classes" in arrays, floats.raw, floats.scale, "; ".join(kinds))


def _split(arrays: dict[str, np.ndarray], x_key: str, y_key: str, path: Path, floats: FloatRange) -> Split:
    x = images_to_nchw(arrays[x_key], f"{path}: array '{x_key}'", floats)
    return x, labels_to_int64(arrays[y_key], len(x), f"{path}: array '{y_key}'")


def _classes(arrays: dict[str, np.ndarray], path: Path, labels: list[np.ndarray]) -> list[str]:
    if "classes" not in arrays:
        return [str(k) for k in range(max((int(y.max()) for y in labels if len(y)), default=0) + 1)]
    names = arrays["classes"]
    if names.ndim != 1 or names.dtype.kind not in "US" or len(names) == 0:
        raise UsageError(
            f"{path}: 'classes' must be a 1-D array of class names (strings), "
            f"found {names.dtype} shaped {list(names.shape)}"
        )
    what = f"{path}: array 'classes'"
    if len(names) > MAX_CLASSES:
        raise UsageError(f"{what}: {len(names):,} names; there may be at most {MAX_CLASSES:,} classes")
    if names.dtype.kind == "S":
        try:
            return check_class_names([n.decode("utf-8") for n in names.tolist()], what)
        except UnicodeDecodeError as exc:
            raise UsageError(f"{what}: class names must be UTF-8 text ({exc})") from None
    return check_class_names([str(n) for n in names.tolist()], what)
