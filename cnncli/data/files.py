"""sha256 digests, gzip decompression (atomic writes: cnncli.atomic)."""
from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

from cnncli.data.limits import MAX_FETCH_BYTES, gib
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


def gunzip(data: bytes, name: str, limit: int = MAX_FETCH_BYTES) -> bytes:
    """Decompressed `data` (one gzip member), at most `limit` bytes; SourceError naming `name` if it
    is not gzip or decompresses to more."""
    stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = stream.decompress(data, limit + 1)
    except zlib.error as exc:
        raise SourceError(f"{name}: corrupt or truncated gzip data ({exc})") from exc
    if len(out) > limit:
        raise SourceError(f"{name}: decompresses to more than {gib(limit)}, the most a dataset file may hold")
    if not stream.eof:
        raise SourceError(f"{name}: corrupt or truncated gzip data (it ends early)")
    return out
