"""Batch normalisation over axis 1 of [N, C, H, W] or [N, C], parallel over C.

Training:  mean_c = E[x], var_c = E[(x - mean_c)^2] (biased), invstd = 1/sqrt(var + eps),
           y = gamma * (x - mean) * invstd + beta.     Sums are accumulated in float64.
Running statistics are the caller's job. PyTorch updates running_var with the
UNBIASED variance; recover it from the returned invstd with M = N*H*W:
           var_unbiased = (invstd**-2 - eps) * M / (M - 1).
Backward (xhat = (x - mean) * invstd, sums over N, H, W):
           dbeta = sum dy, dgamma = sum dy*xhat,
           dx = gamma * invstd / M * (M*dy - dbeta - xhat*dgamma).
All functions return new arrays.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._common import FAST


def _as3d(a: np.ndarray) -> np.ndarray:
    """View [N, C, ...] as [N, C, S]."""
    return a.reshape(a.shape[0], a.shape[1], -1)


@njit(parallel=True, cache=True, fastmath=FAST)
def _train_fwd(x, gamma, beta, eps, y, mean, invstd):
    n_, c_, s_ = x.shape
    m = n_ * s_
    for c in prange(c_):
        acc = 0.0
        for n in range(n_):
            for s in range(s_):
                acc += x[n, c, s]
        mu = acc / m
        acc = 0.0
        for n in range(n_):
            for s in range(s_):
                d = x[n, c, s] - mu
                acc += d * d
        inv = 1.0 / np.sqrt(acc / m + eps)
        mean[c], invstd[c] = mu, inv
        scale = gamma[c] * inv
        shift = beta[c] - mu * scale
        for n in range(n_):
            for s in range(s_):
                y[n, c, s] = x[n, c, s] * scale + shift


def batchnorm_train_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                            eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, mean [C], invstd [C]) with batch statistics (formulas in the module doc)."""
    y = np.empty_like(x)
    c = x.shape[1]
    mean, invstd = np.empty(c, x.dtype), np.empty(c, x.dtype)
    _train_fwd(_as3d(x), gamma, beta, float(eps), _as3d(y), mean, invstd)
    return y, mean, invstd


@njit(parallel=True, cache=True, fastmath=FAST)
def _affine(x, scale, shift, y):
    n_, c_, s_ = x.shape
    for idx in prange(n_ * c_):
        n, c = idx // c_, idx % c_
        a, b = scale[c], shift[c]
        for s in range(s_):
            y[n, c, s] = x[n, c, s] * a + b


def batchnorm_eval_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                           running_mean: np.ndarray, running_var: np.ndarray,
                           eps: float) -> np.ndarray:
    """y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta."""
    scale = (gamma / np.sqrt(running_var.astype(np.float64) + eps)).astype(x.dtype)
    shift = (beta - running_mean * scale).astype(x.dtype)
    y = np.empty_like(x)
    _affine(_as3d(x), scale, shift, _as3d(y))
    return y


@njit(parallel=True, cache=True, fastmath=FAST)
def _bwd(dy, x, gamma, mean, invstd, dx, dgamma, dbeta):
    n_, c_, s_ = x.shape
    m = n_ * s_
    for c in prange(c_):
        mu, inv = mean[c], invstd[c]
        sg, sgx = 0.0, 0.0
        for n in range(n_):
            for s in range(s_):
                g = dy[n, c, s]
                sg += g
                sgx += g * (x[n, c, s] - mu)
        dg = sgx * inv
        dbeta[c], dgamma[c] = sg, dg
        k = gamma[c] * inv / m
        a = k * m
        b = -k * sg
        d = -k * dg * inv
        for n in range(n_):
            for s in range(s_):
                dx[n, c, s] = a * dy[n, c, s] + b + d * (x[n, c, s] - mu)


def batchnorm_backward(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, mean: np.ndarray,
                       invstd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dgamma, dbeta) for the training-mode forward (formulas in the module doc)."""
    dx = np.empty_like(x)
    c = x.shape[1]
    dgamma, dbeta = np.empty(c, x.dtype), np.empty(c, x.dtype)
    _bwd(_as3d(dy), _as3d(x), gamma, mean, invstd, _as3d(dx), dgamma, dbeta)
    return dx, dgamma, dbeta
