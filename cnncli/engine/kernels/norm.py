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
from numba import get_thread_id, njit, prange

from ._common import FAST, THREADS
from .activation import NO_ACTIVATION, act_flags, activate_run, gate


def _as3d(a: np.ndarray) -> np.ndarray:
    """View [N, C, ...] as [N, C, P] (P positions)."""
    return a.reshape(a.shape[0], a.shape[1], -1)


@njit(parallel=True, cache=True, fastmath=FAST)
def _train_fwd(x, gamma, beta, eps, y, mean, invstd, op, slope):
    n_, c_, p_ = x.shape
    m = n_ * p_
    for c in prange(c_):
        acc = 0.0
        for n in range(n_):
            for p in range(p_):
                acc += x[n, c, p]
        mu = acc / m
        acc = 0.0
        for n in range(n_):
            for p in range(p_):
                d = x[n, c, p] - mu
                acc += d * d
        inv = 1.0 / np.sqrt(acc / m + eps)
        mean[c], invstd[c] = mu, inv
        scale = gamma[c] * inv
        shift = beta[c] - mu * scale
        for n in range(n_):
            for p in range(p_):
                y[n, c, p] = x[n, c, p] * scale + shift
            activate_run(y[n, c], 0, y[n, c], 0, p_, op, slope)


def batchnorm_train_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float,
                            op: int = NO_ACTIVATION, slope: float = 0.0
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, mean [C], invstd [C]) with batch statistics (formulas in the module doc), z = f(y)
    for a fused activation f (activation.activate_run's op, slope), else y."""
    y = np.empty_like(x)
    c = x.shape[1]
    mean, invstd = np.empty(c, x.dtype), np.empty(c, x.dtype)
    _train_fwd(_as3d(x), gamma, beta, float(eps), _as3d(y), mean, invstd, op, x.dtype.type(slope))
    return y, mean, invstd


def batchnorm_eval_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                           running_mean: np.ndarray, running_var: np.ndarray,
                           eps: float, op: int = NO_ACTIVATION, slope: float = 0.0) -> np.ndarray:
    """y = f(gamma * (x - running_mean) / sqrt(running_var + eps) + beta), f as in train_forward."""
    scale = (gamma / np.sqrt(running_var.astype(np.float64) + eps)).astype(x.dtype)
    shift = (beta - running_mean * scale).astype(x.dtype)
    y = np.empty_like(x)
    _apply(_as3d(x), scale, shift, _as3d(y), op, x.dtype.type(slope))
    return y


@njit(parallel=True, cache=True, fastmath=FAST)
def _bwd(dy, z, x, gamma, mean, invstd, dx, dgamma, dbeta, op, slope):
    n_, c_, p_ = x.shape
    m = n_ * p_
    active, leaky, clamp, six, zero = act_flags(op, slope)
    for c in prange(c_):
        mu, inv = mean[c], invstd[c]
        sg, sgx = 0.0, 0.0
        for n in range(n_):
            for p in range(p_):
                g = dy[n, c, p]
                if active:  # g = dy * f'(z) (a loop-invariant test: the loop stays a select)
                    g = gate(g, z[n, c, p], leaky, clamp, six, zero, slope)
                sg += g
                sgx += g * (x[n, c, p] - mu)
        dg = sgx * inv
        dbeta[c], dgamma[c] = sg, dg
        k = gamma[c] * inv / m
        a = k * m
        b = -k * sg
        d = -k * dg * inv
        for n in range(n_):
            for p in range(p_):
                g = dy[n, c, p]
                if active:
                    g = gate(g, z[n, c, p], leaky, clamp, six, zero, slope)
                dx[n, c, p] = a * g + b + d * (x[n, c, p] - mu)


def batchnorm_backward(dz: np.ndarray, x: np.ndarray, gamma: np.ndarray, mean: np.ndarray, invstd: np.ndarray,
                       z: np.ndarray | None = None, op: int = NO_ACTIVATION, slope: float = 0.0
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dgamma, dbeta) for the training-mode forward (formulas in the module doc) with dy =
    dz * f'(z) for a fused activation f (z: the forward's output), else dy = dz."""
    dx = np.empty_like(x)
    c = x.shape[1]
    dgamma, dbeta = np.empty(c, x.dtype), np.empty(c, x.dtype)
    _bwd(_as3d(dz), _as3d(dz if z is None else z), _as3d(x), gamma, mean, invstd, _as3d(dx), dgamma, dbeta, op,
         x.dtype.type(slope))
    return dx, dgamma, dbeta


# -- batch norm after a convolution (ops/fused.py): statistics come from the conv's epilogue --
# With M = N*H*W, S1 = sum y, S2 = sum y^2 (float64, per channel): mean = S1/M,
# var = max(S2/M - mean^2, 0) (biased), invstd = 1/sqrt(var + eps); z = [f](scale*y + shift)
# with scale = gamma*invstd, shift = beta - mean*scale, f a fused activation (relu, relu6,
# leaky relu: activation.activate_run). Backward, g = dz (* f'(z) with f: activation.gate_run):
# dbeta = sum g, dgamma = invstd * sum g*(y - mean), and dy = A*g + B + D*(y - mean) with
# A = gamma*invstd, B = -A*dbeta/M, D = -A*invstd*dgamma/M (the formula in the module doc).


@njit(parallel=True, cache=True, fastmath=FAST)
def _apply(y, scale, shift, z, op, slope):
    n_, c_, p_ = y.shape
    for idx in prange(n_ * c_):
        n, c = idx // c_, idx % c_
        a, b = scale[c], shift[c]
        src, dst = y[n, c], z[n, c]
        for p in range(p_):
            dst[p] = src[p] * a + b
        activate_run(dst, 0, dst, 0, p_, op, slope)


def batchnorm_apply(y: np.ndarray, scale: np.ndarray, shift: np.ndarray, op: int = NO_ACTIVATION,
                    slope: float = 0.0) -> np.ndarray:
    """z = f(scale[c]*y + shift[c]) over axis 1, f a fused activation (NaN kept) or none."""
    z = np.empty_like(y)
    _apply(_as3d(y), scale.astype(y.dtype), shift.astype(y.dtype), _as3d(z), op, y.dtype.type(slope))
    return z


@njit(parallel=True, cache=True, fastmath=FAST)
def _grad_sums(dz, z, y, mean, op, slope, out):
    """out[t, c] += (sum g, sum g*(y - mean)) over the (n, c) planes of thread t, g as in the
    block comment: float32 sums within a plane (vectorised), float64 across planes."""
    n_, c_, p_ = y.shape
    gf, kf, yf = dz.reshape(dz.size), z.reshape(z.size), y.reshape(y.size)
    w = np.uint64(p_)
    active, leaky, clamp, six, zero = act_flags(op, slope)
    for idx in prange(n_ * c_):
        t, c = get_thread_id(), idx % c_
        o = np.uint64(idx * p_)
        mu = mean[c]
        sg, sgy = np.float32(0.0), np.float32(0.0)
        if active:
            for i in range(w):
                g = gate(gf[o + i], kf[o + i], leaky, clamp, six, zero, slope)
                sg += g
                sgy += g * (yf[o + i] - mu)
        else:
            for i in range(w):
                sg += gf[o + i]
                sgy += gf[o + i] * (yf[o + i] - mu)
        out[t, c, 0] += sg
        out[t, c, 1] += sgy


def batchnorm_grad_coefficients(dz: np.ndarray, z: np.ndarray, y: np.ndarray, gamma: np.ndarray,
                                mean: np.ndarray, invstd: np.ndarray, op: int = NO_ACTIVATION,
                                slope: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coef [4, C] = (A, B, D, mean) as y's dtype, dgamma, dbeta) for the formulas above."""
    c = y.shape[1]
    parts = np.zeros((THREADS, c, 2), np.float64)
    _grad_sums(_as3d(dz), _as3d(z), _as3d(y), mean.astype(y.dtype), op, y.dtype.type(slope), parts)
    sums = parts.sum(axis=0)
    count = y.size // c
    inv = invstd.astype(np.float64)
    dbeta, dgamma = sums[:, 0], sums[:, 1] * inv
    a = gamma * inv
    coef = np.stack([a, -a * dbeta / count, -a * inv * dgamma / count, mean]).astype(y.dtype)
    return coef, dgamma.astype(y.dtype), dbeta.astype(y.dtype)
