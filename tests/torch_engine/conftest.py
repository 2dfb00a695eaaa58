"""Small generated data and specs for the PyTorch engine's tests (no network access)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SPEC = """
name: tiny-net
input: [1, 12, 12]
layers:
  - conv2d: {filters: 6, kernel: 3, padding: same, bias: false}   # a bias before batch norm gets a zero
  - batchnorm                                                        # gradient, which Adam turns into noise
  - relu
  - maxpool: 2
  - residual:
      body:
        - conv2d: {filters: 6, kernel: 3, padding: 1}
        - relu
  - conv2d: {filters: 8, kernel: 2, stride: 2, padding: same}
  - leaky_relu: 0.1
  - flatten
  - dense: 4
  - softmax
"""


def stripes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four classes of 12x12 uint8 images: a bright band in one of four places, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.integers(0, 80, (n, 1, 12, 12)).astype(np.uint8)
    for i, label in enumerate(y):
        region = [np.s_[1:4, :], np.s_[8:11, :], np.s_[:, 1:4], np.s_[:, 8:11]][label]
        x[i, 0][region] += 150
    return x, y


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An .npz with 256 training images (divisible by 64, so DDP shares are equal) and 64 test images."""
    x, y = stripes(256, 1)
    xt, yt = stripes(64, 2)
    path = tmp_path_factory.mktemp("data") / "stripes.npz"
    np.savez(path, x=x, y=y, x_test=xt, y_test=yt)
    return path


@pytest.fixture(scope="session")
def tiny_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    path.write_text(SPEC)
    return path
