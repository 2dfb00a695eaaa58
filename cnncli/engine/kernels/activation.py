"""Activation functions, forward and backward, on arrays of any shape.

Elementwise kernels work on the flattened array (parallel over blocks).
Backward takes whatever is cheapest:
  relu, relu6, leaky_relu: the INPUT x      -> `*_backward(dy, x[, slope])`
  sigmoid, tanh, softmax:  the OUTPUT y     -> `*_backward(dy, y)`
relu(x) = max(x, 0); relu6(x) = min(max(x, 0), 6); leaky_relu(x) = x if x > 0 else slope*x;
sigmoid(x) = 1/(1+exp(-x)), dx = dy*y*(1-y); tanh dx = dy*(1-y^2);
softmax over axis 1 ([N, C] or [N, C, H, W]: over channels),
dx = y * (dy - sum_c dy*y).  All functions return new arrays.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

_BLOCK = 16384
# which function _unary and _grad compute; NO_ACTIVATION: none (the fused ops' "no activation")
RELU, RELU6, LEAKY_RELU, SIGMOID, TANH = 0, 1, 2, 3, 4
NO_ACTIVATION = -1


@njit(cache=True, inline="always")
def act_flags(op, slope):
    """(active, leaky, clamp, six, zero) for `activate` / `gate`: whether op is one of RELU,
    RELU6, LEAKY_RELU, and its loop-invariant flags; six and zero in slope's type (no float64
    promotion of float32 data)."""
    active = op == RELU or op == RELU6 or op == LEAKY_RELU
    return active, op == LEAKY_RELU, op == RELU6, slope * 0 + 6, slope * 0


@njit(cache=True, inline="always")
def activate(v, leaky, clamp, six, zero, slope):
    """f(v) for the flags of act_flags: relu max(v, 0), relu6 min(max(v, 0), 6), leaky relu v if
    v > 0 else slope*v; the comparisons keep NaN, as PyTorch does. Selects (bitwise & on the
    comparisons), no branches."""
    low = v * slope if leaky else zero
    return low if v < 0 else (six if (v > six) & clamp else v)


@njit(cache=True, inline="always")
def gate(d, v, leaky, clamp, six, zero, slope):
    """d * f'(v), f as in `activate`, v its input or its output (the same answer for both):
    f'(v) = 1 where v > 0 (and v < 6 for relu6), slope where v <= 0 for leaky relu (slope >= 0),
    else 0, as a select: a NaN or inf in d where f' = 0 gives 0."""
    return d if (v > 0) & ((v < six) | (not clamp)) else (d * slope if leaky else zero)


@njit(cache=True, inline="always")
def activate_run(src, so, dst, do, count, op, slope):
    """dst[do + i] = f(src[so + i]) for i < count (`activate`, for op RELU, RELU6 or LEAKY_RELU;
    other ops: nothing); src may be dst (in place). 1-D arrays, flat unsigned indices so that
    the loop vectorises."""
    active, leaky, clamp, six, zero = act_flags(op, slope)
    if not active:
        return
    so, do = np.uint64(so), np.uint64(do)
    for i in range(np.uint64(count)):
        dst[do + i] = activate(src[so + i], leaky, clamp, six, zero, slope)


@njit(cache=True, inline="always")
def gate_run(dst, do, g, go, z, zo, count, op, slope):
    """dst[do + i] = gate(g[go + i], z[zo + i]) for i < count (op RELU, RELU6 or LEAKY_RELU;
    other ops: nothing)."""
    active, leaky, clamp, six, zero = act_flags(op, slope)
    if not active:
        return
    do, go, zo = np.uint64(do), np.uint64(go), np.uint64(zo)
    for i in range(np.uint64(count)):
        dst[do + i] = gate(g[go + i], z[zo + i], leaky, clamp, six, zero, slope)


@njit(parallel=True, cache=True)
def _unary(x, y, op, slope):
    n = x.size
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        if op == SIGMOID:
            xb, yb = x[lo:hi], y[lo:hi]  # block views: non-negative indices, so the loops vectorise
            for i in range(hi - lo):
                v = xb[i]
                yb[i] = 1.0 / (1.0 + np.exp(-v)) if v >= 0 else np.exp(v) / (1.0 + np.exp(v))
        elif op == TANH:
            xb, yb = x[lo:hi], y[lo:hi]
            for i in range(hi - lo):
                yb[i] = np.tanh(xb[i])
        else:
            activate_run(x, lo, y, lo, hi - lo, op, slope)


@njit(parallel=True, cache=True)
def _grad(dy, z, dx, op, slope):
    n = dy.size
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        if op == SIGMOID:
            gb, zb, db = dy[lo:hi], z[lo:hi], dx[lo:hi]
            for i in range(hi - lo):
                db[i] = gb[i] * zb[i] * (1.0 - zb[i])
        elif op == TANH:
            gb, zb, db = dy[lo:hi], z[lo:hi], dx[lo:hi]
            for i in range(hi - lo):
                db[i] = gb[i] * (1.0 - zb[i] * zb[i])
        else:
            gate_run(dx, lo, dy, lo, z, lo, hi - lo, op, slope)


def _apply(x: np.ndarray, op: int, slope: float = 0.0) -> np.ndarray:
    y = np.empty_like(x)
    _unary(x.ravel(), y.ravel(), op, x.dtype.type(slope))
    return y


def _backprop(dy: np.ndarray, z: np.ndarray, op: int, slope: float = 0.0) -> np.ndarray:
    dx = np.empty_like(dy)
    _grad(dy.ravel(), z.ravel(), dx.ravel(), op, dy.dtype.type(slope))
    return dx


def relu_forward(x: np.ndarray) -> np.ndarray:
    """max(x, 0)."""
    return _apply(x, RELU)


def relu_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dy * (x > 0)."""
    return _backprop(dy, x, RELU)


def relu6_forward(x: np.ndarray) -> np.ndarray:
    """min(max(x, 0), 6)."""
    return _apply(x, RELU6)


def relu6_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dy * (0 < x < 6)."""
    return _backprop(dy, x, RELU6)


def leaky_relu_forward(x: np.ndarray, slope: float) -> np.ndarray:
    """x if x > 0 else slope * x."""
    return _apply(x, LEAKY_RELU, slope)


def leaky_relu_backward(dy: np.ndarray, x: np.ndarray, slope: float) -> np.ndarray:
    """dy if x > 0 else slope * dy."""
    return _backprop(dy, x, LEAKY_RELU, slope)


def sigmoid_forward(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), evaluated without overflow for either sign."""
    return _apply(x, SIGMOID)


def sigmoid_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dy * y * (1 - y), y = sigmoid output."""
    return _backprop(dy, y, SIGMOID)


def tanh_forward(x: np.ndarray) -> np.ndarray:
    """tanh(x)."""
    return _apply(x, TANH)


def tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dy * (1 - y^2), y = tanh output."""
    return _backprop(dy, y, TANH)


@njit(parallel=True, cache=True)
def _softmax(x, y):
    n_, c_, p_ = x.shape
    for idx in prange(n_ * p_):
        n, p = idx // p_, idx % p_
        m = x[n, 0, p]
        for c in range(1, c_):
            m = max(m, x[n, c, p])
        tot = 0.0
        for c in range(c_):
            e = np.exp(x[n, c, p] - m)
            y[n, c, p] = e
            tot += e
        inv = 1.0 / tot
        for c in range(c_):
            y[n, c, p] *= inv


@njit(parallel=True, cache=True)
def _softmax_grad(dy, y, dx):
    n_, c_, p_ = y.shape
    for idx in prange(n_ * p_):
        n, p = idx // p_, idx % p_
        dot = 0.0
        for c in range(c_):
            dot += dy[n, c, p] * y[n, c, p]
        for c in range(c_):
            dx[n, c, p] = y[n, c, p] * (dy[n, c, p] - dot)


def softmax_forward(x: np.ndarray) -> np.ndarray:
    """exp(x - max) / sum exp(x - max) over axis 1."""
    y = np.empty_like(x)
    _softmax(x.reshape(x.shape[0], x.shape[1], -1), y.reshape(y.shape[0], y.shape[1], -1))
    return y


def softmax_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """y * (dy - sum_c dy * y), y = softmax output."""
    dx = np.empty_like(dy)
    shape3 = (y.shape[0], y.shape[1], -1)
    _softmax_grad(dy.reshape(shape3), y.reshape(shape3), dx.reshape(shape3))
    return dx


@njit(parallel=True, cache=True)
def _add_relu(a, b, y):
    n = a.size
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = blk * _BLOCK, min(n, (blk + 1) * _BLOCK)
        av, bv, yv = a[lo:hi], b[lo:hi], y[lo:hi]
        for i in range(hi - lo):
            v = av[i] + bv[i]
            yv[i] = 0.0 if v < 0 else v


@njit(parallel=True, cache=True)
def _relu_grad_of_sum(a, b, y, dx, zero):
    n = a.size
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = blk * _BLOCK, min(n, (blk + 1) * _BLOCK)
        av, bv, dv = a[lo:hi], b[lo:hi], dx[lo:hi]
        for i in range(hi - lo):
            dv[i] = av[i] + bv[i]
        gate_run(dx, lo, dx, lo, y, lo, hi - lo, RELU, zero)  # the block is still in cache


def relu_backward_of_sum(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> np.ndarray:
    """relu_backward(a + b, y) in one pass (same shapes): a gradient with two summands (a tensor
    read by two layers) through a relu, without the sum as an array of its own."""
    dx = np.empty_like(a)
    _relu_grad_of_sum(a.ravel(), b.ravel(), y.ravel(), dx.ravel(), a.dtype.type(0))
    return dx


def add_relu_forward(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """max(a + b, 0) in one pass (same shapes)."""
    y = np.empty_like(a)
    _add_relu(a.ravel(), b.ravel(), y.ravel())
    return y
