"""sha256 digests, gzip decompression (atomic writes: cnncli.atomic)."""
from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

from cnncli.data.sources import SourceError


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of the file at `path`, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def gunzip(data: bytes, name: str) -> bytes:
    """Decompressed `data`; SourceError naming `name` if it is not gzip."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"{name}: corrupt gzip data ({exc})") from exc
