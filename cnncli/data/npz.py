"""`--data FILE.npz`: arrays `x`, `y`, optional `x_test`, `y_test` and `classes` (no pickles)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from cnncli.data.arrays import Split, check_label_range, images_to_nchw, labels_to_int64
from cnncli.errors import UsageError

_EXAMPLE = "np.savez(path, x=images, y=labels[, x_test=..., y_test=..., classes=names])"


def load_npz(path: Path) -> tuple[Split, Split | None, list[str]]:
    """Read (train, test or None, class names); names default to "0".."K-1" for K = max label + 1."""
    arrays = _read(path)
    for required in ("x", "y"):
        if required not in arrays:
            found = ", ".join(arrays) or "none"
            raise UsageError(f"{path}: missing array '{required}' (found: {found}); save with {_EXAMPLE}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise UsageError(f"{path}: 'x_test' and 'y_test' go together, found only one of them; save both or neither")
    train = _split(arrays, "x", "y", path)
    test = _split(arrays, "x_test", "y_test", path) if "x_test" in arrays else None
    if test is not None and test[0].shape[1:] != train[0].shape[1:]:
        raise UsageError(
            f"{path}: 'x_test' images are {list(test[0].shape[1:])} (C,H,W) but 'x' images are "
            f"{list(train[0].shape[1:])}; both splits need the same image shape"
        )
    classes = _classes(arrays, path, [train[1]] + ([test[1]] if test else []))
    check_label_range(train[1], classes, f"{path}: array 'y'")
    if test is not None:
        check_label_range(test[1], classes, f"{path}: array 'y_test'")
    return train, test, classes


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise UsageError(f"{path}: holds a single array, not named arrays; save with {_EXAMPLE}")
        with loaded:
            return {name: loaded[name] for name in loaded.files}
    except FileNotFoundError as exc:
        raise UsageError(f"data file {path} not found; check the --data path") from exc
    except ValueError as exc:  # object arrays (pickles) or a non-npz file
        raise UsageError(f"{path}: cannot read it as .npz of plain arrays ({exc}); save with {_EXAMPLE}") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise UsageError(f"{path}: not a readable .npz file ({exc}); save with {_EXAMPLE}") from exc


def _split(arrays: dict[str, np.ndarray], x_key: str, y_key: str, path: Path) -> Split:
    x = images_to_nchw(arrays[x_key], f"{path}: array '{x_key}'")
    return x, labels_to_int64(arrays[y_key], len(x), f"{path}: array '{y_key}'")


def _classes(arrays: dict[str, np.ndarray], path: Path, labels: list[np.ndarray]) -> list[str]:
    if "classes" not in arrays:
        return [str(k) for k in range(max(int(y.max()) for y in labels) + 1)]
    names = arrays["classes"]
    if names.ndim != 1 or names.dtype.kind not in "US" or len(names) == 0:
        raise UsageError(
            f"{path}: 'classes' must be a 1-D array of class names (strings), "
            f"found {names.dtype} shaped {list(names.shape)}"
        )
    return [name.decode() if isinstance(name, bytes) else str(name) for name in names.tolist()]
