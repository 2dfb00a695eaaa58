"""Fitting data to the spec's input shape: error, centred zero-padding, bilinear resize, 1->3 channels."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnncli.data import Dataset, fit_to_input
from cnncli.data.resize import resize_bilinear
from cnncli.errors import UsageError


def make(shape: tuple[int, int, int], n: int = 3) -> Dataset:
    x = np.random.default_rng(0).random((n, *shape), dtype=np.float32)
    return Dataset(x, np.zeros(n, np.int64), ["a"], "t")


def test_matching_shape_is_returned_as_is() -> None:
    ds = make((1, 28, 28))
    assert fit_to_input(ds, (1, 28, 28), "error") is ds


def test_mismatch_explains_and_suggests_pad_or_resize() -> None:
    with pytest.raises(UsageError) as caught:
        fit_to_input(make((1, 28, 28)), (1, 32, 32), "error")
    message = str(caught.value)
    assert "1x28x28" in message and "1x32x32" in message
    assert "--pad" in message and "--resize" in message
    with pytest.raises(UsageError, match="--resize") as bigger:
        fit_to_input(make((1, 40, 40)), (1, 32, 32), "error")
    assert "--pad" not in str(bigger.value)


def test_pad_is_centred_zeros() -> None:
    ds = make((1, 28, 28))
    out = fit_to_input(ds, (1, 32, 32), "pad")
    assert out.x.shape == (3, 1, 32, 32) and out.x.flags.c_contiguous
    np.testing.assert_array_equal(out.x[:, :, 2:30, 2:30], ds.x)
    assert out.x[:, :, :2].sum() == 0 and out.x[:, :, 30:].sum() == 0 and out.x[:, :, :, :2].sum() == 0
    odd = fit_to_input(make((1, 2, 2)), (1, 5, 4), "pad")
    np.testing.assert_array_equal(odd.x[0, 0, 1:3, 1:3], make((1, 2, 2)).x[0, 0])


def test_pad_cannot_shrink() -> None:
    with pytest.raises(UsageError, match="--pad cannot shrink 40x40 images to 32x32: use --resize"):
        fit_to_input(make((1, 40, 40)), (1, 32, 32), "pad")


@pytest.mark.parametrize("size", [(32, 32), (14, 14), (20, 40)])
def test_resize_matches_pillow_bilinear(size: tuple[int, int]) -> None:
    ds = make((1, 28, 28), n=2)
    out = fit_to_input(ds, (1, *size), "resize")
    assert out.shape == (1, *size) and out.x is ds.x  # resized as read, batch by batch: nothing stored twice
    for i in range(2):
        pil = Image.fromarray(ds.x[i, 0], mode="F").resize(size[::-1], Image.Resampling.BILINEAR)
        np.testing.assert_allclose(out.pixels(slice(i, i + 1))[0, 0], np.asarray(pil), atol=1e-4)


def test_resize_keeps_constants_and_identity() -> None:
    x = np.full((1, 2, 5, 7), 0.25, np.float32)
    np.testing.assert_allclose(resize_bilinear(x, 9, 3), 0.25, rtol=1e-6)
    np.testing.assert_allclose(resize_bilinear(x * np.arange(7), 5, 7), x * np.arange(7), rtol=1e-6)


def test_one_channel_becomes_three_only_when_fitting() -> None:
    ds = make((1, 4, 4))
    with pytest.raises(UsageError, match="also repeats the single channel 3 times"):
        fit_to_input(ds, (3, 4, 4), "error")
    out = fit_to_input(ds, (3, 6, 6), "pad")
    assert out.shape == (3, 6, 6)
    for c in range(3):
        np.testing.assert_array_equal(out.x[:, c, 1:5, 1:5], ds.x[:, 0])
    assert fit_to_input(ds, (3, 4, 4), "resize").shape == (3, 4, 4)


def test_other_channel_mismatches_are_errors() -> None:
    with pytest.raises(UsageError, match="channel counts must match: change the spec's input to 3 channels"):
        fit_to_input(make((3, 4, 4)), (1, 4, 4), "resize")
