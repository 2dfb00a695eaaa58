"""Shared fixtures for the kernel tests (no package: tests/engine has no __init__.py)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def randn(rng: np.random.Generator) -> Callable[..., np.ndarray]:
    """randn(*shape, dtype=np.float32) -> standard normal array."""
    def make(*shape: int, dtype: type = np.float32) -> np.ndarray:
        return rng.standard_normal(shape).astype(dtype)
    return make


@pytest.fixture
def fd_check() -> Callable[..., None]:
    """fd_check(f, x, grad, rng): central difference of scalar f at x along a random
    direction v, compared with <grad, v> (float64, eps 1e-6)."""
    def check(f: Callable[[np.ndarray], float], x: np.ndarray, grad: np.ndarray,
              rng: np.random.Generator, rtol: float = 1e-5) -> None:
        v = rng.standard_normal(x.shape)
        eps = 1e-6
        num = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
        ana = float(np.sum(grad * v))
        assert abs(num - ana) <= rtol * max(1.0, abs(ana)), (num, ana)
    return check
