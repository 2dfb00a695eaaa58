"""IDX reading and writing: round trips, gzip, atomic writes and clear errors on damaged files."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncli.data.idx import idx_bytes, read_idx, write_idx
from cnncli.errors import UsageError

DTYPES = ["u1", "i1", "i2", "i4", "f4", "f8"]


@settings(max_examples=40, deadline=None)
@given(
    dtype=st.sampled_from(DTYPES),
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_bytes_round_trip(dtype: str, shape: list[int], seed: int) -> None:
    array = (np.random.default_rng(seed).normal(size=shape) * 100).astype(dtype)
    back = read_idx(idx_bytes(array))
    assert back.dtype == np.dtype(dtype) and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_header_layout_is_big_endian() -> None:
    data = idx_bytes(np.array([[1, 2, 3]], dtype=np.int16))
    assert data == bytes.fromhex("00000b02" "00000001" "00000003" "0001" "0002" "0003")


def test_write_then_read_file_and_gzip(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a-idx3-ubyte", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte"), array)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "a.gz")), array)
    np.testing.assert_array_equal(read_idx(gzip.compress(idx_bytes(array))), array)


def test_write_replaces_atomically_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "labels"
    write_idx(target, np.zeros(3, dtype=np.uint8))
    write_idx(target, np.ones(5, dtype=np.uint8))
    np.testing.assert_array_equal(read_idx(target), np.ones(5, dtype=np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["labels"]


def test_write_into_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot write .*nowhere"):
        write_idx(tmp_path / "nowhere" / "x", np.zeros(1, dtype=np.uint8))


def test_unsupported_dtype_is_rejected() -> None:
    with pytest.raises(ValueError, match="int64"):
        idx_bytes(np.zeros(2, dtype=np.int64))


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not an IDX file"),
        (b"PK\x03\x04" + GOOD, "not an IDX file"),
        (b"\x00\x00\x07\x01" + GOOD[4:], "not an IDX file"),
        (GOOD[:6], "truncated IDX header"),
        (GOOD[:-1], "truncated: shape \\(3, 4\\) of uint8 needs 12 bytes, found 11"),
        (GOOD + b"\x00", "trailing bytes"),
        (gzip.compress(GOOD)[:-9], "corrupt or truncated gzip"),
    ],
)
def test_damaged_files_raise_usage_errors_naming_the_file(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "broken-idx"
    path.write_bytes(data)
    with pytest.raises(UsageError, match=message) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_missing_file() -> None:
    with pytest.raises(UsageError, match="cannot read IDX file /no/such/file"):
        read_idx("/no/such/file")
