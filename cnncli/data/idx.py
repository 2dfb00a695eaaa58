"""The IDX format of MNIST-style datasets: `00 00 <dtype code> <ndim>`, big-endian uint32 dims, big-endian data."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from cnncli.atomic import atomic_write
from cnncli.data.files import gunzip
from cnncli.data.limits import MAX_DATA_BYTES
from cnncli.data.sources import SourceError
from cnncli.errors import UsageError

_CODES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_HINT = "the file is damaged or not IDX: fetch or create it again"


def read_idx(source: str | os.PathLike[str] | bytes) -> np.ndarray:
    """Read an IDX file (or its bytes), gzip-compressed or not, into a native-endian array."""
    name = "IDX data" if isinstance(source, bytes) else str(source)
    data = source if isinstance(source, bytes) else _read_file(Path(source))
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gunzip(data, name, MAX_DATA_BYTES)
        except SourceError as err:
            raise UsageError(f"{err}; {_HINT}") from None
    return _parse(data, name)


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of `array` (uint8, int8, int16, int32, float32 or float64; at least 1-D)."""
    codes = {dtype.newbyteorder("="): code for code, dtype in _CODES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX cannot hold a {array.ndim}-D {array.dtype} array")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=_CODES[code]).tobytes()


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write `array` to `path` as uncompressed IDX, atomically."""
    atomic_write(path, idx_bytes(array))


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read IDX file {path}: {exc.strerror or exc}") from exc


def _parse(data: bytes, name: str) -> np.ndarray:
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _CODES:
        raise UsageError(
            f"{name}: not an IDX file: expected magic bytes 00 00 <type code> <ndim>, "
            f"found {data[:4].hex(' ') or 'nothing'}; {_HINT}"
        )
    dtype, ndim = _CODES[data[2]], data[3]
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise UsageError(
            f"{name}: truncated IDX header: {ndim} dimensions need {offset} bytes, found {len(data)}; {_HINT}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(shape) * dtype.itemsize
    found = len(data) - offset
    if found != expected:
        problem = "truncated" if found < expected else "has trailing bytes"
        raise UsageError(
            f"{name}: IDX data {problem}: shape {shape} of {dtype.name} needs {expected} bytes, found {found}; {_HINT}"
        )
    array = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=offset).reshape(shape)
    return array.astype(dtype.newbyteorder("="))
