"""Images and pixel ranges: only allowed formats, sizes checked from the header, ranges by bit depth.

References: the PNG format (signature, IHDR, CRC-32; written here by hand so a 20000x20000
header costs a few bytes), Pillow's own decoding of the same pixels, and the arithmetic
v / 255 == (257 v) / 65535 that makes an 8-bit image and its 16-bit copy the same pixels.
"""
from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnncli.data import Dataset, Preprocessing, fit_mode, fit_to_input, load_data, match_classes, normalize
from cnncli.data.limits import MAX_IMAGE_PIXELS
from cnncli.errors import UsageError


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that claims width x height greyscale 8-bit and holds one scanline of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(width + 1)))
                     + chunk(b"IEND", b""))


def picture(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (6, 5), dtype=np.uint8)


@pytest.mark.parametrize("side", [20000, 12000])
def test_huge_images_are_refused_from_the_header_without_pillow_warnings(tmp_path: Path, side: int) -> None:
    # 20000² used to end in an internal error (DecompressionBombError), 12000² in Pillow's raw warning.
    png_header_only(tmp_path / "a" / "big.png", side, side)
    png_header_only(tmp_path / "b" / "ok.png", 4, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UsageError, match=rf"big\.png: the image is too large \({side}x{side} = "
                                             rf"{side * side:,} pixels\); an image may have at most "
                                             rf"{MAX_IMAGE_PIXELS:,} pixels"):
            load_data(str(tmp_path))


def test_other_formats_are_not_decoded_by_content(tmp_path: Path) -> None:
    # PostScript named .png would reach Pillow's EPS plugin (and Ghostscript) when formats are not limited.
    (tmp_path / "a").mkdir()
    Image.fromarray(picture()).save(tmp_path / "a" / "0.png")
    (tmp_path / "a" / "1.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 5 6\nshowpage\n")
    with pytest.raises(UsageError, match=r"1\.png: cannot read the image \(not in a format cnncli reads: PNG"):
        load_data(str(tmp_path))


def test_16_bit_images_read_as_their_8_bit_twins(tmp_path: Path) -> None:
    # A 16-bit copy v·257 of 8-bit pixels v: the same fraction of full scale, so the same input.
    eight, sixteen = tmp_path / "eight", tmp_path / "sixteen"
    for k in range(2):
        (eight / f"c{k}").mkdir(parents=True)
        (sixteen / f"c{k}").mkdir(parents=True)
        Image.fromarray(picture(k)).save(eight / f"c{k}" / "0.png")
        Image.fromarray(picture(k).astype(np.uint16) * 257).save(sixteen / f"c{k}" / "0.png")
    a, _ = load_data(str(eight))
    b, _ = load_data(str(sixteen))
    assert b.x.dtype == np.uint16 and "16-bit pixels / 65535" in b.source and "8-bit pixels / 255" in a.source
    np.testing.assert_allclose(b.pixels(), a.pixels(), rtol=0, atol=1e-7)
    assert b.pixels().max() > 0.5  # not clipped at 255 / 65535


def test_mixed_8_and_16_bit_images_in_one_folder(tmp_path: Path) -> None:
    (tmp_path / "c0").mkdir()
    (tmp_path / "c1").mkdir()
    Image.fromarray(picture(0)).save(tmp_path / "c0" / "0.png")
    Image.fromarray(picture(1).astype(np.uint16) * 257).save(tmp_path / "c1" / "0.png")
    train, _ = load_data(str(tmp_path))
    np.testing.assert_allclose(train.pixels()[:, 0], np.stack([picture(0), picture(1)]) / 255, atol=1e-7)


@pytest.mark.parametrize(("scale", "text"), [(1 / 255, "float pixels in [0, 1]"),
                                             (1.0, "float pixels in 0..255 / 255, max 255")])
def test_float_images_decided_once_per_folder(tmp_path: Path, scale: float, text: str) -> None:
    # TIFF float images of the same pixels, stored in [0, 1] or in 0..255, give the same input.
    for k in range(2):
        (tmp_path / f"c{k}").mkdir()
        values = picture(k).astype(np.float32) * np.float32(scale)
        values[0, 0] = 255 * scale  # the dataset's maximum decides: 255 or 1
        Image.fromarray(values, mode="F").save(tmp_path / f"c{k}" / "0.tiff")
    train, _ = load_data(str(tmp_path))
    assert text in train.source and not train.raw
    expected = np.stack([picture(k) for k in range(2)]).astype(np.float32) / 255
    expected[:, 0, 0] = 1.0
    np.testing.assert_allclose(train.pixels()[:, 0], expected, atol=1e-6)


def test_npz_uint8_and_float_copies_score_alike(tmp_path: Path) -> None:
    # uint8 x with float x_test of the same pixels (0..255) used to be read as x/255 against x_test/1.
    x = np.stack([picture(k) for k in range(4)])
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=np.arange(4) % 2, x_test=x.astype(np.float64), y_test=np.arange(4) % 2)
    train, test = load_data(str(path))
    assert test is not None and "float pixels in 0..255" in test.source
    np.testing.assert_allclose(test.pixels(), train.pixels(), atol=1e-6)
    np.savez(path, x=x.astype(np.uint16) * 257, y=np.arange(4) % 2)
    sixteen, _ = load_data(str(path))
    np.testing.assert_allclose(sixteen.pixels(), train.pixels(), atol=1e-7)


def test_raw_float_values_are_said_and_kept(tmp_path: Path) -> None:
    x = np.linspace(-3, 3, 4 * 2 * 2, dtype=np.float32).reshape(4, 2, 2)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(4) % 2)
    train, _ = load_data(str(tmp_path / "d.npz"))
    assert train.raw and "raw float values in [-3, 3], not pixels: used as stored" in train.source
    np.testing.assert_array_equal(train.pixels()[:, 0], x)


def test_preprocessing_gives_predict_the_input_evaluate_gets(tmp_path: Path) -> None:
    # The same pictures through a dataset (evaluate) and through image files (predict), padded 6x5 -> 8x8.
    for k in range(2):
        (tmp_path / "data" / f"c{k}").mkdir(parents=True)
        Image.fromarray(picture(k)).save(tmp_path / "data" / f"c{k}" / "0.png")
    Image.fromarray(picture(1).astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    train, _ = load_data(str(tmp_path / "data"))
    (fitted,), _, _ = normalize(fit_to_input(train, (1, 8, 8), "pad"))
    prep = Preprocessing.of(fitted, "pad")
    assert prep.fit == "pad" and prep.scale == pytest.approx(1 / 255)
    again = Preprocessing.from_json(prep.to_json(), "ckpt")
    assert again == prep
    through_data = again.apply(train).batch(slice(None))
    through_files = again.images([tmp_path / "data" / "c0" / "0.png", tmp_path / "sixteen.png"])
    np.testing.assert_allclose(through_files, through_data, atol=1e-5)
    np.testing.assert_allclose(through_data, fitted.batch(slice(None)), atol=1e-6)


@pytest.mark.parametrize(("data", "message"), [
    ({"scale": 0}, "scale must be in"), ({"std": [0.0]}, "std values must be finite and above 0"),
    ({"fit": "zoom"}, "fit must be one of none, pad, resize"), ({"channels": "1"}, "channels has the wrong type"),
    ({"mean": [1.0, 2.0]}, "one value per channel"), ({"extra": 1}, "must be a mapping of"),
])
def test_preprocessing_from_json_is_validated(data: dict, message: str) -> None:
    base = {"scale": 1 / 255, "raw": False, "channels": 1, "height": 8, "width": 8, "fit": "none",
            "mean": [0.5], "std": [0.25]}
    with pytest.raises(UsageError, match=message):
        Preprocessing.from_json({**base, **data}, "ckpt")


def dataset(labels: list[int], classes: list[str], named: bool = True) -> Dataset:
    return Dataset(np.zeros((len(labels), 1, 2, 2), np.uint8), np.array(labels, np.int64), classes, "test data",
                   named=named)


def test_evaluation_classes_are_matched_by_name() -> None:
    trained = ["bird", "cat", "dog"]
    subset = match_classes(dataset([0, 1, 1], ["cat", "dog"]), trained)
    assert subset.classes == trained and subset.y.tolist() == [1, 2, 2]
    reordered = match_classes(dataset([0, 1], ["dog", "bird"]), trained)
    assert reordered.y.tolist() == [2, 0]
    indices = match_classes(dataset([0, 2], ["0", "1", "2"], named=False), trained)
    assert indices.y.tolist() == [0, 2] and indices.classes == trained
    with pytest.raises(UsageError, match=r"classes 'fish' are not among the 3 classes the network was trained on"):
        match_classes(dataset([0, 1], ["cat", "fish"]), trained)
    with pytest.raises(UsageError, match="labels go up to 3 but the network was trained on 3 classes"):
        match_classes(dataset([3], ["0", "1", "2", "3"], named=False), trained)


def test_pad_and_resize_together_are_refused() -> None:
    assert [fit_mode(False, False), fit_mode(True, False), fit_mode(False, True)] == ["error", "pad", "resize"]
    with pytest.raises(UsageError, match="--pad and --resize exclude each other"):
        fit_mode(True, True)


def test_raw_float_images_beside_8_bit_ones_are_refused(tmp_path: Path) -> None:
    # Values of -3..3 cannot be put on the scale of 8-bit pixels: no silent guess.
    (tmp_path / "c0").mkdir()
    (tmp_path / "c1").mkdir()
    Image.fromarray(picture(0)).save(tmp_path / "c0" / "0.png")
    Image.fromarray(np.linspace(-3, 3, 30, dtype=np.float32).reshape(6, 5), mode="F").save(tmp_path / "c1" / "0.tiff")
    with pytest.raises(UsageError, match=r"float images hold values outside 0..255 \(raw float values in \[-3, 3\]"):
        load_data(str(tmp_path))


def test_float_splits_on_different_scales_are_refused(tmp_path: Path) -> None:
    # x in [0, 1] with x_test in 0..255: one joint decision would shrink x 255-fold without a word.
    x = np.stack([picture(k) for k in range(4)]).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x / 255, y=np.arange(4) % 2, x_test=x, y_test=np.arange(4) % 2)
    with pytest.raises(UsageError, match=r"float images are on different scales \(x: float pixels in \[0, 1\]; "
                                         r"x_test: float pixels in 0..255 / 255, max 2\d\d\)"):
        load_data(str(tmp_path / "d.npz"))


def test_resize_happens_batch_by_batch_under_a_memory_limit() -> None:
    # 2,000 images of 28x28 resized to 224x224 are 400 MB of float32 at once; under a 250 MB margin
    # only batch-by-batch resizing (statistics included) fits. Reference: the eager result on 3 images.
    code = """
import resource
import numpy as np
from cnncli.data import Dataset, fit_to_input, normalize
from cnncli.data.resize import resize_bilinear
used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
resource.setrlimit(resource.RLIMIT_DATA, (used + 250_000_000, resource.RLIM_INFINITY))
x = np.random.default_rng(0).integers(0, 256, (2000, 1, 28, 28), dtype=np.uint8)
ds = fit_to_input(Dataset(x, np.zeros(2000, np.int64), ["a"], "mem"), (1, 224, 224), "resize")
(fitted,), mean, std = normalize(ds)
eager = resize_bilinear(x[:3].astype(np.float32) / 255, 224, 224)
assert np.allclose(fitted.batch(slice(0, 3)), (eager - mean[0]) / std[0], atol=1e-5)
print("ok", fitted.shape)
"""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok (1, 224, 224)", done.stderr[-500:]
