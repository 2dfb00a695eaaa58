"""Softmax cross-entropy over logits [N, K] with integer labels [N], with PyTorch's label smoothing ε.

The target is q = (1 − ε)·onehot(label) + ε/K (torch.nn.functional.cross_entropy(label_smoothing=ε)):
loss = mean_n (logsumexp(z_n) − (1 − ε)·z_n[label_n] − (ε/K)·Σ_k z_n[k]),  logsumexp(z) = m + log Σ exp(z − m);
dlogits[n, k] = (softmax(z_n)[k] − q_n[k]) / N.  ε = 0 is the plain cross-entropy.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _xent(z, labels, dz, losses, smoothing):
    n_, k_ = z.shape
    inv_n = 1.0 / n_
    spread = smoothing / k_
    for n in range(n_):  # serial: a batch of logits is tiny next to one parallel region's cost
        m = z[n, 0]
        for k in range(1, k_):
            m = max(m, z[n, k])
        tot = 0.0
        zsum = 0.0
        for k in range(k_):
            e = np.exp(z[n, k] - m)
            dz[n, k] = e
            tot += e
            zsum += z[n, k]
        lab = labels[n]
        losses[n] = m + np.log(tot) - (1.0 - smoothing) * z[n, lab] - spread * zsum
        scale = inv_n / tot
        for k in range(k_):
            dz[n, k] = dz[n, k] * scale - spread * inv_n
        dz[n, lab] -= (1.0 - smoothing) * inv_n


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray,
                          label_smoothing: float = 0.0) -> tuple[float, np.ndarray]:
    """(mean loss as a Python float, dlogits [N, K] already divided by N)."""
    n, k = logits.shape
    lab = np.asarray(labels, dtype=np.int64)
    if lab.shape != (n,) or (n and (lab.min() < 0 or lab.max() >= k)):
        raise ValueError(f"labels must be {n} integers in [0, {k})")
    dz = np.empty_like(logits)
    losses = np.empty(n, np.float64)
    _xent(logits, lab, dz, losses, float(label_smoothing))
    return float(losses.mean()), dz
