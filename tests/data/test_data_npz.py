"""`--data FILE.npz`: layouts, scaling, optional test split and clear errors."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnncli.data import load_data
from cnncli.errors import UsageError


def save(tmp_path: Path, **arrays: Any) -> str:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return str(path)


def test_uint8_nhw_is_scaled_and_gets_a_channel_axis(tmp_path: Path) -> None:
    x = np.array([[[0, 255], [51, 102]]] * 3, dtype=np.uint8)
    train, test = load_data(save(tmp_path, x=x, y=np.array([0, 2, 1])))
    assert test is None
    assert train.x.shape == (3, 1, 2, 2) and train.x.dtype == np.uint8 and train.x.flags.c_contiguous
    np.testing.assert_allclose(train.pixels()[0, 0], np.array([[0, 1], [0.2, 0.4]]), rtol=1e-6)
    assert train.y.dtype == np.int64 and train.classes == ["0", "1", "2"]
    assert train.source.endswith("d.npz (npz; 8-bit pixels / 255)")


def test_channels_last_is_converted_and_channels_first_kept(tmp_path: Path) -> None:
    nhwc = np.random.default_rng(0).random((2, 8, 6, 3)).astype(np.float32)
    train, _ = load_data(save(tmp_path, x=nhwc, y=np.array([0, 1])))
    np.testing.assert_array_equal(train.x, nhwc.transpose(0, 3, 1, 2))
    nchw = np.random.default_rng(1).random((2, 3, 8, 6))
    train, _ = load_data(save(tmp_path, x=nchw, y=np.array([0, 1])))
    np.testing.assert_allclose(train.x, nchw.astype(np.float32))


def test_test_split_and_class_names(tmp_path: Path) -> None:
    path = save(
        tmp_path, x=np.zeros((4, 5, 5), np.uint8), y=np.array([0, 1, 1, 0]),
        x_test=np.zeros((2, 5, 5), np.uint8), y_test=np.array([[1], [2]]), classes=np.array(["cat", "dog", "eel"]),
    )
    train, test = load_data(path)
    assert test is not None and len(test) == 2
    assert train.classes == test.classes == ["cat", "dog", "eel"]
    np.testing.assert_array_equal(test.y, [1, 2])


def test_labels_beyond_the_given_classes(tmp_path: Path) -> None:
    path = save(tmp_path, x=np.zeros((2, 4, 4), np.uint8), y=np.array([0, 2]), classes=np.array(["a", "b"]))
    with pytest.raises(UsageError, match="array 'y': label 2 is out of range for 2 classes"):
        load_data(path)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((2, 4, 4), np.uint8)}, "missing array 'y' \\(found: x\\)"),
        ({"images": np.zeros((2, 4, 4)), "y": np.zeros(2, int)}, "missing array 'x'"),
        ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.zeros(2, int), "x_test": np.zeros((1, 4, 4))}, "go together"),
        ({"x": np.zeros((2, 16), np.uint8), "y": np.zeros(2, int)}, "expected images shaped"),
        ({"x": np.zeros((2, 4, 4), np.int64), "y": np.zeros(2, int)}, "expected uint8 pixels"),
        ({"x": np.full((2, 4, 4), np.nan), "y": np.zeros(2, int)}, "NaN"),
        ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.zeros(3, int)}, "one label per image \\(2\\), found 3"),
        ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.array([0, -1])}, "labels must be class indices >= 0"),
        ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.eye(2)}, "one-hot labels: use y.argmax"),
        ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.zeros(2, int), "x_test": np.zeros((1, 5, 5), np.uint8),
          "y_test": np.zeros(1, int)}, "same image shape"),
        ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.zeros(2, int), "classes": np.array([1, 2])}, "class names"),
    ],
)
def test_wrong_arrays_are_usage_errors(tmp_path: Path, arrays: dict[str, Any], message: str) -> None:
    path = save(tmp_path, **arrays)
    with pytest.raises(UsageError, match=message) as caught:
        load_data(path)
    assert path in str(caught.value)


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    path = save(tmp_path, x=np.array([{"a": 1}], dtype=object), y=np.zeros(1, int))
    with pytest.raises(UsageError, match="plain arrays"):
        load_data(path)


def test_not_an_npz(tmp_path: Path) -> None:
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(UsageError, match=r"bad\.npz"):
        load_data(str(tmp_path / "bad.npz"))
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(UsageError, match="single array"):
        load_data(str(tmp_path / "one.npy"))


def test_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found; check the --data path"):
        load_data(str(tmp_path / "gone.npz"))
    with pytest.raises(UsageError, match="no such file or folder; give mnist or fashion-mnist"):
        load_data(str(tmp_path / "gone"))
