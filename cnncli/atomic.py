"""Atomic file writes: a reader (or a crash) never sees a half-written file, only the old one or the new one.

The bytes go to a temporary file in the target's folder, are flushed and fsync'd, and the
temporary file is renamed over the target with `os.replace` (atomic on POSIX and Windows).
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cnncli.errors import UsageError


@contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """`with atomic_writer(p) as handle: handle.write(...)`: p appears whole when the block ends
    without an exception; on any error the temporary file is removed and p is left as it was.
    An OSError (folder missing, not writable, disk full) becomes one UsageError line."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}; check that the folder exists, is "
                         f"writable and has free space") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_writer`)."""
    with atomic_writer(path) as handle:
        handle.write(data)
