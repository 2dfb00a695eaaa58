"""Pooling kernels.

References: torch.nn.functional.max_pool2d / avg_pool2d (count_include_pad=True)
/ adaptive_avg_pool2d / adaptive_max_pool2d with autograd; asymmetric padding
is emulated with F.pad (-inf for max, zeros for avg) and padding=0.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnncli.engine.kernels import pool

torch = pytest.importorskip("torch")
F = torch.nn.functional

GRID = list(itertools.product([(2, 2), (3, 3), (3, 2)], [1, 2, 3], [0, 1], [False, True], [1, 2]))


def out_size(size: int, k: int, s: int, pad_total: int, ceil: bool) -> int:
    """PyTorch's pooling output size for total padding pad_total (ceil_mode rule)."""
    span = size + pad_total - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + pad_total // 2 + (pad_total % 2):
        out -= 1
    return out


def run_torch(fn, x, dy, **kw):
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt, **kw)
    y.backward(torch.tensor(dy))
    return y.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("kernel,stride,pad,ceil,n", GRID)
def test_maxpool_and_avgpool_match_torch(randn, kernel, stride, pad, ceil, n):
    # Reference: torch F.max_pool2d / F.avg_pool2d (symmetric padding, ceil_mode).
    if pad > min(kernel) // 2:
        pytest.skip("torch requires pad <= kernel/2")
    x = randn(n, 3, 9, 8)
    oh = out_size(9, kernel[0], stride, 2 * pad, ceil)
    ow = out_size(8, kernel[1], stride, 2 * pad, ceil)
    pads, st = (pad,) * 4, (stride, stride)
    dy = randn(n, 3, oh, ow)
    kw = dict(kernel_size=kernel, stride=stride, padding=pad, ceil_mode=ceil)
    y_ref, dx_ref = run_torch(F.max_pool2d, x, dy, **kw)
    y, arg = pool.maxpool2d_forward(x, kernel, st, pads, (oh, ow))
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(pool.maxpool2d_backward(dy, arg, x.shape), dx_ref, atol=1e-6)
    y_ref, dx_ref = run_torch(F.avg_pool2d, x, dy, **kw)
    np.testing.assert_allclose(pool.avgpool2d_forward(x, kernel, st, pads, (oh, ow)), y_ref,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pool.avgpool2d_backward(dy, kernel, st, pads, x.shape), dx_ref,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pads,ceil", [((0, 1, 1, 0), False), ((1, 0, 0, 1), True),
                                       ((0, 1, 0, 1), True)])
def test_pools_with_asymmetric_padding(randn, pads, ceil):
    # Reference: torch pools on an F.pad-ed input (-inf for max, 0 for avg), padding=0.
    x = randn(2, 2, 7, 6)
    top, bottom, left, right = pads
    oh = out_size(7 + top + bottom, 2, 2, 0, ceil)
    ow = out_size(6 + left + right, 2, 2, 0, ceil)
    dy = randn(2, 2, oh, ow)
    kw = dict(kernel_size=2, stride=2, ceil_mode=ceil)
    y_ref, dx_ref = run_torch(
        lambda t, **k: F.max_pool2d(F.pad(t, (left, right, top, bottom), value=-np.inf), **k),
        x, dy, **kw)
    y, arg = pool.maxpool2d_forward(x, (2, 2), (2, 2), pads, (oh, ow))
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(pool.maxpool2d_backward(dy, arg, x.shape), dx_ref, atol=1e-6)
    y_ref, dx_ref = run_torch(
        lambda t, **k: F.avg_pool2d(F.pad(t, (left, right, top, bottom)), **k), x, dy, **kw)
    np.testing.assert_allclose(pool.avgpool2d_forward(x, (2, 2), (2, 2), pads, (oh, ow)),
                               y_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pool.avgpool2d_backward(dy, (2, 2), (2, 2), pads, x.shape),
                               dx_ref, rtol=1e-5, atol=1e-6)


def test_maxpool_ties_and_all_negative_window():
    # Reference: PyTorch picks the first maximum in row-major window order.
    x = np.full((1, 1, 4, 4), -5.0, np.float32)
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = 2.0
    y_ref, dx_ref = run_torch(F.max_pool2d, x, np.ones((1, 1, 2, 2), np.float32),
                              kernel_size=2, stride=2)
    y, arg = pool.maxpool2d_forward(x, (2, 2), (2, 2), (0, 0, 0, 0), (2, 2))
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(pool.maxpool2d_backward(np.ones_like(y), arg, x.shape), dx_ref)


@pytest.mark.parametrize("hw,out", [((7, 9), (3, 4)), ((8, 8), (2, 2)), ((5, 6), (5, 6)),
                                    ((6, 5), (4, 3)), ((7, 7), (1, 1))])
def test_adaptive_avgpool_matches_torch(randn, hw, out):
    # Reference: torch F.adaptive_avg_pool2d + autograd.
    x = randn(2, 3, *hw)
    dy = randn(2, 3, *out)
    y_ref, dx_ref = run_torch(F.adaptive_avg_pool2d, x, dy, output_size=out)
    np.testing.assert_allclose(pool.adaptive_avgpool2d_forward(x, out), y_ref, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(pool.adaptive_avgpool2d_backward(dy, x.shape), dx_ref,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n", [1, 3])
def test_global_pools_match_torch(randn, n):
    # Reference: torch F.adaptive_avg_pool2d(1) / F.adaptive_max_pool2d(1) + autograd.
    x, dy = randn(n, 5, 6, 7), randn(n, 5, 1, 1)
    y_ref, dx_ref = run_torch(F.adaptive_avg_pool2d, x, dy, output_size=1)
    np.testing.assert_allclose(pool.global_avgpool_forward(x), y_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pool.global_avgpool_backward(dy, x.shape), dx_ref, rtol=1e-6)
    y_ref, dx_ref = run_torch(F.adaptive_max_pool2d, x, dy, output_size=1)
    y, arg = pool.global_maxpool_forward(x)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(pool.global_maxpool_backward(dy, arg, x.shape), dx_ref)


def test_avgpool_finite_differences_float64(rng, fd_check):
    # Reference: central finite differences in float64 through our own kernels.
    x = rng.standard_normal((2, 2, 7, 6))
    geo = ((3, 2), (2, 2), (1, 1, 0, 1))
    r = rng.standard_normal((2, 2, 4, 4))
    dx = pool.avgpool2d_backward(r, *geo, x.shape)
    fd_check(lambda v: float(np.sum(pool.avgpool2d_forward(v, *geo, (4, 4)) * r)), x, dx, rng)
