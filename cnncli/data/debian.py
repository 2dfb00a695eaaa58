"""Fashion-MNIST from Debian's package dataset-fashion-mnist: installed, or its .deb from the archive.

The package installs the four IDX `.gz` files in /usr/share/datasets/fashion-mnist/. Without
it (installing needs root), the same files come out of the .deb itself, downloaded from
Debian's archive and verified by its sha256: a .deb is an `ar` archive whose member
`data.tar.xz` holds the installed tree. The IDX files are verified again, by their own
sha256, before they enter the cache (fetch.py).
"""
from __future__ import annotations

import io
import lzma
import tarfile
from collections.abc import Callable, Generator
from pathlib import Path

from cnncli.data.files import gunzip, sha256_bytes
from cnncli.data.progress import Progress
from cnncli.data.sources import SourceError

INSTALLED_DIR = Path("/usr/share/datasets/fashion-mnist")
PACKAGE_DIR = "./usr/share/datasets/fashion-mnist"  # the same folder, as data.tar.xz names it
INSTALLED_LABEL = "Debian dataset-fashion-mnist"
ARCHIVE_LABEL = "Debian archive (dataset-fashion-mnist .deb)"
DEB_URL = ("https://deb.debian.org/debian/pool/main/d/dataset-fashion-mnist/"
           "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb")
DEB_SHA256 = "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"
_AR_MAGIC = b"!<arch>\n"
_AR_HEADER = 60  # name 16, mtime 12, uid 6, gid 6, mode 8, size 10, magic 2

Download = Callable[[str, str, Progress], bytes]
"""download(url, label, progress) -> body (fetch.download)."""


def installed_files(names: list[str]) -> Generator[tuple[str, bytes], None, None]:
    """Yield (IDX name, uncompressed bytes) from the installed package."""
    for name in names:
        path = INSTALLED_DIR / f"{name}.gz"
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise SourceError(f"{path} not found (is the package dataset-fashion-mnist installed?)") from exc
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
        yield name, gunzip(data, str(path))


def archive_files(names: list[str], progress: Progress, download: Download) -> Generator[tuple[str, bytes], None, None]:
    """Yield (IDX name, uncompressed bytes) from the .deb downloaded from Debian's archive."""
    deb = download(DEB_URL, "Fashion-MNIST (Debian package)", progress)
    if (found := sha256_bytes(deb)) != DEB_SHA256:
        raise SourceError(f"{DEB_URL}: sha256 {found}, expected {DEB_SHA256}")
    paths = {name: f"{PACKAGE_DIR}/{name}.gz" for name in names}
    members = deb_data_members(deb, set(paths.values()))
    for name, member in paths.items():
        if member not in members:
            raise SourceError(f"{DEB_URL}: no {member} in the package")
        yield name, gunzip(members[member], member)


def deb_data_members(deb: bytes, wanted: set[str]) -> dict[str, bytes]:
    """The files named in `wanted` (tar paths such as './usr/share/...') from a .deb's data.tar.xz."""
    if not deb.startswith(_AR_MAGIC):
        raise SourceError("not a Debian package (no ar header)")
    pos = len(_AR_MAGIC)
    while pos + _AR_HEADER <= len(deb):
        header = deb[pos:pos + _AR_HEADER]
        name, size_field = header[:16].decode("ascii", "replace").strip(), header[48:58].strip()
        if header[58:60] != b"`\n" or not size_field.isdigit():
            raise SourceError(f"corrupt ar member header at byte {pos}")
        size = int(size_field)
        body = deb[pos + _AR_HEADER:pos + _AR_HEADER + size]
        if name.rstrip("/") == "data.tar.xz":
            return _tar_members(body, wanted)
        pos += _AR_HEADER + size + (size & 1)  # members start on even offsets
    raise SourceError("no data.tar.xz in the package")


def _tar_members(tar_xz: bytes, wanted: set[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_xz), mode="r:xz") as archive:
            for member in archive:
                if member.name in wanted and member.isfile():
                    extracted = archive.extractfile(member)
                    if extracted is not None:
                        found[member.name] = extracted.read()
    except (tarfile.TarError, lzma.LZMAError, EOFError) as exc:
        raise SourceError(f"corrupt data.tar.xz ({exc})") from exc
    return found
