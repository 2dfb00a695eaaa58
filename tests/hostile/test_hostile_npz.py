""".npz files that lie about their sizes: every member is checked before it is unpacked.

References: the zip format (the directory's declared sizes, the end-of-directory record), the
.npy format (magic, header dict; written here by hand), and the stated limits in
cnncli.data.limits. Memory-limit tests run in a child process under RLIMIT_DATA.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnncli.data import load_data, read_npz_arrays
from cnncli.data import npzfile as npzfile_module
from cnncli.data.limits import MAX_CLASSES
from cnncli.errors import UsageError


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    """An .npy 1.0 header as numpy writes it (magic, little-endian length, padded dict)."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    text += " " * (63 - (10 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")


def npz(path: Path, members: dict[str, bytes], compress: bool = False) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return str(path)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def good(n: int = 4) -> dict[str, bytes]:
    return {"x": npy(np.zeros((n, 2, 2), np.uint8)), "y": npy(np.arange(n) % 2)}


def test_a_header_claiming_64_tib_is_refused_before_allocation(tmp_path: Path) -> None:
    # 2**43 float64 values = 64 TiB, followed by 16 real bytes.
    path = npz(tmp_path / "d.npz", {**good(), "x": npy_header((2**43,)) + bytes(16)})
    with pytest.raises(UsageError, match=r"array 'x': its header declares shape \[8796093022208\] of float64 = "
                                         r"64 TiB; the arrays of one file may hold at most 8 GiB in all"):
        load_data(path)


def test_the_zip_directory_size_is_checked_before_reading(tmp_path: Path) -> None:
    members = {**good(), "x": npy(np.zeros((1000, 8, 8), np.uint8))}
    path = npz(tmp_path / "d.npz", members, compress=True)
    with pytest.raises(UsageError, match=r"array 'x': the zip directory says it holds 62.6 KiB; the arrays of one "
                                         r"file may hold at most 9.77 KiB in all"):
        read_npz_arrays(path, {"x", "y"}, 10_000)


def test_truncated_and_negative_headers(tmp_path: Path) -> None:
    path = npz(tmp_path / "d.npz", {**good(), "x": npy_header((4, 2, 2), "|u1") + bytes(3)})
    with pytest.raises(UsageError, match=r"truncated: \[4, 2, 2\] of uint8 needs 16 bytes, found 3"):
        load_data(path)
    path = npz(tmp_path / "e.npz", {**good(), "x": npy_header((-4, 2), "|u1")})
    with pytest.raises(UsageError, match="negative shape"):
        load_data(path)


def test_object_arrays_are_never_unpickled(tmp_path: Path) -> None:
    path = npz(tmp_path / "d.npz", {**good(), "classes": npy_header((2,), "|O") + b"\x80\x04junk"})
    with pytest.raises(UsageError, match="holds Python objects"):
        load_data(path)


def test_too_many_members_are_refused_before_the_directory_is_read(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(npzfile_module, "MAX_NPZ_MEMBERS", 10)
    path = npz(tmp_path / "d.npz", {**good(), **{f"junk{i}": b"" for i in range(9)}})
    with pytest.raises(UsageError, match="lists 11 members; an .npz may list at most 10"):
        load_data(path)


def test_members_not_used_are_never_unpacked(tmp_path: Path) -> None:
    # A 400 MB member of zeros deflates to about 0.4 MB. np.load's dict of every member unpacked it;
    # under a 150 MB data-segment margin that fails, while reading x and y alone takes a few bytes.
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in good().items():
            archive.writestr(f"{name}.npy", data)
        with archive.open("junk.npy", "w", force_zip64=True) as member:
            block = bytes(1 << 22)
            for _ in range(100):
                member.write(block)
    code = f"""
import resource
from cnncli.data import load_data
used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
resource.setrlimit(resource.RLIMIT_DATA, (used + 150_000_000, resource.RLIM_INFINITY))
train, test = load_data({str(path)!r})
print(len(train), train.classes)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "4 ['0', '1']", done.stderr


def test_a_huge_label_does_not_make_huge_classes(tmp_path: Path) -> None:
    # max(label) + 1 classes used to allocate a name per class: 2**40 of them.
    path = npz(tmp_path / "d.npz", {**good(2), "y": npy(np.array([0, 2**40]))})
    with pytest.raises(UsageError, match=f"found label 1,099,511,627,776; labels are class indices below "
                                         f"{MAX_CLASSES:,}"):
        load_data(path)
    path = npz(tmp_path / "u.npz", {**good(2), "y": npy(np.array([0, 2**63 + 5], np.uint64))})
    with pytest.raises(UsageError, match="labels are class indices below"):
        load_data(path)


@pytest.mark.parametrize(("names", "message"), [
    (["a", "a"], "class name 'a' appears twice"),
    (["a", "b\nc"], "without control characters"),
    (["a", ""], "must be 1 to 200 characters"),
    (["a", "x" * 201], "must be 1 to 200 characters"),
])
def test_class_names_are_checked(tmp_path: Path, names: list[str], message: str) -> None:
    path = npz(tmp_path / "d.npz", {**good(2), "classes": npy(np.array(names))})
    with pytest.raises(UsageError, match=message):
        load_data(path)


def test_a_fifo_named_npz_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "data.npz"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        load_data(str(fifo))


def test_members_are_read_exactly(tmp_path: Path) -> None:
    # Reference: np.load of the same file (C and Fortran order, big-endian, strings, compressed).
    arrays = {"a": np.arange(24, dtype=">i4").reshape(2, 3, 4), "b": np.asfortranarray(np.eye(3)),
              "c": np.array(["α", "bb"]), "d": np.zeros((0, 5))}
    path = tmp_path / "m.npz"
    np.savez_compressed(path, **arrays)
    read = read_npz_arrays(path, lambda name: name != "d", 10_000)
    with np.load(path) as reference:
        assert set(read) == {"a", "b", "c"}
        for name in read:
            np.testing.assert_array_equal(read[name], reference[name])
            assert read[name].dtype == reference[name].dtype


def test_downloads_and_gzip_members_are_bounded() -> None:
    # A gzip bomb from a mirror (1 MB of zeros here, against a 1,000-byte limit) is cut off, not unpacked.
    import gzip

    from cnncli.data.files import gunzip
    from cnncli.data.sources import SourceError

    assert gunzip(gzip.compress(b"idx" * 10), "f") == b"idx" * 10
    with pytest.raises(SourceError, match="decompresses to more than 1,000 bytes"):
        gunzip(gzip.compress(bytes(10**6)), "bomb.gz", limit=1000)


def test_an_overlong_npy_header_is_refused_in_one_line(tmp_path: Path) -> None:
    # numpy's own refusal is three lines long; the header length field is checked first.
    path = npz(tmp_path / "d.npz", {**good(), "x": b"\x93NUMPY\x01\x00" + (65535).to_bytes(2, "little") + bytes(9)})
    with pytest.raises(UsageError, match=r"array 'x': its .npy header claims 65,535 bytes; a header may be at most "
                                         r"10,000 bytes$"):
        load_data(path)
