"""Dataset invariants, built-in loading, validation split, normalisation and batching."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnncli.data import (
    Dataset,
    apply_normalization,
    iterate_batches,
    load_data,
    normalize,
    split_validation,
)
from cnncli.data import dataset as dataset_module
from cnncli.data.fetch import FetchResult
from cnncli.data.idx import write_idx
from cnncli.errors import UsageError


def make(n: int = 10, shape: tuple[int, int, int] = (1, 2, 2), seed: int = 0) -> Dataset:
    x = np.random.default_rng(seed).random((n, *shape), dtype=np.float32)
    return Dataset(x, np.arange(n, dtype=np.int64) % 3, ["a", "b", "c"], "test")


def test_dataset_checks_its_arrays() -> None:
    ds = make()
    assert len(ds) == 10 and ds.shape == (1, 2, 2)
    with pytest.raises(ValueError, match="uint8, uint16 or float32"):
        Dataset(ds.x.astype(np.float64), ds.y, ds.classes, "")
    with pytest.raises(ValueError, match="C-contiguous"):
        Dataset(np.asfortranarray(np.zeros((2, 1, 3, 3), np.float32)), ds.y[:2], ds.classes, "")
    with pytest.raises(ValueError, match="int64"):
        Dataset(ds.x, ds.y[:3], ds.classes, "")


def test_builtin_names_load_the_fetched_idx_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    paths = {}
    for prefix, n in (("train", 5), ("t10k", 2)):
        for kind, array in (
            ("images-idx3-ubyte", np.full((n, 28, 28), 255, np.uint8)),
            ("labels-idx1-ubyte", np.arange(n, dtype=np.uint8)),
        ):
            paths[f"{prefix}-{kind}"] = tmp_path / f"{prefix}-{kind}"
            write_idx(paths[f"{prefix}-{kind}"], array)
    asked: list[str] = []

    def fake_fetch(name: str, progress: object) -> FetchResult:
        asked.append(name)
        return FetchResult(paths, "cache")

    monkeypatch.setattr(dataset_module, "fetch", fake_fetch)
    train, test = load_data("fashion-mnist")
    assert asked == ["fashion-mnist"]
    assert test is not None
    assert train.x.shape == (5, 1, 28, 28) and test.x.shape == (2, 1, 28, 28)
    assert train.x.dtype == np.uint8 and float(train.pixels().max()) == 1.0 and train.source == "Fashion-MNIST (cache)"
    assert train.classes[0] == "T-shirt/top" and len(train.classes) == 10
    np.testing.assert_array_equal(test.y, [0, 1])

    write_idx(paths["t10k-labels-idx1-ubyte"], np.array([0, 10], np.uint8))
    with pytest.raises(UsageError, match="label 10 is out of range for 10 classes"):
        load_data("mnist")


def test_split_validation_is_deterministic_disjoint_and_ordered() -> None:
    ds = make(100)
    train, val = split_validation(ds, 0.2, seed=7)
    again_train, again_val = split_validation(ds, 0.2, seed=7)
    assert (len(train), len(val)) == (80, 20)
    np.testing.assert_array_equal(train.x, again_train.x)
    np.testing.assert_array_equal(val.x, again_val.x)
    _, other_val = split_validation(ds, 0.2, seed=8)
    assert not np.array_equal(val.x, other_val.x)
    rows = {tuple(row) for row in ds.x.reshape(100, -1)}
    got = [tuple(row) for row in np.concatenate([train.x, val.x]).reshape(100, -1)]
    assert set(got) == rows and len(set(got)) == 100
    order = [list(map(tuple, ds.x.reshape(100, -1))).index(row) for row in got[:80]]
    assert order == sorted(order)


@pytest.mark.parametrize(
    ("fraction", "message"), [(0.0, "between 0 and 1"), (1.0, "between 0 and 1"), (0.01, "leaves 0")]
)
def test_split_validation_rejects_bad_fractions(fraction: float, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        split_validation(make(10), fraction, seed=0)


def test_normalize_uses_train_statistics_per_channel() -> None:
    # Reference: numpy's mean and std over the float64 images.
    rng = np.random.default_rng(1)
    x = np.stack([rng.normal(5, 2, (50, 4, 4)), rng.normal(-1, 0.5, (50, 4, 4)), np.full((50, 4, 4), 3.0)], axis=1)
    train = Dataset(x.astype(np.float32), np.zeros(50, np.int64), ["a"], "t")
    test = Dataset((x[:10] + 1).astype(np.float32), np.zeros(10, np.int64), ["a"], "t")
    (n_train, n_none, n_test), mean, std = normalize(train, None, test)
    assert n_none is None and n_train is not None and n_test is not None
    assert n_train.x is train.x and n_test.x is test.x  # no copy of the data
    assert mean.dtype == std.dtype == np.float32 and mean.shape == (3,)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(std[:2], x.std(axis=(0, 2, 3))[:2], rtol=1e-5)
    assert std[2] == 1.0  # constant channel
    every = slice(None)
    np.testing.assert_allclose(n_train.batch(every).mean(axis=(0, 2, 3)), [0, 0, 0], atol=1e-5)
    np.testing.assert_allclose(n_train.batch(every).std(axis=(0, 2, 3))[:2], [1, 1], rtol=1e-4)
    np.testing.assert_allclose(n_test.batch(every), (test.x - mean[:, None, None]) / std[:, None, None], rtol=1e-5)
    np.testing.assert_array_equal(apply_normalization(test, mean, std).batch(every), n_test.batch(every))
    with pytest.raises(UsageError, match="statistics are for 3 channels but the data has 1"):
        apply_normalization(make(), mean, std)


def test_uint8_images_read_as_the_float_images_they_stand_for() -> None:
    # Reference: the same pixels divided by 255 up front (what the float path computes).
    pixels = np.random.default_rng(2).integers(0, 256, (40, 2, 3, 3), dtype=np.uint8)
    as_float = pixels.astype(np.float32) / np.float32(255)
    labels = np.arange(40, dtype=np.int64) % 3
    (u_train,), u_mean, u_std = normalize(Dataset(pixels, labels, ["a", "b", "c"], "u"))
    (f_train,), f_mean, f_std = normalize(Dataset(as_float, labels, ["a", "b", "c"], "f"))
    np.testing.assert_array_equal(u_mean, f_mean)
    np.testing.assert_array_equal(u_std, f_std)
    index = np.array([5, 0, 39, 7])
    np.testing.assert_array_equal(u_train.batch(index), f_train.batch(index))  # bit for bit
    np.testing.assert_array_equal(u_train.pixels(slice(3, 9)), as_float[3:9])
    train, val = split_validation(u_train, 0.25, seed=1)
    assert train.x.dtype == np.uint8 and train.mean is u_mean and val.std is u_std


def test_batches_cover_everything_once_with_a_partial_last_batch() -> None:
    ds = make(10)
    batches = list(iterate_batches(ds, 4, shuffle=False, rng=np.random.default_rng(0)))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), ds.x)  # float32 stored as is
    x, y = batches[0]
    assert x.flags.c_contiguous and x.dtype == np.float32 and y.dtype == np.int64  # what the kernels take


def test_shuffled_batches_are_a_seeded_permutation() -> None:
    ds = make(10)
    first = list(iterate_batches(ds, 3, shuffle=True, rng=np.random.default_rng(5)))
    second = list(iterate_batches(ds, 3, shuffle=True, rng=np.random.default_rng(5)))
    labels = np.concatenate([y for _, y in first])
    np.testing.assert_array_equal(labels, np.concatenate([y for _, y in second]))
    xs = np.concatenate([x for x, _ in first])
    assert not np.array_equal(xs, ds.x)
    order = [int(np.flatnonzero((ds.x == row).all(axis=(1, 2, 3)))[0]) for row in xs]
    assert sorted(order) == list(range(10))
    np.testing.assert_array_equal(labels, ds.y[order])
    assert all(x.flags.c_contiguous and x.dtype == np.float32 for x, _ in first)


def test_bad_batch_size() -> None:
    with pytest.raises(UsageError, match="at least 1"):
        next(iterate_batches(make(), 0, shuffle=False, rng=np.random.default_rng()))
