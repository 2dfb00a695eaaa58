"""Where built-in datasets are cached: `$CNNCLI_DATA`, else `$XDG_CACHE_HOME/cnncli`, else `~/.cache/cnncli`."""
from __future__ import annotations

import os
from pathlib import Path

from cnncli.errors import UsageError


def cache_root() -> Path:
    """The cache folder (not created here); one sub-folder per dataset lives inside it."""
    if explicit := os.environ.get("CNNCLI_DATA"):
        return Path(explicit).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "cnncli"
    return Path.home() / ".cache" / "cnncli"


def dataset_dir(name: str) -> Path:
    """The cache sub-folder for dataset `name`, created if needed."""
    folder = cache_root() / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the data cache folder {folder}: {exc.strerror or exc}; "
            "set CNNCLI_DATA to a writable folder"
        ) from exc
    return folder
