"""Augmentation on tiny images checked by hand (a scripted generator supplies the random draws), plus
shapes and determinism from the seed. References: hand-written expected arrays and numpy's rot90/flip."""
from __future__ import annotations

import numpy as np
import pytest

from cnncli.train_config import Augment
from cnncli.training.augment import augment_batch, batch_rng, check_augment_fits, looks_like_digits

BLACK = np.array([-9.0], np.float32)  # the standardised value of a zero pixel, for these tests


class Scripted:
    """A stand-in for numpy's Generator that returns given draws, in the order the module makes them."""

    def __init__(self, *draws: np.ndarray) -> None:
        self.draws = list(draws)

    def integers(self, low: int, high: int, size: int) -> np.ndarray:
        value = np.asarray(self.draws.pop(0))
        assert value.shape == (size,) and (value >= low).all() and (value < high).all()
        return value

    def random(self, size: int) -> np.ndarray:
        return np.asarray(self.draws.pop(0), dtype=np.float64)

    def uniform(self, low: float, high: float, size: int) -> np.ndarray:
        value = np.asarray(self.draws.pop(0), dtype=np.float64)
        assert (value >= low).all() and (value <= high).all()
        return value


def image3() -> np.ndarray:
    return np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)


def test_crop_pads_with_black_and_cuts_the_drawn_window():
    # crop 1: offsets in [0, 2]; offset (0, 2) is the window one row up and one column right of centre
    out = augment_batch(image3(), Augment(crop=1), Scripted([0], [2]), BLACK)
    expected = [[-9, -9, -9],
                [2, 3, -9],
                [5, 6, -9]]
    np.testing.assert_array_equal(out[0, 0], expected)
    centred = augment_batch(image3(), Augment(crop=1), Scripted([1], [1]), BLACK)
    np.testing.assert_array_equal(centred, image3())


def test_flip_mirrors_the_images_drawn_below_one_half():
    x = np.concatenate([image3(), image3() + 10])
    out = augment_batch(x, Augment(flip=True), Scripted([0.2, 0.7]), BLACK)
    np.testing.assert_array_equal(out[0, 0], [[3, 2, 1], [6, 5, 4], [9, 8, 7]])
    np.testing.assert_array_equal(out[1], x[1])


def test_rotation_by_90_degrees_is_rot90_and_shift_moves_with_black_fill():
    out = augment_batch(image3(), Augment(rotate=90), Scripted([90.0]), BLACK)
    np.testing.assert_array_equal(out[0, 0], np.rot90(image3()[0, 0]))  # counter-clockwise, as torchvision
    # shift 0.4 of 3 pixels: draws of +1 column and -1 row (rounded) move the image right and up
    out = augment_batch(image3(), Augment(shift=0.4), Scripted([1.0], [-1.0]), BLACK)
    np.testing.assert_array_equal(out[0, 0], [[-9, 4, 5], [-9, 7, 8], [-9, -9, -9]])


def test_cutout_zeroes_a_square_clipped_at_the_border():
    x = np.ones((2, 2, 5, 5), np.float32)
    out = augment_batch(x, Augment(cutout=2), Scripted([0, 3], [0, 2]), BLACK)
    # size 2 centred on (0, 0): rows/cols [-1, 1) -> only pixel (0, 0); centred on (3, 2): rows 2-3, cols 1-2
    expected = np.ones((2, 5, 5), np.float32)
    expected[0, 0, 0] = 0
    expected[1, 2:4, 1:3] = 0
    for channel in range(2):
        np.testing.assert_array_equal(out[:, channel], expected)


def test_shapes_dtype_input_untouched_and_determinism_from_the_seed():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3, 12, 10)).astype(np.float32)
    before = x.copy()
    every = Augment(crop=3, flip=True, rotate=15, shift=0.2, cutout=4)
    a = augment_batch(x, every, batch_rng(7, 0, 5), np.zeros(3, np.float32))
    assert a.shape == x.shape and a.dtype == np.float32 and a.flags.c_contiguous
    np.testing.assert_array_equal(x, before)
    assert not np.array_equal(a, x)
    np.testing.assert_array_equal(a, augment_batch(x, every, batch_rng(7, 0, 5), np.zeros(3, np.float32)))
    for other in (batch_rng(7, 1, 5), batch_rng(7, 0, 6), batch_rng(8, 0, 5)):  # another rank, step, seed
        assert not np.array_equal(a, augment_batch(x, every, other, np.zeros(3, np.float32)))
    assert np.array_equal(augment_batch(x, Augment(), batch_rng(7, 0, 5)), x)


def test_misfit_settings_and_the_digit_warning_heuristic():
    assert check_augment_fits(Augment(crop=28), 28, 28) is not None
    assert check_augment_fits(Augment(cutout=29), 28, 28) is not None
    assert check_augment_fits(Augment(crop=4, cutout=8), 28, 28) is None
    assert looks_like_digits("mnist", ["0", "1"]) and looks_like_digits("./scans", list("0123456789"))
    assert not looks_like_digits("fashion-mnist", ["T-shirt/top", "Trouser"])


@pytest.mark.parametrize("size", [1, 2])
def test_flip_twice_with_the_same_draws_is_the_identity(size):
    x = np.random.default_rng(size).standard_normal((size, 1, 4, 4)).astype(np.float32)
    once = augment_batch(x, Augment(flip=True), Scripted([0.0] * size), BLACK)
    np.testing.assert_array_equal(once, x[:, :, :, ::-1])
    np.testing.assert_array_equal(augment_batch(once, Augment(flip=True), Scripted([0.0] * size), BLACK), x)
