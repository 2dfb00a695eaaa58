""".npz files read with every size checked first: data files and checkpoints share this reader.

An .npz is a zip of `<name>.npy` members. np.load trusts both layers: it unpacks any member
asked for, and allocates whatever an .npy header claims. Here, before a byte of a member is
decompressed, its declared size in the zip directory and the shape x dtype of its .npy header
are checked against the bytes left under the caller's limit; members not asked for are never
unpacked; object arrays (pickles) are refused.
"""
from __future__ import annotations

import io
import math
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Collection
from pathlib import Path
from typing import IO

import numpy as np

from cnncli.data.limits import MAX_NPZ_MEMBERS, gib
from cnncli.errors import UsageError

_MAX_HEADER = 10_000  # an .npy header is a short dict (numpy reads at most 10,000 bytes of it by default)
_CHUNK = 1 << 24


def read_npz_arrays(path: str | os.PathLike[str], allowed: Collection[str] | Callable[[str], bool],
                    limit_bytes: int, what: str = ".npz file", hint: str = "") -> dict[str, np.ndarray]:
    """The arrays of the .npz at `path` whose names are `allowed` (a collection, or a test on the name).

    Their data may hold `limit_bytes` in all; each member's declared size and each .npy header's
    shape x itemsize are checked before it is read. Members not allowed are skipped unread.
    FileNotFoundError passes through; everything else the file gets wrong is a UsageError
    naming `path`, the member and the limit (`hint`, e.g. how to write the file, ends the messages
    about a file that is not an .npz at all).
    """
    wanted = allowed if callable(allowed) else allowed.__contains__
    path = Path(path)
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise UsageError(f"{path}: not a regular file (a folder, device or pipe); give the path of a {what}")
    try:
        with open(path, "rb") as handle:
            if handle.read(6) == b"\x93NUMPY":
                raise UsageError(f"{path}: holds a single array (.npy), not named arrays{hint}")
            _check_directory(handle, path)
            with zipfile.ZipFile(handle) as archive:
                arrays: dict[str, np.ndarray] = {}
                left = limit_bytes
                for info in archive.infolist():
                    name = info.filename[:-4] if info.filename.endswith(".npy") else None
                    if name is None or not wanted(name) or name in arrays:
                        continue
                    array = _member(archive, info, name, left, limit_bytes, path)
                    left -= array.nbytes
                    arrays[name] = array
                return arrays
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise UsageError(f"{path}: not a readable {what} ({exc}){hint}") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{path}: is a folder; give the path of a {what}") from exc
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc


def _check_directory(handle: IO[bytes], path: Path) -> None:
    """Refuse a zip whose directory lists more than MAX_NPZ_MEMBERS members, before zipfile reads it.

    The end-of-directory record (signature PK\\5\\6) is in the last 22 + 65,535 bytes (a comment
    may follow it); its entry count is the uint16 at offset 10. 0xFFFF means ZIP64, whose own
    record zipfile checks."""
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - 22 - 65_535))
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at >= 0 and at + 22 <= len(tail):
        entries = struct.unpack("<H", tail[at + 10:at + 12])[0]
        if entries != 0xFFFF and entries > MAX_NPZ_MEMBERS:
            raise UsageError(f"{path}: lists {entries:,} members; an .npz may list at most {MAX_NPZ_MEMBERS:,}")
    handle.seek(0)


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, left: int, limit: int,
            path: Path) -> np.ndarray:
    where = f"{path}: array '{name}'"
    over = (f"the arrays of one file may hold at most {gib(limit)} in all"
            f"{f' and {gib(max(left, 0))} are left' if left < limit else ''}")
    if info.file_size > max(left, 0) + _MAX_HEADER:
        raise UsageError(f"{where}: the zip directory says it holds {gib(info.file_size)}; {over}")
    with archive.open(info) as member:
        shape, fortran, dtype = _header(member, where)
        nbytes = math.prod(shape) * dtype.itemsize
        if math.prod(shape) * max(dtype.itemsize, 1) > left:  # empty dtypes: still one byte an element
            raise UsageError(f"{where}: its header declares shape {list(shape)} of {dtype} = {gib(nbytes)}; {over}")
        array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        view = memoryview(array.reshape(-1, order="A").view(np.uint8)) if nbytes else memoryview(b"")
        done = 0
        while done < nbytes:
            got = member.readinto(view[done:done + _CHUNK])
            if not got:
                raise UsageError(f"{where}: truncated: {list(shape)} of {dtype} needs {nbytes:,} bytes, "
                                 f"found {done:,}; the file is damaged: write it again")
            done += got
    return array


def _header(member: IO[bytes], where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) of an .npy stream whose header is at most _MAX_HEADER bytes; no
    object dtypes. Layout: magic (6 bytes), version (2), header length (uint16 for 1.0, uint32 for
    2.0 and 3.0, little-endian), the header dict."""
    start = member.read(8)
    if len(start) < 8 or start[:6] != b"\x93NUMPY" or start[6] not in (1, 2, 3) or start[7] != 0:
        raise UsageError(f"{where}: not an .npy array (found {start[:8]!r} where the .npy magic belongs)")
    width = 2 if start[6] == 1 else 4
    length_bytes = member.read(width)
    length = int.from_bytes(length_bytes, "little")
    if len(length_bytes) < width or length > _MAX_HEADER:
        raise UsageError(f"{where}: its .npy header claims {length:,} bytes; a header may be at most "
                         f"{_MAX_HEADER:,} bytes")
    reader = np.lib.format.read_array_header_1_0 if width == 2 else np.lib.format.read_array_header_2_0
    try:
        shape, fortran, dtype = reader(io.BytesIO(length_bytes + member.read(length)), max_header_size=_MAX_HEADER)
    except ValueError as exc:
        raise UsageError(f"{where}: not a readable .npy header ({str(exc).splitlines()[0]})") from None
    if any(n < 0 for n in shape):
        raise UsageError(f"{where}: its header declares the negative shape {list(shape)}; the file is damaged")
    if dtype.hasobject:
        raise UsageError(f"{where}: holds Python objects (a pickle), which are never loaded; save plain arrays "
                         f"(numbers or strings)")
    return tuple(int(n) for n in shape), bool(fortran), dtype
