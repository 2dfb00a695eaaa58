"""`--data DIR`: one sub-folder of images per class, optional train/ and test/."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnncli.data import load_data
from cnncli.errors import UsageError


def image(path: Path, value: int, mode: str = "L", size: tuple[int, int] = (4, 3)) -> None:
    """A `size` (width, height) image filled with `value` (RGB: value, value // 2, 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    color: int | tuple[int, int, int] = value if mode == "L" else (value, value // 2, 0)
    Image.new(mode, size, color).save(path)


def test_class_folders_sorted_with_labels(tmp_path: Path) -> None:
    image(tmp_path / "dog" / "b.png", 200)
    image(tmp_path / "dog" / "a.png", 100)
    image(tmp_path / "cat" / "x.bmp", 51)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "cat" / ".hidden.png").write_bytes(b"junk")
    (tmp_path / ".git").mkdir()
    progress: list[tuple[str, int, int | None]] = []
    train, test = load_data(str(tmp_path), lambda *e: progress.append(e))
    assert test is None
    assert train.classes == ["cat", "dog"]
    assert train.x.shape == (3, 1, 3, 4)
    np.testing.assert_array_equal(train.y, [0, 1, 1])
    np.testing.assert_allclose(train.pixels()[:, 0, 0, 0], [0.2, 100 / 255, 200 / 255], rtol=1e-6)
    assert progress[-1][1:] == (3, 3)
    assert train.source.endswith("(image folder; 8-bit pixels / 255)")


def test_rgb_is_detected_and_channels_can_be_forced(tmp_path: Path) -> None:
    image(tmp_path / "a" / "1.png", 100, "RGB")
    image(tmp_path / "b" / "1.png", 10, "L")
    train, _ = load_data(str(tmp_path))
    assert train.shape == (3, 3, 4)
    np.testing.assert_allclose(train.pixels()[0, :, 0, 0], [100 / 255, 50 / 255, 0], rtol=1e-6)
    gray, _ = load_data(str(tmp_path), channels=1)
    assert gray.shape == (1, 3, 4)
    rgb, _ = load_data(str(tmp_path), channels=3)
    np.testing.assert_allclose(rgb.pixels()[1, :, 0, 0], [10 / 255] * 3, rtol=1e-6)
    with pytest.raises(UsageError, match="1 \\(grayscale\\) or 3 \\(RGB\\) channels, but 2"):
        load_data(str(tmp_path), channels=2)


def test_train_and_test_sub_folders(tmp_path: Path) -> None:
    for split, count in (("train", 3), ("test", 1)):
        for cls in ("a", "b"):
            for i in range(count):
                image(tmp_path / split / cls / f"{i}.png", i)
    train, test = load_data(str(tmp_path))
    assert test is not None
    assert (len(train), len(test)) == (6, 2)
    assert train.classes == test.classes == ["a", "b"]
    np.testing.assert_array_equal(test.y, [0, 1])


def test_test_may_hold_fewer_classes_but_not_unknown_ones(tmp_path: Path) -> None:
    image(tmp_path / "train" / "a" / "0.png", 1)
    image(tmp_path / "train" / "b" / "0.png", 2)
    image(tmp_path / "test" / "b" / "0.png", 3)
    _, test = load_data(str(tmp_path))
    assert test is not None
    np.testing.assert_array_equal(test.y, [1])
    image(tmp_path / "test" / "zebra" / "0.png", 3)
    with pytest.raises(UsageError, match="\\['zebra'\\] are not among the training classes"):
        load_data(str(tmp_path))


def test_unexpected_folder_next_to_train(tmp_path: Path) -> None:
    image(tmp_path / "train" / "a" / "0.png", 1)
    image(tmp_path / "val" / "a" / "0.png", 1)
    with pytest.raises(UsageError, match="\\['val'\\] next to train/"):
        load_data(str(tmp_path))


def test_empty_class_folder(tmp_path: Path) -> None:
    image(tmp_path / "a" / "0.png", 1)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.md").write_text("")
    with pytest.raises(UsageError, match="b: empty class folder: no images"):
        load_data(str(tmp_path))


def test_no_class_folders(tmp_path: Path) -> None:
    image(tmp_path / "0.png", 1)
    with pytest.raises(UsageError, match="no class sub-folders found"):
        load_data(str(tmp_path))


def test_images_of_different_sizes(tmp_path: Path) -> None:
    image(tmp_path / "a" / "0.png", 1, size=(4, 3))
    image(tmp_path / "a" / "1.png", 1, size=(5, 3))
    with pytest.raises(UsageError, match=r"1\.png: image is 5x3 but .*0\.png is 4x3; all images must share one size"):
        load_data(str(tmp_path))


def test_corrupt_image(tmp_path: Path) -> None:
    image(tmp_path / "a" / "0.png", 1)
    (tmp_path / "a" / "1.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(UsageError, match=r"1\.png: cannot read the image .*remove or replace the file"):
        load_data(str(tmp_path))
